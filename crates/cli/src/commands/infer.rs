//! `boneseg infer`: runs to a submission with sliding windows, test-time augmentation, per-class
//! thresholds, post-processing and an optional probability store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use boneseg_contract::Shard;
use boneseg_data::layout::list_radiographs;
use boneseg_ensemble::store::{DEFAULT_FLOOR, Part};
use boneseg_ensemble::{ClassRule, PostProcess, TunedSettings};
use boneseg_infer::{InferOptions, Merge, Mode, Tta, Window, infer_entries};
use boneseg_train::validate::validation_images;

use crate::progress::bar;

#[derive(clap::Args)]
pub struct Args {
    /// A run directory written by `boneseg train`; several runs are merged like TTA views.
    #[arg(long, required = true)]
    pub run: Vec<PathBuf>,
    /// Folder of images, PNG or JPEG, searched recursively (test/DCM, or any folder of
    /// radiographs: loose files of any size are fine).
    #[arg(long, required_unless_present = "validation_of", conflicts_with = "validation_of")]
    pub images: Option<PathBuf>,
    /// Instead of --images: the validation fold of this run (from its resolved config), full
    /// size, for `boneseg ensemble tune` (write --probs with a low --floor, e.g. 0.05).
    #[arg(long)]
    pub validation_of: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    /// Which checkpoint: best (by validation mean dice) or last.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// One threshold for all classes (default: --tuned; else, for a single run, its
    /// thresholds.toml from `boneseg thresholds tune`; else the first run's train.threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Thresholds and post-processing from `boneseg ensemble tune` on a store this same
    /// inference (runs, mode, views) wrote for the validation images.
    #[arg(long, conflicts_with_all = ["threshold", "postprocess", "min_size", "keep_largest", "fill_holes"])]
    pub tuned: Option<PathBuf>,
    /// cpu, vulkan, wgpu or cuda (default: the run's train.device).
    #[arg(long)]
    pub device: Option<String>,
    /// whole: the image resized to the training size; sliding: windows over the full image.
    #[arg(long, default_value = "whole", value_parser = ["whole", "sliding"])]
    pub mode: String,
    /// Sliding window side in pixels (default: the run's data.crop, else its training size).
    #[arg(long)]
    pub window: Option<usize>,
    /// Step between windows (default: half the window).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Gaussian blending sigma, as a fraction of the window side.
    #[arg(long, default_value_t = 0.125)]
    pub sigma: f64,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 4)]
    pub window_batch: usize,
    /// TTA: add horizontally flipped views.
    #[arg(long)]
    pub hflip: bool,
    /// TTA: input scales, e.g. 0.9,1.0,1.1.
    #[arg(long, value_delimiter = ',', default_value = "1.0")]
    pub scales: Vec<f64>,
    /// TTA: brightness multipliers, e.g. 0.9,1.0,1.1.
    #[arg(long, value_delimiter = ',', default_value = "1.0")]
    pub brightness: Vec<f64>,
    /// Merge views (and runs) on logits or probs.
    #[arg(long, default_value = "logits")]
    pub merge: Merge,
    #[command(flatten)]
    pub post: PostArgs,
    /// Also write the probabilities at or above --floor to a probability store in this folder.
    #[arg(long)]
    pub probs: Option<PathBuf>,
    #[arg(long, default_value_t = DEFAULT_FLOOR)]
    pub floor: f32,
    /// Infer only part K of N of the sorted image list (K from 0, e.g. $SLURM_ARRAY_TASK_ID/4):
    /// --out gets that part of the submission and --probs DIR its part of the store; `boneseg
    /// submission merge` puts the parts together, and ensembles read a folder of store parts.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

/// Post-processing flags, shared with `boneseg ensemble`.
#[derive(clap::Args)]
pub struct PostArgs {
    /// Per-class post-processing rules (TOML: [default] and [class.NAME] with min_size,
    /// keep_largest, fill_holes); overrides the three flags below.
    #[arg(long)]
    pub postprocess: Option<PathBuf>,
    /// Remove connected components smaller than this many pixels (all classes).
    #[arg(long, default_value_t = 0)]
    pub min_size: u64,
    /// Keep only the largest component of each class.
    #[arg(long)]
    pub keep_largest: bool,
    /// Fill holes in each class.
    #[arg(long)]
    pub fill_holes: bool,
}

