//! Scoring a submission against labelled images, exactly as the leaderboard does.

use boneseg_contract::metric::{DiceTable, dice};
use boneseg_contract::submission::Submission;
use boneseg_contract::{BitMask, FillRule, NUM_CLASSES};
use rayon::prelude::*;

use crate::error::DataError;
use crate::labels::{self, LabelWarning};
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

/// Scores `submission` on `entries` (which must have labels), images in parallel.
///
/// A missing (image, class) row counts as an empty prediction, as it would on the leaderboard.
pub fn score(
    submission: &Submission,
    entries: &[ImageEntry],
    rule: FillRule,
) -> Result<ScoreOutcome, DataError> {
    let per_image: Vec<_> = entries
        .par_iter()
        .map(|entry| -> Result<_, DataError> {
            let labels = labels::load(entry, rule)?;
            let mut row = [0.0; NUM_CLASSES];
            let mut missing = Vec::new();
            for (class, value) in row.iter_mut().enumerate() {
                let truth = labels.masks.class(class);
                *value = match submission.mask(entry.name(), class, entry.height, entry.width)? {
                    Some(predicted) => dice(&predicted, truth),
                    None => {
                        missing.push(class);
                        dice(&BitMask::new(entry.height, entry.width), truth)
                    }
                };
            }
            Ok((row, missing, labels.warnings))
        })
        .collect::<Result<_, _>>()?;

    let mut outcome = ScoreOutcome::default();
    for (entry, (row, missing, warnings)) in entries.iter().zip(per_image) {
        outcome.table.push(entry.name(), row);
        outcome.missing_rows.extend(missing.into_iter().map(|c| (entry.name().to_string(), c)));
        let label = entry.label.clone().unwrap_or_default();
        outcome.label_warnings.extend(warnings.into_iter().map(|w| (label.clone(), w)));
    }
    let known: std::collections::HashSet<&str> = entries.iter().map(ImageEntry::name).collect();
    outcome.extra_images =
        submission.image_names().into_iter().filter(|n| !known.contains(n)).map(str::to_string).collect();
    Ok(outcome)
}
