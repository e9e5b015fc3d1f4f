//! Training data: which images ([`select`]), decoded and resized once into a cache ([`cache`],
//! [`sample`], [`store`]), then served as shuffled, augmented, prefetched batches ([`loader`]),
//! uploaded to the device ahead of the step ([`prefetch`]).
//!
//! Decoding a 2048² PNG and filling 29 polygons costs far more than a training step's share of
//! data time, so only the first epoch of the first run pays it: later epochs read decoded
//! samples from memory, later runs from the cache directory.

pub mod cache;
pub mod loader;
pub mod prefetch;
pub mod sample;
pub mod select;
pub mod store;
pub mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use boneseg_augment::{Pipeline, Step, Transform};
use boneseg_data::{Dataset, ReadOptions};

pub use cache::{CacheOptions, CacheStats, SampleCache, default_memory_budget};
pub use loader::{Batch, Loader, LoaderOptions, batch_count, epoch_order};
pub use prefetch::{DeviceBatch, DeviceBatches, StepBatch};
pub use sample::{CachedSample, Truth, resize_image};
pub use select::{FoldSource, Selection, SelectionOptions};
pub use window::{CropFocus, Focus};

use crate::config::TrainConfig;

/// Why the data of a run cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Data(#[from] boneseg_data::DataError),
    #[error(
        "data.exclude: `{0}` names no labelled image; use an image name (image1661130828152.png), its relative path (ID058/image1661130828152.png) or a person id (ID058)"
    )]
    UnknownExclusion(String),
    #[error("data: {0}")]
    Selection(String),
    #[error("augment: {0}")]
    Augment(String),
    #[error("{}: {problem}", path.display())]
    Cache { path: PathBuf, problem: String },
}

/// A run's data, ready: the training and validation samples and the augmentation.
#[derive(Clone, Debug)]
pub struct DataSplit {
    pub selection: Selection,
    pub train: SampleCache,
    /// Validation images at training size with their full-size masks.
    pub validation: SampleCache,
    pub augment: Arc<Pipeline>,
}

impl DataSplit {
    /// The data of `config`: its dataset, fold, exclusion list, cache settings and augmentation.
    pub fn prepare(config: &TrainConfig, report: &mut dyn FnMut(&str)) -> Result<DataSplit, PrepareError> {
        let augment = augment_pipeline(config.augment.as_ref(), config.data.size)?;
        DataSplit::open(
            &config.data.root,
            &selection_options(config),
            &cache_options(config),
            augment,
            report,
        )
    }

    /// Only the validation samples of `config` (what `thresholds tune` searches on).
    pub fn validation(
        config: &TrainConfig,
        report: &mut dyn FnMut(&str),
    ) -> Result<SampleCache, PrepareError> {
        let dataset = Dataset::open(&config.data.root, ReadOptions::default())?;
        let chosen = Selection::resolve(&dataset.train, &selection_options(config))?;
        Ok(build_reporting("validation", chosen.val, &cache_options(config), report)?.0)
    }

    /// The validation images of `config` as they are on disk (full size, with their labels):
    /// what `infer --validation-of` predicts so that `ensemble tune` can search on them.
    pub fn validation_entries(config: &TrainConfig) -> Result<Vec<boneseg_data::ImageEntry>, PrepareError> {
        let dataset = Dataset::open(&config.data.root, ReadOptions::default())?;
        Ok(Selection::resolve(&dataset.train, &selection_options(config))?.val)
    }

