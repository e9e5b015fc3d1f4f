//! `boneseg split`: person-grouped folds written as files.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_data::split::{group_k_fold, write_folds};
use boneseg_data::{Dataset, ReadOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Dataset root (with train/DCM and train/outputs_json).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Output folder for fold{k}_train.csv and fold{k}_val.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Shuffle people of equal size with this seed (default: person order, like GroupKFold).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Skip bad files (listed on standard error) instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.folds >= 2, "--folds must be at least 2, got {}", args.folds);
    let dataset = Dataset::open(&args.data, ReadOptions { skip_bad: args.skip_bad })?;
    for skipped in &dataset.skipped {
        tracing::warn!("skipped {skipped}");
    }
    for problem in &dataset.meta_problems {
        tracing::warn!("{problem} (folds do not need the meta table)");
    }
    let entries = &dataset.train;
    let people: std::collections::BTreeSet<_> = entries.iter().map(|e| e.person).collect();
    anyhow::ensure!(
        people.len() >= args.folds,
        "{}: {} people cannot fill {} folds",
        Dataset::train_images(&args.data).display(),
        people.len(),
        args.folds
    );
    let fold_of = group_k_fold(entries, args.folds, args.seed);
    write_folds(&args.out, entries, &fold_of, args.folds)?;
    for k in 0..args.folds {
        let images = fold_of.iter().filter(|&&f| f == k).count();
        let people: std::collections::BTreeSet<_> =
            entries.iter().zip(&fold_of).filter(|&(_, &f)| f == k).map(|(e, _)| e.person).collect();
        println!("fold {k}: {images} validation images, {} people", people.len());
    }
    println!("wrote {} folds to {}", args.folds, args.out.display());
    Ok(ExitCode::SUCCESS)
}
