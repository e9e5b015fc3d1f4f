//! `boneseg augment-dataset`: a new dataset in the competition layout with augmented copies of
//! the training images (flip, rotate or straighten, mosaic) next to the originals.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_augment::offline::{OfflineOptions, Op, Rotation, augment_dataset};

#[derive(clap::Args)]
pub struct Args {
    /// Dataset root (with train/DCM and train/outputs_json).
    #[arg(long)]
    pub data: PathBuf,
    /// Output dataset root (new or empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Operations, comma-separated: flip, rotate, mosaic.
    #[arg(long, value_delimiter = ',', required = true, value_parser = parse_op)]
    pub ops: Vec<Op>,
    /// For `rotate`: an angle in degrees (counter-clockwise), or `straighten` (tilted hands are
    /// straightened from the axis their labels give; see --upright-angle).
    #[arg(long, default_value = "straighten", value_parser = parse_rotation)]
    pub rotate: Rotation,
    /// With `--rotate straighten`: hands tilted more than this (degrees) are straightened.
    #[arg(long, default_value_t = 8.0)]
    pub tilt_threshold: f64,
    /// With `--rotate straighten`: upright hands are rotated by this angle, in a random direction
    /// (0 leaves them alone).
    #[arg(long, default_value_t = 0.0)]
    pub upright_angle: f64,
    /// Seed of the random choices (rotation directions, mosaic order).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write only the augmented copies, not the originals.
    #[arg(long)]
    pub no_originals: bool,
}

fn parse_op(s: &str) -> Result<Op, String> {
    s.parse()
}

fn parse_rotation(s: &str) -> Result<Rotation, String> {
    s.parse()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rotation = match args.rotate {
        Rotation::Straighten { .. } => {
            Rotation::Straighten { threshold: args.tilt_threshold, upright_angle: args.upright_angle }
        }
        angle => angle,
    };
    let options = OfflineOptions { ops: args.ops, rotation, seed: args.seed, originals: !args.no_originals };
    let summary = augment_dataset(&args.data, &args.out, &options)?;
    for skipped in &summary.skipped {
        tracing::warn!("skipped {skipped}");
    }
    let mut counts = std::collections::BTreeMap::new();
    for row in &summary.written {
        *counts.entry(row.op).or_insert(0usize) += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(op, n)| format!("{n} {op}")).collect();
    println!(
        "wrote {} images to {} ({}); provenance in augment_provenance.csv",
        summary.written.len(),
        args.out.display(),
        counts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
