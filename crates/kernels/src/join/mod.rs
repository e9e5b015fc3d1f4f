//! The U-Net decoder's join: the deeper features upsampled (nearest) to the skip's size, then
//! the skip concatenated after them. On flex (f32, an exact 2x step) one operation of our own;
//! elsewhere burn's interpolate and cat.

mod extension;
pub mod kernels;

use burn::backend::Dispatch;
use burn::tensor::Tensor;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::dispatch::runs_our_kernels;
use extension::FastJoin;

/// `torch.cat([F.interpolate(x, size=skip's size, mode="nearest"), skip], dim=1)`.
pub fn upsample_cat(x: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let [_, _, skip_height, skip_width] = skip.dims();
    if runs_our_kernels(&x) && [skip_height, skip_width] == [2 * height, 2 * width] {
        return Tensor::from_dispatch(Dispatch::fast_upsample_cat(x.into_dispatch(), skip.into_dispatch()));
    }
    Tensor::cat(vec![resize_nearest(x, [skip_height, skip_width]), skip], 1)
}

/// `F.interpolate(x, size, mode="nearest")`.
pub fn resize_nearest(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    interpolate(x, InterpolateOptions::new(InterpolateMode::Nearest).with_output_size(size))
}
