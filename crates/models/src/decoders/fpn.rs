//! SMP's FPN decoder: a top-down pyramid (1x1 lateral convolutions, nearest upsampling),
//! then per level 3x3 conv-GroupNorm-ReLU blocks upsampled to stride 4 and summed.

use burn::module::Module;
use burn::nn::{GroupNorm, GroupNormConfig};
use burn::tensor::{Device, Tensor, activation};

use crate::blocks::{ConvSpec, channel_dropout, resize_bilinear, resize_nearest, scaled_size};
use crate::layers::Conv2d;

pub const PYRAMID_CHANNELS: usize = 256;
pub const SEGMENTATION_CHANNELS: usize = 128;
/// SMP's `decoder_dropout` (spatial dropout on the merged pyramid).
pub const DROPOUT: f64 = 0.2;

#[derive(Module, Debug)]
pub struct FpnBlock {
    pub skip_conv: Conv2d,
}

#[derive(Module, Debug)]
pub struct ConvGn {
    pub _0: Conv2d,
    pub _1: GroupNorm,
}

/// SMP's `Conv3x3GNReLU`: conv, GroupNorm(32), ReLU, then optionally 2x bilinear (align_corners).
#[derive(Module, Debug)]
pub struct Conv3x3GnRelu {
    pub block: ConvGn,
    pub upsample: bool,
}

#[derive(Module, Debug)]
pub struct SegmentationBlock {
    pub block: Vec<Conv3x3GnRelu>,
}

#[derive(Module, Debug)]
pub struct FpnDecoder {
    pub p5: Conv2d,
    pub p4: FpnBlock,
    pub p3: FpnBlock,
    pub p2: FpnBlock,
    pub seg_blocks: Vec<SegmentationBlock>,
    pub dropout: f64,
}

impl FpnBlock {
    fn new(channels_skip: usize, device: &Device) -> Self {
        Self { skip_conv: ConvSpec::new(channels_skip, PYRAMID_CHANNELS, 1).bias(true).init(device) }
    }

    fn forward(&self, x: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
        let size = scaled_size(&x, 2);
        resize_nearest(x, size) + self.skip_conv.forward(skip)
    }
}

impl Conv3x3GnRelu {
    fn new(channels_in: usize, channels_out: usize, upsample: bool, device: &Device) -> Self {
        Self {
            block: ConvGn {
                _0: ConvSpec::new(channels_in, channels_out, 3).init(device),
                _1: GroupNormConfig::new(32, channels_out).init(device),
            },
            upsample,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = activation::relu(self.block._1.forward(self.block._0.forward(x)));
        if self.upsample {
            let size = scaled_size(&x, 2);
            resize_bilinear(x, size, true)
        } else {
            x
        }
    }
}

impl SegmentationBlock {
    fn new(upsamples: usize, device: &Device) -> Self {
        let mut block =
            vec![Conv3x3GnRelu::new(PYRAMID_CHANNELS, SEGMENTATION_CHANNELS, upsamples > 0, device)];
        for _ in 1..upsamples {
            block.push(Conv3x3GnRelu::new(SEGMENTATION_CHANNELS, SEGMENTATION_CHANNELS, true, device));
        }
        Self { block }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.block.iter().fold(x, |x, layer| layer.forward(x))
    }
}

impl FpnDecoder {
    pub fn new(encoder_channels: [usize; 6], dropout: f64, device: &Device) -> Self {
        Self {
            p5: ConvSpec::new(encoder_channels[5], PYRAMID_CHANNELS, 1).bias(true).init(device),
            p4: FpnBlock::new(encoder_channels[4], device),
            p3: FpnBlock::new(encoder_channels[3], device),
            p2: FpnBlock::new(encoder_channels[2], device),
            seg_blocks: [3, 2, 1, 0].into_iter().map(|n| SegmentationBlock::new(n, device)).collect(),
            dropout,
        }
    }

    pub fn out_channels(&self) -> usize {
        SEGMENTATION_CHANNELS
    }

    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        let [c2, c3, c4, c5]: [Tensor<4>; 4] =
            features.into_iter().skip(2).collect::<Vec<_>>().try_into().expect("six encoder features");
        let p5 = self.p5.forward(c5);
        let p4 = self.p4.forward(p5.clone(), c4);
        let p3 = self.p3.forward(p4.clone(), c3);
        let p2 = self.p2.forward(p3.clone(), c2);
        let merged = [p5, p4, p3, p2]
            .into_iter()
            .zip(&self.seg_blocks)
            .map(|(p, block)| block.forward(p))
            .reduce(|sum, s| sum + s)
            .expect("four pyramid levels");
        channel_dropout(merged, self.dropout)
    }
}
