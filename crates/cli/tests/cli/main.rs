//! The `boneseg` binary, driven as a user would. One test binary, modules by theme, over one
//! small phantom corpus generated once per run.

mod augment;
mod browser;
mod catalogue;
mod cluster;
mod infer;
mod model;
mod pipeline;
mod pretrained;
mod reports;
mod support;
mod train;
