//! One TOML file describes an experiment; `--set key=value` overrides any of it.
//!
//! The file is read as a TOML tree, overrides are written into the tree by dotted path
//! (`--set optim.lr=3e-4`, `--set data.size=1024`), and only then is it checked against
//! [`TrainConfig`], so an override is held to the same rules as the file and a run's
//! resolved config can be written back out as the single source of truth.

use std::path::{Path, PathBuf};

use boneseg_contract::FillRule;
pub use boneseg_models::ModelConfig;
use boneseg_models::device::Backend;
use serde::{Deserialize, Serialize};

use crate::data::CropFocus;
use crate::loss::{Loss, LossStage, LossTerm};
use crate::optim::OptimConfig;
use crate::precision::Precision;
use crate::schedule::ScheduleConfig;
use crate::sweep::slurm::SlurmConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("--set {assignment}: {message}")]
    Override { assignment: String, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Dataset root in the competition layout.
    pub root: PathBuf,
    /// Training input size (square): 512, 1024, ...
    pub size: usize,
    /// Train on random `crop x crop` windows of the image at `size` instead of the whole image:
    /// full-resolution patches for sliding-window inference (`infer --mode sliding` then takes
    /// windows of this side). Validation still sees the whole image at `size`.
    #[serde(default)]
    pub crop: Option<usize>,
    /// With `crop`: a share of the windows centred on chosen bones (default: half of them, on
    /// the carpals and finger-16); see [`crate::data::window`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop_focus: Option<CropFocus>,
    /// The validation fold, 0-based.
    #[serde(default)]
    pub fold: usize,
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// Fold files written by `boneseg split` (else folds are made here, grouped by person).
    #[serde(default)]
    pub split_dir: Option<PathBuf>,
    /// Images (names or relative paths) or people (`ID058`) left out of training; validation
    /// keeps them, so runs with and without exclusions are scored on the same images.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where decoded, resized images and masks are kept between runs (default: in memory).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    #[serde(default = "default_workers")]
    pub workers: usize,
    #[serde(default = "default_prefetch")]
    pub prefetch: usize,
    #[serde(default)]
    pub fill_rule: FillRule,
    /// Refuse label files with points outside their image instead of clipping them with a
    /// warning, as OpenCV's fillPoly (the reference) clips them.
    #[serde(default)]
    pub strict_points: bool,
}

fn default_folds() -> usize {
    5
}
fn default_workers() -> usize {
    2
}
fn default_prefetch() -> usize {
    4
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    pub epochs: usize,
    pub batch_size: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// cpu, vulkan, wgpu or cuda.
    #[serde(default = "default_device")]
    pub device: Backend,
    /// Validate every this many epochs (and after the last).
    #[serde(default = "one")]
    pub val_every: usize,
    /// Write the `last` checkpoint every this many steps as well as at each epoch's end.
    #[serde(default)]
    pub checkpoint_every: Option<usize>,
    /// Write the `last` checkpoint at an epoch's end only when this many minutes have passed
    /// since it was last written: when epochs take seconds, writing the model and the optimiser
    /// state after each costs a tenth of the run. The final epoch, the time limit and a stop
    /// request always write it. Left out: after every epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_every_minutes: Option<f64>,
    /// Stop when validation has not improved for this many validations.
    #[serde(default)]
    pub early_stopping: Option<usize>,
    /// Stop (after a checkpoint) once the run has trained this long.
    #[serde(default)]
    pub max_minutes: Option<f64>,
    /// Fit the run to `max_minutes`: after each epoch, the epochs that still fit are estimated
    /// and the schedule ends with them (`train.epochs` is then the most it trains); see
    /// [`crate::budget`].
    #[serde(default)]
    pub fit_to_time: bool,
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Print and log the step metrics every this many steps.
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// Mixed precision on GPU backends: "bf16" or "f16" compute with float32 master weights
    /// (see [`crate::precision`]); not used on the CPU, which trains in float32.
    #[serde(default)]
    pub precision: Option<Precision>,
    /// f16 only: the dynamic loss scale's starting value (GradScaler's `init_scale`, 65536).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<f64>,
    /// Gradient checkpointing: recompute cheap activations in the backward pass instead of
    /// keeping them (see [`boneseg_models::device::training_device`]); for GPU memory.
    #[serde(default)]
    pub checkpointing: bool,
    /// Data parallel training on these devices of `device` (`[0, 1]`: the first two GPUs), each
    /// batch split across them (see [`crate::parallel`]); empty or one: the default device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<usize>,
}

