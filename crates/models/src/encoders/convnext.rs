//! ConvNeXt-T/S/B in timm's layout, as SMP's `tu-convnext_*` encoders hold it under
//! `encoder.model.`: timm's features model flattens the stem and stages into `stem_0`,
//! `stem_1`, `stages_0`...`stages_3` (the checkpoint's `stem.0`, `stages.0`, ...).
//!
//! A 4x4 stride-4 patch convolution and a LayerNorm, then four stages; stages 1-3 open with a
//! LayerNorm and a 2x2 stride-2 convolution. Each block is a depthwise 7x7 convolution, then
//! channels-last LayerNorm, a 4x MLP with GELU, a per-channel layer scale (`gamma`), and the
//! residual sum. The features are the four stage outputs (strides 4..32); like SMP's
//! transformer-style encoders, there is no stride-2 feature (0 channels).

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation};

use super::empty_feature;
use crate::blocks::{ConvSpec, norm_channels};
use crate::layers::Conv2d;
use crate::registry::ConvNextVariant;

/// timm's LayerNorm / LayerNorm2d epsilon for ConvNeXt.
const EPS: f64 = 1e-6;
const KERNEL: usize = 7;
const MLP_RATIO: usize = 4;
/// timm's `ls_init_value`: the layer scale starts almost closed.
const LAYER_SCALE_INIT: f64 = 1e-6;

fn layer_norm(channels: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(channels).with_epsilon(EPS).init(device)
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

#[derive(Module, Debug)]
pub struct ConvNextBlock {
    pub conv_dw: Conv2d,
    pub norm: LayerNorm,
    pub mlp: Mlp,
    /// The layer scale, one factor per channel.
    pub gamma: Param<Tensor<1>>,
}

impl ConvNextBlock {
    fn new(channels: usize, device: &Device) -> Self {
        let hidden = channels * MLP_RATIO;
        Self {
            conv_dw: ConvSpec::new(channels, channels, KERNEL).groups(channels).bias(true).init(device),
            norm: layer_norm(channels, device),
            mlp: Mlp {
                fc1: LinearConfig::new(channels, hidden).init(device),
                fc2: LinearConfig::new(hidden, channels).init(device),
            },
            gamma: Param::from_tensor(Tensor::ones([channels], device).mul_scalar(LAYER_SCALE_INIT)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let mixed = self.conv_dw.forward(x.clone());
        // Channels last: the LayerNorm and the MLP act on each pixel's channel vector.
        let pixels = mixed.permute([0, 2, 3, 1]).reshape([n * h * w, c]);
        let hidden = activation::gelu(self.mlp.fc1.forward(self.norm.forward(pixels)));
        let scaled = self.mlp.fc2.forward(hidden).mul(self.gamma.val().reshape([1, c]));
        scaled.reshape([n, h, w, c]).permute([0, 3, 1, 2]) + x
    }
}

/// timm's `downsample`: `nn.Sequential(LayerNorm2d, Conv2d(2x2, stride 2))`.
#[derive(Module, Debug)]
pub struct Downsample {
    pub _0: LayerNorm,
    pub _1: Conv2d,
}

#[derive(Module, Debug)]
pub struct Stage {
    pub downsample: Option<Downsample>,
    pub blocks: Vec<ConvNextBlock>,
}

impl Stage {
    fn new(channels_in: usize, channels: usize, depth: usize, device: &Device) -> Self {
        let downsample = (channels_in != channels).then(|| Downsample {
            _0: layer_norm(channels_in, device),
            _1: ConvSpec::new(channels_in, channels, 2).stride(2).padding(0).bias(true).init(device),
        });
        Self { downsample, blocks: (0..depth).map(|_| ConvNextBlock::new(channels, device)).collect() }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match &self.downsample {
            Some(down) => down._1.forward(norm_channels(&down._0, x)),
            None => x,
        };
        self.blocks.iter().fold(x, |x, block| block.forward(x))
    }
}

/// timm's `ConvNeXt` trunk as its features model names it.
#[derive(Module, Debug)]
pub struct ConvNext {
    pub stem_0: Conv2d,
    pub stem_1: LayerNorm,
    pub stages_0: Stage,
    pub stages_1: Stage,
    pub stages_2: Stage,
    pub stages_3: Stage,
}

/// SMP's `TimmUniversalEncoder` around timm's features model: the keys sit under `model.`.
#[derive(Module, Debug)]
pub struct ConvNextEncoder {
    pub model: ConvNext,
}

impl ConvNextEncoder {
    pub fn new(variant: ConvNextVariant, device: &Device) -> Self {
        let (depths, dims) = variant.depths_dims();
        let stage = |i: usize| Stage::new(dims[i.saturating_sub(1)], dims[i], depths[i], device);
        Self {
            model: ConvNext {
                stem_0: ConvSpec::new(3, dims[0], 4).stride(4).padding(0).bias(true).init(device),
                stem_1: layer_norm(dims[0], device),
                stages_0: stage(0),
                stages_1: stage(1),
                stages_2: stage(2),
                stages_3: stage(3),
            },
        }
    }

    /// The input, an empty stride-2 feature, then the four stage outputs.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let model = &self.model;
        let stem = norm_channels(&model.stem_1, model.stem_0.forward(x.clone()));
        let f2 = model.stages_0.forward(stem);
        let f3 = model.stages_1.forward(f2.clone());
        let f4 = model.stages_2.forward(f3.clone());
        let f5 = model.stages_3.forward(f4.clone());
        vec![x.clone(), empty_feature(&x), f2, f3, f4, f5]
    }

    /// The encoder's key for a key of timm's classification checkpoint
    /// (`convnext_tiny.in12k_ft_in1k`): `stem.N` and `stages.N` flattened as timm's features
    /// model does, None for the head (`head.norm`, `head.fc`), which it drops.
    pub fn key_from_timm(&self, key: &str) -> Option<String> {
        if key.starts_with("head.") {
            return None;
        }
        let flattened = ["stem.", "stages."].iter().find_map(|prefix| {
            let rest = key.strip_prefix(prefix)?;
            let (index, tail) = rest.split_once('.')?;
            Some(format!("{}_{index}.{tail}", prefix.trim_end_matches('.')))
        });
        Some(format!("model.{}", flattened.unwrap_or_else(|| key.to_string())))
    }
}
