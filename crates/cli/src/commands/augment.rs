//! `boneseg augment preview`: a grid of augmented samples of one image with their masks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use boneseg_augment::Pipeline;
use boneseg_data::image_io::{read_gray, write_rgb_png};
use boneseg_report::preview::preview_grid;

use super::{FillArgs, image_masks};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Render augmented samples of one image (with its labels) as a grid.
    Preview(PreviewArgs),
}

#[derive(clap::Args)]
pub struct PreviewArgs {
    /// TOML file with `[[augment]]` steps (a training config works too).
    #[arg(long)]
    pub config: PathBuf,
    /// The radiograph (PNG).
    #[arg(long)]
    pub image: PathBuf,
    /// Its label file (JSON), to draw the augmented masks.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Number of samples.
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    /// Seed of the first sample (the others follow).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Longest side of each tile in pixels.
    #[arg(long, default_value_t = 384)]
    pub tile: u32,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Preview(args) = command;
    anyhow::ensure!(args.n > 0, "--n must be at least 1");
    let pipeline = Pipeline::read(&args.config)?;
    let image = read_gray(&args.image)?;
    let masks =
        args.labels.as_ref().map(|path| image_masks(&image, path, args.fill_rule.options())).transpose()?;
    let grid = preview_grid(&pipeline, &image, masks.as_ref(), args.n, args.seed, args.tile);
    write_rgb_png(&args.out, &grid).with_context(|| "cannot write the preview grid")?;
    println!("wrote {} ({} samples, {} steps)", args.out.display(), args.n, pipeline.steps.len());
    Ok(ExitCode::SUCCESS)
}
