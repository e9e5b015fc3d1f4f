//! Which labelled images train and which validate: a fold of a person-grouped split, minus an
//! exclusion list.
//!
//! The fold is taken over the whole labelled set before anything is excluded, so excluding
//! outliers never moves other people between folds and runs with and without an exclusion list
//! stay comparable.

use std::path::PathBuf;

use boneseg_data::ImageEntry;
use boneseg_data::split::{Fold, group_k_fold};

use crate::data::PrepareError;

/// Where the folds come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FoldSource {
    /// Made here, grouped by person (`boneseg split`'s algorithm), people of equal image count
    /// shuffled by `seed` or in person order.
    Computed { folds: usize, seed: Option<u64> },
    /// `fold{k}_train.csv` / `fold{k}_val.csv` in this folder, as `boneseg split` writes them.
    SplitDir(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectionOptions {
    /// The validation fold, 0-based.
    pub fold: usize,
    pub source: FoldSource,
    /// Image names (`image1661.png`), relative paths (`ID058/image1661.png`), stems or person
    /// ids (`ID058`) to leave out.
    pub exclude: Vec<String>,
    /// Leave excluded images out of validation too. Off, validation keeps every image of its
    /// fold, so the effect of excluding outliers from training is measured on the same images
    /// (the leaderboard's test set has outliers too).
    pub exclude_from_validation: bool,
}

/// The training and validation images of a run, each in dataset (relative path) order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub train: Vec<ImageEntry>,
    pub val: Vec<ImageEntry>,
    /// Images left out by the exclusion list.
    pub excluded: Vec<ImageEntry>,
}

impl Selection {
    /// Splits the labelled images `entries` (a dataset's `train`).
    pub fn resolve(entries: &[ImageEntry], options: &SelectionOptions) -> Result<Selection, PrepareError> {
        let fold = match &options.source {
            FoldSource::Computed { folds, seed } => {
                if *folds < 2 || options.fold >= *folds {
                    return Err(PrepareError::Selection(format!(
                        "fold {} of {folds} folds does not exist: folds must be at least 2 and the fold 0-based below it",
                        options.fold
                    )));
                }
                let people = entries.iter().map(|e| e.person).collect::<std::collections::BTreeSet<_>>();
                if people.len() < *folds {
                    return Err(PrepareError::Selection(format!(
                        "{} people cannot make {folds} folds grouped by person; use fewer folds",
                        people.len()
                    )));
                }
                let fold_of = group_k_fold(entries, *folds, *seed);
                let (val, train) = (0..entries.len()).partition(|&i| fold_of[i] == options.fold);
                Fold { train, val }
            }
            FoldSource::SplitDir(dir) => Fold::from_split_dir(dir, options.fold, entries)?,
        };
        let excluded = excluded_indices(entries, &options.exclude)?;
        let keep = |i: &usize| excluded.binary_search(i).is_err();
        let train: Vec<ImageEntry> =
            fold.train.iter().filter(|i| keep(i)).map(|&i| entries[i].clone()).collect();
        let val = fold
            .val
            .iter()
            .filter(|i| !options.exclude_from_validation || keep(i))
            .map(|&i| entries[i].clone())
            .collect();
        if train.is_empty() {
            return Err(PrepareError::Selection(
                "no training images are left after the exclusion list; shorten data.exclude".into(),
            ));
        }
        Ok(Selection { train, val, excluded: excluded.iter().map(|&i| entries[i].clone()).collect() })
    }
}

/// Sorted indices of the entries the exclusion list names; an item naming nothing is an error
/// (a typo would otherwise silently keep an outlier in).
fn excluded_indices(entries: &[ImageEntry], exclude: &[String]) -> Result<Vec<usize>, PrepareError> {
    let mut chosen = Vec::new();
    for item in exclude {
        let item = item.trim();
        let person: Option<boneseg_contract::PersonId> = item.parse().ok();
        let before = chosen.len();
        chosen.extend((0..entries.len()).filter(|&i| {
            let entry = &entries[i];
            let stem = entry.name().rsplit_once('.').map_or(entry.name(), |(stem, _)| stem);
            Some(entry.person) == person || entry.rel == item || entry.name() == item || stem == item
        }));
        if chosen.len() == before {
            return Err(PrepareError::UnknownExclusion(item.to_string()));
        }
    }
    chosen.sort_unstable();
    chosen.dedup();
    Ok(chosen)
}
