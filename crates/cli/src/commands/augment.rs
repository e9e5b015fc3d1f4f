//! `boneseg augment preview`: a grid of augmented samples of one image with their masks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use boneseg_augment::{DatasetDonors, DonorSource, Donors, Pipeline};
use boneseg_data::image_io::{read_gray, write_rgb_png};
use boneseg_data::{Dataset, ReadOptions};
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
    /// The radiograph (PNG or JPEG).
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
    /// A dataset (competition layout) whose labelled images lend their bones to `copy_paste`
    /// steps; the previewed image itself is left out.
    #[arg(long)]
    pub donors: Option<PathBuf>,
    /// At most this many donor images, spread over the dataset (each is decoded in memory).
    #[arg(long, default_value_t = 8)]
    pub max_donors: usize,
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
    let donors = match &args.donors {
        Some(root) => {
            anyhow::ensure!(
                masks.is_some(),
                "copy_paste pastes onto the image's own bones: pass --labels too"
            );
            let dataset = Dataset::open(root, ReadOptions::default())?;
            let size = (image.width() as usize, image.height() as usize);
            let donors = DatasetDonors::read(
                &dataset.train,
                Some(&args.image),
                args.fill_rule.options(),
                size,
                args.max_donors,
            )?;
            anyhow::ensure!(
                donors.donor_count() > 0,
                "{} has no labelled image besides --image to take bones from",
                root.display()
            );
            Some(donors)
        }
        None if pipeline.needs_donors() => anyhow::bail!(
            "{}: copy_paste takes bones from other images: pass --donors <dataset root> (and --labels)",
            args.config.display()
        ),
        None => None,
    };
    let donors = donors.as_ref().map_or_else(Donors::none, |source| Donors::new(source, None));
    let grid = preview_grid(&pipeline, &image, masks.as_ref(), &donors, args.n, args.seed, args.tile);
    write_rgb_png(&args.out, &grid).with_context(|| "cannot write the preview grid")?;
    println!("wrote {} ({} samples, {} steps)", args.out.display(), args.n, pipeline.steps.len());
    Ok(ExitCode::SUCCESS)
}
