//! What a run folder offers to go on from after a crash, a kill or a full disk: the checkpoint
//! to resume (the newest *complete* one), whether the run has anything left to do, and the
//! cleaning up after a checkpoint that could not be written.

use std::path::{Path, PathBuf};

use boneseg_infer::run::{RunDir, recover_checkpoint};

use crate::config::TrainConfig;
use crate::trainer::{Position, TrainError};

/// The files every checkpoint holds; one without all of them (and a readable `state.json`) is
/// not resumed from.
const CHECKPOINT_FILES: [&str; 3] = ["model.bpk", "optim.bpk", "state.json"];

/// The checkpoint to resume from: `last` when it is complete, else `best` when that is (a full
/// disk can stop `last` after `best` was written). Swaps a crash cut short are completed first.
pub fn resumable_checkpoint(run: &RunDir) -> std::io::Result<Option<PathBuf>> {
    for name in ["last", "best"] {
        if let Some(dir) = recover_checkpoint(&run.checkpoint(name))?
            && position(&dir).is_some()
        {
            return Ok(Some(dir));
        }
    }
    Ok(None)
}

/// Where the checkpoint in `dir` stands; `None` when the checkpoint is incomplete.
pub fn position(dir: &Path) -> Option<Position> {
    if !CHECKPOINT_FILES.iter().all(|file| dir.join(file).is_file()) {
        return None;
    }
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()?;
    serde_json::from_value(state.get("position")?.clone()).ok()
}

/// The position of the run in `run_root` when it has nothing left to train (all its epochs
/// done, or stopped early): resuming it would only record it a second time.
pub fn finished(run_root: &Path) -> Result<Option<Position>, TrainError> {
    let run = RunDir::open(run_root)?;
    let config = TrainConfig::load(&run.config_path(), &[])?;
    let Some(position) = resumable_checkpoint(&run)?.as_deref().and_then(position) else {
        return Ok(None);
    };
    let all_epochs = position.epoch >= config.train.epochs;
    let stopped_early = config.train.early_stopping.is_some_and(|patience| position.since_best >= patience);
    Ok((all_epochs || stopped_early).then_some(position))
}

/// Removes a checkpoint's staging folder, so that a checkpoint that failed half-way (a full disk)
/// leaves nothing behind; errors here are secondary to the one being reported.
pub fn discard_staging(staging: &Path) {
    if staging.exists() {
        let _ = std::fs::remove_dir_all(staging);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boneseg_infer::run::RunInfo;

    fn checkpoint(run: &RunDir, name: &str, step: usize, files: &[&str]) {
        let dir = run.checkpoint(name);
        std::fs::create_dir_all(&dir).unwrap();
        for file in files {
            let text = match *file {
                "state.json" => format!(r#"{{"position": {{"epoch": 1, "batch": 0, "step": {step}}}}}"#),
                _ => "weights".to_string(),
            };
            std::fs::write(dir.join(file), text).unwrap();
        }
    }

    #[test]
    fn the_newest_complete_checkpoint_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), "", &RunInfo::new(1, "cpu")).unwrap();
        assert_eq!(resumable_checkpoint(&run).unwrap(), None);
        checkpoint(&run, "best", 4, &CHECKPOINT_FILES);
        checkpoint(&run, "last", 6, &["model.bpk"]);
        assert_eq!(resumable_checkpoint(&run).unwrap(), Some(run.checkpoint("best")), "last is incomplete");
        checkpoint(&run, "last", 6, &CHECKPOINT_FILES);
        assert_eq!(resumable_checkpoint(&run).unwrap(), Some(run.checkpoint("last")));
        assert_eq!(position(&run.checkpoint("last")).unwrap().step, 6);
        std::fs::write(run.checkpoint("last").join("state.json"), "{").unwrap();
        assert_eq!(resumable_checkpoint(&run).unwrap(), Some(run.checkpoint("best")), "state.json is torn");
    }
}
