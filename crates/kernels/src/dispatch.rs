//! Which ops run ours: f32 on flex, unless a benchmark asked for burn's.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Tensor};

static BURN_KERNELS: AtomicBool = AtomicBool::new(false);

/// From now on, every convolution, batch norm, max-pool and join of this process runs on burn's
/// own ops (`true`) or ours: the one switch, so that `boneseg bench engine` can compare the two
/// in one session. Nothing else sets it.
pub fn use_burn_kernels(burn: bool) {
    BURN_KERNELS.store(burn, Ordering::Relaxed);
}

/// Whether `x` lives on flex, the CPU backend.
pub fn on_flex(x: &Tensor<4>) -> bool {
    matches!(x.device().as_dispatch().clone().inner(), DispatchDevice::Flex(_))
}

/// Our kernels cover f32 on flex; other dtypes and backends keep burn's ops.
pub fn runs_our_kernels(x: &Tensor<4>) -> bool {
    on_flex(x) && x.dtype() == DType::F32 && !BURN_KERNELS.load(Ordering::Relaxed)
}
