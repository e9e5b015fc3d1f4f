//! A training run in the experiment ledger: its resolved config, seed, data fingerprint, best
//! validation dice with the per-class table of that epoch, and the run folder.

use std::path::PathBuf;
use std::time::Instant;

use crate::trainer::Outcome;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

/// Appends the run behind `outcome` (finished or stopped) to the ledger; returns where it went.
pub fn record_run(outcome: &Outcome, started: Instant) -> Result<PathBuf, RecordError> {
    let run = &outcome.run;
    let read = |name: &str| {
        let path = run.join(name);
        std::fs::read_to_string(&path).map_err(|source| RecordError::Io { path, source })
    };
    let parse_error = |name: &str, message: String| RecordError::Parse { path: run.join(name), message };
    let config: toml::Table =
        toml::from_str(&read("config.toml")?).map_err(|e| parse_error("config.toml", e.to_string()))?;
    let info: serde_json::Value =
        serde_json::from_str(&read("run.json")?).map_err(|e| parse_error("run.json", e.to_string()))?;
    let root = config.get("data").and_then(|d| d.get("root")).and_then(|r| r.as_str()).map(PathBuf::from);
    let config = serde_json::to_value(&config).map_err(|e| parse_error("config.toml", e.to_string()))?;
    let mut record = boneseg_ledger::Record::new("train")
        .config(config)
        .metric("steps", outcome.position.step as f64)
        .output(run);
    if let Some(seed) = info["seed"].as_u64() {
        record = record.seed(seed);
    }
    if let Some(root) = root.filter(|r| r.is_dir()) {
        let fingerprint = boneseg_ledger::fingerprint(&[root.as_path()])
            .map_err(|source| RecordError::Io { path: root.clone(), source })?;
        record = record.data_fingerprint(fingerprint);
    }
    if let (Some(dice), Some(epoch)) = (outcome.position.best_dice, outcome.position.best_epoch) {
        record = record.mean_dice(dice).metric("best_epoch", epoch as f64);
        let table = read(&format!("validation/epoch{epoch:03}.csv"))?;
        let classes: Vec<f64> = table
            .lines()
            .skip(1)
            .take(boneseg_contract::NUM_CLASSES)
            .filter_map(|line| line.split(',').nth(1)?.parse().ok())
            .collect();
        if classes.len() == boneseg_contract::NUM_CLASSES {
            record = record.class_dice(classes);
        }
    }
    record
        .finish(started)
        .append()
        .map_err(|source| RecordError::Io { path: boneseg_ledger::default_path(), source })
}
