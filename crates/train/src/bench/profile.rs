//! The plain U-Net's training step taken apart (`boneseg bench engine --profile`): each kind of
//! operation timed on its own at the step's shapes and summed over its calls. Convolutions run on flex's
//! primitives (burn's kernels) and on boneseg's kernels; batch norm + ReLU runs as burn's two
//! modules and as boneseg's fused operation, max-pool and the decoder's upsample + concatenation
//! as burn's and boneseg's; the loss and the optimiser are burn's. All but the
//! convolutions run forward and backward (plus a `sum`, to have a gradient to start from) on flex
//! with autodiff.

use std::time::Instant;

use boneseg_kernels::conv::kernels::{self, Geometry};
use boneseg_kernels::max_pool2d;
use boneseg_kernels::upsample_cat;
use boneseg_models::blocks::{resize_nearest, scaled_size};
use boneseg_models::burn::backend::Flex;
use boneseg_models::burn::backend::flex::FlexTensor;
use boneseg_models::burn::backend::ops::ModuleOps;
use boneseg_models::burn::nn::BatchNormConfig;
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::module::max_pool2d as burn_max_pool2d;
use boneseg_models::burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use boneseg_models::burn::tensor::{Device, Distribution, Tensor, TensorData, activation};
use boneseg_models::layers::{Activation, apply_batch_norm};

use super::median_ms;
use super::unet::{PlainUNet, WIDTHS};
use crate::loss::LossFn;
use crate::optim::{Optim, OptimConfig, OptimKind};

/// One kind of operation: how often the step calls it and its summed milliseconds on burn's
/// kernels and on boneseg's (the same figure twice where boneseg has no kernel of its own).
#[derive(Clone, Debug)]
pub struct ProfileRow {
    pub operation: &'static str,
    pub calls: usize,
    pub burn_ms: f64,
    pub boneseg_ms: f64,
}

/// Summed milliseconds of every row: burn's kernels, boneseg's.
pub fn totals(rows: &[ProfileRow]) -> [f64; 2] {
    [rows.iter().map(|r| r.burn_ms).sum(), rows.iter().map(|r| r.boneseg_ms).sum()]
}

/// One convolution of the U-Net: input and weight shapes, padding.
struct ConvLayer {
    x: [usize; 4],
    weight: [usize; 4],
    padding: usize,
}

/// Every convolution of the U-Net, in forward order.
fn conv_layers(batch: usize, size: usize, classes: usize) -> Vec<ConvLayer> {
    let conv3 = |cin, cout, level: usize| ConvLayer {
        x: [batch, cin, size >> level, size >> level],
        weight: [cout, cin, 3, 3],
        padding: 1,
    };
    let mut layers = vec![conv3(3, WIDTHS[0], 0), conv3(WIDTHS[0], WIDTHS[0], 0)];
    for level in 1..WIDTHS.len() {
        layers.push(conv3(WIDTHS[level - 1], WIDTHS[level], level));
        layers.push(conv3(WIDTHS[level], WIDTHS[level], level));
    }
    for level in (0..WIDTHS.len() - 1).rev() {
        layers.push(conv3(WIDTHS[level + 1] + WIDTHS[level], WIDTHS[level], level));
        layers.push(conv3(WIDTHS[level], WIDTHS[level], level));
    }
    layers.push(ConvLayer {
        x: [batch, WIDTHS[0], size, size],
        weight: [classes, WIDTHS[0], 1, 1],
        padding: 0,
    });
    layers
}

/// Deterministic values in [-0.5, 0.5).
fn values(len: usize) -> Vec<f32> {
    (0..len).map(|i| (i * 7919 % 1000) as f32 / 1000.0 - 0.5).collect()
}

fn flex(values: &[f32], shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values.to_vec(), shape))
}

/// Milliseconds of burn's and of boneseg's forward, input gradient and weight gradient, summed
/// over the layers.
fn conv_times(layers: &[ConvLayer], iters: usize) -> [[f64; 2]; 3] {
    let mut times = [[0.0; 2]; 3];
    for layer in layers {
        let p = layer.padding;
        let options = ConvOptions::new([1, 1], [p, p], [1, 1], 1);
        let geometry = Geometry::new(layer.x, layer.weight, [1, 1], [(p, p); 2], [1, 1], 1);
        let (x, w) = (values(layer.x.iter().product()), values(layer.weight.iter().product()));
        let g = values(geometry.output_shape().iter().product());
        let (fx, fw, fg) = (flex(&x, layer.x), flex(&w, layer.weight), flex(&g, geometry.output_shape()));
        let burn = [
            median_ms(iters, || drop(Flex::conv2d(fx.clone(), fw.clone(), None, options.clone()))),
            median_ms(iters, || {
                drop(Flex::conv2d_x_backward(fx.clone(), fw.clone(), fg.clone(), options.clone()))
            }),
            median_ms(iters, || {
                drop(Flex::conv2d_weight_backward(fx.clone(), fw.clone(), fg.clone(), options.clone()))
            }),
        ];
        let ours = [
            median_ms(iters, || drop(kernels::forward(&x, &w, &geometry, None))),
            median_ms(iters, || drop(kernels::input_grad(&w, &g, &geometry))),
            median_ms(iters, || drop(kernels::weight_grad(&x, &g, &geometry))),
        ];
        for op in 0..3 {
            times[op][0] += burn[op];
            times[op][1] += ours[op];
        }
    }
    times
}