fn default_seed() -> u64 {
    21
}
fn default_device() -> Backend {
    Backend::Cpu
}
fn one() -> usize {
    1
}
fn default_threshold() -> f64 {
    0.5
}
fn default_log_every() -> usize {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub data: DataConfig,
    pub train: TrainSection,
    pub loss: Vec<LossTerm>,
    /// The loss terms' weights switched by epoch (see [`crate::loss::stages`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loss_schedule: Vec<LossStage>,
    pub optim: OptimConfig,
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
    /// Online augmentation, as boneseg-augment reads it (`[[augment]] name = ... p = ...`);
    /// without it, training images are flipped horizontally with p = 0.5.
    #[serde(default)]
    pub augment: Option<toml::Value>,
    /// What `boneseg sweep --emit slurm` asks the cluster for (partition, time, GPUs); training
    /// itself ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmConfig>,
}

impl TrainConfig {
    /// The file at `path` with the overrides applied, in order. A config that is invalid only
    /// because of an override is blamed on that `--set`, not on the file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let tree: toml::Table = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.display().to_string(), message: e.to_string() })?;
        match resolve(tree.clone(), overrides) {
            Ok(config) => Ok(config),
            Err(Unresolved::Override(error)) => Err(error),
            Err(Unresolved::Invalid(message)) => Err(match culprit(&tree, overrides, &message) {
                Some(assignment) => ConfigError::Override { assignment: assignment.clone(), message },
                None => ConfigError::Invalid { path: path.display().to_string(), message },
            }),
        }
    }

    /// The training loss: its terms, checked against the model's classes, and its schedule.
    pub fn loss(&self) -> Result<Loss, crate::loss::LossError> {
        let loss = Loss::new(&self.loss)?.with_stages(&self.loss_schedule)?;
        loss.check_classes(self.model.classes)?;
        Ok(loss)
    }

    /// The config as TOML, as a run directory records it.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a loaded config serialises")
    }

    pub fn fill_rule(&self) -> FillRule {
        self.data.fill_rule
    }

    fn check(&self) -> Result<(), String> {
        let train = &self.train;
        if [train.batch_size, train.epochs, train.val_every, train.log_every].contains(&0)
            || train.checkpoint_every == Some(0)
        {
            return Err(
                "train.batch_size, epochs, val_every, log_every and checkpoint_every must be at least 1"
                    .into(),
            );
        }
        if let Some(scale) = train.loss_scale {
            if train.precision != Some(Precision::F16) {
                return Err("train.loss_scale is for train.precision = \"f16\" (bf16 and float32 need no loss scaling)".into());
            }
            if !(scale.is_finite() && scale > 0.0) {
                return Err(format!("train.loss_scale {scale} must be a positive number"));
            }
        }
        if train.devices.len() > 1 && train.precision.is_some() && train.device != Backend::Cpu {
            return Err("train.precision with several train.devices is not supported yet: train in float32, or on one device".into());
        }
        if train.devices.len() > train.batch_size {
            return Err(format!(
                "train.batch_size {} is smaller than the {} train.devices it is split across",
                train.batch_size,
                train.devices.len()
            ));
        }
        if let Some(minutes) = train.last_every_minutes.filter(|m| !(m.is_finite() && *m >= 0.0)) {
            return Err(format!("train.last_every_minutes {minutes} must be a number of minutes, 0 or more"));
        }
        if train.fit_to_time && train.max_minutes.is_none() {
            return Err("train.fit_to_time needs a budget: set train.max_minutes".into());
        }
        if self.data.size < 32 {
            return Err(format!("data.size {} is below the models' minimum of 32", self.data.size));
        }
        if let Some(crop) = self.data.crop.filter(|&crop| crop < 32 || crop > self.data.size) {
            return Err(format!("data.crop {crop} must lie between 32 and data.size {}", self.data.size));
        }
        if self.data.fold >= self.data.folds {
            return Err(format!(
                "data.fold {} does not exist among {} folds (0-based)",
                self.data.fold, self.data.folds
            ));
        }
        if let Some(focus) = &self.data.crop_focus {
            if self.data.crop.is_none() {
                return Err("data.crop_focus needs data.crop: it chooses where crops are cut".into());
            }
            focus.resolve().map_err(|message| format!("data.crop_focus: {message}"))?;
        }
        self.loss().map_err(|e| e.to_string())?;
        self.model.check()?;
        crate::data::augment_pipeline(self.augment.as_ref(), self.data.size).map_err(|e| e.to_string())?;
        if !(0.0..1.0).contains(&self.train.threshold) || self.train.threshold == 0.0 {
            return Err(format!("train.threshold {} must lie in (0, 1)", self.train.threshold));
        }
        Ok(())
    }
}

