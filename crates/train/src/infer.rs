//! `boneseg predict`: the plain inference path, so that a trained run can be scored end to end.
//! Each image is resized to the training size, run through the model, and its logits are
//! upsampled (bilinear, align_corners = false) to the image's own size, thresholded and
//! RLE-encoded, one image at a time: memory does not grow with the number of images.

use std::path::{Path, PathBuf};

use boneseg_contract::submission::SubmissionWriter;
use boneseg_data::image_io::read_gray;
use boneseg_data::layout::{ReadOptions, check_unique_names, list_images};
use boneseg_models::burn::store::{BurnpackStore, ModuleSnapshot};
use boneseg_models::device::Backend;
use boneseg_models::{ModelSpec, SegmentationModel};

use crate::config::TrainConfig;
use crate::data::{images_tensor, resize_image};
use crate::run::{RunDir, recover_checkpoint};
use crate::validate::logits_to_masks;

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Data(#[from] boneseg_data::DataError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

pub struct PredictOptions {
    /// `best` or `last`.
    pub checkpoint: String,
    /// Overrides the run's `train.threshold`.
    pub threshold: Option<f64>,
    /// Overrides the run's `train.device`.
    pub device: Option<String>,
}

/// A run's model, ready for inference, with the config it was trained with.
pub fn load_run(
    run: &Path,
    checkpoint: &str,
    device: Option<&str>,
) -> Result<(SegmentationModel, TrainConfig, boneseg_models::burn::tensor::Device), PredictError> {
    let setup = PredictError::Setup;
    let dir = RunDir::open(run).map_err(|e| setup(e.to_string()))?;
    let config = TrainConfig::load(&dir.config_path(), &[]).map_err(|e| setup(e.to_string()))?;
    let backend: Backend = device.unwrap_or(&config.train.device).parse().map_err(setup)?;
    let device = backend.device().map_err(setup)?;
    let spec = ModelSpec::new(
        config.model.arch.parse().map_err(setup)?,
        config.model.encoder.parse().map_err(setup)?,
        config.model.classes,
    )
    .map_err(setup)?;
    let checkpoint_dir =
        recover_checkpoint(&dir.checkpoint(checkpoint))
            .map_err(|e| setup(e.to_string()))?
            .ok_or_else(|| setup(format!("{} has no `{checkpoint}` checkpoint yet", run.display())))?;
    let mut model = SegmentationModel::new(spec, &device);
    let weights = checkpoint_dir.join("model.bpk");
    model
        .load_from(&mut BurnpackStore::from_file(&weights))
        .map_err(|e| setup(format!("{}: {e}", weights.display())))?;
    Ok((model, config, device))
}

/// Writes the submission for every PNG under `images`; returns the number of images.
pub fn predict(
    run: &Path,
    images: &Path,
    out: &Path,
    options: &PredictOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<usize, PredictError> {
    let (model, config, device) = load_run(run, &options.checkpoint, options.device.as_deref())?;
    let threshold = options.threshold.unwrap_or(config.train.threshold);
    let listing = list_images(images, None, ReadOptions::default())?;
    check_unique_names(&listing.entries)?;
    let size = config.data.size;
    let write_error = |source| PredictError::Write { path: out.to_path_buf(), source };
    let mut writer = SubmissionWriter::create(out).map_err(write_error)?;
    let total = listing.entries.len();
    for (done, entry) in listing.entries.iter().enumerate() {
        let image = read_gray(&entry.image)?;
        let resized = resize_image(&image, size);
        let logits = model.forward(images_tensor(&[resized.as_raw().as_slice()], size, &device));
        let [_, _, height, width] = logits.dims();
        let values = logits.into_data_as::<f32>().try_into_vec::<f32>().expect("logits read back as f32");
        let masks = logits_to_masks(&values, height, width, entry.height, entry.width, threshold);
        writer.write_image(entry.name(), &masks).map_err(write_error)?;
        progress(done + 1, total);
    }
    writer.finish().map_err(write_error)?;
    Ok(total)
}
