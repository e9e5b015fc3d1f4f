//! SMP's UPerNet decoder: every feature from stride 4 on is LayerNorm-ed over its channels; a
//! pyramid pooling module (PPM) summarises the deepest one at 1x1, 2x2, 3x3 and 6x6; an FPN
//! adds each shallower feature (1x1 conv-BN-ReLU) to the bilinear upsampling of the level
//! below it; every level is refined by a 3x3 conv-BN-ReLU, brought to stride 4, concatenated
//! and fused by a last 3x3 conv-BN-ReLU.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

use super::unet::spatial;
use crate::blocks::{ConvBn, ConvSpec, norm_channels, resize_bilinear};

/// SMP's `decoder_channels` default.
pub const CHANNELS: usize = 256;
/// The PPM's pooled sizes.
const POOL_SIZES: [usize; 4] = [1, 2, 3, 6];
/// SMP's `LayerNorm2d(channels, eps=1e-6)` on the encoder features.
const NORM_EPS: f64 = 1e-6;

/// `nn.Sequential(AdaptiveAvgPool2d(size), Conv2dReLU(1x1))`.
#[derive(Module, Debug)]
pub struct PoolingBlock {
    pub _1: ConvBn,
    pub size: usize,
}

#[derive(Module, Debug)]
pub struct Psp {
    pub blocks: Vec<PoolingBlock>,
    pub out_conv: ConvBn,
}

impl Psp {
    fn new(channels_in: usize, device: &Device) -> Self {
        let blocks = POOL_SIZES
            .iter()
            .map(|&size| PoolingBlock {
                _1: ConvBn::new(ConvSpec::new(channels_in, CHANNELS, 1), device),
                size,
            })
            .collect();
        let joined = channels_in + POOL_SIZES.len() * CHANNELS;
        Self { blocks, out_conv: ConvBn::new(ConvSpec::new(joined, CHANNELS, 3), device) }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let size = spatial(&x);
        let mut pyramid = vec![x.clone()];
        for block in &self.blocks {
            let pooled = block._1.forward_relu(adaptive_avg_pool2d(x.clone(), [block.size, block.size]));
            pyramid.push(resize_bilinear(pooled, size, false));
        }
        self.out_conv.forward_relu(Tensor::cat(pyramid, 1))
    }
}

/// SMP's `FPNLateralBlock`: the feature through a 1x1 conv-BN-ReLU, plus the level below.
#[derive(Module, Debug)]
pub struct LateralBlock {
    pub conv_norm_relu: ConvBn,
}

#[derive(Module, Debug)]
pub struct UperNetDecoder {
    pub feature_norms: Vec<LayerNorm>,
    pub psp: Psp,
    pub fpn_lateral_blocks: Vec<LateralBlock>,
    pub fpn_conv_blocks: Vec<ConvBn>,
    pub fusion_block: ConvBn,
}

impl UperNetDecoder {
    pub fn new(encoder_channels: [usize; 6], device: &Device) -> Self {
        let used = &encoder_channels[2..];
        let deepest = used[used.len() - 1];
        let laterals: Vec<usize> = used[..used.len() - 1].iter().rev().copied().collect();
        Self {
            feature_norms: used
                .iter()
                .map(|&c| LayerNormConfig::new(c).with_epsilon(NORM_EPS).init(device))
                .collect(),
            psp: Psp::new(deepest, device),
            fpn_lateral_blocks: laterals
                .iter()
                .map(|&c| LateralBlock { conv_norm_relu: ConvBn::new(ConvSpec::new(c, CHANNELS, 1), device) })
                .collect(),
            fpn_conv_blocks: laterals
                .iter()
                .map(|_| ConvBn::new(ConvSpec::new(CHANNELS, CHANNELS, 3), device))
                .collect(),
            fusion_block: ConvBn::new(ConvSpec::new(used.len() * CHANNELS, CHANNELS, 3), device),
        }
    }

    /// Stride-4 features of `CHANNELS` channels.
    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        let mut normed: Vec<Tensor<4>> = features
            .into_iter()
            .skip(2)
            .zip(&self.feature_norms)
            .map(|(x, norm)| norm_channels(norm, x))
            .collect();
        let deepest = normed.pop().expect("four encoder features");
        let mut levels = vec![self.psp.forward(deepest)];
        for (lateral, block) in normed.into_iter().rev().zip(&self.fpn_lateral_blocks) {
            let lateral = block.conv_norm_relu.forward_relu(lateral);
            let below = levels.last().expect("the pyramid pooling level").clone();
            levels.push(resize_bilinear(below, spatial(&lateral), false) + lateral);
        }
        for (level, conv) in levels.iter_mut().skip(1).zip(&self.fpn_conv_blocks) {
            *level = conv.forward_relu(level.clone());
        }
        let target = spatial(levels.last().expect("four levels"));
        let resized: Vec<Tensor<4>> = levels
            .into_iter()
            .rev()
            .map(
                |level| if spatial(&level) == target { level } else { resize_bilinear(level, target, false) },
            )
            .collect();
        self.fusion_block.forward_relu(Tensor::cat(resized, 1))
    }
}
