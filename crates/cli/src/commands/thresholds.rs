//! `boneseg thresholds tune`: per-class thresholds from the validation fold, stored in the run.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_contract::CLASSES;
use boneseg_ensemble::thresholds::ThresholdSearch;
use boneseg_train::tune::tune_thresholds;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Search each class's threshold on the run's validation fold (whole-image path); writes
    /// RUN/thresholds.toml. For sliding windows, TTA or several runs: `infer --validation-of`,
    /// then `ensemble tune`.
    Tune(TuneArgs),
}

#[derive(clap::Args)]
pub struct TuneArgs {
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    #[arg(long)]
    pub device: Option<String>,
    /// Candidates: from --low to --high by --step (the run's own threshold is always tried).
    #[arg(long, default_value_t = 0.1)]
    pub low: f64,
    #[arg(long, default_value_t = 0.9)]
    pub high: f64,
    #[arg(long, default_value_t = 0.05)]
    pub step: f64,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Tune(args) = command;
    anyhow::ensure!(
        args.step > 0.0 && 0.0 < args.low && args.low <= args.high && args.high < 1.0,
        "need 0 < --low <= --high < 1 and --step > 0"
    );
    let grid = ThresholdSearch::grid(args.low, args.high, args.step);
    let tuned = tune_thresholds(&args.run, &args.checkpoint, args.device.as_deref(), grid, &mut |line| {
        tracing::info!("{line}")
    })?;
    println!("{:<12} {:>9} {:>9} {:>9}", "class", "threshold", "dice", "was");
    for (class, name) in CLASSES.iter().enumerate() {
        println!(
            "{name:<12} {:>9.2} {:>9.4} {:>9.4}",
            tuned.thresholds.0[class], tuned.after[class], tuned.before[class]
        );
    }
    let mean = |d: &[f64]| d.iter().sum::<f64>() / d.len() as f64;
    println!(
        "validation mean dice {:.4} -> {:.4} on {} images; thresholds written to {}",
        mean(&tuned.before),
        mean(&tuned.after),
        tuned.images,
        boneseg_infer::RunDir::open(&args.run)?.thresholds_path().display()
    );
    Ok(ExitCode::SUCCESS)
}
