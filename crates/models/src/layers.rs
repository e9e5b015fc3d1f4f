//! The layers every encoder and decoder is built of, with PyTorch's semantics: `nn.Conv2d` and
//! `nn.BatchNorm2d` (batch statistics while training, running statistics otherwise, updated as
//! PyTorch does), run by [`boneseg_kernels`] on flex and by burn's ops elsewhere.
//!
//! At inference on flex a convolution, its batch norm and its ReLU run as one convolution whose
//! output rows are mapped while still in cache: the batch norm folded into the convolution.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

use boneseg_kernels::batch_norm::activate;
pub use boneseg_kernels::{Activation, Affine};
use boneseg_kernels::{batch_norm_train, conv2d, conv2d_mapped, runs_our_kernels};

/// `nn.Conv2d`: burn's `Conv2d` parameters (same names, so state dicts load unchanged) run by
/// [`boneseg_kernels::conv2d`].
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[channels_out, channels_in / groups, kernel_h, kernel_w]`
    pub weight: Param<Tensor<4>>,
    /// `[channels_out]`
    pub bias: Option<Param<Tensor<1>>>,
    #[module(skip)]
    pub options: ConvOptions<2>,
}

impl Conv2d {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()), self.options.clone())
    }
}

/// Takes the parameters burn initialised (PyTorch's Kaiming-uniform). Only explicit or no padding
/// is accepted: `Same` depends on the input size, and no model here uses it.
impl From<burn::nn::conv::Conv2d> for Conv2d {
    fn from(conv: burn::nn::conv::Conv2d) -> Self {
        let padding = match conv.padding {
            PaddingConfig2d::Valid => [(0, 0), (0, 0)],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
            PaddingConfig2d::Same => panic!("conv2d: `Same` padding is not supported; give explicit padding"),
        };
        let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
        Self { weight: conv.weight, bias: conv.bias, options }
    }
}

/// `activation(bn(x))`.
pub fn apply_batch_norm(bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    if !is_training(bn, &x) {
        return activate(bn.forward(x), activation);
    }
    let count = x.dims()[0] * x.dims()[2] * x.dims()[3];
    let (out, mean, variance) = batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon, activation);
    update_running_statistics(bn, mean, variance, count);
    out
}

/// `activation(bn(conv(x)))`: at inference on flex, one convolution with the batch norm folded in.
pub fn conv_batch_norm(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    if is_training(bn, &x) || x.device().is_autodiff() || !runs_our_kernels(&x) {
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
    conv2d_mapped(x, conv.weight.val(), conv.options.clone(), affine)
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
