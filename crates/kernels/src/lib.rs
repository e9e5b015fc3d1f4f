//! boneseg's CPU kernels: convolution, the training batch norm (with the ReLU after it), max
//! pooling and the U-Net decoder's join, written on f32 slices and plugged into burn's flex
//! backend as backend extensions with handwritten backward passes.
//!
//! Each op here is the one the models call: on flex with f32 it runs our kernels, anywhere else
//! (GPU backends, half precision) it runs burn's own op, so the models never ask which backend
//! they are on. `BENCHMARKS.md` ("Engine") measures them against burn's flex ops and PyTorch.
//!
//! Per op: `kernels.rs` is the arithmetic on slices, `extension.rs` the burn plumbing (forward
//! and backward as graph nodes), `mod.rs` the dispatch.

pub mod affine;
pub mod batch_norm;
pub mod conv;
mod dispatch;
mod flex;
pub mod join;
pub mod pool;
#[cfg(feature = "testing")]
pub mod testing;

pub use affine::{Activation, Affine};
pub use batch_norm::batch_norm_train;
pub use conv::{conv2d, conv2d_mapped};
pub use dispatch::{on_flex, runs_our_kernels, use_burn_kernels};
pub use join::upsample_cat;
pub use pool::max_pool2d;
