//! Max pooling: our kernels on flex (f32, floor mode), burn's op elsewhere.

mod extension;
pub mod kernels;

use burn::backend::Dispatch;
use burn::tensor::Tensor;
use burn::tensor::ops::MaxPoolOptions;

use crate::dispatch::runs_our_kernels;
use extension::FastMaxPool;

/// `F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)`, differentiable.
pub fn max_pool2d(x: Tensor<4>, options: MaxPoolOptions<2>) -> Tensor<4> {
    if !runs_our_kernels(&x) || options.ceil_mode {
        return burn::tensor::module::max_pool2d(x, options);
    }
    Tensor::from_dispatch(Dispatch::fast_max_pool2d(x.into_dispatch(), options))
}
