//! SMP's U-Net++ decoder: the nested dense skip grid `x_{depth}_{layer}`, one field per node
//! so that the names are SMP's `decoder.blocks.x_1_2...` keys.
//!
//! The nodes below the stride-2 skip have that skip's channels; for encoders that start at
//! stride 4 (ConvNeXt) it has none, and SMP leaves those nodes empty: no parameters, an output
//! without channels.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::unet::UnetBlock;
use crate::blocks::scaled_size;

#[derive(Module, Debug)]
pub struct UnetPlusPlusBlocks {
    pub x_0_0: UnetBlock,
    pub x_0_1: UnetBlock,
    pub x_1_1: UnetBlock,
    pub x_0_2: UnetBlock,
    pub x_1_2: UnetBlock,
    pub x_2_2: UnetBlock,
    pub x_0_3: UnetBlock,
    pub x_1_3: Option<UnetBlock>,
    pub x_2_3: Option<UnetBlock>,
    pub x_3_3: Option<UnetBlock>,
    pub x_0_4: UnetBlock,
}

#[derive(Module, Debug)]
pub struct UnetPlusPlusDecoder {
    pub blocks: UnetPlusPlusBlocks,
}

impl UnetPlusPlusBlocks {
    /// Node `x_{depth}_{layer}`, None where it is empty.
    fn get(&self, depth: usize, layer: usize) -> Option<&UnetBlock> {
        match (depth, layer) {
            (0, 0) => Some(&self.x_0_0),
            (0, 1) => Some(&self.x_0_1),
            (1, 1) => Some(&self.x_1_1),
            (0, 2) => Some(&self.x_0_2),
            (1, 2) => Some(&self.x_1_2),
            (2, 2) => Some(&self.x_2_2),
            (0, 3) => Some(&self.x_0_3),
            (1, 3) => self.x_1_3.as_ref(),
            (2, 3) => self.x_2_3.as_ref(),
            (3, 3) => self.x_3_3.as_ref(),
            (0, 4) => Some(&self.x_0_4),
            _ => unreachable!("U-Net++ of depth 5 has no node x_{depth}_{layer}"),
        }
    }
}

impl UnetPlusPlusDecoder {
    /// `channels`: the top row's widths, deepest first (SMP's `decoder_channels`).
    pub fn new(encoder_channels: [usize; 6], channels: [usize; 5], device: &Device) -> Self {
        let inputs = [encoder_channels[5], channels[0], channels[1], channels[2], channels[3]];
        let skips = [encoder_channels[4], encoder_channels[3], encoder_channels[2], encoder_channels[1], 0];
        // SMP's channel rule for node x_{depth}_{layer}.
        let optional = |depth: usize, layer: usize| {
            let (channels_in, channels_skip, channels_out) = if depth == 0 {
                (inputs[layer], skips[layer] * (layer + 1), channels[layer])
            } else {
                (skips[layer - 1], skips[layer] * (layer + 1 - depth), skips[layer])
            };
            (channels_out > 0).then(|| UnetBlock::new(channels_in, channels_skip, channels_out, device))
        };
        let node =
            |depth: usize, layer: usize| optional(depth, layer).expect("only nodes x_d_3 can be empty");
        Self {
            blocks: UnetPlusPlusBlocks {
                x_0_0: node(0, 0),
                x_0_1: node(0, 1),
                x_1_1: node(1, 1),
                x_0_2: node(0, 2),
                x_1_2: node(1, 2),
                x_2_2: node(2, 2),
                x_0_3: node(0, 3),
                x_1_3: optional(1, 3),
                x_2_3: optional(2, 3),
                x_3_3: optional(3, 3),
                x_0_4: UnetBlock::new(inputs[4], 0, channels[4], device),
            },
        }
    }

    /// SMP's dense forward: every node upsamples its left neighbour 2x and concatenates all
    /// earlier nodes of its column with the encoder feature.
    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        let features: Vec<Tensor<4>> = features.into_iter().skip(1).rev().collect();
        const DEPTH: usize = 4;
        let mut dense: std::collections::HashMap<(usize, usize), Tensor<4>> = Default::default();
        // SMP's empty node: the input upsampled, without channels.
        let up = |block: Option<&UnetBlock>, x: Tensor<4>, skip: Option<Tensor<4>>| {
            let size = scaled_size(&x, 2);
            match block {
                Some(block) => block.forward(x, size, skip),
                None => Tensor::zeros([x.dims()[0], 0, size[0], size[1]], &x.device()),
            }
        };
        for layer in 0..DEPTH {
            for depth in 0..DEPTH - layer {
                if layer == 0 {
                    let out = up(
                        self.blocks.get(depth, depth),
                        features[depth].clone(),
                        Some(features[depth + 1].clone()),
                    );
                    dense.insert((depth, depth), out);
                } else {
                    let column = depth + layer;
                    let mut joined: Vec<Tensor<4>> =
                        (depth + 1..=column).map(|d| dense[&(d, column)].clone()).collect();
                    joined.push(features[column + 1].clone());
                    joined.retain(|x| x.dims()[1] > 0);
                    let skip = (!joined.is_empty()).then(|| Tensor::cat(joined, 1));
                    let out = up(self.blocks.get(depth, column), dense[&(depth, column - 1)].clone(), skip);
                    dense.insert((depth, column), out);
                }
            }
        }
        up(Some(&self.blocks.x_0_4), dense[&(0, DEPTH - 1)].clone(), None)
    }
}
