//! The training engine's benchmarks, run by `boneseg bench engine`: the plain U-Net of
//! `tools/bench/bench_engine.py` ([`unet`]), its training step and forward timed on boneseg's or
//! burn's kernels next to PyTorch's ([`engine`]), and the step taken apart one kind of operation
//! at a time ([`profile`]).

pub mod engine;
pub mod profile;
pub mod unet;

use std::time::Instant;

/// The median of `iters` timed calls of `step` (at least one), in milliseconds, after one
/// untimed warm-up call.
pub fn median_ms(iters: usize, mut step: impl FnMut()) -> f64 {
    step();
    let mut times: Vec<f64> = (0..iters.max(1))
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
