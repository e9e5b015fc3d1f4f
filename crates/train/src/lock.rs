//! One process per run folder: a training run holds an exclusive lock on `RUN/run.lock` for as
//! long as it lives, so a second `train --resume RUN` (or a second `train --out RUN`) is refused
//! instead of interleaving its steps and checkpoints with the first's. The lock goes with the
//! process, `kill -9` included (see [`boneseg_contract::lock`]).

use std::path::{Path, PathBuf};

use boneseg_contract::lock::{LockFile, describe_holder};

/// The lock file's name inside a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// Why a run folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{} is in use by another boneseg process ({holder}); wait for it to finish, or stop it, before training in this folder",
        path.display()
    )]
    Held { path: PathBuf, holder: String },
    #[error("cannot create the run folder {}: {source}", path.display())]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("cannot lock the run folder: {0}")]
    Io(std::io::Error),
}

/// An exclusive lock on a run folder, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: LockFile,
}

impl RunLock {
    /// Locks `run_root`, creating the folder if needed; fails at once if another process holds it.
    pub fn acquire(run_root: &Path) -> Result<RunLock, LockError> {
        std::fs::create_dir_all(run_root)
            .map_err(|source| LockError::Folder { path: run_root.to_path_buf(), source })?;
        match LockFile::try_acquire(&run_root.join(LOCK_FILE)).map_err(LockError::Io)? {
            Ok(file) => Ok(RunLock { _file: file }),
            Err(holder) => {
                Err(LockError::Held { path: run_root.to_path_buf(), holder: describe_holder(&holder) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = RunLock::acquire(&run).unwrap();
        let error = RunLock::acquire(&run).unwrap_err().to_string();
        assert!(error.contains(&format!("pid {}", std::process::id())), "{error}");
        assert!(error.contains("in use by another boneseg process"), "{error}");
        drop(first);
        RunLock::acquire(&run).expect("the lock is free once its holder is gone");
    }
}
