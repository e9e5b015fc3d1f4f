//! Scoring a submission against labelled images, exactly as the leaderboard does.

use boneseg_contract::metric::{DiceTable, dice};
use boneseg_contract::submission::Submission;
use boneseg_contract::{ClassMasks, NUM_CLASSES};
use rayon::prelude::*;

use crate::error::DataError;
use crate::labels::{self, LabelOptions, LabelWarning};
use crate::layout::ImageEntry;

/// The dice table and everything noticed on the way.
#[derive(Debug, Default)]
pub struct ScoreOutcome {
    pub table: DiceTable,
    /// (image name, class) pairs with no row: scored as empty predictions.
    pub missing_rows: Vec<(String, usize)>,
    /// Images of the submission that are not among the labelled images (ignored).
    pub extra_images: Vec<String>,
    /// Label warnings, with the label file they concern.
    pub label_warnings: Vec<(std::path::PathBuf, LabelWarning)>,
}

/// One labelled image with the submission's masks for it: what scoring and error analysis share.
pub struct ImagePair {
    pub truth: labels::Labels,
    /// The submission's masks; a missing row is an empty mask, as on the leaderboard.
    pub predicted: ClassMasks,
    /// Classes with no row in the submission.
    pub missing: Vec<usize>,
}

impl ImagePair {
    /// The image's 29 leaderboard dice values.
    pub fn dice_row(&self) -> [f64; NUM_CLASSES] {
        std::array::from_fn(|c| dice(self.predicted.class(c), self.truth.masks.class(c)))
    }
}

/// The labels of `entry` and the submission's masks for it.
pub fn pair(
    submission: &Submission,
    entry: &ImageEntry,
    options: impl Into<LabelOptions>,
) -> Result<ImagePair, DataError> {
    let truth = labels::load(entry, options)?;
    let mut predicted = ClassMasks::new(entry.height, entry.width);
    let mut missing = Vec::new();
    for class in 0..NUM_CLASSES {
        match submission.mask(entry.name(), class, entry.height, entry.width)? {
            Some(mask) => *predicted.class_mut(class) = mask,
            None => missing.push(class),
        }
    }
    Ok(ImagePair { truth, predicted, missing })
}

/// Scores `submission` on `entries` (which must have labels), images in parallel.
///
/// A missing (image, class) row counts as an empty prediction, as it would on the leaderboard.
pub fn score(
    submission: &Submission,
    entries: &[ImageEntry],
    options: impl Into<LabelOptions>,
) -> Result<ScoreOutcome, DataError> {
    let options = options.into();
    let per_image: Vec<_> = entries
        .par_iter()
        .map(|entry| pair(submission, entry, options).map(|p| (p.dice_row(), p.missing, p.truth.warnings)))
        .collect::<Result<_, _>>()?;
    let mut outcome = ScoreOutcome::default();
    for (entry, (row, missing, warnings)) in entries.iter().zip(per_image) {
        outcome.record(entry, row, missing, warnings);
    }
    outcome.extra_images = extra_images(submission, entries);
    Ok(outcome)
}

impl ScoreOutcome {
    /// Adds one scored image (in the order of `entries`).
    pub fn record(
        &mut self,
        entry: &ImageEntry,
        row: [f64; NUM_CLASSES],
        missing: Vec<usize>,
        warnings: Vec<LabelWarning>,
    ) {
        self.table.push(entry.name(), row);
        self.missing_rows.extend(missing.into_iter().map(|c| (entry.name().to_string(), c)));
        let label = entry.label.clone().unwrap_or_default();
        self.label_warnings.extend(warnings.into_iter().map(|w| (label.clone(), w)));
    }
}

/// Images of the submission that are not among `entries`.
pub fn extra_images(submission: &Submission, entries: &[ImageEntry]) -> Vec<String> {
    let known: std::collections::HashSet<&str> = entries.iter().map(ImageEntry::name).collect();
    submission.image_names().into_iter().filter(|n| !known.contains(n)).map(str::to_string).collect()
}
