//! The experiment ledger: every `train`, `infer`, `ensemble`, `evaluate` and `sweep` appends
//! one record (time, command line, resolved config, git revision, seed, data fingerprint,
//! metrics, duration, outputs). The ledger is named by `boneseg-ledger.jsonl` in the project
//! directory (the working directory), or by the file `BONESEG_LEDGER` names.
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
//! **Many machines at once.** Each record is its own file in the folder beside the ledger file
//! (`boneseg-ledger.d/`), written under a hidden temporary name and renamed into place; reading
//! merges the folder's records (and the lines of `boneseg-ledger.jsonl`, which older versions
//! appended to) in time order. So the array tasks of a cluster job, on many nodes over NFS,
//! record their runs with no lock at all: a rename within one folder is atomic on NFS as on a
//! local disk, and names made of the time, host, process and a counter never collide. A shared
//! append-only file is not safe there: `O_APPEND` on NFS is the client's guess of the file's
//! end (two clients overwrite each other), and `flock` holds across clients only when the
//! server's lock service runs and the mount has no `nolock` or `local_lock` option, which a
//! program cannot check.
//!
//! A record is addressed by its 1-based position in that merged order.

mod fingerprint;
mod git;
mod time;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Adds the record to the ledger at [`default_path`]; returns its file.
    pub fn append(&self) -> std::io::Result<PathBuf> {
        append(&default_path(), self)
    }
}

/// The folder of the ledger named by `path`: `boneseg-ledger.jsonl` -> `boneseg-ledger.d`.
pub fn records_dir(path: &Path) -> PathBuf {
    path.with_extension("d")
}

/// A record file name no other process or machine makes: the time in nanoseconds (so names
/// sort in time order), the host, the process and a counter.
fn record_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let host: String = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:020}-{host}-{}-{count}.json", std::process::id())
}

/// Adds `record` to the ledger named by `path` as a file of its own, written under a temporary
/// name and renamed; returns the file.
pub fn append(path: &Path, record: &Record) -> std::io::Result<PathBuf> {
    let dir = records_dir(path);
    let named =
        |e: std::io::Error, at: &Path| std::io::Error::new(e.kind(), format!("{}: {e}", at.display()));
    std::fs::create_dir_all(&dir).map_err(|e| named(e, &dir))?;
    let name = record_name();
    let (tmp, dest) = (dir.join(format!(".{name}.tmp")), dir.join(&name));
    let mut text = serde_json::to_string(record).map_err(std::io::Error::other)?;
    text.push('\n');
    let mut file = std::fs::File::create(&tmp).map_err(|e| named(e, &tmp))?;
    file.write_all(text.as_bytes()).map_err(|e| named(e, &tmp))?;
    file.sync_all().map_err(|e| named(e, &tmp))?;
    drop(file);
    std::fs::rename(&tmp, &dest).map_err(|e| named(e, &dest))?;
    Ok(dest)
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

/// Every record, in time order: the lines of the file at `path` (older versions appended there)
/// and the files of its records folder. A missing ledger is empty.
pub fn read(path: &Path) -> Result<Vec<Record>, LedgerError> {
    // (time, file name or line number, record): a stable order even for records of one second.
    let mut keyed: Vec<(String, String, Record)> = Vec::new();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            for (i, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
                let record: Record = serde_json::from_str(line).map_err(|e| LedgerError::Line {
                    path: path.to_path_buf(),
                    line: i + 1,
                    problem: e.to_string(),
                })?;
                keyed.push((record.time.clone(), format!("{i:020}"), record));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(LedgerError::Io { path: path.to_path_buf(), source }),
    }
    let dir = records_dir(path);
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|source| LedgerError::Io { path: dir.clone(), source })?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !name.ends_with(".json") {
                    continue;
                }
                let file = entry.path();
                let text = std::fs::read_to_string(&file)
                    .map_err(|source| LedgerError::Io { path: file.clone(), source })?;
                let record: Record = serde_json::from_str(text.trim()).map_err(|e| LedgerError::Line {
                    path: file,
                    line: 1,
                    problem: e.to_string(),
                })?;
                keyed.push((record.time.clone(), name, record));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(LedgerError::Io { path: dir, source }),
    }
    keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(keyed.into_iter().map(|(_, _, record)| record).collect())
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
    fn concurrent_appends_keep_every_record() {
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
        let records = read(&path).unwrap();
        assert_eq!(records.len(), 100);
        let mut seen: Vec<(u64, u64)> =
            records.iter().map(|r| (r.metrics["thread"] as u64, r.metrics["i"] as u64)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 100, "every record once");
        assert!(
            !records_dir(&path).read_dir().unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.'))
        );
    }

    #[test]
    fn older_ledger_lines_merge_with_record_files_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let old = Record { time: "2020-01-01T00:00:00Z".into(), ..Record::new("train") };
        let newer = Record { time: "2030-01-01T00:00:00Z".into(), ..Record::new("infer") };
        std::fs::write(
            &path,
            format!("{}\n{}\n", serde_json::to_string(&old).unwrap(), serde_json::to_string(&newer).unwrap()),
        )
        .unwrap();
        let now = Record::new("evaluate");
        append(&path, &now).unwrap();
        assert_eq!(read(&path).unwrap(), vec![old, now, newer]);
    }

    #[test]
    fn a_bad_record_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        append(&path, &Record::new("train")).unwrap();
        std::fs::write(&path, "{oops\n").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("line 1: not a ledger record"));
        std::fs::remove_file(&path).unwrap();
        std::fs::write(records_dir(&path).join("1-x-1-0.json"), "{oops").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("1-x-1-0.json: line 1: not a ledger record"));
    }

    #[test]
    fn configs_flatten_to_dotted_keys() {
        let flat = flatten(&serde_json::json!({"optim": {"lr": 0.001, "kind": "adamw"}, "loss": [1, 2]}));
        assert_eq!(flat["optim.lr"], "0.001");
        assert_eq!(flat["optim.kind"], "\"adamw\"");
        assert_eq!(flat["loss"], "[1,2]");
    }
}