/// Milliseconds of `op` forward and backward, summed over its input shapes.
fn forward_backward(
    iters: usize,
    device: &Device,
    shapes: &[Vec<[usize; 4]>],
    op: impl Fn(Vec<Tensor<4>>) -> Tensor<4>,
) -> f64 {
    shapes
        .iter()
        .map(|shapes| {
            let inputs: Vec<_> = shapes
                .iter()
                .map(|&shape| Tensor::<4>::random(shape, Distribution::Default, device).require_grad())
                .collect();
            median_ms(iters, || drop(op(inputs.clone()).sum().backward()))
        })
        .sum()
}

/// Every kind of operation of the step at `batch` x `size`² with `classes` outputs, on flex.
pub fn profile(batch: usize, size: usize, classes: usize, iters: usize, device: &Device) -> Vec<ProfileRow> {
    let layers = conv_layers(batch, size, classes);
    let conv = conv_times(&layers, iters);
    let ad = device.clone().autodiff();
    let one = |shape: [usize; 4]| vec![shape];
    let conv_outputs: Vec<_> = layers
        .iter()
        .filter(|l| l.weight[2] == 3)
        .map(|l| one([batch, l.weight[0], l.x[2], l.x[3]]))
        .collect();
    let levels = 1..WIDTHS.len();
    let pooled: Vec<_> =
        levels.clone().map(|l| one([batch, WIDTHS[l - 1], size >> (l - 1), size >> (l - 1)])).collect();
    // The decoder's joins: the deeper level's output and the skip at twice its size.
    let joins: Vec<_> = levels
        .map(|l| {
            vec![
                [batch, WIDTHS[l], size >> l, size >> l],
                [batch, WIDTHS[l - 1], size >> (l - 1), size >> (l - 1)],
            ]
        })
        .collect();
    let batch_norm_relu = [
        forward_backward(iters, &ad, &conv_outputs, |x| {
            activation::relu(BatchNormConfig::new(x[0].dims()[1]).init(&ad).forward(x[0].clone()))
        }),
        forward_backward(iters, &ad, &conv_outputs, |x| {
            let bn = BatchNormConfig::new(x[0].dims()[1]).init(&ad);
            apply_batch_norm(&bn, x[0].clone(), Activation::Relu)
        }),
    ];
    let pool = || MaxPoolOptions::new([2, 2]).with_stride([2, 2]);
    let max_pool = [
        forward_backward(iters, &ad, &pooled, |x| burn_max_pool2d(x[0].clone(), pool())),
        forward_backward(iters, &ad, &pooled, |x| max_pool2d(x[0].clone(), pool())),
    ];
    let join = [
        forward_backward(iters, &ad, &joins, |x| {
            Tensor::cat(vec![resize_nearest(x[0].clone(), scaled_size(&x[0], 2)), x[1].clone()], 1)
        }),
        forward_backward(iters, &ad, &joins, |x| upsample_cat(x[0].clone(), x[1].clone())),
    ];
    let logits = [batch, classes, size, size];
    let target = Tensor::<4>::random(logits, Distribution::Bernoulli(0.5), &ad);
    let bce = LossFn::Bce { pos_weight: None };
    let loss = forward_backward(iters, &ad, &[one(logits)], |x| {
        bce.forward(x[0].clone(), target.clone()).reshape([1, 1, 1, 1])
    });
    let optimiser = adam_step_ms(iters, classes, &ad);

    let names = ["conv forward", "conv input gradient", "conv weight gradient"];
    let mut rows: Vec<ProfileRow> = names
        .iter()
        .zip(conv)
        .map(|(&operation, [burn_ms, boneseg_ms])| ProfileRow {
            operation,
            calls: layers.len(),
            burn_ms,
            boneseg_ms,
        })
        .collect();
    let same = |ms: f64| [ms, ms];
    let others = [
        ("batch norm + ReLU (train, fwd+bwd)", conv_outputs.len(), batch_norm_relu),
        ("upsample nearest 2x + concatenation (fwd+bwd)", joins.len(), join),
        ("max-pool 2x2 (fwd+bwd)", pooled.len(), max_pool),
        ("BCE-with-logits loss (fwd+bwd)", 1, same(loss)),
        ("Adam step", 1, same(optimiser)),
    ];
    rows.extend(others.into_iter().map(|(operation, calls, [burn_ms, boneseg_ms])| ProfileRow {
        operation,
        calls,
        burn_ms,
        boneseg_ms,
    }));
    rows
}

/// One Adam update of the whole U-Net. Its gradients come from a 32x32 input outside the timing:
/// a parameter's gradient has the parameter's shape whatever the input size.
fn adam_step_ms(iters: usize, classes: usize, device: &Device) -> f64 {
    let mut optim = Optim::new(&OptimConfig::new(OptimKind::Adam, 1e-3)).expect("Adam's defaults are valid");
    let mut model = PlainUNet::new(classes, device);
    let x = Tensor::<4>::random([1, 3, 32, 32], Distribution::Default, device);
    let mut times = Vec::with_capacity(iters + 1);
    for _ in 0..=iters {
        let grads = GradientsParams::from_grads(model.forward(x.clone()).mean().backward(), &model);
        let start = Instant::now();
        model = optim.step(1e-3, model, grads);
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
