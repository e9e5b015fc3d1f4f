//! Batch normalisation, alone or after a convolution, with PyTorch's semantics: batch statistics
//! while training, running statistics otherwise.
//!
//! On flex (f32) the training batch norm and the ReLU after it run as one operation with its own
//! backward ([`kernels`]), and at inference a convolution, its batch norm and its ReLU run as one
//! convolution whose output rows are mapped while still in cache: the batch norm folded into the
//! convolution. Elsewhere (GPU backends, half precision) burn's own operations run.

mod extension;
pub mod kernels;

use burn::nn::BatchNorm;
use burn::tensor::{Tensor, activation};

use crate::conv::{self, Conv2d};
use extension::FastBatchNorm;
pub use kernels::{Activation, Affine};

/// `activation(bn(x))`.
pub fn apply_batch_norm(bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    if !is_training(bn, &x) {
        return activate(bn.forward(x), activation);
    }
    let count = x.dims()[0] * x.dims()[2] * x.dims()[3];
    let (out, mean, variance) = if conv::runs_our_kernels(&x) {
        let (out, mean, variance) = burn::backend::Dispatch::fast_batch_norm_train(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            bn.epsilon,
            activation,
        );
        (Tensor::from_dispatch(out), Tensor::from_dispatch(mean), Tensor::from_dispatch(variance))
    } else {
        let result = burn::tensor::module::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
        (activate(result.output, activation), result.mean, result.variance)
    };
    update_running_statistics(bn, mean, variance, count);
    out
}

/// `activation(bn(conv(x)))`: at inference on flex, one convolution with the batch norm folded in.
pub fn conv_batch_norm(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    if is_training(bn, &x) || x.device().is_autodiff() || !conv::runs_our_kernels(&x) {
        return apply_batch_norm(bn, conv.forward(x), activation);
    }
    let read = |t: Tensor<1>| t.into_data().try_into_vec::<f32>().expect("batch norm parameters are f32");
    let affine = Affine::from_statistics(
        &read(bn.gamma.val()),
        &read(bn.beta.val()),
        &read(bn.running_mean.value()),
        &read(bn.running_var.value()),
        bn.epsilon,
        activation,
    );
    let affine = match &conv.bias {
        Some(bias) => fold_bias(affine, &read(bias.val())),
        None => affine,
    };
    conv::conv2d_mapped(x, conv.weight.val(), conv.options.clone(), affine)
}

/// A bias before the map: `scale (y + bias) + shift = scale y + (shift + scale bias)`.
fn fold_bias(affine: Affine, bias: &[f32]) -> Affine {
    let shift = affine.shift.iter().zip(&affine.scale).zip(bias).map(|((s, k), b)| s + k * b).collect();
    Affine { shift, ..affine }
}

/// burn's rule: the batch statistics are used on an autodiff device unless the layer is frozen.
fn is_training(bn: &BatchNorm, x: &Tensor<4>) -> bool {
    x.device().is_autodiff() && bn.training.is_enabled()
}

fn activate(x: Tensor<4>, activation: Activation) -> Tensor<4> {
    match activation {
        Activation::Identity => x,
        Activation::Relu => activation::relu(x),
    }
}

/// PyTorch's update: `running = (1 - momentum) running + momentum batch`, with the variance
/// unbiased (`n / (n - 1)`). burn's own BatchNorm feeds the biased variance in, which shrinks the
/// running variance of small deep feature maps (by 0.8% for 128 values per channel).
fn update_running_statistics(bn: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>, count: usize) {
    let device = mean.device();
    let unbiased = variance.detach().mul_scalar(count as f64 / (count.max(2) - 1) as f64);
    let momentum = bn.momentum;
    let blend = |running: Tensor<1>, batch: Tensor<1>| {
        running.to_device(&device).mul_scalar(1.0 - momentum).add(batch.mul_scalar(momentum)).detach()
    };
    bn.running_mean.update(blend(bn.running_mean.value_sync(), mean.detach()));
    bn.running_var.update(blend(bn.running_var.value_sync(), unbiased));
}
