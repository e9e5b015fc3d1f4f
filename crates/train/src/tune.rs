//! `boneseg thresholds tune`: per-class thresholds searched on the run's validation fold.
//!
//! Each validation image's logits (whole image at the training size, the baseline path) are
//! upsampled and thresholded at every candidate, class by class, exactly as the leaderboard
//! scores; the candidate with the best mean dice per class is written to the run's
//! `thresholds.toml`, which `infer` then uses for that run alone. Thresholds for sliding windows,
//! TTA or several runs come from the stores that inference writes for the validation images
//! (`infer --validation-of`, then `ensemble tune`, in `boneseg_ensemble::tune`).

use std::path::Path;

use boneseg_contract::NUM_CLASSES;
use boneseg_contract::atomic::write_atomic;
use boneseg_ensemble::ClassThresholds;
use boneseg_ensemble::thresholds::ThresholdSearch;
use boneseg_infer::run::RunDir;
use boneseg_infer::upsample::{Frame, upsample_threshold};
use boneseg_infer::{InferError, LoadedRun, load_run};
use boneseg_models::normalization::images_tensor;
use rayon::prelude::*;

use crate::data::DataSplit;
use crate::validate::{RunValidationError, run_config};

/// The search's outcome.
pub struct Tuned {
    pub thresholds: ClassThresholds,
    /// Mean dice per class at the run's own threshold and at the tuned one.
    pub before: [f64; NUM_CLASSES],
    pub after: [f64; NUM_CLASSES],
    pub images: usize,
}

/// Searches `grid` on the validation fold of `run` and stores the winners in the run.
pub fn tune_thresholds(
    run: &Path,
    checkpoint: &str,
    device: Option<&str>,
    grid: Vec<f64>,
    report: &mut dyn FnMut(&str),
) -> Result<Tuned, RunValidationError> {
    let LoadedRun { model, device, .. } = load_run(run, checkpoint, device)?;
    let config = run_config(run, &[])?;
    let mut grid = grid;
    if !grid.contains(&config.train.threshold) {
        grid.push(config.train.threshold);
        grid.sort_by(f64::total_cmp);
    }
    let baseline = grid.iter().position(|&t| t == config.train.threshold).expect("added above");
    let validation = DataSplit::validation(&config, report)?;
    let mut search = ThresholdSearch::new(grid.clone());
    for index in 0..validation.len() {
        let sample = validation.get(index);
        let logits = model.forward(images_tensor(
            &[sample.image.as_slice()],
            validation.size(),
            &config.model.normalization(),
            &device,
        ));
        let [_, _, height, width] = logits.dims();
        let values = logits.into_data_as::<f32>().try_into_vec::<f32>().expect("logits read back as f32");
        let counts: Vec<Vec<(u64, u64, u64)>> = values
            .par_chunks_exact(height * width)
            .enumerate()
            .map(|(class, plane)| {
                let truth = sample.truth.class(class);
                grid.iter()
                    .map(|&t| {
                        let mask = upsample_threshold(
                            plane,
                            (height, width),
                            Frame::whole(truth.height(), truth.width()),
                            t,
                        );
                        (mask.intersection_count(&truth), mask.count(), truth.count())
                    })
                    .collect()
            })
            .collect();
        for (class, counts) in counts.iter().enumerate() {
            search.add(class, counts);
        }
        search.image_done();
        report(&format!("searched {}/{} validation images", index + 1, validation.len()));
    }
    let thresholds = search.best();
    let mut before = [0.0; NUM_CLASSES];
    let mut after = [0.0; NUM_CLASSES];
    for class in 0..NUM_CLASSES {
        let means = search.means(class);
        before[class] = means[baseline];
        after[class] = means[grid.iter().position(|&t| t == thresholds.0[class]).expect("a candidate")];
    }
    let path = RunDir::open(run).map_err(|e| RunValidationError::Config(e.to_string()))?.thresholds_path();
    let text = format!(
        "# Tuned by `boneseg thresholds tune` on {} validation images (fold {}), checkpoint `{checkpoint}`.\n{}",
        validation.len(),
        config.data.fold,
        thresholds.to_toml()
    );
    write_atomic(&path, text.as_bytes())
        .map_err(|source| InferError::Write { path: path.clone(), source })?;
    Ok(Tuned { thresholds, before, after, images: validation.len() })
}
