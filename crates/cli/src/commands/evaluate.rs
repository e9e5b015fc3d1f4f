//! `boneseg evaluate`: a submission's errors, as a self-contained HTML page with JSON, recorded in
//! the experiment ledger. Its mean dice is `boneseg score`'s, by the same code.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_data::meta;
use boneseg_report::evaluate::{self, EvalOptions};

use super::score;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scored: score::Scored,
    /// The report folder: index.html, evaluation.json, per_image.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// The meta table (default: meta_data.xlsx/.csv two folders above --images, as in the layout).
    #[arg(long)]
    pub meta: Option<PathBuf>,
    /// Surface-dice tolerance in pixels.
    #[arg(long, default_value_t = 2.0)]
    pub tolerance: f64,
    /// How many of the worst images to draw with their error map.
    #[arg(long, default_value_t = 6)]
    pub worst: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let scored = &args.scored;
    let (entries, submission) = scored.read()?;
    let meta_path = args.meta.clone().or_else(|| scored.images.parent()?.parent().and_then(meta::find));
    let table = meta_path.as_deref().map(meta::read).transpose()?;
    let options =
        EvalOptions { labels: scored.fill_rule.options(), tolerance_px: args.tolerance, worst: args.worst };
    let (evaluation, outcome) = evaluate::run(&submission, &entries, table.as_ref(), &args.out, options)?;
    score::warn(&outcome, &scored.pred);

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
        "pred": scored.pred, "labels": scored.labels, "images": scored.images, "subset": scored.subset,
        "tolerance_px": args.tolerance, "fill_rule": scored.fill_rule.fill_rule.to_string(),
    });
    let surface_dice =
        evaluation.classes.iter().map(|c| c.surface_dice).sum::<f64>() / evaluation.classes.len() as f64;
    let path = boneseg_ledger::Record::new("evaluate")
        .config(config)
        .data_fingerprint(boneseg_ledger::fingerprint(&[
            scored.labels.as_path(),
            &scored.images,
            &scored.pred,
        ])?)
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