impl PostArgs {
    pub fn rules(&self) -> anyhow::Result<PostProcess> {
        match &self.postprocess {
            Some(path) => PostProcess::load(path).map_err(anyhow::Error::msg),
            None => Ok(PostProcess::uniform(ClassRule {
                min_size: self.min_size,
                keep_largest: self.keep_largest,
                fill_holes: self.fill_holes,
            })),
        }
    }
}

/// A tuned file for one prediction: tuned over several stores, its thresholds belong to their
/// weighted mean, which only `ensemble --method mean --tuned` computes.
fn tuned_for_infer(path: &std::path::Path) -> anyhow::Result<TunedSettings> {
    let settings = TunedSettings::load(path).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        settings.weights.len() == 1,
        "{}: tuned over {} stores, so its thresholds are for their weighted mean: use it with `boneseg ensemble --method mean --tuned`, or tune on the one store that this infer (same --run list, mode and views) writes with `--validation-of RUN --probs DIR`",
        path.display(),
        settings.weights.len()
    );
    Ok(settings)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = serde_json::json!({
        "runs": args.run, "images": args.images, "validation_of": args.validation_of,
        "checkpoint": args.checkpoint, "threshold": args.threshold, "tuned": args.tuned,
        "mode": args.mode, "window": args.window, "stride": args.stride, "sigma": args.sigma,
        "hflip": args.hflip, "scales": args.scales, "brightness": args.brightness,
        "merge": format!("{:?}", args.merge).to_lowercase(), "postprocess": args.post.postprocess,
        "min_size": args.post.min_size, "keep_largest": args.post.keep_largest,
        "fill_holes": args.post.fill_holes, "probs": args.probs, "floor": args.floor,
        "shard": args.shard.map(|s| s.to_string()),
    });
    let mode = match args.mode.as_str() {
        "sliding" => Mode::Sliding(Window {
            size: args.window,
            stride: args.stride,
            sigma: args.sigma,
            batch: args.window_batch,
        }),
        _ => Mode::Whole,
    };
    let (tuned, post) = match &args.tuned {
        Some(path) => {
            let settings = tuned_for_infer(path)?;
            (Some((settings.thresholds, path.display().to_string())), settings.post)
        }
        None => (None, args.post.rules()?),
    };
    let mut options = InferOptions {
        checkpoint: args.checkpoint,
        device: args.device,
        threshold: args.threshold,
        tuned,
        mode,
        tta: Tta { hflip: args.hflip, scales: args.scales, brightness: args.brightness, merge: args.merge },
        post,
        probs: args.probs.clone().map(|dir| (dir, args.floor)),
        part: None,
    };
    let (mut entries, images) = match (&args.validation_of, &args.images) {
        (Some(run), _) => validation_images(run)?,
        (None, Some(dir)) => (list_radiographs(dir)?, dir.clone()),
        (None, None) => anyhow::bail!("give --images DIR or --validation-of RUN"),
    };
    if let Some(shard) = args.shard {
        let part = Part::of(shard, entries.len());
        entries = entries[part.start..part.end].to_vec();
        println!("shard {shard}: images {} to {} of {}", part.start + 1, part.end, part.total);
        options.part = Some(part);
    }
    let mut progress = None;
    let summary = infer_entries(&args.run, &entries, &args.out, &options, |done, total| {
        progress.get_or_insert_with(|| bar(total, "images")).set_position(done as u64);
    })?;
    if let Some(progress) = progress {
        progress.finish_and_clear();
    }
    println!(
        "{} images inferred ({} views per image, thresholds from {}); submission written to {}",
        summary.images,
        summary.views,
        summary.thresholds,
        args.out.display()
    );
    let mut record = boneseg_ledger::Record::new("infer")
        .config(config)
        .data_fingerprint(boneseg_ledger::fingerprint(&[images.as_path()])?)
        .output(&args.out);
    if let Some(dir) = &args.probs {
        println!("probability store written to {}", dir.display());
        record = record.output(dir);
    }
    let path = record.finish(started).append()?;
    eprintln!("recorded in the ledger {}", path.display());
    Ok(ExitCode::SUCCESS)
}
