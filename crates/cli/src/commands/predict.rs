//! `boneseg predict`: a trained run's submission for a folder of images.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_train::predict::{PredictOptions, predict};

use crate::progress::bar;

#[derive(clap::Args)]
pub struct Args {
    /// The run directory written by `boneseg train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Folder of PNG images (searched recursively, e.g. test/DCM).
    #[arg(long)]
    pub images: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Which checkpoint: best (by validation mean dice) or last.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// Probability threshold (default: the run's train.threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// cpu, vulkan, wgpu or cuda (default: the run's train.device).
    #[arg(long)]
    pub device: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options =
        PredictOptions { checkpoint: args.checkpoint, threshold: args.threshold, device: args.device };
    let mut progress = None;
    let count = predict(&args.run, &args.images, &args.out, &options, |done, total| {
        progress.get_or_insert_with(|| bar(total, "images")).set_position(done as u64);
    })?;
    if let Some(progress) = progress {
        progress.finish_and_clear();
    }
    println!("{count} images predicted; submission written to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