/// Why a tree and its overrides make no config.
enum Unresolved {
    /// An override that cannot be applied (it names its `--set`).
    Override(ConfigError),
    /// The result breaks a rule of the config, said without a place.
    Invalid(String),
}

/// `tree` with `overrides` applied, read and checked as a config.
fn resolve(mut tree: toml::Table, overrides: &[String]) -> Result<TrainConfig, Unresolved> {
    for assignment in overrides {
        apply_override(&mut tree, assignment).map_err(Unresolved::Override)?;
    }
    let config: TrainConfig = toml::Value::Table(tree)
        .try_into()
        .map_err(|e: toml::de::Error| Unresolved::Invalid(e.to_string().trim_end().to_string()))?;
    config.check().map_err(Unresolved::Invalid)?;
    Ok(config)
}

/// The override without which the config no longer fails with `message`: a typo in
/// `--set optim.lrr=1e-3` is the `--set`'s fault, not the file's. `None` when the file itself
/// fails that way.
fn culprit<'a>(tree: &toml::Table, overrides: &'a [String], message: &str) -> Option<&'a String> {
    overrides.iter().enumerate().rev().find_map(|(i, assignment)| {
        let others: Vec<String> =
            overrides.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, o)| o.clone()).collect();
        let same_failure =
            matches!(resolve(tree.clone(), &others), Err(Unresolved::Invalid(m)) if m == message);
        (!same_failure).then_some(assignment)
    })
}

