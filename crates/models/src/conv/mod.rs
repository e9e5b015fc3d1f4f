//! 2-D convolution for every encoder and decoder: our GEMM kernels on the CPU backend (flex,
//! with or without autodiff), burn's own op on the GPU backends.

mod extension;
pub mod kernels;
mod module;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};

use extension::FastConv;
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

static BURN_KERNELS: AtomicBool = AtomicBool::new(false);

/// From now on, every convolution of this process runs on burn's own op (`true`) or ours, so
/// that `boneseg bench engine` can compare the two in one session.
pub fn use_burn_kernels(burn: bool) {
    BURN_KERNELS.store(burn, Ordering::Relaxed);
}

/// Our kernels cover f32 on flex; other dtypes and backends keep burn's op.
fn runs_our_kernels(x: &Tensor<4>) -> bool {
    let on_flex = matches!(x.device().as_dispatch().clone().inner(), DispatchDevice::Flex(_));
    on_flex && x.dtype() == DType::F32 && !BURN_KERNELS.load(Ordering::Relaxed)
}
