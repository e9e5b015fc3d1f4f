//! SMP's DeepLabV3 and DeepLabV3+ decoders, built around ASPP (atrous spatial pyramid pooling).

use burn::module::Module;
use burn::nn::{BatchNorm, Dropout};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

use super::unet::spatial;
use crate::blocks::{BN_EPS, ConvBn, ConvSpec, batch_norm, dropout, resize_bilinear, scaled_size};
use crate::layers::Conv2d;
use crate::layers::{Activation, apply_batch_norm, conv_batch_norm};

/// SMP's `decoder_channels`, `decoder_atrous_rates` and `decoder_aspp_dropout` defaults.
pub const CHANNELS: usize = 256;
pub const ATROUS_RATES: [usize; 3] = [12, 24, 36];
pub const ASPP_DROPOUT: f64 = 0.5;
/// Channels of DeepLabV3+'s high-resolution branch, "proposed by authors of paper".
const HIGHRES_CHANNELS: usize = 48;

/// SMP's `SeparableConv2d`: depthwise (`_0`) then pointwise (`_1`), neither with bias here.
#[derive(Module, Debug)]
pub struct SeparableConv {
    pub _0: Conv2d,
    pub _1: Conv2d,
}

impl SeparableConv {
    fn new(channels_in: usize, channels_out: usize, dilation: usize, device: &Device) -> Self {
        Self {
            _0: ConvSpec::new(channels_in, channels_in, 3)
                .dilation(dilation)
                .groups(channels_in)
                .init(device),
            _1: ConvSpec::new(channels_in, channels_out, 1).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self._1.forward(self._0.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct SeparableConvBn {
    pub _0: SeparableConv,
    pub _1: BatchNorm,
}

impl SeparableConvBn {
    fn new(channels_in: usize, channels_out: usize, dilation: usize, device: &Device) -> Self {
        Self {
            _0: SeparableConv::new(channels_in, channels_out, dilation, device),
            _1: batch_norm(channels_out, BN_EPS, device),
        }
    }

    fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        apply_batch_norm(&self._1, self._0.forward(x), Activation::Relu)
    }
}

/// `ASPPPooling`: image-level features (global average, 1x1 conv-BN-ReLU) spread back over the map.
#[derive(Module, Debug)]
pub struct PoolingBranch {
    pub _1: Conv2d,
    pub _2: BatchNorm,
}

#[derive(Module, Debug)]
pub enum AsppBranch {
    Conv(ConvBn),
    Separable(SeparableConvBn),
    Pooling(PoolingBranch),
}

impl AsppBranch {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            AsppBranch::Conv(branch) => branch.forward_relu(x),
            AsppBranch::Separable(branch) => branch.forward_relu(x),
            AsppBranch::Pooling(branch) => {
                let size = spatial(&x);
                let pooled = adaptive_avg_pool2d(x, [1, 1]);
                let pooled = conv_batch_norm(&branch._1, &branch._2, pooled, Activation::Relu);
                resize_bilinear(pooled, size, false)
            }
        }
    }
}

#[derive(Module, Debug)]
pub struct AsppProject {
    pub _0: Conv2d,
    pub _1: BatchNorm,
    pub _3: Dropout,
}

#[derive(Module, Debug)]
pub struct Aspp {
    pub convs: Vec<AsppBranch>,
    pub project: AsppProject,
}

impl Aspp {
    fn new(channels_in: usize, separable: bool, dropout_prob: f64, device: &Device) -> Self {
        let mut convs = vec![AsppBranch::Conv(ConvBn::new(ConvSpec::new(channels_in, CHANNELS, 1), device))];
        for rate in ATROUS_RATES {
            convs.push(if separable {
                AsppBranch::Separable(SeparableConvBn::new(channels_in, CHANNELS, rate, device))
            } else {
                AsppBranch::Conv(ConvBn::new(ConvSpec::new(channels_in, CHANNELS, 3).dilation(rate), device))
            });
        }
        convs.push(AsppBranch::Pooling(PoolingBranch {
            _1: ConvSpec::new(channels_in, CHANNELS, 1).init(device),
            _2: batch_norm(CHANNELS, BN_EPS, device),
        }));
        Self {
            convs,
            project: AsppProject {
                _0: ConvSpec::new(5 * CHANNELS, CHANNELS, 1).init(device),
                _1: batch_norm(CHANNELS, BN_EPS, device),
                _3: dropout(dropout_prob),
            },
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branches = self.convs.iter().map(|branch| branch.forward(x.clone())).collect();
        let joined = Tensor::cat(branches, 1);
        let projected = conv_batch_norm(&self.project._0, &self.project._1, joined, Activation::Relu);
        self.project._3.forward(projected)
    }
}

#[derive(Module, Debug)]
pub struct DeepLabV3Decoder {
    pub aspp: Aspp,
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl DeepLabV3Decoder {
    pub fn new(encoder_channels: [usize; 6], dropout_prob: f64, device: &Device) -> Self {
        Self {
            aspp: Aspp::new(encoder_channels[5], false, dropout_prob, device),
            conv: ConvSpec::new(CHANNELS, CHANNELS, 3).init(device),
            bn: batch_norm(CHANNELS, BN_EPS, device),
        }
    }

    pub fn forward(&self, mut features: Vec<Tensor<4>>) -> Tensor<4> {
        let x = self.aspp.forward(features.pop().expect("six encoder features"));
        conv_batch_norm(&self.conv, &self.bn, x, Activation::Relu)
    }
}

/// DeepLabV3+'s `aspp` is `nn.Sequential(ASPP, SeparableConv2d, BatchNorm2d, ReLU)`.
#[derive(Module, Debug)]
pub struct AsppStack {
    pub _0: Aspp,
    pub _1: SeparableConv,
    pub _2: BatchNorm,
}

#[derive(Module, Debug)]
pub struct DeepLabV3PlusDecoder {
    pub aspp: AsppStack,
    pub block1: ConvBn,
    pub block2: SeparableConvBn,
    /// Upsampling of the ASPP output to stride 4: 4 at output stride 16, 2 at 8.
    pub up: usize,
}

impl DeepLabV3PlusDecoder {
    pub fn new(
        encoder_channels: [usize; 6],
        output_stride: usize,
        dropout_prob: f64,
        device: &Device,
    ) -> Self {
        Self {
            aspp: AsppStack {
                _0: Aspp::new(encoder_channels[5], true, dropout_prob, device),
                _1: SeparableConv::new(CHANNELS, CHANNELS, 1, device),
                _2: batch_norm(CHANNELS, BN_EPS, device),
            },
            block1: ConvBn::new(ConvSpec::new(encoder_channels[2], HIGHRES_CHANNELS, 1), device),
            block2: SeparableConvBn::new(HIGHRES_CHANNELS + CHANNELS, CHANNELS, 1, device),
            up: if output_stride == 16 { 4 } else { 2 },
        }
    }

    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        let aspp = self.aspp._0.forward(features[5].clone());
        let aspp = apply_batch_norm(&self.aspp._2, self.aspp._1.forward(aspp), Activation::Relu);
        let size = scaled_size(&aspp, self.up);
        let aspp = resize_bilinear(aspp, size, true);
        let high_res = self.block1.forward_relu(features[2].clone());
        self.block2.forward_relu(Tensor::cat(vec![aspp, high_res], 1))
    }
}
