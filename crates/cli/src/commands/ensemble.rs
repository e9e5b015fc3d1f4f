//! `boneseg ensemble`: hard vote over submissions, (weighted) probability mean over stores, or
//! the two-level recipe; streaming, one image and class at a time. `boneseg ensemble tune`
//! ([`tune`]) chooses the mean's weights, thresholds and post-processing on validation stores.

mod tune;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use boneseg_data::layout::{ReadOptions, list_images};
use boneseg_ensemble::mean::MeanOptions;
use boneseg_ensemble::recipe::Recipe;
use boneseg_ensemble::stream::{mean_stores, run_recipe, vote_submissions};
use boneseg_ensemble::vote::majority;
use boneseg_ensemble::{ClassThresholds, TunedSettings};

use super::infer::PostArgs;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Submission CSVs (--method vote) or probability store folders (--method mean).
    #[arg(long, num_args = 1.., required_unless_present = "recipe")]
    pub inputs: Vec<PathBuf>,
    /// vote: pixel kept when more than --more-than inputs have it; mean: the (weighted) mean of
    /// the stored probabilities above the threshold.
    #[arg(long, value_parser = ["vote", "mean"], required_unless_present = "recipe")]
    pub method: Option<String>,
    /// The two-level recipe (TOML): soft vote per group, hard vote across groups.
    #[arg(long, conflicts_with_all = ["inputs", "method"])]
    pub recipe: Option<PathBuf>,
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// mean: weights, keep-empty, per-class thresholds and post-processing from
    /// `boneseg ensemble tune` (the inputs in the order it was tuned on).
    #[arg(long, conflicts_with_all = ["weights", "keep_empty", "threshold", "thresholds", "postprocess", "min_size", "keep_largest", "fill_holes"])]
    pub tuned: Option<PathBuf>,
    /// vote: keep a pixel when more than this many inputs have it (default: a strict majority).
    #[arg(long)]
    pub more_than: Option<usize>,
    /// mean: one weight per input (default: all 1).
    #[arg(long, value_delimiter = ',')]
    pub weights: Vec<f64>,
    /// mean: average over every input, also those that stored nothing for an image and class
    /// (by default they are skipped, as the team did).
    #[arg(long)]
    pub keep_empty: bool,
    /// mean: one threshold for all classes.
    #[arg(long, default_value_t = 0.5, conflicts_with = "thresholds")]
    pub threshold: f64,
    /// mean: per-class thresholds (a run's thresholds.toml).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// vote: the folder of the images, for their sizes (default: every image is --size square).
    #[arg(long)]
    pub images: Option<PathBuf>,
    #[arg(long, default_value_t = 2048)]
    pub size: usize,
    #[command(flatten)]
    pub post: PostArgs,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Choose the mean's weights, then per-class thresholds, then per-class post-processing on
    /// validation probability stores (`infer --validation-of RUN --probs DIR --floor 0.05`).
    Tune(tune::Args),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Command::Tune(tune)) = args.command {
        return tune::run(tune);
    }
    let started = Instant::now();
    let out = args.out.clone().expect("clap requires --out");
    let tuned = match &args.tuned {
        Some(path) => {
            anyhow::ensure!(args.method.as_deref() == Some("mean"), "--tuned goes with --method mean");
            Some(tuned_for_mean(path, &args.inputs)?)
        }
        None => None,
    };
    let post = match &tuned {
        Some(settings) => settings.post.clone(),
        None => args.post.rules()?,
    };
    let images = if let Some(recipe) = &args.recipe {
        let recipe = Recipe::load(recipe).map_err(anyhow::Error::msg)?;
        run_recipe(&recipe, &out, post)?
    } else if args.method.as_deref() == Some("vote") {
        let sizes: std::collections::HashMap<String, (usize, usize)> = match &args.images {
            Some(dir) => list_images(dir, None, ReadOptions::default())?
                .entries
                .iter()
                .map(|e| (e.name().to_string(), (e.height, e.width)))
                .collect(),
            None => Default::default(),
        };
        let size_of = |name: &str| match &args.images {
            Some(dir) => {
                sizes.get(name).copied().ok_or_else(|| format!("{name} is not under {}", dir.display()))
            }
            None => Ok((args.size, args.size)),
        };
        let more_than = args.more_than.unwrap_or(majority(args.inputs.len()));
        anyhow::ensure!(
            more_than < args.inputs.len(),
            "--more-than {more_than} can never be met by {} inputs",
            args.inputs.len()
        );
        vote_submissions(&args.inputs, &out, more_than, &size_of, post)?
    } else if let Some(settings) = &tuned {
        let options = MeanOptions { weights: settings.weights.clone(), skip_empty: !settings.keep_empty };
        mean_stores(&args.inputs, &out, &options, &settings.thresholds, post)?
    } else {
        let weights =
            if args.weights.is_empty() { vec![1.0; args.inputs.len()] } else { args.weights.clone() };
        anyhow::ensure!(
            weights.len() == args.inputs.len(),
            "{} weights for {} inputs",
            weights.len(),
            args.inputs.len()
        );
        let thresholds = match &args.thresholds {
            Some(path) => ClassThresholds::load(path).map_err(anyhow::Error::msg)?,
            None => ClassThresholds::uniform(args.threshold),
        };
        let options = MeanOptions { weights, skip_empty: !args.keep_empty };
        mean_stores(&args.inputs, &out, &options, &thresholds, post)?
    };
    match &args.tuned {
        Some(path) => println!(
            "{images} images ensembled with the weights, thresholds and post-processing of {}; submission written to {}",
            path.display(),
            out.display()
        ),
        None => println!("{images} images ensembled; submission written to {}", out.display()),
    }
    let config = serde_json::json!({
        "recipe": args.recipe, "method": args.method, "inputs": args.inputs, "weights": args.weights,
        "more_than": args.more_than, "keep_empty": args.keep_empty, "threshold": args.threshold,
        "thresholds": args.thresholds, "tuned": args.tuned, "postprocess": args.post.postprocess, "min_size": args.post.min_size,
        "keep_largest": args.post.keep_largest, "fill_holes": args.post.fill_holes,
    });
    let inputs: Vec<&std::path::Path> = match &args.recipe {
        Some(recipe) => vec![recipe.as_path()],
        None => args.inputs.iter().map(PathBuf::as_path).collect(),
    };
    let path = boneseg_ledger::Record::new("ensemble")
        .config(config)
        .data_fingerprint(boneseg_ledger::fingerprint(&inputs)?)
        .output(&out)
        .finish(started)
        .append()?;
    eprintln!("recorded in the ledger {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// A tuned file for `--method mean` over `inputs`: one weight per input.
fn tuned_for_mean(path: &std::path::Path, inputs: &[PathBuf]) -> anyhow::Result<TunedSettings> {
    let settings = TunedSettings::load(path).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        settings.weights.len() == inputs.len(),
        "{}: {} weights (tuned on {}) for {} --inputs: give the test stores of the same models in the same order",
        path.display(),
        settings.weights.len(),
        settings.inputs.join(", "),
        inputs.len()
    );
    Ok(settings)
}
