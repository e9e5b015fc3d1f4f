//! A run directory: everything needed to read, compare, resume or reproduce a training run.
//!
//! ```text
//! RUN/config.toml          the resolved config (file + --set overrides)
//! RUN/run.json             seed, git revision, command line, device, start time
//! RUN/run.lock             held by the process training the run (see `boneseg_train::lock`)
//! RUN/steps.csv            per logged step: loss, learning rate, images/s, data wait share
//! RUN/epochs.csv           per epoch: train loss, validation mean dice, time
//! RUN/validation/epochNNN.csv   the per-class dice table of each validation
//! RUN/checkpoints/last/    model, optimiser, schedule and position of the latest step
//! RUN/checkpoints/best/    the same at the best validation mean dice
//! RUN/thresholds.toml      per-class thresholds tuned on validation (`boneseg thresholds tune`)
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use boneseg_contract::atomic::write_atomic;
use boneseg_ensemble::ClassThresholds;
use serde::{Deserialize, Serialize};

/// Facts about a run that the config does not hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub seed: u64,
    pub git_revision: Option<String>,
    pub command: Vec<String>,
    pub device: String,
    pub started_unix: u64,
    pub boneseg_version: String,
}

impl RunInfo {
    pub fn new(seed: u64, device: &str) -> Self {
        Self {
            seed,
            git_revision: boneseg_ledger::git_revision(),
            command: std::env::args().collect(),
            device: device.to_string(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            boneseg_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

pub struct RunDir {
    pub root: PathBuf,
}

pub const STEPS_HEADER: &str = "step,epoch,loss,lr,images_per_s,data_wait_share";
pub const EPOCHS_HEADER: &str = "epoch,step,train_loss,val_mean_dice,seconds";

impl RunDir {
    /// A new run directory; refuses one that already holds a run with a checkpoint (resume it
    /// instead). A folder whose run never reached a checkpoint (its setup failed, or it was
    /// killed first) holds nothing to resume and is started afresh.
    pub fn create(root: &Path, config_toml: &str, info: &RunInfo) -> std::io::Result<Self> {
        let run = Self { root: root.to_path_buf() };
        if root.join("config.toml").exists() && run.has_checkpoint() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already holds a run; continue it with --resume {0}", root.display()),
            ));
        }
        let at = |path: PathBuf| move |e: std::io::Error| named(&path, e);
        for folder in ["checkpoints", "validation"] {
            let path = root.join(folder);
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(at(path.clone()))?;
            }
            std::fs::create_dir_all(&path).map_err(at(path.clone()))?;
        }
        write_atomic(root.join("config.toml"), config_toml.as_bytes())?;
        write_atomic(
            root.join("run.json"),
            serde_json::to_string_pretty(info).expect("serialisable").as_bytes(),
        )?;
        write_atomic(root.join("steps.csv"), format!("{STEPS_HEADER}\n").as_bytes())?;
        write_atomic(root.join("epochs.csv"), format!("{EPOCHS_HEADER}\n").as_bytes())?;
        Ok(run)
    }

    /// Whether a checkpoint (whole, or a swap a crash cut short) is there to resume from.
    pub fn has_checkpoint(&self) -> bool {
        ["last", "best"].iter().any(|name| {
            let dir = self.checkpoint(name);
            dir.exists() || dir.with_extension("old").exists()
        })
    }

