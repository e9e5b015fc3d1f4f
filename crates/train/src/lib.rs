//! The training engine behind `boneseg train` (inference is `boneseg-infer`'s).
//!
//! Losses, optimisers and schedules are PyTorch's (and SMP's) semantics written for burn;
//! data comes decoded and resized once into a cache; validation scores exactly as the
//! leaderboard does; a run directory holds everything needed to resume or reproduce it.

pub mod bench;
pub mod config;
pub mod data;
pub mod loss;
pub mod optim;
pub mod parallel;
pub mod precision;
pub mod record;
pub mod schedule;
pub mod stop;
pub mod sweep;
pub mod trainer;
pub mod tune;
pub mod validate;
