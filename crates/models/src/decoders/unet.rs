//! SMP's U-Net decoder: five blocks, each upsampling (nearest) to the next skip's size,
//! concatenating the skip and applying two 3x3 conv-BN-ReLU.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::blocks::{ConvBn, conv3x3_bn_relu, resize_nearest};
use boneseg_kernels::upsample_cat;

/// SMP's default `decoder_channels`.
pub const DECODER_CHANNELS: [usize; 5] = [256, 128, 64, 32, 16];

#[derive(Module, Debug)]
pub struct UnetBlock {
    pub conv1: ConvBn,
    pub conv2: ConvBn,
}

impl UnetBlock {
    pub fn new(channels_in: usize, channels_skip: usize, channels_out: usize, device: &Device) -> Self {
        Self {
            conv1: conv3x3_bn_relu(channels_in + channels_skip, channels_out, device),
            conv2: conv3x3_bn_relu(channels_out, channels_out, device),
        }
    }

    /// Upsampled `x` joined with its skip (if it has channels), through the two convolutions.
    pub fn forward(&self, x: Tensor<4>, size: [usize; 2], skip: Option<Tensor<4>>) -> Tensor<4> {
        // Encoders that start at stride 4 hand a stride-2 skip without channels.
        let x = match skip {
            Some(skip) if skip.dims()[1] > 0 => upsample_cat(x, skip),
            _ => resize_nearest(x, size),
        };
        self.conv2.forward_relu(self.conv1.forward_relu(x))
    }
}

#[derive(Module, Debug)]
pub struct UnetDecoder {
    pub blocks: Vec<UnetBlock>,
}

impl UnetDecoder {
    /// `channels`: the blocks' widths, deepest first (SMP's `decoder_channels`).
    pub fn new(encoder_channels: [usize; 6], channels: [usize; 5], device: &Device) -> Self {
        let inputs = [encoder_channels[5], channels[0], channels[1], channels[2], channels[3]];
        let skips = [encoder_channels[4], encoder_channels[3], encoder_channels[2], encoder_channels[1], 0];
        let blocks = (0..5).map(|i| UnetBlock::new(inputs[i], skips[i], channels[i], device)).collect();
        Self { blocks }
    }

    pub fn forward(&self, mut features: Vec<Tensor<4>>) -> Tensor<4> {
        let sizes: Vec<[usize; 2]> = features.iter().rev().map(spatial).collect();
        let mut x = features.pop().expect("six encoder features");
        for (i, block) in self.blocks.iter().enumerate() {
            let skip = (features.len() > 1).then(|| features.pop().expect("a skip feature"));
            x = block.forward(x, sizes[i + 1], skip);
        }
        x
    }
}

pub(crate) fn spatial(x: &Tensor<4>) -> [usize; 2] {
    let [_, _, h, w] = x.dims();
    [h, w]
}
