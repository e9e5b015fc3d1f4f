//! `boneseg ensemble tune`: weights, per-class thresholds and per-class post-processing chosen
//! on validation probability stores against their labels, written to one TOML that
//! `ensemble --method mean --tuned` and (for one store) `infer --tuned` read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use boneseg_contract::atomic::write_atomic;
use boneseg_contract::{CLASSES, ClassMasks};
use boneseg_data::labels;
use boneseg_data::layout::{ReadOptions, list_images};
use boneseg_ensemble::TunedSettings;
use boneseg_ensemble::thresholds::ThresholdSearch;
use boneseg_ensemble::tune::{TuneOptions, mean, tune};

use crate::commands::FillArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Probability stores of the validation images (`infer --validation-of RUN --probs DIR
    /// --floor 0.05`), one per model, all with the same images.
    #[arg(long, num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// The validation images' folder (e.g. data/train/DCM), for pairing with their labels.
    #[arg(long)]
    pub images: PathBuf,
    /// Their label files (e.g. data/train/outputs_json).
    #[arg(long)]
    pub labels: PathBuf,
    /// The tuned TOML to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Candidate thresholds: from --low to --high by --step (0.5 is always tried); --low must
    /// not be below the stores' floor.
    #[arg(long, default_value_t = 0.05)]
    pub low: f64,
    #[arg(long, default_value_t = 0.95)]
    pub high: f64,
    #[arg(long, default_value_t = 0.05)]
    pub step: f64,
    /// First step of the weight search (weights sum to 1); halved until below 0.03.
    #[arg(long, default_value_t = 0.25)]
    pub weight_step: f64,
    /// Component sizes (pixels at the image's size) tried for removing small components
    /// (default: 1e-5, 1e-4 and 1e-3 of the image: 42, 419, 4194 at 2048²).
    #[arg(long, value_delimiter = ',')]
    pub min_sizes: Vec<u64>,
    /// Average over every store, also those that stored nothing for an image and class.
    #[arg(long)]
    pub keep_empty: bool,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    anyhow::ensure!(
        args.step > 0.0 && 0.0 < args.low && args.low <= args.high && args.high < 1.0,
        "need 0 < --low <= --high < 1 and --step > 0"
    );
    anyhow::ensure!(args.weight_step > 0.0 && args.weight_step <= 1.0, "need 0 < --weight-step <= 1");
    let listing = list_images(&args.images, Some(&args.labels), ReadOptions::default())?;
    let entries: HashMap<String, _> =
        listing.entries.into_iter().map(|e| (e.name().to_string(), e)).collect();
    let rule = args.fill_rule.fill_rule;
    let mut truth = |name: &str, _: usize, _: usize| -> Result<ClassMasks, String> {
        let entry = entries.get(name).ok_or_else(|| {
            format!(
                "{name} (in the stores) is not under {}: give the folder of the images the stores were written for",
                args.images.display()
            )
        })?;
        let labels = labels::load(entry, rule).map_err(|e| e.to_string())?;
        for warning in &labels.warnings {
            tracing::warn!(
                "{}: {warning}",
                entry.label.as_deref().unwrap_or(entry.image.as_path()).display()
            );
        }
        Ok(labels.masks)
    };
    let options = TuneOptions {
        grid: ThresholdSearch::grid(args.low, args.high, args.step),
        keep_empty: args.keep_empty,
        step: args.weight_step,
        min_sizes: args.min_sizes.clone(),
        ..TuneOptions::default()
    };
    let tuned = tune(&args.inputs, &mut truth, &options, &mut |line| tracing::info!("{line}"))?;

    println!("{:<12} {:>9} {:>9} {:>9}  post-processing", "class", "threshold", "dice", "plain");
    for (class, name) in CLASSES.iter().enumerate() {
        let rule = tuned.post.rules[class];
        let mut what = Vec::new();
        if rule.min_size > 0 {
            what.push(format!("min_size {}", rule.min_size));
        }
        if rule.keep_largest {
            what.push("keep_largest".into());
        }
        if rule.fill_holes {
            what.push("fill_holes".into());
        }
        println!(
            "{name:<12} {:>9.2} {:>9.4} {:>9.4}  {}",
            tuned.thresholds.0[class],
            tuned.scores.postprocess[class],
            tuned.scores.plain[class],
            if what.is_empty() { "-".to_string() } else { what.join(", ") }
        );
    }
    let weights: Vec<String> = tuned.weights.iter().map(|w| format!("{w:.4}")).collect();
    println!("weights {}", weights.join(", "));
    println!(
        "validation mean dice on {} images: {:.4} plain (equal weights, 0.5), {:.4} tuned thresholds, {:.4} tuned weights, {:.4} post-processing",
        tuned.images,
        mean(&tuned.scores.plain),
        mean(&tuned.scores.thresholds),
        mean(&tuned.scores.weights),
        mean(&tuned.scores.postprocess)
    );
    let inputs: Vec<String> = args.inputs.iter().map(|p| p.display().to_string()).collect();
    let settings = TunedSettings::from_search(inputs, &tuned);
    let text = format!(
        "# Tuned by `boneseg ensemble tune` on {} validation images of {}.\n{}",
        tuned.images,
        args.images.display(),
        settings.to_toml()
    );
    write_atomic(&args.out, text.as_bytes())?;
    println!("tuned settings written to {}", args.out.display());
    let config = serde_json::json!({
        "inputs": args.inputs, "images": args.images, "labels": args.labels, "low": args.low,
        "high": args.high, "step": args.step, "weight_step": args.weight_step,
        "min_sizes": args.min_sizes, "keep_empty": args.keep_empty,
    });
    let fingerprint_inputs: Vec<&std::path::Path> = args.inputs.iter().map(PathBuf::as_path).collect();
    let path = boneseg_ledger::Record::new("ensemble-tune")
        .config(config)
        .metric("validation_plain", mean(&tuned.scores.plain))
        .metric("validation_tuned", mean(&tuned.scores.postprocess))
        .data_fingerprint(boneseg_ledger::fingerprint(&fingerprint_inputs)?)
        .output(&args.out)
        .finish(started)
        .append()?;
    eprintln!("recorded in the ledger {}", path.display());
    Ok(ExitCode::SUCCESS)
}
