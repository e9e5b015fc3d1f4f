//! `boneseg data check`: reads everything in a dataset and reports every problem.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_data::image_io::read_gray;
use boneseg_data::layout::duplicate_names;
use boneseg_data::{Dataset, ReadOptions, labels};
use rayon::prelude::*;

use super::FillArgs;
use crate::progress;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Decode every image, parse every label file and the meta table; exit 1 on any problem.
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Dataset root.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Check(args) = command;
    let dataset = Dataset::open(&args.data, ReadOptions { skip_bad: true })?;
    let mut problems: Vec<String> = dataset.skipped.iter().map(ToString::to_string).collect();
    problems.extend(dataset.meta_problems.iter().map(ToString::to_string));
    // A submission names images by base name, so they must be unique within each set.
    for set in [&dataset.train, &dataset.test] {
        problems.extend(duplicate_names(set).iter().map(ToString::to_string));
    }
    let mut warnings = Vec::new();
    let entries: Vec<_> = dataset.train.iter().chain(&dataset.test).collect();
    let bar = progress::bar(entries.len(), "images");
    let results: Vec<(Vec<String>, Vec<String>)> = entries
        .par_iter()
        .map(|entry| {
            let mut found = (Vec::new(), Vec::new());
            if let Err(error) = read_gray(&entry.image) {
                found.0.push(error.to_string());
            }
            if let Some(label) = &entry.label {
                match labels::load(entry, args.fill_rule.options()) {
                    Ok(loaded) => {
                        found.1.extend(loaded.warnings.iter().map(|w| format!("{}: {w}", label.display())))
                    }
                    Err(error) => found.0.push(error.to_string()),
                }
            }
            bar.inc(1);
            found
        })
        .collect();
    bar.finish_and_clear();
    for (bad, odd) in results {
        problems.extend(bad);
        warnings.extend(odd);
    }
    match &dataset.meta {
        None if !dataset.meta_problems.is_empty() => {}
        Some(meta) => {
            let people: std::collections::BTreeSet<_> = entries.iter().map(|e| e.person).collect();
            for person in people.iter().filter(|&&p| meta.get(p).is_none()) {
                warnings.push(format!("{}: no row for person {person}", meta.path.display()));
            }
        }
        None => warnings.push(format!("{}: no meta_data.xlsx or meta_data.csv", args.data.display())),
    }
    for warning in &warnings {
        println!("warning: {warning}");
    }
    for problem in &problems {
        println!("error: {problem}");
    }
    println!(
        "{}: {} training and {} test images, {} people in the meta table; {} problem(s), {} warning(s)",
        args.data.display(),
        dataset.train.len(),
        dataset.test.len(),
        dataset.meta.as_ref().map_or(0, |m| m.people.len()),
        problems.len(),
        warnings.len()
    );
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