    /// Opens the dataset at `root`, selects the images and builds both caches (sharing one
    /// memory budget), telling `report` what it does: progress every quarter of a big cache,
    /// label warnings, cache statistics.
    pub fn open(
        root: &Path,
        selection: &SelectionOptions,
        cache: &CacheOptions,
        augment: Pipeline,
        report: &mut dyn FnMut(&str),
    ) -> Result<DataSplit, PrepareError> {
        let dataset = Dataset::open(root, ReadOptions::default())?;
        for problem in &dataset.meta_problems {
            report(&format!("warning: {problem} (training does not need the meta table)"));
        }
        let chosen = Selection::resolve(&dataset.train, selection)?;
        report(&format!(
            "data: {} training and {} validation images (fold {}), {} excluded",
            chosen.train.len(),
            chosen.val.len(),
            selection.fold,
            chosen.excluded.len()
        ));
        let (train, stats) = build_reporting("training", chosen.train.clone(), cache, report)?;
        let rest = CacheOptions {
            memory_budget: cache.memory_budget.saturating_sub(stats.memory_bytes),
            ..cache.clone()
        };
        let (validation, _) = build_reporting("validation", chosen.val.clone(), &rest, report)?;
        Ok(DataSplit { selection: chosen, train, validation, augment: Arc::new(augment) })
    }
}

/// The images `config` trains and validates on.
fn selection_options(config: &TrainConfig) -> SelectionOptions {
    let data = &config.data;
    let source = match &data.split_dir {
        Some(dir) => FoldSource::SplitDir(dir.clone()),
        None => FoldSource::Computed { folds: data.folds, seed: None },
    };
    SelectionOptions {
        fold: data.fold,
        source,
        exclude: data.exclude.clone(),
        exclude_from_validation: false,
    }
}

fn cache_options(config: &TrainConfig) -> CacheOptions {
    CacheOptions {
        dir: config.data.cache_dir.clone(),
        strict_points: config.data.strict_points,
        ..CacheOptions::new(config.data.size, config.fill_rule())
    }
}

/// Caches of fewer images than this report no progress, only their summary.
const PROGRESS_FROM: usize = 40;

/// Builds a cache on a helper thread while this one relays its progress to `report`.
fn build_reporting(
    what: &str,
    entries: Vec<boneseg_data::ImageEntry>,
    options: &CacheOptions,
    report: &mut dyn FnMut(&str),
) -> Result<(SampleCache, CacheStats), PrepareError> {
    let total = entries.len();
    let (sender, receiver) = std::sync::mpsc::channel();
    let built = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            // A line per quarter, and only for caches big enough to take a while: a log that is
            // not a terminal reads better without a line per image.
            let step = if total < PROGRESS_FROM { usize::MAX } else { total.div_ceil(4) };
            let progress = move |done: usize, total: usize| {
                if done.is_multiple_of(step) && done < total {
                    let _ = sender.send(done);
                }
            };
            SampleCache::build(entries, options, &progress)
        });
        for done in receiver {
            report(&format!("caching {what} images at {}²: {done}/{total}", options.size));
        }
        worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    for warning in &built.1.warnings {
        report(&format!("warning: {warning}"));
    }
    report(&format!("{what} cache: {}", built.1));
    Ok(built)
}

/// The online augmentation of a config's `[[augment]]` list; without one, a horizontal flip
/// with p = 0.5 (drawn from the sample's seed like any other transform); `augment = []` turns
/// augmentation off. Transforms that resize must keep the training size.
pub fn augment_pipeline(value: Option<&toml::Value>, size: usize) -> Result<Pipeline, PrepareError> {
    let steps: Vec<Step> = match value {
        None => {
            return Pipeline::parse("[[augment]]\nname = \"horizontal_flip\"\np = 0.5\n")
                .map_err(|e| PrepareError::Augment(e.to_string()));
        }
        Some(value) => {
            value.clone().try_into().map_err(|e: toml::de::Error| PrepareError::Augment(e.to_string()))?
        }
    };
    check_sizes(&steps, size)?;
    Pipeline::new(steps).map_err(|e| PrepareError::Augment(e.to_string()))
}

fn check_sizes(steps: &[Step], size: usize) -> Result<(), PrepareError> {
    for step in steps {
        match &step.transform {
            Transform::RandomResizedCrop(crop) if crop.size != [size, size] => {
                return Err(PrepareError::Augment(format!(
                    "random_resized_crop size = {:?} must be the training size [{size}, {size}]",
                    crop.size
                )));
            }
            Transform::OneOf(group) => check_sizes(&group.transforms, size)?,
            _ => {}
        }
    }
    Ok(())
}
