//! Sweeps: a grid of config overrides, each combination (a point) one training run, resumable,
//! ranked in a leaderboard; k-fold cross-validation is the grid `data.fold = [0, 1, 2, 3, 4]`.
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
//! the sweep folder:
//!
//! ```text
//! SWEEP/sweep.toml        the plan: base config, grid, working directory (written once)
//! SWEEP/points.csv        point,overrides (written once; a folder holds one grid)
//! SWEEP/pNNN/             the point's run directory
//! SWEEP/pNNN/sweep_point.json   written when the point has finished: it is never trained again
//! SWEEP/leaderboard.csv   the points ranked by best validation dice
//! ```
//!
//! Points share nothing but the read-only plan, and each writes only its own folder, so points
//! may train at once on many machines over a shared file system ([`slurm`] writes the array job
//! that does it; [`finish`] is its dependent ensemble job). A finished point is skipped, a
//! started one resumed from its last checkpoint.

pub mod finish;
pub mod slurm;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use boneseg_contract::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, TrainConfig};
use crate::record::{RecordError, record_run};
use crate::trainer::{self, Report, Stop, TrainError};
pub use finish::FinishPlan;

/// The plan's file name in a sweep folder.
pub const PLAN_FILE: &str = "sweep.toml";
/// The points' listing in a sweep folder.
pub const POINTS_FILE: &str = "points.csv";
/// A point's "finished" record inside its run folder.
pub const DONE_FILE: &str = "sweep_point.json";
/// The leaderboard in a sweep folder.
pub const LEADERBOARD_FILE: &str = "leaderboard.csv";
/// The config key whose values are cross-validation folds.
pub const FOLD_KEY: &str = "data.fold";

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("point p{index:03}: {source}")]
    Config { index: usize, source: ConfigError },
    #[error("point p{index:03}: {source}")]
    Train { index: usize, source: TrainError },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{0}")]
    Finish(String),
}

type Result<T> = std::result::Result<T, SweepError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Io { path: path.to_path_buf(), source }
}

/// One grid key with the values to try, as `--set` text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// A grid file: its axes, keys sorted.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub axes: Vec<Axis>,
}

impl Grid {
    pub fn read(path: &Path) -> Result<Grid> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| SweepError::Invalid { path: path.into(), message: format!("not TOML: {e}") })?;
        let mut axes = Vec::new();
        walk("", &table, path, &mut axes)?;
        if axes.is_empty() {
            return Err(SweepError::Invalid { path: path.into(), message: "the grid has no keys".into() });
        }
        axes.sort();
        Ok(Grid { axes })
    }

    /// Every combination of the axes, as `key=value` overrides, the last axis varying fastest.
    pub fn points(&self) -> Vec<Vec<String>> {
        self.axes.iter().fold(vec![Vec::new()], |acc, axis| {
            acc.iter()
                .flat_map(|prefix| {
                    axis.values.iter().map(move |v| {
                        let mut point = prefix.clone();
                        point.push(format!("{}={v}", axis.key));
                        point
                    })
                })
                .collect()
        })
    }
}

