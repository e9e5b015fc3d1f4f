//! boneseg's batch norm against burn's on flex: the training batch norm (with and without its
//! ReLU) gives the same output and the same input, gamma and beta gradients within 1e-4 of the
//! largest magnitude, and updates the running statistics as PyTorch does; at inference, the
//! batch norm folded into the convolution gives what the convolution, batch norm and ReLU give
//! one after the other.

use boneseg_models::blocks::ConvSpec;
use boneseg_models::burn::module::Param;
use boneseg_models::burn::nn::{BatchNorm, BatchNormConfig};
use boneseg_models::burn::tensor::module::conv2d as burn_conv2d;
use boneseg_models::burn::tensor::{Device, Tensor, TensorData, activation};
use boneseg_models::layers::{Activation, apply_batch_norm, conv_batch_norm};

use boneseg_kernels::testing::{assert_close, tensor, values};

const MOMENTUM: f64 = 0.1;

/// A batch norm with random gamma and beta (and running statistics, for inference).
fn batch_norm(channels: usize, seed: u64, device: &Device) -> BatchNorm {
    let mut bn = BatchNormConfig::new(channels).with_momentum(MOMENTUM).init(device);
    bn.gamma = Param::from_tensor(tensor([channels], seed, device).add_scalar(1.5));
    bn.beta = Param::from_tensor(tensor([channels], seed + 1, device));
    bn.running_mean.update(tensor([channels], seed + 2, device));
    bn.running_var.update(tensor([channels], seed + 3, device).abs().add_scalar(0.5));
    bn
}

fn burn_reference(bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    match activation {
        Activation::Identity => bn.forward(x),
        Activation::Relu => activation::relu(bn.forward(x)),
    }
}

/// Output and the gradients of x, gamma and beta, the loss being the output weighted by fixed
/// random values.
fn train_step(
    shape: [usize; 4],
    seed: u64,
    forward: impl Fn(&BatchNorm, Tensor<4>) -> Tensor<4>,
) -> Vec<TensorData> {
    let device = Device::flex().autodiff();
    let bn = batch_norm(shape[1], seed, &device);
    let x = tensor(shape, seed + 4, &device).mul_scalar(3.0).add_scalar(0.7).require_grad();
    let out = forward(&bn, x.clone());
    let grads = (out.clone() * tensor(shape, seed + 5, &device)).sum().backward();
    vec![
        out.into_data(),
        x.grad(&grads).expect("x has a gradient").into_data(),
        bn.gamma.grad(&grads).expect("gamma has a gradient").into_data(),
        bn.beta.grad(&grads).expect("beta has a gradient").into_data(),
    ]
}

/// Odd planes, a plane larger than a summation block (4096) and not a multiple of 16, batch 1.
const SHAPES: [[usize; 4]; 4] = [[2, 5, 9, 11], [1, 3, 70, 70], [4, 8, 3, 3], [3, 16, 16, 16]];

#[test]
fn training_matches_burn() {
    for (index, shape) in SHAPES.into_iter().enumerate() {
        for activation in [Activation::Identity, Activation::Relu] {
            let seed = 10 * index as u64;
            let ours = train_step(shape, seed, |bn, x| apply_batch_norm(bn, x, activation));
            let burn = train_step(shape, seed, |bn, x| burn_reference(bn, x, activation));
            let names = ["output", "x gradient", "gamma gradient", "beta gradient"];
            for ((ours, burn), name) in ours.into_iter().zip(burn).zip(names) {
                assert_close(ours, burn, &format!("{shape:?} {activation:?} {name}"));
            }
        }
    }
}

/// PyTorch: `running = (1 - momentum) running + momentum batch`, the variance unbiased.
#[test]
fn running_statistics_follow_pytorch() {
    let device = Device::flex().autodiff();
    let shape = [2, 3, 5, 4];
    let bn = batch_norm(shape[1], 7, &device);
    let read = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    let old_mean = read(bn.running_mean.value_sync());
    let old_var = read(bn.running_var.value_sync());
    let x = values(shape.iter().product(), 8);
    apply_batch_norm(&bn, Tensor::from_data(TensorData::new(x.clone(), shape), &device), Activation::Relu);
    let new_mean = read(bn.running_mean.value_sync());
    let new_var = read(bn.running_var.value_sync());
    let plane = shape[2] * shape[3];
    for channel in 0..shape[1] {
        let batch: Vec<f64> = (0..shape[0])
            .flat_map(|image| &x[(image * shape[1] + channel) * plane..][..plane])
            .map(|&v| v as f64)
            .collect();
        let n = batch.len() as f64;
        let mean = batch.iter().sum::<f64>() / n;
        let unbiased = batch.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let expected_mean = (1.0 - MOMENTUM) * old_mean[channel] as f64 + MOMENTUM * mean;
        let expected_var = (1.0 - MOMENTUM) * old_var[channel] as f64 + MOMENTUM * unbiased;
        assert!(
            (new_mean[channel] as f64 - expected_mean).abs() < 1e-6,
            "channel {channel} running mean {} != {expected_mean}",
            new_mean[channel]
        );
        assert!(
            (new_var[channel] as f64 - expected_var).abs() < 1e-6,
            "channel {channel} running variance {} != {expected_var}",
            new_var[channel]
        );
    }
}

#[test]
fn inference_folds_the_batch_norm_into_the_convolution() {
    let device = Device::flex();
    let specs = [
        ConvSpec::new(4, 6, 3),
        ConvSpec::new(6, 6, 3).groups(3).bias(true),
        ConvSpec::new(5, 8, 1).stride(2).padding(0),
        ConvSpec::new(8, 8, 3).groups(8).dilation(2),
    ];
    for (index, spec) in specs.into_iter().enumerate() {
        let seed = 20 * index as u64;
        let mut conv = spec.init(&device);
        conv.weight = Param::from_tensor(tensor(conv.weight.dims(), seed, &device));
        let bn = batch_norm(spec.channels[1], seed + 1, &device);
        let x = tensor([2, spec.channels[0], 13, 10], seed + 2, &device);
        for activation in [Activation::Identity, Activation::Relu] {
            let ours = conv_batch_norm(&conv, &bn, x.clone(), activation);
            let bias = conv.bias.as_ref().map(|b| b.val());
            let convolved = burn_conv2d(x.clone(), conv.weight.val(), bias, conv.options.clone());
            let burn = burn_reference(&bn, convolved, activation);
            assert_close(ours.into_data(), burn.into_data(), &format!("conv {index} {activation:?}"));
        }
    }
}
