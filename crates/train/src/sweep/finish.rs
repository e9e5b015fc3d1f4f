//! The end of a sweep: every point's validation and test probability stores, the ensemble
//! tuned on validation, one `submission.csv`, the leaderboard. Slurm's dependent job runs it
//! ([`super::slurm`]); `boneseg sweep finish` runs it anywhere.
//!
//! Points that differ only in `data.fold` are one model family trained on different folds: the
//! family's validation stores together are its out-of-fold predictions over the whole training
//! set (concatenated in fold order into one store). A grid without folds has one family per
//! point, all validated on the same fold. `ensemble tune` then chooses one weight per family,
//! per-class thresholds and post-processing on those stores, and the submission is the weighted
//! mean of every point's test store, each family's weight shared equally among its folds, at
//! the tuned thresholds.
//!
//! ```text
//! SWEEP/ensemble/pNNN/validation/   pNNN's probability store of its validation fold
//! SWEEP/ensemble/pNNN/test/         pNNN's probability store of the test images
//! SWEEP/ensemble/pNNN/test.csv      pNNN's own submission
//! SWEEP/ensemble/fNN/oof/           a k-fold family's out-of-fold store
//! SWEEP/ensemble/tuned.toml         weights (per test store), thresholds, post-processing
//! SWEEP/submission.csv              the ensemble's submission, checked against the test images
//! SWEEP/finish.json                 what was done (written last)
//! ```
//!
//! Each store is written once and kept, so a finish run that was stopped starts where it was.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use boneseg_contract::ClassMasks;
use boneseg_contract::atomic::write_atomic;
use boneseg_contract::submission::check::{ExpectedImage, check};
use boneseg_data::layout::{ReadOptions, check_unique_names, list_images};
use boneseg_data::{Dataset, Radiograph, labels};
use boneseg_ensemble::TunedSettings;
use boneseg_ensemble::mean::MeanOptions;
use boneseg_ensemble::store::{self, concat_stores};
use boneseg_ensemble::stream::mean_stores;
use boneseg_ensemble::tune::{TuneOptions, mean, tune};
use boneseg_infer::{InferOptions, Mode, Tta, Window, infer_entries};
use serde::{Deserialize, Serialize};

use super::{FOLD_KEY, Result, Sweep, SweepError, io, point_name};
use crate::validate::{run_config, validation_images};

/// The ensemble's submission in the sweep folder.
pub const SUBMISSION_FILE: &str = "submission.csv";
/// Written when the finish step is complete.
pub const FINISHED_FILE: &str = "finish.json";
/// The folder of stores and tuned settings.
pub const ENSEMBLE_DIR: &str = "ensemble";

/// How the points are inferred: the sweep plan's `[finish]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishPlan {
    /// The test images (e.g. `data/test/DCM`).
    pub test_images: PathBuf,
    /// Sliding windows over the full image instead of the whole image at training size.
    #[serde(default)]
    pub sliding: bool,
    /// Test-time horizontal flip.
    #[serde(default)]
    pub hflip: bool,
    /// The stores keep probabilities at or above this (low, so thresholds can be tuned).
    #[serde(default = "default_floor")]
    pub floor: f32,
    /// `best` or `last`.
    #[serde(default = "default_checkpoint")]
    pub checkpoint: String,
    /// cpu, vulkan, wgpu or cuda (default: each run's `train.device`).
    #[serde(default)]
    pub device: Option<String>,
}

fn default_floor() -> f32 {
    0.05
}

fn default_checkpoint() -> String {
    "best".into()
}

impl FinishPlan {
    pub fn new(test_images: PathBuf) -> FinishPlan {
        FinishPlan {
            test_images,
            sliding: false,
            hflip: false,
            floor: default_floor(),
            checkpoint: default_checkpoint(),
            device: None,
        }
    }

    fn infer_options(&self, store: &Path) -> InferOptions {
        let mut options = InferOptions::plain(self.checkpoint.clone(), self.device.clone(), None);
        if self.sliding {
            options.mode = Mode::Sliding(Window::default());
        }
        options.tta = Tta { hflip: self.hflip, ..Tta::default() };
        options.probs = Some((store.to_path_buf(), self.floor));
        options
    }
}

