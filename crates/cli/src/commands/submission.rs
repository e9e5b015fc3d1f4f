//! `boneseg submission check` and `boneseg submission from-labels`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use boneseg_contract::submission::SubmissionWriter;
use boneseg_contract::submission::check::{ExpectedImage, check};
use boneseg_contract::submission::merge::merge_parts;
use boneseg_data::layout::{check_unique_names, list_images};
use boneseg_data::{ReadOptions, labels};
use boneseg_ensemble::store::concat_stores;
use rayon::prelude::*;

use super::FillArgs;
use crate::progress;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Report every problem of a submission with its line number; exit 1 if there is any.
    Check(CheckArgs),
    /// Turn label files into a submission (for pseudo-labels and for checks).
    FromLabels(FromLabelsArgs),
    /// Put the parts of a sharded inference (`infer --shard K/N`) back together, checking that
    /// they cover every image once: the same bytes as the unsharded inference.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The submission parts, in any order.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// The images they were inferred from (e.g. test/DCM).
    #[arg(long)]
    pub images: PathBuf,
    /// The merged submission.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the store parts in this folder (`infer --shard K/N --probs DIR`) as its one
    /// probs.parquet, and remove the parts.
    #[arg(long)]
    pub probs: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The submission CSV.
    pub file: PathBuf,
    /// The test images it must cover (test/DCM).
    #[arg(long)]
    pub images: PathBuf,
}

#[derive(clap::Args)]
pub struct FromLabelsArgs {
    /// Label files (JSON), same relative paths as the images.
    #[arg(long)]
    pub labels: PathBuf,
    /// The images (DCM folder).
    #[arg(long)]
    pub images: PathBuf,
    /// Output CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Skip bad files (listed on standard error) instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => run_check(args),
        Command::FromLabels(args) => run_from_labels(args),
        Command::Merge(args) => run_merge(args),
    }
}

/// The test images in submission order, with their sizes.
pub fn expected_images(images: &Path) -> anyhow::Result<Vec<ExpectedImage>> {
    let listing = list_images(images, None, ReadOptions::default())?;
    check_unique_names(&listing.entries)?;
    Ok(listing
        .entries
        .iter()
        .map(|e| ExpectedImage { name: e.name().to_string(), height: e.height, width: e.width })
        .collect())
}

fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let expected = expected_images(&args.images)?;
    let report =
        check(&args.file, &expected).with_context(|| format!("cannot read {}", args.file.display()))?;
    for problem in &report.problems {
        println!("{}: {problem}", args.file.display());
    }
    if report.is_ok() {
        println!("ok: {} rows for {} images", report.rows, expected.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} problem(s) in {} ({} rows read, {} expected)",
            report.problems.len(),
            args.file.display(),
            report.rows,
            report.expected_rows
        );
        Ok(ExitCode::from(1))
    }
}

fn run_from_labels(args: FromLabelsArgs) -> anyhow::Result<ExitCode> {
    let options = ReadOptions { skip_bad: args.skip_bad };
    let listing = list_images(&args.images, Some(&args.labels), options)?;
    for skipped in &listing.skipped {
        tracing::warn!("skipped {skipped}");
    }
    check_unique_names(&listing.entries)?;
    let mut writer = SubmissionWriter::create(&args.out)?;
    let bar = progress::bar(listing.entries.len(), "images");
    let mut skipped = 0;
    // Rasterise a few images at a time in parallel, write them in order: memory stays bounded.
    for chunk in listing.entries.chunks(8) {
        let masks: Vec<_> =
            chunk.par_iter().map(|entry| labels::load(entry, args.fill_rule.fill_rule)).collect();
        for (entry, loaded) in chunk.iter().zip(masks) {
            match loaded {
                Ok(loaded) => {
                    for warning in &loaded.warnings {
                        tracing::warn!(
                            "{}: {warning}",
                            entry.label.as_deref().unwrap_or(Path::new("")).display()
                        );
                    }
                    writer.write_image(entry.name(), &loaded.masks)?;
                }
                Err(error) if args.skip_bad => {
                    tracing::warn!("skipped {error}");
                    skipped += 1;
                }
                Err(error) => return Err(error.into()),
            }
            bar.inc(1);
        }
    }
    writer.finish()?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} images, {} rows){}",
        args.out.display(),
        listing.entries.len() - skipped,
        (listing.entries.len() - skipped) * boneseg_contract::NUM_CLASSES,
        if skipped + listing.skipped.len() > 0 {
            format!(", skipped {} bad file(s)", skipped + listing.skipped.len())
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn run_merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let expected: Vec<String> = expected_images(&args.images)?.into_iter().map(|e| e.name).collect();
    let images = merge_parts(&args.parts, &expected, &args.out)?;
    println!("wrote {} ({images} images from {} parts)", args.out.display(), args.parts.len());
    if let Some(dir) = &args.probs {
        let parts: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("probs.part-")))
            .collect();
        anyhow::ensure!(
            !parts.is_empty(),
            "{}: no store parts (probs.part-K-of-N.parquet) to merge",
            dir.display()
        );
        let merged = dir.join(boneseg_ensemble::store::FILE_NAME);
        anyhow::ensure!(
            !merged.exists(),
            "{} exists already: remove it to merge the parts again",
            merged.display()
        );
        let stored = concat_stores(std::slice::from_ref(dir), dir)?;
        anyhow::ensure!(
            stored == images,
            "{}: the store parts hold {stored} images, the submission parts {images}",
            dir.display()
        );
        for part in parts {
            std::fs::remove_file(&part).with_context(|| format!("removing {}", part.display()))?;
        }
        println!("wrote {} ({stored} images)", merged.display());
    }
    Ok(ExitCode::SUCCESS)
}
