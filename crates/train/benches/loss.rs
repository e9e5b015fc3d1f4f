//! What each loss kind costs, forward and backward, on a quick-cpu batch (4 x 29 x 256²):
//! `cargo bench -p boneseg-train --bench loss`. BCE is the yardstick; the Lovasz hinge sorts
//! the errors of every image and class, which is what it costs above the others.

use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use boneseg_train::loss::{Loss, LossKind, LossTerm};
use criterion::{Criterion, criterion_group, criterion_main};

const SHAPE: [usize; 4] = [4, 29, 256, 256];

/// Logits in [-4, 4) and targets with one pixel in ten set, from a fixed linear congruential stream.
fn batch() -> (Vec<f32>, Vec<f32>) {
    let count = SHAPE.iter().product::<usize>();
    let mut state = 7u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let logits = (0..count).map(|_| 8.0 * next() - 4.0).collect();
    let targets = (0..count).map(|_| f32::from(next() < 0.1)).collect();
    (logits, targets)
}

fn losses(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let (logits, targets) = batch();
    let lovasz = |per_image: bool, per_class: bool| LossTerm {
        per_image: Some(per_image),
        per_class: Some(per_class),
        ..LossTerm::new(LossKind::Lovasz, 1.0)
    };
    let cases = [
        ("bce", LossTerm::new(LossKind::Bce, 1.0)),
        ("dice", LossTerm::new(LossKind::Dice, 1.0)),
        ("lovasz_smp_multilabel", lovasz(false, false)),
        ("lovasz_per_image_per_class", lovasz(true, true)),
    ];
    let mut group = c.benchmark_group("loss_forward_backward_4x29x256");
    group.sample_size(10);
    for (name, term) in cases {
        let loss = Loss::new(&[term]).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let x: Tensor<4> =
                    Tensor::from_data(TensorData::new(logits.clone(), SHAPE), &device).require_grad();
                let t = Tensor::from_data(TensorData::new(targets.clone(), SHAPE), &device);
                let out = loss.forward(x.clone(), t);
                x.grad(&out.backward()).unwrap().into_data()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, losses);
criterion_main!(benches);
