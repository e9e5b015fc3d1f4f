//! Layers shared by the encoders and decoders, with PyTorch's semantics.
//!
//! Struct fields named `_0`, `_1`, ... stand for the positions of a PyTorch `nn.Sequential`:
//! a Rust field cannot be called `0`, and the weight loader drops the underscore so that
//! `conv1._1.gamma` here reads `conv1.1.weight` from an SMP state dict.

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, LayerNorm, PaddingConfig2d};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Distribution, Tensor};

pub use boneseg_kernels::join::resize_nearest;

use crate::layers::Conv2d;
use crate::layers::{Activation, conv_batch_norm};

/// A convolution as `nn.Conv2d(in, out, kernel, stride, padding, dilation, groups, bias)` builds it.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    pub channels: [usize; 2],
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
    pub groups: usize,
    pub bias: bool,
}

impl ConvSpec {
    /// A stride-1, undilated, ungrouped convolution with `padding = kernel / 2` and no bias.
    pub fn new(channels_in: usize, channels_out: usize, kernel: usize) -> Self {
        Self {
            channels: [channels_in, channels_out],
            kernel,
            stride: 1,
            padding: kernel / 2,
            dilation: 1,
            groups: 1,
            bias: false,
        }
    }

    pub fn stride(self, stride: usize) -> Self {
        Self { stride, ..self }
    }

    pub fn padding(self, padding: usize) -> Self {
        Self { padding, ..self }
    }

    /// Dilates the kernel and keeps the output size, as SMP's `replace_strides_with_dilation` does.
    pub fn dilation(self, dilation: usize) -> Self {
        Self { dilation, padding: (self.kernel / 2) * dilation, ..self }
    }

    pub fn groups(self, groups: usize) -> Self {
        Self { groups, ..self }
    }

    pub fn bias(self, bias: bool) -> Self {
        Self { bias, ..self }
    }

    pub fn init(self, device: &Device) -> Conv2d {
        let p = self.padding;
        Conv2dConfig::new(self.channels, [self.kernel, self.kernel])
            .with_stride([self.stride, self.stride])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_dilation([self.dilation, self.dilation])
            .with_groups(self.groups)
            .with_bias(self.bias)
            .init(device)
            .into()
    }
}

/// `nn.BatchNorm2d(channels, eps)` with PyTorch's momentum.
pub fn batch_norm(channels: usize, epsilon: f64, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).with_epsilon(epsilon).init(device)
}

/// PyTorch's default BatchNorm epsilon (ResNet, SMP decoders).
pub const BN_EPS: f64 = 1e-5;

/// `nn.Sequential(conv, BatchNorm2d)`: the shape of SMP's `Conv2dReLU` (ReLU applied in
/// [`ConvBn::forward_relu`]) and of torchvision's ResNet `downsample`.
#[derive(Module, Debug)]
pub struct ConvBn {
    pub _0: Conv2d,
    pub _1: BatchNorm,
}

impl ConvBn {
    pub fn new(spec: ConvSpec, device: &Device) -> Self {
        Self { _0: spec.init(device), _1: batch_norm(spec.channels[1], BN_EPS, device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_batch_norm(&self._0, &self._1, x, Activation::Identity)
    }

    pub fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        conv_batch_norm(&self._0, &self._1, x, Activation::Relu)
    }
}

/// SMP's `Conv2dReLU` with batch norm: 3x3 convolution without bias, BatchNorm, ReLU.
pub fn conv3x3_bn_relu(channels_in: usize, channels_out: usize, device: &Device) -> ConvBn {
    ConvBn::new(ConvSpec::new(channels_in, channels_out, 3), device)
}

/// LayerNorm over the channels of an NCHW map: MiT's `LayerNorm` on 4-D input, timm's and
/// SMP's `LayerNorm2d` (normalise channels-last, permute back).
pub fn norm_channels(norm: &LayerNorm, x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let tokens = x.reshape([n, c, h * w]).swap_dims(1, 2);
    norm.forward(tokens).swap_dims(1, 2).reshape([n, c, h, w])
}

/// `F.interpolate(x, size, mode="bilinear", align_corners=...)`: burn's default for
/// `align_corners` is true and PyTorch's is false, so every call says which it means.
pub fn resize_bilinear(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(align_corners)
            .with_output_size(size),
    )
}

/// The spatial size of an NCHW tensor scaled by an integer factor.
pub fn scaled_size(x: &Tensor<4>, factor: usize) -> [usize; 2] {
    let [_, _, h, w] = x.dims();
    [h * factor, w * factor]
}

/// `nn.Dropout(p)`: active only when the tensor lives on an autodiff device (training).
pub fn dropout(prob: f64) -> Dropout {
    DropoutConfig::new(prob).init()
}

/// `nn.Dropout2d(p)`: zeroes whole channels while training, and scales the rest by 1/(1-p).
pub fn channel_dropout(x: Tensor<4>, prob: f64) -> Tensor<4> {
    if prob == 0.0 || !x.device().is_autodiff() {
        return x;
    }
    let [n, c, _, _] = x.dims();
    let keep =
        Tensor::<4>::random([n, c, 1, 1], Distribution::Bernoulli(1.0 - prob), (&x.device(), x.dtype()));
    x.mul(keep).div_scalar(1.0 - prob)
}
