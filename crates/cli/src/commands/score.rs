//! `boneseg score`: the leaderboard's mean dice of a submission against label files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use boneseg_contract::atomic::write_atomic;
use boneseg_contract::submission::Submission;
use boneseg_contract::{CLASSES, NUM_CLASSES};
use boneseg_data::layout::{ImageEntry, check_unique_names, list_images};
use boneseg_data::{ReadOptions, score, split};

use super::FillArgs;

/// A submission and the labelled images it is scored against (`score`, `evaluate`).
#[derive(clap::Args, Clone)]
pub struct Scored {
    /// The submission CSV.
    #[arg(long)]
    pub pred: PathBuf,
    /// Ground-truth label files (JSON).
    #[arg(long)]
    pub labels: PathBuf,
    /// The images (for pairing and sizes; `evaluate` also draws the worst).
    #[arg(long)]
    pub images: PathBuf,
    /// Only the images of this list: a fold file (fold0_val.csv) or any CSV with an `image` or
    /// `person` column.
    #[arg(long)]
    pub subset: Option<PathBuf>,
    /// Skip unpaired or unreadable files (listed on standard error) instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

impl Scored {
    /// The labelled images to score (paired, optionally narrowed to `--subset`, names unique)
    /// and the submission.
    pub fn read(&self) -> anyhow::Result<(Vec<ImageEntry>, Submission)> {
        let listing = list_images(&self.images, Some(&self.labels), ReadOptions { skip_bad: self.skip_bad })?;
        for skipped in &listing.skipped {
            tracing::warn!("skipped {skipped}");
        }
        let mut entries = listing.entries;
        if let Some(subset) = &self.subset {
            let chosen = split::read_list(subset, &entries)?;
            entries = chosen.into_iter().map(|i| entries[i].clone()).collect();
        }
        check_unique_names(&entries)?;
        Ok((entries, Submission::read(&self.pred)?))
    }
}

#[derive(clap::Args, Clone)]
pub struct Args {
    #[command(flatten)]
    pub scored: Scored,
    /// Also write every image's 29 dice values to this CSV.
    #[arg(long)]
    pub per_image: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let outcome = evaluate(&args)?;
    println!("{}", outcome.table.report());
    Ok(ExitCode::SUCCESS)
}

/// Scores the submission, reports what it noticed on standard error, writes `--per-image`.
pub fn evaluate(args: &Args) -> anyhow::Result<score::ScoreOutcome> {
    let scored = &args.scored;
    let (entries, submission) = scored.read()?;
    let outcome = score::score(&submission, &entries, scored.fill_rule.options())?;
    warn(&outcome, &scored.pred);
    if let Some(path) = &args.per_image {
        let mut text = format!("image_name,{}\n", CLASSES.join(","));
        for (name, row) in &outcome.table.rows {
            let _ = write!(text, "{name}");
            for value in row.iter().take(NUM_CLASSES) {
                let _ = write!(text, ",{value}");
            }
            text.push('\n');
        }
        write_atomic(path, text.as_bytes())?;
    }
    Ok(outcome)
}

/// Reports on standard error what scoring noticed: label warnings, missing rows, extra images.
pub fn warn(outcome: &score::ScoreOutcome, pred: &Path) {
    for (label, warning) in &outcome.label_warnings {
        tracing::warn!("{}: {warning}", label.display());
    }
    if !outcome.missing_rows.is_empty() {
        let (image, class) = &outcome.missing_rows[0];
        tracing::warn!(
            "{} (image, class) rows are missing from {} and count as empty predictions (first: {image} / {})",
            outcome.missing_rows.len(),
            pred.display(),
            CLASSES[*class]
        );
    }
    if !outcome.extra_images.is_empty() {
        tracing::warn!(
            "{} image(s) of {} have no label and are ignored (first: {})",
            outcome.extra_images.len(),
            pred.display(),
            outcome.extra_images[0]
        );
    }
}