/// Writes `value` at the dotted `key` of the tree; the value is read as TOML (`3e-4`, `true`,
/// `[1, 2]`, `"text"`) and, failing that, taken as a string (`--set data.root=/data/x`).
fn apply_override(tree: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let error = |message: &str| ConfigError::Override {
        assignment: assignment.to_string(),
        message: message.to_string(),
    };
    let (key, raw) =
        assignment.split_once('=').ok_or_else(|| error("expected key=value, e.g. optim.lr=3e-4"))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut segments: Vec<&str> = key.trim().split('.').collect();
    let last = segments.pop().filter(|s| !s.is_empty()).ok_or_else(|| error("empty key"))?;
    let mut table = tree;
    for segment in segments {
        table = table
            .entry(segment)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| error(&format!("`{segment}` is not a table")))?;
    }
    table.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid config: one loss, a model, data, training and optimiser keys.
    const MINIMAL: &str = "loss = [{ kind = \"bce\", weight = 1.0 }]\n[model]\narch = \"unet\"\n\
                           encoder = \"resnet18\"\n[data]\nroot = \"d\"\nsize = 256\n[train]\nepochs = 1\n\
                           batch_size = 1\n[optim]\nkind = \"adam\"\nlr = 1e-3\n";

    #[test]
    fn overrides_reach_nested_keys_and_keep_types() {
        let mut tree: toml::Table = toml::from_str("[optim]\nlr = 0.1\n[data]\nsize = 512").unwrap();
        apply_override(&mut tree, "optim.lr=3e-4").unwrap();
        apply_override(&mut tree, "data.root=/data/x").unwrap();
        apply_override(&mut tree, "train.epochs=3").unwrap();
        assert_eq!(tree["optim"]["lr"].as_float(), Some(3e-4));
        assert_eq!(tree["data"]["root"].as_str(), Some("/data/x"));
        assert_eq!(tree["train"]["epochs"].as_integer(), Some(3));
        let error = apply_override(&mut tree, "optim.lr.x=1").unwrap_err().to_string();
        assert!(error.contains("`lr` is not a table"), "{error}");
    }

    #[test]
    fn a_bad_override_is_blamed_on_its_set_and_a_bad_file_on_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let text = MINIMAL;
        std::fs::write(&path, text).unwrap();
        let overrides =
            ["data.size=512".to_string(), "optim.lrr=1e-3".to_string(), "train.epochs=2".to_string()];
        let error = TrainConfig::load(&path, &overrides).unwrap_err().to_string();
        assert!(error.starts_with("--set optim.lrr=1e-3: "), "{error}");
        assert!(error.contains("lrr"), "{error}");
        let error = TrainConfig::load(&path, &["data.crop=1024".into()]).unwrap_err().to_string();
        assert!(error.starts_with("--set data.crop=1024: data.crop 1024 must lie"), "{error}");
        std::fs::write(&path, text.replace("lr = 1e-3", "lrr = 1e-3")).unwrap();
        let error = TrainConfig::load(&path, &overrides[..1]).unwrap_err().to_string();
        assert!(
            error.starts_with(&path.display().to_string()),
            "the file's own typo names the file: {error}"
        );
    }

    #[test]
    fn a_crop_must_fit_the_training_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let text = MINIMAL;
        std::fs::write(&path, text).unwrap();
        assert_eq!(TrainConfig::load(&path, &["data.crop=128".into()]).unwrap().data.crop, Some(128));
        let error = TrainConfig::load(&path, &["data.crop=512".into()]).unwrap_err().to_string();
        assert!(error.contains("data.crop 512 must lie between 32 and data.size 256"), "{error}");
    }

    /// The training tricks' keys load, round-trip through the run's config, and their mistakes
    /// name the file and the key.
    #[test]
    fn trick_keys_are_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let text = "loss = [{ kind = \"bce\", weight = 1.0, class_weights = \"small_bones\" },\n\
                    { kind = \"lovasz\", weight = 0.0, per_image = true, per_class = true }]\n\
                    loss_schedule = [{ from_epoch = 3, weights = [0.5, 0.5] }]\n\
                    [model]\narch = \"unet\"\nencoder = \"resnet18\"\n\
                    [data]\nroot = \"d\"\nsize = 256\ncrop = 128\ncrop_focus = { share = 0.3 }\n\
                    [train]\nepochs = 4\nbatch_size = 1\n[optim]\nkind = \"adam\"\nlr = 1e-3\n";
        std::fs::write(&path, text).unwrap();
        let config = TrainConfig::load(&path, &[]).unwrap();
        assert_eq!(config.data.crop_focus.as_ref().unwrap().classes, ["carpals", "finger-16"]);
        assert_eq!(config.loss_schedule.len(), 1);
        let again = dir.path().join("again.toml");
        std::fs::write(&again, config.to_toml()).unwrap();
        let reloaded = TrainConfig::load(&again, &[]).unwrap();
        assert_eq!(reloaded.to_toml(), config.to_toml());

        let error = |set: &str| TrainConfig::load(&path, &[set.to_string()]).unwrap_err().to_string();
        for (set, expected) in [
            ("data.crop_focus.share=2", "data.crop_focus: share = 2 must lie between 0 and 1"),
            ("data.crop_focus.classes=[\"wrist\"]", "data.crop_focus: unknown class `wrist`"),
            (
                "loss_schedule=[{ from_epoch = 3, weights = [1.0] }]",
                "loss_schedule[0]: weights has 1 values for 2 loss terms",
            ),
            (
                "model.classes=3",
                "loss[0] (bce): class_weights = \"small_bones\" is made for the 29 bone classes",
            ),
        ] {
            let message = error(set);
            // The override without which the config loads is blamed, not the file.
            assert!(
                message.starts_with(&format!("--set {set}: ")) && message.contains(expected),
                "{message}"
            );
        }
        let uncropped = TrainConfig::load(&path, &["data.crop=256".into()]);
        assert!(uncropped.is_ok(), "a crop as large as the image is still a crop");
        std::fs::write(&path, text.replace("crop = 128\n", "")).unwrap();
        let message = TrainConfig::load(&path, &[]).unwrap_err().to_string();
        assert!(message.contains("data.crop_focus needs data.crop"), "{message}");
    }
}