    /// An existing run directory, to resume or predict with.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        if !root.join("config.toml").is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a run directory (no config.toml)", root.display()),
            ));
        }
        Ok(Self { root: root.to_path_buf() })
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn checkpoint(&self, name: &str) -> PathBuf {
        self.root.join("checkpoints").join(name)
    }

    /// Where `boneseg thresholds tune` writes the run's per-class thresholds.
    pub fn thresholds_path(&self) -> PathBuf {
        self.root.join("thresholds.toml")
    }

    /// The run's tuned thresholds when it has them.
    pub fn tuned_thresholds(&self) -> Result<Option<ClassThresholds>, String> {
        let path = self.thresholds_path();
        if path.exists() { ClassThresholds::load(&path).map(Some) } else { Ok(None) }
    }

    /// Appends one line to `steps.csv` or `epochs.csv`.
    pub fn append(&self, file: &str, line: &str) -> std::io::Result<()> {
        let mut out: File = OpenOptions::new().append(true).open(self.root.join(file))?;
        writeln!(out, "{line}")
    }

    /// Drops the lines a killed run logged after its last checkpoint, so that a resumed run's
    /// logs read as if it had never stopped: `steps.csv` rows beyond `step`, `epochs.csv` rows
    /// beyond `epoch`.
    pub fn truncate_logs(&self, step: usize, epoch: usize) -> std::io::Result<()> {
        for (file, limit) in [("steps.csv", step), ("epochs.csv", epoch)] {
            let path = self.root.join(file);
            let text = std::fs::read_to_string(&path)?;
            let mut kept = String::new();
            for (i, line) in text.lines().enumerate() {
                let first: Option<usize> = line.split(',').next().and_then(|v| v.parse().ok());
                if i == 0 || first.is_some_and(|v| v <= limit) {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
            write_atomic(&path, kept.as_bytes())?;
        }
        Ok(())
    }

    pub fn write_validation(&self, epoch: usize, table_csv: &str) -> std::io::Result<()> {
        write_atomic(self.root.join("validation").join(format!("epoch{epoch:03}.csv")), table_csv.as_bytes())
    }
}

/// An I/O error that names its path (`Permission denied` alone does not say where).
fn named(path: &Path, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Replaces the checkpoint directory `dest` with `staging` so that a crash at any moment leaves
/// either the old or the new checkpoint whole: `dest` moves to `dest.old` first, and
/// [`recover_checkpoint`] puts it back if the swap was cut short.
pub fn swap_checkpoint(staging: &Path, dest: &Path) -> std::io::Result<()> {
    let old = dest.with_extension("old");
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if dest.exists() {
        std::fs::rename(dest, &old)?;
    }
    std::fs::rename(staging, dest)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// The checkpoint directory to resume from, completing a swap a crash interrupted.
pub fn recover_checkpoint(dest: &Path) -> std::io::Result<Option<PathBuf>> {
    let old = dest.with_extension("old");
    if !dest.exists() && old.exists() {
        std::fs::rename(&old, dest)?;
    }
    Ok(dest.exists().then(|| dest.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_logs_keep_the_header_and_earlier_rows() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), "x = 1\n", &RunInfo::new(1, "cpu")).unwrap();
        for step in 1..=5 {
            run.append("steps.csv", &format!("{step},0,0.5,0.001,1.0,0.1")).unwrap();
        }
        run.truncate_logs(3, 0).unwrap();
        let text = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text.starts_with(STEPS_HEADER));
    }

    #[test]
    fn a_run_without_a_checkpoint_is_started_afresh_and_one_with_a_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), "x = 1\n", &RunInfo::new(1, "cpu")).unwrap();
        run.append("steps.csv", "1,0,0.5,0.001,1.0,0.1").unwrap();
        std::fs::create_dir_all(run.checkpoint("last.staging")).unwrap();
        let run = RunDir::create(dir.path(), "x = 2\n", &RunInfo::new(1, "cpu")).unwrap();
        assert_eq!(std::fs::read_to_string(run.config_path()).unwrap(), "x = 2\n");
        assert_eq!(std::fs::read_to_string(dir.path().join("steps.csv")).unwrap().lines().count(), 1);
        assert!(!run.checkpoint("last.staging").exists(), "leftovers of the failed start are gone");
        std::fs::create_dir_all(run.checkpoint("best")).unwrap();
        let error = RunDir::create(dir.path(), "", &RunInfo::new(1, "cpu")).err().unwrap().to_string();
        assert!(error.contains("already holds a run; continue it with --resume"), "{error}");
    }

    #[test]
    fn an_interrupted_swap_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("last");
        std::fs::create_dir_all(dir.path().join("last.old")).unwrap();
        assert_eq!(recover_checkpoint(&dest).unwrap(), Some(dest.clone()));
        let staging = dir.path().join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("model.bpk"), b"new").unwrap();
        swap_checkpoint(&staging, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("model.bpk")).unwrap(), b"new");
        assert!(!dir.path().join("last.old").exists());
    }
}
