//! `boneseg predict`: a trained run's submission for a folder of images, the plain path of
//! `boneseg infer` (whole image, one view, no post-processing).

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_infer::{InferOptions, infer};

use crate::progress::bar;

#[derive(clap::Args)]
pub struct Args {
    /// The run directory written by `boneseg train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Folder of images, PNG or JPEG, searched recursively (test/DCM, or any folder of
    /// radiographs: loose files of any size are fine).
    #[arg(long)]
    pub images: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Which checkpoint: best (by validation mean dice) or last.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// Probability threshold (default: the run's thresholds.toml, else its train.threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// cpu, vulkan, wgpu or cuda (default: the run's train.device).
    #[arg(long)]
    pub device: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = InferOptions::plain(args.checkpoint, args.device, args.threshold);
    let mut progress = None;
    let summary =
        infer(std::slice::from_ref(&args.run), &args.images, &args.out, &options, |done, total| {
            progress.get_or_insert_with(|| bar(total, "images")).set_position(done as u64);
        })?;
    if let Some(progress) = progress {
        progress.finish_and_clear();
    }
    println!("{} images predicted; submission written to {}", summary.images, args.out.display());
    Ok(ExitCode::SUCCESS)
}
