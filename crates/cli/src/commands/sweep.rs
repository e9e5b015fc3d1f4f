//! `boneseg sweep`: a grid of config overrides trained one after another, resumable, ending with
//! a leaderboard.
//!
//! The grid file holds, for each dotted config key, the list of values to try:
//!
//! ```toml
//! [optim]
//! lr = [1e-3, 3e-4]
//! [data]
//! size = [256, 512]
//! ```
//!
//! Every combination (keys in sorted order, the last varying fastest) is a point `pNNN` under
//! `--out`: a finished point (its `sweep_point.json` written) is skipped, a started one resumed
//! from its last checkpoint, so rerunning the same command after a crash finishes the sweep.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use boneseg_contract::atomic::write_atomic;
use boneseg_train::config::TrainConfig;
use boneseg_train::trainer;
use serde_json::json;

use super::train::{BarReport, record};

#[derive(clap::Args)]
pub struct Args {
    /// The base experiment config.
    #[arg(long)]
    pub config: PathBuf,
    /// The grid: dotted keys with the list of values to try.
    #[arg(long)]
    pub grid: PathBuf,
    /// The sweep folder: one run folder per point, points.csv and leaderboard.csv.
    #[arg(long)]
    pub out: PathBuf,
}

/// The grid's keys with their values, as `--set` text, keys sorted.
fn read_grid(path: &Path) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not TOML", path.display()))?;
    let mut axes = Vec::new();
    fn walk(
        prefix: &str,
        table: &toml::Table,
        path: &Path,
        axes: &mut Vec<(String, Vec<String>)>,
    ) -> anyhow::Result<()> {
        for (key, value) in table {
            let dotted = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            match value {
                toml::Value::Table(inner) => walk(&dotted, inner, path, axes)?,
                toml::Value::Array(values) if !values.is_empty() => {
                    axes.push((dotted, values.iter().map(toml::Value::to_string).collect()));
                }
                _ => anyhow::bail!(
                    "{}: `{dotted}` must be a non-empty list of values to try, e.g. {dotted} = [1, 2]",
                    path.display()
                ),
            }
        }
        Ok(())
    }
    walk("", &table, path, &mut axes)?;
    anyhow::ensure!(!axes.is_empty(), "{}: the grid has no keys", path.display());
    axes.sort();
    Ok(axes)
}

/// Every combination of the axes, as `key=value` overrides.
fn points(axes: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    axes.iter().fold(vec![Vec::new()], |acc, (key, values)| {
        acc.iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut point = prefix.clone();
                    point.push(format!("{key}={v}"));
                    point
                })
            })
            .collect()
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let points = points(&read_grid(&args.grid)?);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut listing = String::from("point,overrides\n");
    for (i, point) in points.iter().enumerate() {
        let _ = writeln!(listing, "p{i:03},\"{}\"", point.join(" ").replace('"', "\"\""));
    }
    let listing_path = args.out.join("points.csv");
    match std::fs::read_to_string(&listing_path) {
        Ok(existing) if existing != listing => anyhow::bail!(
            "{}: this sweep folder holds another grid; use a new --out (or restore the grid)",
            listing_path.display()
        ),
        Ok(_) => {}
        Err(_) => write_atomic(&listing_path, listing.as_bytes())?,
    }

    let mut results = Vec::new();
    for (i, overrides) in points.iter().enumerate() {
        let dir = args.out.join(format!("p{i:03}"));
        let done = dir.join("sweep_point.json");
        if let Ok(text) = std::fs::read_to_string(&done) {
            println!("p{i:03} already finished: {}", overrides.join(" "));
            results.push(serde_json::from_str::<serde_json::Value>(&text)?);
            continue;
        }
        println!("p{i:03} ({} of {}): {}", i + 1, points.len(), overrides.join(" "));
        let started = std::time::Instant::now();
        let mut report = BarReport::new();
        let outcome = if dir.join("config.toml").is_file() {
            trainer::resume(&dir, &mut report)?
        } else {
            trainer::train(TrainConfig::load(&args.config, overrides)?, &dir, &mut report)?
        };
        report.finish();
        record(&outcome, started)?;
        let result = json!({
            "point": format!("p{i:03}"),
            "overrides": overrides,
            "best_dice": outcome.position.best_dice,
            "best_epoch": outcome.position.best_epoch,
            "steps": outcome.position.step,
            "seconds": started.elapsed().as_secs_f64(),
        });
        write_atomic(&done, serde_json::to_string_pretty(&result)?.as_bytes())?;
        results.push(result);
    }

    results.sort_by(|a, b| {
        let dice = |r: &serde_json::Value| r["best_dice"].as_f64().unwrap_or(f64::NEG_INFINITY);
        dice(b).total_cmp(&dice(a))
    });
    let mut table = String::from("rank,point,best_dice,best_epoch,overrides\n");
    println!("{:>4}  {:<5}  {:>9}  {:>5}  overrides", "rank", "point", "best_dice", "epoch");
    for (rank, r) in results.iter().enumerate() {
        let overrides: Vec<&str> =
            r["overrides"].as_array().into_iter().flatten().filter_map(|o| o.as_str()).collect();
        let dice = r["best_dice"].as_f64().map_or("-".into(), |d| format!("{d:.6}"));
        let epoch = r["best_epoch"].as_u64().map_or("-".into(), |e| e.to_string());
        let point = r["point"].as_str().unwrap_or("?");
        println!("{:>4}  {point:<5}  {dice:>9}  {epoch:>5}  {}", rank + 1, overrides.join(" "));
        let _ = writeln!(
            table,
            "{},{point},{dice},{epoch},\"{}\"",
            rank + 1,
            overrides.join(" ").replace('"', "\"\"")
        );
    }
    write_atomic(args.out.join("leaderboard.csv"), table.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_expand_to_every_combination_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.toml");
        std::fs::write(&path, "[optim]\nlr = [1e-3, 3e-4]\nkind = [\"adamw\"]\n[data]\nsize = [64, 128]\n")
            .unwrap();
        let points = points(&read_grid(&path).unwrap());
        assert_eq!(points.len(), 4);
        assert_eq!(points[0], ["data.size=64", "optim.kind=\"adamw\"", "optim.lr=0.001"]);
        assert_eq!(points[3], ["data.size=128", "optim.kind=\"adamw\"", "optim.lr=0.0003"]);
        std::fs::write(&path, "[optim]\nlr = 1e-3\n").unwrap();
        let error = read_grid(&path).unwrap_err().to_string();
        assert!(error.contains("`optim.lr` must be a non-empty list"), "{error}");
    }
}
