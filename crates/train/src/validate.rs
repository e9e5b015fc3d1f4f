//! Validation exactly as the leaderboard scores: per validation image, the model's logits at
//! training size are upsampled bilinearly (`align_corners = false`) to the image's original
//! size, passed through `sigmoid > threshold`, and compared with the masks rasterised at that
//! size; dice per image and class with eps 1e-4, mean over images, then over classes.
//!
//! Memory stays small at any resolution: classes are thresholded one at a time straight into
//! bit masks ([`upsample`]), so neither 29 x 2048² floats nor even one class's 2048² floats are
//! ever held (the Python baseline held 29 x 2048² float32 per image).

pub mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use boneseg_contract::NUM_CLASSES;
use boneseg_contract::metric::{DiceTable, dice};
use boneseg_data::Radiograph;
use boneseg_infer::run::RunDir;
use boneseg_infer::upsample::{Frame, upsample_threshold};
use boneseg_infer::{InferError, LoadedRun, load_run};
use boneseg_models::burn::tensor::Device;
use boneseg_models::normalization::images_tensor;
use boneseg_models::{Normalization, SegmentationModel};
use rayon::prelude::*;

pub use table::ScoreTable;

use crate::config::TrainConfig;
use crate::data::{CachedSample, DataSplit, PrepareError, SampleCache, Truth};

/// How to validate.
#[derive(Clone, Debug)]
pub struct ValidateOptions {
    /// Probability above which a pixel belongs to a class (the leaderboard's is 0.5).
    pub threshold: f64,
    /// Images per forward pass.
    pub batch_size: usize,
    /// The input normalisation the model was trained with.
    pub input: Normalization,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions { threshold: 0.5, batch_size: 1, input: Normalization::default() }
    }
}

/// Scores `model` (on an inference device, not autodiff) on the validation samples `set`;
/// `progress(done, total)` after each forward pass.
pub fn validate(
    model: &SegmentationModel,
    set: &SampleCache,
    options: &ValidateOptions,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> ScoreTable {
    let mut table = DiceTable::default();
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(options.batch_size.max(1)) {
        let samples: Vec<Arc<CachedSample>> = chunk.iter().map(|&i| set.get(i)).collect();
        let images: Vec<&[u8]> = samples.iter().map(|s| s.image.as_slice()).collect();
        let logits = model.forward(images_tensor(&images, set.size(), &options.input, device));
        let [_, classes, height, width] = logits.dims();
        assert_eq!(
            classes, NUM_CLASSES,
            "the model predicts {classes} classes; the leaderboard scores {NUM_CLASSES}"
        );
        let values = logits.into_data_as::<f32>().try_into_vec::<f32>().expect("logits read back as f32");
        for ((&index, sample), one) in
            chunk.iter().zip(&samples).zip(values.chunks_exact(classes * height * width))
        {
            let scores = score_logits(one, height, width, &sample.truth, options.threshold);
            table.push(set.entries()[index].name(), scores);
        }
        progress(table.rows.len(), set.len());
    }
    ScoreTable { table }
}

/// Why a trained run cannot be scored.
#[derive(Debug, thiserror::Error)]
pub enum RunValidationError {
    #[error(transparent)]
    Load(#[from] InferError),
    #[error(transparent)]
    Data(#[from] PrepareError),
    #[error("{0}")]
    Config(String),
}

/// Which checkpoint of a run to score, and how.
#[derive(Clone, Debug, Default)]
pub struct RunValidation {
    /// `best` or `last`.
    pub checkpoint: String,
    /// Overrides the run's `train.device`.
    pub device: Option<String>,
    /// Overrides the run's `train.threshold`.
    pub threshold: Option<f64>,
    /// Overrides the run's `train.batch_size`.
    pub batch_size: Option<usize>,
    /// `key=value` overrides of the run's config, e.g. `data.root=...` to score the same fold of
    /// a copy of the data elsewhere.
    pub overrides: Vec<String>,
}

/// Scores a trained run's checkpoint on the validation images of its fold, as the trainer's
/// validation does; `report` hears what the data preparation does, `progress(done, total)`
/// follows the images.
pub fn validate_run(
    run: &Path,
    options: &RunValidation,
    report: &mut dyn FnMut(&str),
    progress: impl FnMut(usize, usize),
) -> Result<ScoreTable, RunValidationError> {
    let LoadedRun { model, device, .. } = load_run(run, &options.checkpoint, options.device.as_deref())?;
    let config = run_config(run, &options.overrides)?;
    let set = DataSplit::validation(&config, report)?;
    let validate_options = ValidateOptions {
        threshold: options.threshold.unwrap_or(config.train.threshold),
        batch_size: options.batch_size.unwrap_or(config.train.batch_size),
        input: config.model.normalization(),
    };
    Ok(validate(&model, &set, &validate_options, &device, progress))
}

/// The run's resolved config, with `overrides` applied.
pub fn run_config(run: &Path, overrides: &[String]) -> Result<TrainConfig, RunValidationError> {
    let path = RunDir::open(run).map_err(|e| RunValidationError::Config(e.to_string()))?.config_path();
    TrainConfig::load(&path, overrides).map_err(|e| RunValidationError::Config(e.to_string()))
}

/// The images of `run`'s validation fold, full size, and the folder they are under, from its
/// resolved config: predicted by `infer --validation-of` so that `ensemble tune` searches on what
/// inference really produces.
pub fn validation_images(run: &Path) -> Result<(Vec<Radiograph>, PathBuf), RunValidationError> {
    let config = run_config(run, &[])?;
    let entries = DataSplit::validation_entries(&config)?;
    if entries.is_empty() {
        return Err(RunValidationError::Config(format!(
            "{}: fold {} has no validation images",
            run.display(),
            config.data.fold
        )));
    }
    let radiographs = entries.iter().map(Radiograph::from).collect();
    Ok((radiographs, boneseg_data::Dataset::train_images(&config.data.root)))
}

/// Dice of each class of one image: its logits (`[29, height, width]`, row-major) upsampled to
/// the truth's size and thresholded, against the truth. Classes run in parallel.
pub fn score_logits(
    logits: &[f32],
    height: usize,
    width: usize,
    truth: &Truth,
    threshold: f64,
) -> [f64; NUM_CLASSES] {
    assert_eq!(
        logits.len(),
        NUM_CLASSES * height * width,
        "logits are not [{NUM_CLASSES}, {height}, {width}]"
    );
    let scores: Vec<f64> = logits
        .par_chunks_exact(height * width)
        .enumerate()
        .map(|(class, plane)| {
            let predicted = upsample_threshold(
                plane,
                (height, width),
                Frame::whole(truth.height, truth.width),
                threshold,
            );
            dice(&predicted, &truth.class(class))
        })
        .collect();
    scores.try_into().expect("one score per class")
}