/// Points that differ only in their fold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Family {
    pub name: String,
    /// The overrides its points share.
    pub overrides: Vec<String>,
    pub points: Vec<String>,
    /// Its tuned weight (shared equally among its points).
    pub weight: f64,
}

/// What [`finish`] did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinishSummary {
    pub families: Vec<Family>,
    /// Validation images the ensemble was tuned on.
    pub validation_images: usize,
    /// Validation mean dice: equal weights at 0.5, then with everything tuned.
    pub validation_plain: f64,
    pub validation_tuned: f64,
    pub test_images: usize,
    pub submission: PathBuf,
    pub tuned: PathBuf,
}

/// Whether the finish step has completed.
pub fn is_finished(sweep: &Sweep) -> bool {
    sweep.dir.join(FINISHED_FILE).is_file()
}

/// The sweep's families: points grouped by their overrides other than `data.fold`, in order of
/// their first point.
pub fn families(sweep: &Sweep) -> Vec<(Vec<String>, Vec<usize>)> {
    let mut families: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
    for (index, overrides) in sweep.plan.points.iter().enumerate() {
        let shared: Vec<String> =
            overrides.iter().filter(|o| !o.starts_with(&format!("{FOLD_KEY}="))).cloned().collect();
        match families.iter_mut().find(|(key, _)| *key == shared) {
            Some((_, points)) => points.push(index),
            None => families.push((shared, vec![index])),
        }
    }
    families
}

