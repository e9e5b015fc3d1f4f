//! The convolution layer of every encoder and decoder.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

/// `nn.Conv2d`: burn's `Conv2d` parameters (same names, so state dicts load unchanged) run by
/// [`conv2d`](super::conv2d).
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[channels_out, channels_in / groups, kernel_h, kernel_w]`
    pub weight: Param<Tensor<4>>,
    /// `[channels_out]`
    pub bias: Option<Param<Tensor<1>>>,
    #[module(skip)]
    pub options: ConvOptions<2>,
}

impl Conv2d {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        super::conv2d(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()), self.options.clone())
    }
}

/// Takes the parameters burn initialised (PyTorch's Kaiming-uniform). Only explicit or no padding
/// is accepted: `Same` depends on the input size, and no model here uses it.
impl From<burn::nn::conv::Conv2d> for Conv2d {
    fn from(conv: burn::nn::conv::Conv2d) -> Self {
        let padding = match conv.padding {
            PaddingConfig2d::Valid => [(0, 0), (0, 0)],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
            PaddingConfig2d::Same => panic!("conv2d: `Same` padding is not supported; give explicit padding"),
        };
        let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
        Self { weight: conv.weight, bias: conv.bias, options }
    }
}
