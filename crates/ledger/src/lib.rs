//! The experiment ledger: every `train`, `infer`, `ensemble` and `evaluate` appends one record
//! (time, command line, resolved config, git revision, seed, data fingerprint, metrics, duration,
//! outputs) as one JSON line to `boneseg-ledger.jsonl` in the project directory (the working
//! directory), or to the file named by `BONESEG_LEDGER`.
//!
//! A command records itself in one line:
//!
//! ```no_run
//! # use boneseg_ledger::Record;
//! let started = std::time::Instant::now();
//! // ... the work ...
//! Record::new("infer").seed(7).mean_dice(0.97).output("submission.csv").finish(started).append()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Records are never rewritten: each is written with one `write` call on a file opened for
//! appending and locked, so concurrent commands never interleave or tear a line. A record is
//! addressed by its 1-based position in the file.

mod fingerprint;
mod git;
mod time;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use fingerprint::fingerprint;
pub use git::git_revision;

/// The environment variable that moves the ledger.
pub const ENV: &str = "BONESEG_LEDGER";
/// The ledger's file name in the project directory.
pub const FILE_NAME: &str = "boneseg-ledger.jsonl";

/// Where records go: `$BONESEG_LEDGER`, else `boneseg-ledger.jsonl` in the working directory.
pub fn default_path() -> PathBuf {
    std::env::var_os(ENV).filter(|v| !v.is_empty()).map_or_else(|| PathBuf::from(FILE_NAME), PathBuf::from)
}

/// One run of a command.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `train`, `infer`, `ensemble`, `evaluate`, ...
    pub kind: String,
    /// Start time, UTC, RFC 3339.
    pub time: String,
    pub command: Vec<String>,
    /// The resolved config (a train config, or a command's arguments); null when none.
    pub config: serde_json::Value,
    pub git_revision: Option<String>,
    pub seed: Option<u64>,
    /// What [`fingerprint`] says of the input data.
    pub data_fingerprint: Option<String>,
    /// The leaderboard mean dice, when the command measured one.
    pub mean_dice: Option<f64>,
    /// The 29 per-class dice values behind it.
    pub class_dice: Option<Vec<f64>>,
    /// Any other figures (best epoch, surface dice, error shares, ...).
    pub metrics: BTreeMap<String, f64>,
    pub seconds: f64,
    pub outputs: Vec<String>,
}

impl Record {
    /// A record of `kind` started now, by this process's command line, at this git revision.
    pub fn new(kind: &str) -> Self {
        Record {
            kind: kind.to_string(),
            time: time::now_rfc3339(),
            command: std::env::args().collect(),
            git_revision: git_revision(),
            ..Record::default()
        }
    }

    pub fn config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    pub fn data_fingerprint(mut self, fingerprint: String) -> Self {
        self.data_fingerprint = Some(fingerprint);
        self
    }

    pub fn mean_dice(mut self, dice: f64) -> Self {
        self.mean_dice = Some(dice);
        self
    }

    pub fn class_dice(mut self, dice: Vec<f64>) -> Self {
        self.class_dice = Some(dice);
        self
    }

    pub fn metric(mut self, name: &str, value: f64) -> Self {
        self.metrics.insert(name.to_string(), value);
        self
    }

    pub fn output(mut self, path: impl AsRef<Path>) -> Self {
        self.outputs.push(path.as_ref().display().to_string());
        self
    }

    /// Sets the duration from the command's start.
    pub fn finish(mut self, started: std::time::Instant) -> Self {
        self.seconds = started.elapsed().as_secs_f64();
        self
    }

    /// Appends the record to [`default_path`]; returns where it went.
    pub fn append(&self) -> std::io::Result<PathBuf> {
        let path = default_path();
        append(&path, self)?;
        Ok(path)
    }
}

