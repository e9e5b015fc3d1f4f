//! `boneseg sweep`: a grid of config overrides trained one after another here, resumable, ending
//! with a leaderboard (and, given the test images, the ensemble's submission); or written as
//! Slurm jobs (`--emit slurm`) whose tasks run `sweep point` and whose last job runs `sweep
//! finish`. The grid, points, resume, leaderboard, job scripts and finish step are
//! `boneseg_train::sweep`'s.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use boneseg_train::config::TrainConfig;
use boneseg_train::sweep::finish::{FinishSummary, finish};
use boneseg_train::sweep::slurm::{Progress, SlurmConfig, emit, wait};
use boneseg_train::sweep::{FinishPlan, PointOutcome, Sweep, point_name};

use super::train::BarReport;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The base experiment config.
    #[arg(long, required = true)]
    pub config: Option<PathBuf>,
    /// The grid: dotted keys with the list of values to try (k-fold: `[data] fold = [0, 1, 2, 3, 4]`).
    #[arg(long, required = true)]
    pub grid: Option<PathBuf>,
    /// The sweep folder: one run folder per point, points.csv and leaderboard.csv.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// Write job scripts for this scheduler into --out instead of training here: slurm.
    #[arg(long, value_parser = ["slurm"])]
    pub emit: Option<String>,
    #[command(flatten)]
    pub finish: FinishArgs,
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

/// The finish step: inference of every point and the tuned ensemble.
#[derive(clap::Args)]
pub struct FinishArgs {
    /// The test images (e.g. data/test/DCM): after training, infer every point, tune the
    /// ensemble on validation and write SWEEP/submission.csv. Required with --emit slurm.
    #[arg(long)]
    pub test_images: Option<PathBuf>,
    /// Infer with sliding windows over the full image (default: the whole image at training size).
    #[arg(long)]
    pub sliding: bool,
    /// Test-time horizontal flip.
    #[arg(long)]
    pub hflip: bool,
    /// Device for inference (default: each run's train.device).
    #[arg(long)]
    pub infer_device: Option<String>,
}

/// What the Slurm jobs ask for; each flag replaces the base config's `[slurm]` key.
#[derive(clap::Args)]
pub struct SlurmArgs {
    #[arg(long)]
    pub partition: Option<String>,
    #[arg(long)]
    pub account: Option<String>,
    /// Time limit of each training task, e.g. 04:00:00.
    #[arg(long)]
    pub time: Option<String>,
    /// Time limit of the ensemble job.
    #[arg(long)]
    pub finish_time: Option<String>,
    /// GPUs per task, e.g. 1 or a100:1.
    #[arg(long)]
    pub gpus_per_task: Option<String>,
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Memory per node, e.g. 32G.
    #[arg(long)]
    pub mem: Option<String>,
    /// At most this many training tasks at once.
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// Seconds before the time limit at which a task checkpoints and requeues (default 120).
    #[arg(long)]
    pub grace: Option<u32>,
    /// More #SBATCH options, verbatim (repeatable), e.g. --sbatch=--qos=long.
    #[arg(long = "sbatch", value_name = "OPTION")]
    pub extra: Vec<String>,
    /// The boneseg the nodes run (default: this one).
    #[arg(long)]
    pub boneseg: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Train one point (a Slurm array task): resumed when started, skipped when finished; exit
    /// status 3 after SIGTERM and a checkpoint.
    Point {
        #[arg(long)]
        sweep: PathBuf,
        /// The point's number (default: $SLURM_ARRAY_TASK_ID).
        #[arg(long)]
        index: Option<usize>,
    },
    /// Infer every point's validation and test images, tune the ensemble, write
    /// submission.csv and the leaderboard (the sweep's dependent Slurm job).
    Finish {
        #[arg(long)]
        sweep: PathBuf,
    },
    /// Follow a submitted sweep (submit.sh) until its jobs leave the queue; exit 0 when the
    /// submission is written.
    Wait {
        sweep: PathBuf,
        /// Seconds between looks at the queue.
        #[arg(long, default_value_t = 10)]
        poll: u64,
        /// Give up after this many minutes.
        #[arg(long)]
        timeout: Option<f64>,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(Command::Point { sweep, index }) => run_point(&sweep, index),
        Some(Command::Finish { sweep }) => {
            let sweep = open_in_workdir(&sweep)?;
            run_finish(&sweep)?;
            print_leaderboard(&sweep)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Wait { sweep, poll, timeout }) => run_wait(&sweep, poll, timeout),
        None => run_grid(args),
    }
}

