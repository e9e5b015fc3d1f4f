//! `boneseg eda`: the dataset explored, as a self-contained HTML page with JSON/CSV tables.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_report::eda::{self, EdaOptions};

use super::FillArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The dataset root (competition layout: train/DCM, train/outputs_json, test/DCM, meta_data.xlsx).
    #[arg(long)]
    pub data: PathBuf,
    /// The report folder: index.html, eda.json, class_areas.csv, overlaps.csv, images.csv, outliers.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// How many outlier candidates to draw as thumbnails.
    #[arg(long, default_value_t = 24)]
    pub thumbnails: usize,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = EdaOptions { rule: args.fill_rule.fill_rule, thumbnails: args.thumbnails };
    let report = eda::run(&args.data, &args.out, options)?;
    let pairs: Vec<String> =
        report.overlap_pairs.iter().take(3).map(|p| format!("{}/{}", p.a, p.b)).collect();
    println!(
        "{} training and {} test images; smallest classes {}; biggest overlaps {}; {} outlier candidates",
        report.train_images,
        report.test_images,
        report.smallest.join(", "),
        pairs.join(", "),
        report.outliers.len()
    );
    println!("report in {} ({:.1} s)", args.out.join("index.html").display(), report.seconds);
    Ok(ExitCode::SUCCESS)
}
