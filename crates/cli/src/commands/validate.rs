//! `boneseg validate`: a trained run's checkpoint scored on its validation fold, exactly as the
//! trainer's validation (and the leaderboard) scores — to compare checkpoints, re-score a run on a
//! copy of its data, or measure validation speed and memory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use boneseg_contract::atomic::write_atomic;
use boneseg_train::validate::{RunValidation, validate_run};

use super::peak_rss_mib;
use crate::progress::bar;

#[derive(clap::Args)]
pub struct Args {
    /// The run directory written by `boneseg train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Which checkpoint: best (by validation mean dice) or last.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// Probability threshold (default: the run's train.threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Images per forward pass (default: the run's train.batch_size).
    #[arg(long)]
    pub batch: Option<usize>,
    /// cpu, vulkan, wgpu or cuda (default: the run's train.device).
    #[arg(long)]
    pub device: Option<String>,
    /// Override the run's config by its dotted key, e.g. --set data.root=/data/copy (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Also write the per-class table (class, dice, min_dice, min_image) as CSV here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = RunValidation {
        checkpoint: args.checkpoint,
        device: args.device,
        threshold: args.threshold,
        batch_size: args.batch,
        overrides: args.overrides,
    };
    let mut started = None;
    let mut progress = None;
    let table = validate_run(&args.run, &options, &mut |line| eprintln!("{line}"), |done, total| {
        started.get_or_insert_with(|| (Instant::now(), done));
        progress.get_or_insert_with(|| bar(total, "images")).set_position(done as u64);
    })?;
    if let Some(progress) = progress {
        progress.finish_and_clear();
    }
    println!("{}", table.report_marking_worst(3));
    if let Some(out) = &args.out {
        write_atomic(out, table.to_csv().as_bytes())?;
        println!("per-class table written to {}", out.display());
    }
    // The clock starts after the first batch, so that the figure is the steady rate, without
    // the cache build and the first forward's allocations.
    let images = table.table.rows.len();
    if let Some((start, first)) = started.filter(|&(_, first)| images > first) {
        let seconds = start.elapsed().as_secs_f64().max(1e-9);
        println!("validation: {:.2} images/s after the first batch", (images - first) as f64 / seconds);
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak memory {mib:.0} MiB");
    }
    Ok(ExitCode::SUCCESS)
}
