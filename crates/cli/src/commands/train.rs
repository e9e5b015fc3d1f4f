//! `boneseg train`: a run from a TOML config (with `--set` overrides), or `--resume` of one.

use std::path::PathBuf;

use std::process::ExitCode;

use boneseg_train::config::TrainConfig;
use boneseg_train::record::record_run;
use boneseg_train::trainer::{self, Report, Stop};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
pub struct Args {
    /// The experiment's TOML config (see configs/).
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// Override a config value by its dotted key, e.g. --set optim.lr=3e-4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The run directory (default: runs/<config name>-<time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Start the encoder from public pretrained weights: imagenet, advprop, ssl, swsl
    /// (`model.encoder_weights`; `boneseg model list` shows which encoder has which).
    #[arg(long, value_name = "TAG", conflicts_with = "resume")]
    pub encoder_weights: Option<String>,
    /// Start from weights that fill only part of the model (`model.allow_partial`).
    #[arg(long, conflicts_with = "resume")]
    pub allow_partial: bool,
}

impl Args {
    /// `--set` overrides, with the flags that stand for config keys last (they win).
    fn overrides(&self) -> Vec<String> {
        let mut overrides = self.overrides.clone();
        if let Some(tag) = &self.encoder_weights {
            overrides.push(format!("model.encoder_weights=\"{tag}\""));
        }
        if self.allow_partial {
            overrides.push("model.allow_partial=true".to_string());
        }
        overrides
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    boneseg_train::stop::stop_on_sigterm()?;
    let mut report = BarReport::new();
    let outcome = match (&args.resume, &args.config) {
        (Some(run), _) => {
            anyhow::ensure!(
                args.overrides.is_empty(),
                "--set cannot change a run being resumed; start a new run instead"
            );
            trainer::resume(run, &mut report)?
        }
        (None, Some(path)) => {
            let config = TrainConfig::load(path, &args.overrides())?;
            let out = args.out.clone().unwrap_or_else(|| default_run_dir(path));
            report.message(&format!("run directory: {}", out.display()));
            trainer::train(config, &out, &mut report)?
        }
        (None, None) => unreachable!("clap requires --config or --resume"),
    };
    report.finish();
    let best = match (outcome.position.best_dice, outcome.position.best_epoch) {
        (Some(dice), Some(epoch)) => format!("best validation mean dice {dice:.4} (epoch {epoch})"),
        _ => "no validation yet".to_string(),
    };
    let why = match outcome.stop {
        Stop::Finished => "finished",
        Stop::EarlyStopping => "stopped early",
        Stop::TimeLimit => "stopped at the time limit (continue with --resume)",
        Stop::Interrupted => "stopped by SIGTERM after a checkpoint (continue with --resume)",
    };
    println!("{why} after {} steps; {best}; run in {}", outcome.position.step, outcome.run.display());
    let ledger = record_run(&outcome, started)?;
    tracing::info!("recorded in the ledger {}", ledger.display());
    if outcome.stop == Stop::Interrupted {
        return Ok(ExitCode::from(super::RESUMABLE));
    }
    Ok(ExitCode::SUCCESS)
}

fn default_run_dir(config: &std::path::Path) -> PathBuf {
    let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
    let seconds =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    PathBuf::from("runs").join(format!("{stem}-{seconds}"))
}

/// Progress on standard error: one bar per epoch with loss, learning rate and images/s (shared
/// with `boneseg sweep`).
pub struct BarReport {
    bar: ProgressBar,
    epoch: Option<usize>,
}

impl BarReport {
    pub fn new() -> Self {
        Self { bar: ProgressBar::hidden(), epoch: None }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Report for BarReport {
    fn step(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, lr: f64, images_per_s: f64) {
        if self.epoch != Some(epoch) {
            self.bar.finish_and_clear();
            self.bar = ProgressBar::new(batches as u64);
            self.bar.set_style(
                ProgressStyle::with_template(&format!(
                    "epoch {} {{bar:30}} {{pos}}/{{len}} {{msg}} eta {{eta}}",
                    epoch + 1
                ))
                .expect("valid template"),
            );
            self.epoch = Some(epoch);
        }
        self.bar.set_position(batch as u64);
        self.bar.set_message(format!("loss {loss:.4} lr {lr:.2e} {images_per_s:.2} img/s"));
    }

    fn message(&mut self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }
}
