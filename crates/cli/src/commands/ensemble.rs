//! `boneseg ensemble`: hard vote over submissions, (weighted) probability mean over stores, or
//! the two-level recipe; streaming, one image and class at a time.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use boneseg_data::layout::{ReadOptions, list_images};
use boneseg_ensemble::ClassThresholds;
use boneseg_ensemble::mean::MeanOptions;
use boneseg_ensemble::recipe::Recipe;
use boneseg_ensemble::stream::{mean_stores, run_recipe, vote_submissions};
use boneseg_ensemble::vote::majority;

use super::infer::PostArgs;

#[derive(clap::Args)]
pub struct Args {
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
    #[arg(long)]
    pub out: PathBuf,
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let post = args.post.rules()?;
    let images = if let Some(recipe) = &args.recipe {
        let recipe = Recipe::load(recipe).map_err(anyhow::Error::msg)?;
        run_recipe(&recipe, &args.out, post)?
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
        vote_submissions(&args.inputs, &args.out, more_than, &size_of, post)?
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
        mean_stores(&args.inputs, &args.out, &options, &thresholds, post)?
    };
    println!("{images} images ensembled; submission written to {}", args.out.display());
    let config = serde_json::json!({
        "recipe": args.recipe, "method": args.method, "inputs": args.inputs, "weights": args.weights,
        "more_than": args.more_than, "keep_empty": args.keep_empty, "threshold": args.threshold,
        "thresholds": args.thresholds, "postprocess": args.post.postprocess, "min_size": args.post.min_size,
        "keep_largest": args.post.keep_largest, "fill_holes": args.post.fill_holes,
    });
    let inputs: Vec<&std::path::Path> = match &args.recipe {
        Some(recipe) => vec![recipe.as_path()],
        None => args.inputs.iter().map(PathBuf::as_path).collect(),
    };
    let path = boneseg_ledger::Record::new("ensemble")
        .config(config)
        .data_fingerprint(boneseg_ledger::fingerprint(&inputs)?)
        .output(&args.out)
        .finish(started)
        .append()?;
    eprintln!("recorded in the ledger {}", path.display());
    Ok(ExitCode::SUCCESS)
}