/// Appends one record as one line: a single `write` on a locked, append-mode file.
pub fn append(path: &Path, record: &Record) -> std::io::Result<()> {
    let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    file.lock()?;
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

/// Checks that a record could be appended to `path` without writing one: the file opens for
/// appending, or, when it does not exist yet, its folder takes a new file. A long command checks
/// this first, so that an unwritable ledger stops it before the work rather than after.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if path.exists() {
        return OpenOptions::new().append(true).open(path).map(drop).map_err(named);
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let probe = folder.join(format!(".{FILE_NAME}.probe-{}", std::process::id()));
    OpenOptions::new().write(true).create_new(true).open(&probe).map_err(named)?;
    std::fs::remove_file(&probe).map_err(named)
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: not a ledger record: {problem}", path.display())]
    Line { path: PathBuf, line: usize, problem: String },
    #[error("{}: no record `{wanted}`: use a number from 1 to {count} or `last` (see `boneseg runs list`)", path.display())]
    NoSuchRecord { path: PathBuf, wanted: String, count: usize },
}

/// Every record, in order. A missing ledger is empty.
pub fn read(path: &Path) -> Result<Vec<Record>, LedgerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(LedgerError::Io { path: path.to_path_buf(), source }),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| LedgerError::Line {
                path: path.to_path_buf(),
                line: i + 1,
                problem: e.to_string(),
            })
        })
        .collect()
}

/// The record `wanted` names: its 1-based number, or `last`.
pub fn select<'a>(
    path: &Path,
    records: &'a [Record],
    wanted: &str,
) -> Result<(usize, &'a Record), LedgerError> {
    let index = match wanted {
        "last" => records.len().checked_sub(1),
        number => number.parse::<usize>().ok().and_then(|n| n.checked_sub(1)),
    };
    index.and_then(|i| records.get(i).map(|r| (i + 1, r))).ok_or_else(|| LedgerError::NoSuchRecord {
        path: path.to_path_buf(),
        wanted: wanted.to_string(),
        count: records.len(),
    })
}

/// A JSON value as dotted keys and leaf values (`optim.lr = 0.001`), for config diffs.
pub fn flatten(value: &serde_json::Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, child, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_append_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        assert!(read(&path).unwrap().is_empty(), "no ledger yet is an empty one");
        let first = Record::new("evaluate").mean_dice(0.9).class_dice(vec![0.9; 29]).output("a");
        let second = Record::new("train").seed(3).config(serde_json::json!({"optim": {"lr": 0.001}}));
        append(&path, &first).unwrap();
        append(&path, &second).unwrap();
        let records = read(&path).unwrap();
        assert_eq!(records, vec![first, second.clone()]);
        assert_eq!(select(&path, &records, "last").unwrap(), (2, &second));
        assert_eq!(select(&path, &records, "2").unwrap().0, 2);
        let err = select(&path, &records, "3").unwrap_err().to_string();
        assert!(err.contains("use a number from 1 to 2 or `last`"), "{err}");
    }

    #[test]
    fn writability_is_checked_without_writing_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        check_writable(&path).unwrap();
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "the probe leaves nothing");
        append(&path, &Record::new("train")).unwrap();
        check_writable(&path).unwrap();
        let blocked = dir.path().join("ledger.jsonl").join("inner.jsonl");
        let error = check_writable(&blocked).unwrap_err().to_string();
        assert!(error.contains("ledger.jsonl/inner.jsonl"), "{error}");
    }

    #[test]
    fn concurrent_appends_never_tear_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        std::thread::scope(|scope| {
            for t in 0..4 {
                let path = &path;
                scope.spawn(move || {
                    for i in 0..25 {
                        let record = Record::new("evaluate").metric("thread", t as f64).metric("i", i as f64);
                        append(path, &record.output("x".repeat(5000))).unwrap();
                    }
                });
            }
        });
        assert_eq!(read(&path).unwrap().len(), 100);
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        append(&path, &Record::new("train")).unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{oops\n").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("line 2: not a ledger record"));
    }

    #[test]
    fn configs_flatten_to_dotted_keys() {
        let flat = flatten(&serde_json::json!({"optim": {"lr": 0.001, "kind": "adamw"}, "loss": [1, 2]}));
        assert_eq!(flat["optim.lr"], "0.001");
        assert_eq!(flat["optim.kind"], "\"adamw\"");
        assert_eq!(flat["loss"], "[1,2]");
    }
}