fn run_grid(args: Args) -> anyhow::Result<ExitCode> {
    let (config, grid, out) = (
        args.config.expect("clap requires --config"),
        args.grid.expect("clap requires --grid"),
        args.out.expect("clap requires --out"),
    );
    let finish_plan = args.finish.test_images.clone().map(|images| FinishPlan {
        sliding: args.finish.sliding,
        hflip: args.finish.hflip,
        device: args.finish.infer_device.clone(),
        ..FinishPlan::new(images)
    });
    let sweep = Sweep::prepare(&config, &grid, &out, finish_plan)?;
    if args.emit.is_some() {
        let base = TrainConfig::load(&config, &[])?.slurm.unwrap_or_default();
        let slurm = base.overridden_by(&args.slurm.config());
        let boneseg = match args.slurm.boneseg {
            Some(path) => std::path::absolute(path)?,
            None => std::env::current_exe()?,
        };
        let emitted = emit(&sweep, &slurm, &boneseg)?;
        println!(
            "wrote {} ({} points, one array task each), {} and {}",
            emitted.train.display(),
            sweep.len(),
            emitted.finish.display(),
            emitted.submit.display()
        );
        println!("submit: {}", emitted.submit.display());
        println!("follow: boneseg sweep wait {}", sweep.dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    boneseg_train::stop::stop_on_sigterm()?;
    for index in 0..sweep.len() {
        let overrides = sweep.plan.points[index].join(" ");
        let name = point_name(index);
        if sweep.result(index)?.is_some() {
            println!("{name} already finished: {overrides}");
            continue;
        }
        println!("{name} ({} of {}): {overrides}", index + 1, sweep.len());
        if let Some(code) = train_point(&sweep, index)? {
            return Ok(code);
        }
    }
    if sweep.plan.finish.is_some() {
        run_finish(&sweep)?;
    }
    print_leaderboard(&sweep)?;
    Ok(ExitCode::SUCCESS)
}

impl SlurmArgs {
    fn config(&self) -> SlurmConfig {
        SlurmConfig {
            partition: self.partition.clone(),
            account: self.account.clone(),
            time: self.time.clone(),
            finish_time: self.finish_time.clone(),
            gpus_per_task: self.gpus_per_task.clone(),
            cpus_per_task: self.cpus_per_task,
            mem: self.mem.clone(),
            max_parallel: self.max_parallel,
            grace: self.grace,
            extra: self.extra.clone(),
        }
    }
}

/// Trains point `index`; the exit status to stop with when a signal interrupted it.
fn train_point(sweep: &Sweep, index: usize) -> anyhow::Result<Option<ExitCode>> {
    let mut report = BarReport::new();
    let outcome = sweep.train_point(index, &mut report)?;
    report.finish();
    Ok(match outcome {
        PointOutcome::Interrupted { step } => {
            println!(
                "{} stopped by SIGTERM at step {step} after a checkpoint; run it again to resume",
                point_name(index)
            );
            Some(ExitCode::from(super::RESUMABLE))
        }
        PointOutcome::Finished(result) => {
            let dice = result.best_dice.map_or("-".into(), |d| format!("{d:.6}"));
            println!("{} finished: best validation dice {dice} after {} steps", result.point, result.steps);
            None
        }
    })
}

/// The sweep in `dir`, with the working directory moved to where it was started (relative
/// paths in its config are read from there).
fn open_in_workdir(dir: &std::path::Path) -> anyhow::Result<Sweep> {
    let dir = std::path::absolute(dir)?;
    let sweep = Sweep::open(&dir)?;
    std::env::set_current_dir(&sweep.plan.workdir)?;
    Ok(sweep)
}

fn run_point(dir: &std::path::Path, index: Option<usize>) -> anyhow::Result<ExitCode> {
    let index = match index {
        Some(index) => index,
        None => {
            let task = std::env::var("SLURM_ARRAY_TASK_ID")
                .map_err(|_| anyhow::anyhow!("give --index N (or run as a Slurm array task)"))?;
            task.parse().map_err(|_| anyhow::anyhow!("SLURM_ARRAY_TASK_ID `{task}` is not a number"))?
        }
    };
    let sweep = open_in_workdir(dir)?;
    boneseg_train::stop::stop_on_sigterm()?;
    let overrides = sweep.plan.points.get(index).map(|p| p.join(" ")).unwrap_or_default();
    if sweep.result(index)?.is_some() {
        println!("{} already finished: {overrides}", point_name(index));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} ({} of {}): {overrides}", point_name(index), index + 1, sweep.len());
    Ok(train_point(&sweep, index)?.unwrap_or(ExitCode::SUCCESS))
}

fn run_finish(sweep: &Sweep) -> anyhow::Result<FinishSummary> {
    let started = Instant::now();
    let summary = finish(sweep, &mut |line| eprintln!("{line}"))?;
    for family in &summary.families {
        println!(
            "{}  weight {:.4}  points {}  {}",
            family.name,
            family.weight,
            family.points.join(","),
            family.overrides.join(" ")
        );
    }
    println!(
        "ensemble: validation mean dice {:.4} plain, {:.4} tuned, on {} images; {} test images in {}",
        summary.validation_plain,
        summary.validation_tuned,
        summary.validation_images,
        summary.test_images,
        summary.submission.display()
    );
    let path = boneseg_ledger::Record::new("sweep")
        .config(serde_json::to_value(&sweep.plan)?)
        .mean_dice(summary.validation_tuned)
        .metric("validation_plain", summary.validation_plain)
        .metric("points", sweep.len() as f64)
        .output(&summary.submission)
        .output(&summary.tuned)
        .finish(started)
        .append()?;
    eprintln!("recorded in the ledger {}", path.display());
    Ok(summary)
}

fn run_wait(dir: &std::path::Path, poll: u64, timeout: Option<f64>) -> anyhow::Result<ExitCode> {
    let sweep = Sweep::open(dir)?;
    let timeout = timeout.map(|minutes| Duration::from_secs_f64(minutes * 60.0));
    let mut report = |p: &Progress| {
        println!(
            "{}/{} points finished; {}",
            p.finished,
            p.points,
            if p.queued.is_empty() { "no job queued".to_string() } else { p.queued.join(", ") }
        );
    };
    wait(&sweep, Duration::from_secs(poll.max(1)), timeout, &mut report)?;
    println!("done: {}", sweep.dir.join(boneseg_train::sweep::finish::SUBMISSION_FILE).display());
    print_leaderboard(&sweep)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes and prints the leaderboard of the finished points.
fn print_leaderboard(sweep: &Sweep) -> anyhow::Result<()> {
    println!("{:>4}  {:<5}  {:>9}  {:>5}  overrides", "rank", "point", "best_dice", "epoch");
    for (rank, r) in sweep.leaderboard()?.iter().enumerate() {
        let dice = r.best_dice.map_or("-".into(), |d| format!("{d:.6}"));
        let epoch = r.best_epoch.map_or("-".into(), |e| e.to_string());
        println!("{:>4}  {:<5}  {dice:>9}  {epoch:>5}  {}", rank + 1, r.point, r.overrides.join(" "));
    }
    Ok(())
}
