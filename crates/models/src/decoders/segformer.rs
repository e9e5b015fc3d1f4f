//! SMP's SegFormer decoder: a linear layer per stage to 256 channels, everything resized
//! (bilinear, align_corners=False) to stride 4, concatenated and fused by a 1x1 conv-BN-ReLU.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::unet::spatial;
use crate::blocks::{ConvBn, ConvSpec, resize_bilinear};

pub const SEGMENTATION_CHANNELS: usize = 256;

#[derive(Module, Debug)]
pub struct Mlp {
    pub linear: Linear,
}

impl Mlp {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let tokens = x.reshape([n, c, h * w]).swap_dims(1, 2);
        self.linear.forward(tokens).swap_dims(1, 2).reshape([n, SEGMENTATION_CHANNELS, h, w])
    }
}

#[derive(Module, Debug)]
pub struct SegformerDecoder {
    pub mlp_stage: Vec<Mlp>,
    pub fuse_stage: ConvBn,
}

impl SegformerDecoder {
    /// Encoders without a stride-2 feature (MiT) report it with 0 channels.
    pub fn new(encoder_channels: [usize; 6], device: &Device) -> Self {
        let used: Vec<usize> = encoder_channels[1..].iter().rev().copied().filter(|&c| c > 0).collect();
        let mlp_stage: Vec<Mlp> = used
            .iter()
            .map(|&c| Mlp { linear: LinearConfig::new(c, SEGMENTATION_CHANNELS).init(device) })
            .collect();
        let fused = mlp_stage.len() * SEGMENTATION_CHANNELS;
        Self { mlp_stage, fuse_stage: ConvBn::new(ConvSpec::new(fused, SEGMENTATION_CHANNELS, 1), device) }
    }

    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        let [h, w] = spatial(&features[0]);
        let target = [h / 4, w / 4];
        let skip = if features[1].dims()[1] == 0 { 2 } else { 1 };
        let resized: Vec<Tensor<4>> = features
            .into_iter()
            .skip(skip)
            .rev()
            .zip(&self.mlp_stage)
            .map(|(feature, mlp)| resize_bilinear(mlp.forward(feature), target, false))
            .collect();
        self.fuse_stage.forward_relu(Tensor::cat(resized, 1))
    }
}
