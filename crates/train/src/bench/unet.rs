//! The plain U-Net of `boneseg bench engine`, layer for layer `PlainUNet` in tools/bench/bench_engine.py.

use boneseg_models::blocks::{ConvBn, ConvSpec, conv3x3_bn_relu};
// `#[derive(Module)]` names the crate `burn`.
use boneseg_kernels::max_pool2d;
use boneseg_kernels::upsample_cat;
use boneseg_models::burn;
use boneseg_models::burn::module::Module;
use boneseg_models::burn::tensor::ops::MaxPoolOptions;
use boneseg_models::burn::tensor::{Device, Tensor};
use boneseg_models::layers::Conv2d;

/// Channels of the five levels, full resolution first.
pub const WIDTHS: [usize; 5] = [32, 64, 128, 256, 512];

/// Two 3x3 conv + BatchNorm + ReLU.
#[derive(Module, Debug)]
pub struct DoubleConv {
    pub _0: ConvBn,
    pub _1: ConvBn,
}

impl DoubleConv {
    fn new(channels_in: usize, channels_out: usize, device: &Device) -> Self {
        Self {
            _0: conv3x3_bn_relu(channels_in, channels_out, device),
            _1: conv3x3_bn_relu(channels_out, channels_out, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self._1.forward_relu(self._0.forward_relu(x))
    }
}

/// 2x2 max-pool down, nearest 2x upsampling and concatenation with the skip up, 1x1 head.
#[derive(Module, Debug)]
pub struct PlainUNet {
    pub down: Vec<DoubleConv>,
    pub up: Vec<DoubleConv>,
    pub head: Conv2d,
}

impl PlainUNet {
    pub fn new(classes: usize, device: &Device) -> Self {
        let mut down = vec![DoubleConv::new(3, WIDTHS[0], device)];
        down.extend(WIDTHS.windows(2).map(|w| DoubleConv::new(w[0], w[1], device)));
        let up = WIDTHS.windows(2).map(|w| DoubleConv::new(w[1] + w[0], w[0], device)).collect();
        let head = ConvSpec::new(WIDTHS[0], classes, 1).bias(true).init(device);
        Self { down, up, head }
    }

    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        let mut skips = Vec::with_capacity(self.down.len());
        for (level, block) in self.down.iter().enumerate() {
            if level > 0 {
                x = max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
            }
            x = block.forward(x);
            skips.push(x.clone());
        }
        let mut x = skips.pop().expect("five levels");
        for block in self.up.iter().rev() {
            x = block.forward(upsample_cat(x, skips.pop().expect("one skip per level")));
        }
        self.head.forward(x)
    }
}
