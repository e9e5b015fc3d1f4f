//! 2-D convolution: our GEMM kernels on flex (with or without autodiff), burn's op elsewhere.

mod extension;
pub mod kernels;

use burn::backend::Dispatch;
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

use crate::affine::{Activation, Affine};
use crate::dispatch::runs_our_kernels;
use extension::{FastConv, FusedConv};

/// `F.conv2d(x, weight, bias, stride, padding, dilation, groups)`, differentiable.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    if !runs_our_kernels(&x) {
        return burn::tensor::module::conv2d(x, weight, bias, options);
    }
    if let (Some(bias), false) = (&bias, x.device().is_autodiff()) {
        let shift = bias.clone().into_data().try_into_vec::<f32>().expect("the bias is f32 like the input");
        let scale = vec![1.0; shift.len()];
        return conv2d_mapped(x, weight, options, Affine { scale, shift, activation: Activation::Identity });
    }
    let out =
        Tensor::from_dispatch(Dispatch::fast_conv2d(x.into_dispatch(), weight.into_dispatch(), options));
    match bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            out + bias.reshape([1, channels, 1, 1])
        }
        None => out,
    }
}

/// `map(conv2d(x, weight))` in one pass, for inference on flex (see [`runs_our_kernels`], and no
/// autodiff): the map runs on each block of output rows as soon as it is computed.
pub fn conv2d_mapped(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>, map: Affine) -> Tensor<4> {
    assert!(runs_our_kernels(&x) && !x.device().is_autodiff(), "conv2d_mapped: flex inference only");
    Tensor::from_dispatch(Dispatch::fused_conv2d(x.into_dispatch(), weight.into_dispatch(), options, map))
}
