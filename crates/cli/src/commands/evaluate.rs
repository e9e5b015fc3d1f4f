//! `boneseg evaluate`: a submission's errors, as a self-contained HTML page with JSON, recorded in
//! the experiment ledger. Its mean dice is `boneseg score`'s, by the same code.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_contract::submission::Submission;
use boneseg_data::meta;
use boneseg_report::evaluate::{self, EvalOptions};

use super::{FillArgs, score};

#[derive(clap::Args)]
pub struct Args {
    /// The submission CSV to evaluate.
    #[arg(long)]
    pub pred: PathBuf,
    /// Ground-truth label files (JSON).
    #[arg(long)]
    pub labels: PathBuf,
    /// The images (pairing, sizes, and the pictures of the error maps).
    #[arg(long)]
    pub images: PathBuf,
    /// The report folder: index.html, evaluation.json, per_image.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Evaluate only the images of this list (a fold file, or a CSV with an `image` or `person` column).
    #[arg(long)]
    pub subset: Option<PathBuf>,
    /// The meta table (default: meta_data.xlsx/.csv two folders above --images, as in the layout).
    #[arg(long)]
    pub meta: Option<PathBuf>,
    /// Surface-dice tolerance in pixels.
    #[arg(long, default_value_t = 2.0)]
    pub tolerance: f64,
    /// How many of the worst images to draw with their error map.
    #[arg(long, default_value_t = 6)]
    pub worst: usize,
    /// Skip unpaired or unreadable files (listed on standard error) instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let entries = score::select(&args.images, &args.labels, args.subset.as_deref(), args.skip_bad)?;
    let submission = Submission::read(&args.pred)?;
    let meta_path = args.meta.clone().or_else(|| args.images.parent()?.parent().and_then(meta::find));
    let table = meta_path.as_deref().map(meta::read).transpose()?;
    let options =
        EvalOptions { rule: args.fill_rule.fill_rule, tolerance_px: args.tolerance, worst: args.worst };
    let (evaluation, outcome) = evaluate::run(&submission, &entries, table.as_ref(), &args.out, options)?;
    score::warn(&outcome, &args.pred);

    let [red, yellow, green] = evaluation.error_shares;
    let [o_red, o_yellow, o_green] = evaluation.overlap_error_shares;
    println!(
        "errors: RED {:.1}% YELLOW {:.1}% GREEN {:.1}% (overlap regions: {:.1}% / {:.1}% / {:.1}%)",
        red * 100.0,
        yellow * 100.0,
        green * 100.0,
        o_red * 100.0,
        o_yellow * 100.0,
        o_green * 100.0
    );
    println!("report in {} ({:.1} s)", args.out.join("index.html").display(), evaluation.seconds);
    let config = serde_json::json!({
        "pred": args.pred, "labels": args.labels, "images": args.images, "subset": args.subset,
        "tolerance_px": args.tolerance, "fill_rule": args.fill_rule.fill_rule.to_string(),
    });
    let surface_dice =
        evaluation.classes.iter().map(|c| c.surface_dice).sum::<f64>() / evaluation.classes.len() as f64;
    let path = boneseg_ledger::Record::new("evaluate")
        .config(config)
        .data_fingerprint(boneseg_ledger::fingerprint(&[args.labels.as_path(), &args.images, &args.pred])?)
        .mean_dice(evaluation.mean_dice)
        .class_dice(evaluation.classes.iter().map(|c| c.dice).collect())
        .metric("surface_dice", surface_dice)
        .metric("red_share", red)
        .metric("yellow_share", yellow)
        .metric("green_share", green)
        .output(&args.out)
        .finish(started)
        .append()?;
    eprintln!("recorded in the ledger {}", path.display());
    println!("{}", outcome.table.report());
    Ok(ExitCode::SUCCESS)
}
