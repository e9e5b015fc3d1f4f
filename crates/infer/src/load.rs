//! A trained run's model, ready for inference, and what of the run's config inference needs.

use std::path::{Path, PathBuf};

use boneseg_models::burn::store::{BurnpackStore, ModuleSnapshot};
use boneseg_models::burn::tensor::Device;
use boneseg_models::device::Backend;
use boneseg_models::{ModelConfig, SegmentationModel};
use serde::Deserialize;

use crate::run::{RunDir, recover_checkpoint};

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("{0}")]
    Device(String),
    #[error("{path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("{run} has no `{checkpoint}` checkpoint yet")]
    NoCheckpoint { run: PathBuf, checkpoint: String },
    #[error("{path}: {source}")]
    Weights { path: PathBuf, source: boneseg_models::burn::store::burn_pack::Error },
    #[error("{0}")]
    Thresholds(String),
    #[error("{path}: {source}")]
    Run { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Config { path: PathBuf, source: toml::de::Error },
    #[error(transparent)]
    Data(#[from] boneseg_data::DataError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] boneseg_ensemble::store::StoreError),
}

/// What inference reads of a run's resolved `config.toml`: the model, the training size and
/// crop, the device and the threshold. Training writes the whole file, checked, with every
/// default filled in (see `boneseg_train::config`); the keys read here are always there.
#[derive(Debug, Clone, Deserialize)]
pub struct RunConfig {
    pub model: ModelConfig,
    pub data: RunData,
    pub train: RunTrain,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunData {
    /// The training size: whole-image inference resizes to it.
    pub size: usize,
    /// The training crop: the default sliding-window side.
    #[serde(default)]
    pub crop: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunTrain {
    pub device: Backend,
    pub threshold: f64,
}

impl RunConfig {
    pub fn read(path: &Path) -> Result<RunConfig, InferError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| InferError::Run { path: path.to_path_buf(), source })?;
        toml::from_str(&text).map_err(|source| InferError::Config { path: path.to_path_buf(), source })
    }
}

/// A run's model on its device, with the config it was trained with.
pub struct LoadedRun {
    pub model: SegmentationModel,
    pub config: RunConfig,
    pub device: Device,
}

/// The `checkpoint` (`best` or `last`) of `run` on `device` (else the run's `train.device`).
pub fn load_run(run: &Path, checkpoint: &str, device: Option<&str>) -> Result<LoadedRun, InferError> {
    let dir = RunDir::open(run).map_err(|source| InferError::Run { path: run.to_path_buf(), source })?;
    let config = RunConfig::read(&dir.config_path())?;
    let backend = match device {
        Some(name) => name.parse().map_err(InferError::Device)?,
        None => config.train.device,
    };
    let device = backend.device().map_err(InferError::Device)?;
    let spec = config.model.spec().map_err(|reason| InferError::Model { path: dir.config_path(), reason })?;
    let checkpoint_dir = recover_checkpoint(&dir.checkpoint(checkpoint))
        .map_err(|source| InferError::Run { path: dir.checkpoint(checkpoint), source })?
        .ok_or_else(|| InferError::NoCheckpoint {
            run: run.to_path_buf(),
            checkpoint: checkpoint.to_string(),
        })?;
    let mut model = SegmentationModel::new(spec, &device);
    let weights = checkpoint_dir.join("model.bpk");
    model
        .load_from(&mut BurnpackStore::from_file(&weights))
        .map_err(|source| InferError::Weights { path: weights.clone(), source })?;
    Ok(LoadedRun { model, config, device })
}