/// Runs the finish step of `sweep` (its plan must have a `[finish]` table); `report` hears each
/// stage.
pub fn finish(sweep: &Sweep, report: &mut dyn FnMut(&str)) -> Result<FinishSummary> {
    let plan = sweep.plan.finish.clone().ok_or_else(|| {
        SweepError::Finish(format!(
            "{}: the sweep has no test images to finish with; give --test-images",
            sweep.dir.join(super::PLAN_FILE).display()
        ))
    })?;
    let unfinished: Vec<String> =
        (0..sweep.len()).filter(|&i| !matches!(sweep.result(i), Ok(Some(_)))).map(point_name).collect();
    if !unfinished.is_empty() {
        return Err(SweepError::Finish(format!(
            "points {} have not finished training; train them first (`boneseg sweep point`)",
            unfinished.join(", ")
        )));
    }
    let ensemble = sweep.dir.join(ENSEMBLE_DIR);
    let test: Vec<Radiograph> = list_images(&plan.test_images, None, ReadOptions::default())
        .map_err(finish_error)?
        .entries
        .iter()
        .map(Radiograph::from)
        .collect();
    check_unique_names(&test).map_err(finish_error)?;

    let mut validation_stores = Vec::new();
    let mut test_stores = Vec::new();
    for index in 0..sweep.len() {
        let run = sweep.point_dir(index);
        let dir = ensemble.join(point_name(index));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let validation = dir.join("validation");
        if !validation.join(store::FILE_NAME).is_file() {
            report(&format!("{}: inferring its validation fold", point_name(index)));
            let (radiographs, _) = validation_images(&run).map_err(finish_error)?;
            infer_entries(
                std::slice::from_ref(&run),
                &radiographs,
                &dir.join("validation.csv"),
                &plan.infer_options(&validation),
                |_, _| {},
            )
            .map_err(finish_error)?;
        }
        let test_store = dir.join("test");
        if !test_store.join(store::FILE_NAME).is_file() {
            report(&format!("{}: inferring {} test images", point_name(index), test.len()));
            infer_entries(
                std::slice::from_ref(&run),
                &test,
                &dir.join("test.csv"),
                &plan.infer_options(&test_store),
                |_, _| {},
            )
            .map_err(finish_error)?;
        }
        validation_stores.push(validation);
        test_stores.push(test_store);
    }

    let groups = families(sweep);
    let mut tune_inputs = Vec::new();
    for (f, (_, points)) in groups.iter().enumerate() {
        if let [single] = points[..] {
            tune_inputs.push(validation_stores[single].clone());
            continue;
        }
        let oof = ensemble.join(format!("f{f:02}")).join("oof");
        if !oof.join(store::FILE_NAME).is_file() {
            report(&format!("family f{f:02}: out-of-fold store of {} folds", points.len()));
            let parts: Vec<PathBuf> = points.iter().map(|&p| validation_stores[p].clone()).collect();
            concat_stores(&parts, &oof).map_err(finish_error)?;
        }
        tune_inputs.push(oof);
    }

    let root = run_config(&sweep.point_dir(0), &[]).map_err(finish_error)?.data.root;
    let (images, labels_dir) = (Dataset::train_images(&root), Dataset::train_labels(&root));
    let labelled = list_images(&images, Some(&labels_dir), ReadOptions::default()).map_err(finish_error)?;
    let by_name: HashMap<String, _> =
        labelled.entries.into_iter().map(|e| (e.name().to_string(), e)).collect();
    let rule = run_config(&sweep.point_dir(0), &[]).map_err(finish_error)?.fill_rule();
    let mut truth = |name: &str, _: usize, _: usize| -> std::result::Result<ClassMasks, String> {
        let entry = by_name.get(name).ok_or_else(|| format!("{name} is not under {}", images.display()))?;
        labels::load(entry, rule).map(|l| l.masks).map_err(|e| e.to_string())
    };
    report(&format!("tuning the ensemble of {} families on their validation stores", groups.len()));
    let tuned = tune(&tune_inputs, &mut truth, &TuneOptions::default(), &mut |line| report(line))
        .map_err(finish_error)?;

    // Each family's weight, shared among its folds, on every point's test store.
    let mut weights = vec![0.0; sweep.len()];
    let mut families = Vec::new();
    for (f, (overrides, points)) in groups.iter().enumerate() {
        for &p in points {
            weights[p] = tuned.weights[f] / points.len() as f64;
        }
        families.push(Family {
            name: format!("f{f:02}"),
            overrides: overrides.clone(),
            points: points.iter().map(|&p| point_name(p)).collect(),
            weight: tuned.weights[f],
        });
    }
    let submission = sweep.dir.join(SUBMISSION_FILE);
    report(&format!("ensembling {} test stores into {}", test_stores.len(), submission.display()));
    let options = MeanOptions { weights: weights.clone(), skip_empty: !tuned.keep_empty };
    mean_stores(&test_stores, &submission, &options, &tuned.thresholds, tuned.post.clone())
        .map_err(finish_error)?;
    let expected: Vec<ExpectedImage> = test
        .iter()
        .map(|e| ExpectedImage { name: e.name().to_string(), height: e.height, width: e.width })
        .collect();
    let checked = check(&submission, &expected).map_err(io(&submission))?;
    if !checked.is_ok() {
        return Err(SweepError::Finish(format!(
            "{}: the ensemble's submission fails its check: {}",
            submission.display(),
            checked.problems.iter().take(3).map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
        )));
    }

    let tuned_path = ensemble.join("tuned.toml");
    let mut settings =
        TunedSettings::from_search(test_stores.iter().map(|p| p.display().to_string()).collect(), &tuned);
    settings.weights = weights;
    let text = format!(
        "# Tuned by `boneseg sweep finish` on the families' validation stores; the weights are per test\n\
         # store (each family's weight shared among its folds): boneseg ensemble --method mean --tuned\n\
         # THIS --inputs <the inputs below, in order> gives {}.\n{}",
        submission.display(),
        settings.to_toml()
    );
    write_atomic(&tuned_path, text.as_bytes()).map_err(io(&tuned_path))?;
    let summary = FinishSummary {
        families,
        validation_images: tuned.images,
        validation_plain: mean(&tuned.scores.plain),
        validation_tuned: mean(&tuned.scores.postprocess),
        test_images: test.len(),
        submission,
        tuned: tuned_path,
    };
    let done = sweep.dir.join(FINISHED_FILE);
    write_atomic(&done, serde_json::to_string_pretty(&summary).expect("serialisable").as_bytes())
        .map_err(io(&done))?;
    Ok(summary)
}

fn finish_error(error: impl std::fmt::Display) -> SweepError {
    SweepError::Finish(error.to_string())
}