fn walk(prefix: &str, table: &toml::Table, path: &Path, axes: &mut Vec<Axis>) -> Result<()> {
    for (key, value) in table {
        let dotted = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => walk(&dotted, inner, path, axes)?,
            toml::Value::Array(values) if !values.is_empty() => {
                axes.push(Axis { key: dotted, values: values.iter().map(toml::Value::to_string).collect() });
            }
            _ => {
                return Err(SweepError::Invalid {
                    path: path.into(),
                    message: format!(
                        "`{dotted}` must be a non-empty list of values to try, e.g. {dotted} = [1, 2]"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// What every point of a sweep is trained from: written once, read by every task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The base experiment config (absolute).
    pub config: PathBuf,
    /// The grid file it came from (absolute; for the record).
    pub grid: PathBuf,
    /// The directory relative paths in the config are read from (where the sweep was started).
    pub workdir: PathBuf,
    /// Each point's overrides, in point order (`points.csv` lists them for people).
    pub points: Vec<Vec<String>>,
    /// How the finish step infers and ensembles the points (absent: no finish step).
    #[serde(default)]
    pub finish: Option<FinishPlan>,
}

/// A sweep folder: its plan and its points.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub dir: PathBuf,
    pub plan: Plan,
}

/// What a finished point wrote to its `sweep_point.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    pub point: String,
    pub overrides: Vec<String>,
    pub best_dice: Option<f64>,
    pub best_epoch: Option<usize>,
    pub steps: usize,
    pub seconds: f64,
}

/// How a point's training ended.
#[derive(Clone, Debug, PartialEq)]
pub enum PointOutcome {
    /// Finished now (or earlier: see [`Sweep::result`]).
    Finished(PointResult),
    /// Stopped by a signal after a checkpoint; running the point again resumes it.
    Interrupted { step: usize },
}

/// `p000`, `p001`, ...
pub fn point_name(index: usize) -> String {
    format!("p{index:03}")
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(io(path))
}

impl Sweep {
    /// Starts the sweep of `grid` over `config` in `dir`, or reopens it when `dir` already holds
    /// this grid. Every point's config is loaded (and so checked) before anything is written.
    pub fn prepare(config: &Path, grid: &Path, dir: &Path, finish: Option<FinishPlan>) -> Result<Sweep> {
        let points = Grid::read(grid)?.points();
        for (index, overrides) in points.iter().enumerate() {
            TrainConfig::load(config, overrides).map_err(|source| SweepError::Config { index, source })?;
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let listing_path = dir.join(POINTS_FILE);
        let listing = listing(&points);
        match std::fs::read_to_string(&listing_path) {
            Ok(existing) if existing != listing => {
                return Err(SweepError::Invalid {
                    path: listing_path,
                    message: "this sweep folder holds another grid; use a new --out (or restore the grid)"
                        .into(),
                });
            }
            Ok(_) => {}
            Err(_) => write_atomic(&listing_path, listing.as_bytes()).map_err(io(&listing_path))?,
        }
        let plan = Plan {
            config: absolute(config)?,
            grid: absolute(grid)?,
            workdir: std::env::current_dir().map_err(io(Path::new(".")))?,
            points,
            finish,
        };
        let plan_path = dir.join(PLAN_FILE);
        let text = toml::to_string_pretty(&plan).expect("a plan serialises");
        write_atomic(&plan_path, text.as_bytes()).map_err(io(&plan_path))?;
        Ok(Sweep { dir: dir.to_path_buf(), plan })
    }

    /// A prepared sweep folder.
    pub fn open(dir: &Path) -> Result<Sweep> {
        let plan_path = dir.join(PLAN_FILE);
        let text = std::fs::read_to_string(&plan_path).map_err(io(&plan_path))?;
        let plan: Plan = toml::from_str(&text)
            .map_err(|e| SweepError::Invalid { path: plan_path.clone(), message: e.to_string() })?;
        Ok(Sweep { dir: dir.to_path_buf(), plan })
    }

    pub fn len(&self) -> usize {
        self.plan.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.plan.points.is_empty()
    }

    /// The run directory of point `index`.
    pub fn point_dir(&self, index: usize) -> PathBuf {
        self.dir.join(point_name(index))
    }

    /// The result of point `index` when it has finished.
    pub fn result(&self, index: usize) -> Result<Option<PointResult>> {
        let path = self.point_dir(index).join(DONE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| SweepError::Invalid { path, message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SweepError::Io { path, source }),
        }
    }

    /// Trains point `index`: resumed from its last checkpoint when it has started, recorded in
    /// the ledger, and marked finished unless a signal stopped it.
    pub fn train_point(&self, index: usize, report: &mut dyn Report) -> Result<PointOutcome> {
        let overrides = self.plan.points.get(index).ok_or_else(|| SweepError::Invalid {
            path: self.dir.join(POINTS_FILE),
            message: format!("there is no point {index}: the sweep has points 0 to {}", self.len() - 1),
        })?;
        if let Some(done) = self.result(index)? {
            return Ok(PointOutcome::Finished(done));
        }
        let dir = self.point_dir(index);
        let started = Instant::now();
        let train_error = |source| SweepError::Train { index, source };
        let outcome = if dir.join("config.toml").is_file() {
            trainer::resume(&dir, report).map_err(train_error)?
        } else {
            let config = TrainConfig::load(&self.plan.config, overrides)
                .map_err(|source| SweepError::Config { index, source })?;
            trainer::train(config, &dir, report).map_err(train_error)?
        };
        record_run(&outcome, started)?;
        if outcome.stop == Stop::Interrupted {
            return Ok(PointOutcome::Interrupted { step: outcome.position.step });
        }
        let result = PointResult {
            point: point_name(index),
            overrides: overrides.clone(),
            best_dice: outcome.position.best_dice,
            best_epoch: outcome.position.best_epoch,
            steps: outcome.position.step,
            seconds: started.elapsed().as_secs_f64(),
        };
        let done = dir.join(DONE_FILE);
        write_atomic(&done, serde_json::to_string_pretty(&result).expect("serialisable").as_bytes())
            .map_err(io(&done))?;
        Ok(PointOutcome::Finished(result))
    }

    /// The finished points ranked by best validation dice (unscored last), written to
    /// `leaderboard.csv`.
    pub fn leaderboard(&self) -> Result<Vec<PointResult>> {
        let mut results = Vec::new();
        for index in 0..self.len() {
            results.extend(self.result(index)?);
        }
        results.sort_by(|a, b| {
            let dice = |r: &PointResult| r.best_dice.unwrap_or(f64::NEG_INFINITY);
            dice(b).total_cmp(&dice(a))
        });
        let mut table = String::from("rank,point,best_dice,best_epoch,overrides\n");
        for (rank, r) in results.iter().enumerate() {
            let _ = writeln!(
                table,
                "{},{},{},{},{}",
                rank + 1,
                r.point,
                r.best_dice.map_or("-".into(), |d| format!("{d:.6}")),
                r.best_epoch.map_or("-".into(), |e| e.to_string()),
                quoted(&r.overrides.join(" "))
            );
        }
        let path = self.dir.join(LEADERBOARD_FILE);
        write_atomic(&path, table.as_bytes()).map_err(io(&path))?;
        Ok(results)
    }
}

/// A CSV field in double quotes.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn listing(points: &[Vec<String>]) -> String {
    let mut listing = String::from("point,overrides\n");
    for (i, point) in points.iter().enumerate() {
        let _ = writeln!(listing, "{},{}", point_name(i), quoted(&point.join(" ")));
    }
    listing
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
        let points = Grid::read(&path).unwrap().points();
        assert_eq!(points.len(), 4);
        assert_eq!(points[0], ["data.size=64", "optim.kind=\"adamw\"", "optim.lr=0.001"]);
        assert_eq!(points[3], ["data.size=128", "optim.kind=\"adamw\"", "optim.lr=0.0003"]);
        std::fs::write(&path, "[optim]\nlr = 1e-3\n").unwrap();
        let error = Grid::read(&path).unwrap_err().to_string();
        assert!(error.contains("`optim.lr` must be a non-empty list"), "{error}");
    }
}
