//! torchvision's `FCNHead` (the competition baseline's classifier): 3x3 conv-BN-ReLU,
//! dropout 0.1, 1x1 conv to the classes; keys `classifier.0`, `.1`, `.4`.

use burn::module::Module;
use burn::nn::{BatchNorm, Dropout};
use burn::tensor::{Device, Tensor};

use crate::blocks::{BN_EPS, ConvSpec, batch_norm, dropout};
use crate::layers::Conv2d;
use crate::layers::{Activation, conv_batch_norm};

pub const HEAD_CHANNELS: usize = 512;

#[derive(Module, Debug)]
pub struct FcnHead {
    pub _0: Conv2d,
    pub _1: BatchNorm,
    pub _3: Dropout,
    pub _4: Conv2d,
}

impl FcnHead {
    pub fn new(channels_in: usize, classes: usize, dropout_prob: f64, device: &Device) -> Self {
        Self {
            _0: ConvSpec::new(channels_in, HEAD_CHANNELS, 3).init(device),
            _1: batch_norm(HEAD_CHANNELS, BN_EPS, device),
            _3: dropout(dropout_prob),
            _4: ConvSpec::new(HEAD_CHANNELS, classes, 1).bias(true).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv_batch_norm(&self._0, &self._1, x, Activation::Relu);
        self._4.forward(self._3.forward(x))
    }
}
