//! 2-D convolution for every encoder and decoder: our GEMM kernels on the CPU backend (flex,
//! with or without autodiff), burn's own op on the GPU backends.

mod extension;
pub mod kernels;
mod module;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};

use crate::batch_norm::{Activation, Affine};
use extension::{FastConv, FusedConv};
pub use module::Conv2d;

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
pub(crate) fn conv2d_mapped(
    x: Tensor<4>,
    weight: Tensor<4>,
    options: ConvOptions<2>,
    map: Affine,
) -> Tensor<4> {
    debug_assert!(runs_our_kernels(&x) && !x.device().is_autodiff(), "conv2d_mapped: flex inference only");
    Tensor::from_dispatch(Dispatch::fused_conv2d(x.into_dispatch(), weight.into_dispatch(), options, map))
}

static BURN_KERNELS: AtomicBool = AtomicBool::new(false);

/// From now on, every convolution, batch norm and max-pool of this process runs on burn's own
/// ops (`true`) or ours, so that `boneseg bench engine` can compare the two in one session.
pub fn use_burn_kernels(burn: bool) {
    BURN_KERNELS.store(burn, Ordering::Relaxed);
}

/// Our kernels (convolution, batch norm, max-pool) cover f32 on flex; other dtypes and backends
/// keep burn's ops.
pub(crate) fn runs_our_kernels(x: &Tensor<4>) -> bool {
    let on_flex = matches!(x.device().as_dispatch().clone().inner(), DispatchDevice::Flex(_));
    on_flex && x.dtype() == DType::F32 && !BURN_KERNELS.load(Ordering::Relaxed)
}
