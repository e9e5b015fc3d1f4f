//! Cross-validation folds grouped by person, persisted as files.
//!
//! Re-deriving another library's fold assignment is unreliable (GroupKFold's tie order depends on
//! its sort), so folds live in files: `fold{k}_train.csv` and `fold{k}_val.csv`, header
//! `image,person`, one image per row by its relative path. Any CSV with an `image` column
//! (relative path or base name) or a `person` column (`ID001`) is accepted as a fold file, so a
//! hand-written split works wherever a generated one does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use boneseg_contract::PersonId;
use boneseg_contract::atomic::AtomicFile;
use boneseg_contract::rng::{Random, SplitMix64};

use crate::error::DataError;
use crate::layout::ImageEntry;

/// Assigns each person (with all their images) to one of `folds` folds, balancing image counts.
///
/// Like scikit-learn's `GroupKFold`: the largest groups first, each into the fold with the fewest
/// images so far (the lowest fold on ties). Groups of equal size are taken in person order, or in
/// an order shuffled by `seed`. Returns the fold of each entry.
pub fn group_k_fold(entries: &[ImageEntry], folds: usize, seed: Option<u64>) -> Vec<usize> {
    assert!(folds >= 2, "a split needs at least 2 folds");
    let mut sizes: BTreeMap<PersonId, usize> = BTreeMap::new();
    for entry in entries {
        *sizes.entry(entry.person).or_default() += 1;
    }
    let mut people: Vec<(PersonId, usize)> = sizes.into_iter().collect();
    if let Some(seed) = seed {
        shuffle(&mut people, seed);
    }
    // Stable: equal sizes keep the (shuffled) person order.
    people.sort_by_key(|&(_, size)| std::cmp::Reverse(size));
    let mut load = vec![0usize; folds];
    let mut fold_of: BTreeMap<PersonId, usize> = BTreeMap::new();
    for (person, size) in people {
        let fold = (0..folds).min_by_key(|&f| (load[f], f)).expect("folds >= 2");
        load[fold] += size;
        fold_of.insert(person, fold);
    }
    entries.iter().map(|e| fold_of[&e.person]).collect()
}

/// Fisher-Yates with SplitMix64, so a seed gives the same split on every platform and release.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Writes `fold{k}_train.csv` and `fold{k}_val.csv` for every fold into `dir`.
pub fn write_folds(
    dir: &Path,
    entries: &[ImageEntry],
    fold_of: &[usize],
    folds: usize,
) -> Result<Vec<PathBuf>, DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let mut written = Vec::new();
    for k in 0..folds {
        for (part, in_part) in [("train", false), ("val", true)] {
            let path = dir.join(format!("fold{k}_{part}.csv"));
            let rows = entries.iter().zip(fold_of).filter(|&(_, &f)| (f == k) == in_part).map(|(e, _)| e);
            write_list(&path, rows)?;
            written.push(path);
        }
    }
    Ok(written)
}

fn write_list<'a>(path: &Path, entries: impl Iterator<Item = &'a ImageEntry>) -> Result<(), DataError> {
    let io = |e: std::io::Error| DataError::io(path, e);
    let mut out = csv::Writer::from_writer(AtomicFile::create(path).map_err(io)?);
    out.write_record(["image", "person"]).map_err(|e| io(e.into()))?;
    for entry in entries {
        out.write_record([entry.rel.as_str(), &entry.person.to_string()]).map_err(|e| io(e.into()))?;
    }
    out.into_inner().map_err(|e| io(e.into_error()))?.commit().map_err(io)
}

/// Reads a fold file (or any image/person list) and returns the indices of the entries it names,
/// sorted. Every listed image or person must exist in `entries`.
pub fn read_list(path: &Path, entries: &[ImageEntry]) -> Result<Vec<usize>, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| DataError::table(path, "file", format!("cannot read: {e}")))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| DataError::table(path, "header", e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let (image_column, person_column) = (column("image"), column("person"));
    if image_column.is_none() && person_column.is_none() {
        return Err(DataError::table(
            path,
            "header",
            format!(
                "needs an `image` column (relative path or name) or a `person` column (ID001); found `{}`",
                header.join(",")
            ),
        ));
    }
    let mut chosen = BTreeSet::new();
    for record in reader.records() {
        let record = record.map_err(|e| DataError::table(path, "file", e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let place = format!("line {line}");
        if let Some(value) = image_column.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty())
        {
            let found: Vec<usize> = (0..entries.len())
                .filter(|&i| entries[i].rel == value || entries[i].name() == value)
                .collect();
            match found.as_slice() {
                [] => {
                    return Err(DataError::table(
                        path,
                        place,
                        format!("image `{value}` is not in the dataset"),
                    ));
                }
                [one] => chosen.insert(*one),
                _ => {
                    return Err(DataError::table(
                        path,
                        place,
                        format!("`{value}` names several images; use the relative path"),
                    ));
                }
            };
        } else if let Some(value) =
            person_column.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty())
        {
            let person: PersonId =
                value.parse().map_err(|e| DataError::table(path, place.clone(), format!("{e}")))?;
            let before = chosen.len();
            chosen.extend((0..entries.len()).filter(|&i| entries[i].person == person));
            if chosen.len() == before {
                return Err(DataError::table(
                    path,
                    place,
                    format!("person {person} has no image in the dataset"),
                ));
            }
        }
    }
    Ok(chosen.into_iter().collect())
}

/// A training/validation split of a dataset's entries (indices into them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl Fold {
    /// Fold `k` of a split folder written by `boneseg split`.
    pub fn from_split_dir(dir: &Path, k: usize, entries: &[ImageEntry]) -> Result<Fold, DataError> {
        let val = dir.join(format!("fold{k}_val.csv"));
        if !val.is_file() {
            return Err(DataError::table(dir, format!("fold {k}"), format!("{} not found", val.display())));
        }
        Fold::from_lists(&val, Some(&dir.join(format!("fold{k}_train.csv"))), entries)
    }

    /// A validation list and, optionally, a training list (else every other image). A person
    /// with images on both sides is an error: it would leak into validation.
    pub fn from_lists(val: &Path, train: Option<&Path>, entries: &[ImageEntry]) -> Result<Fold, DataError> {
        let val_indices = read_list(val, entries)?;
        let train_indices = match train.filter(|p| p.is_file()) {
            Some(path) => read_list(path, entries)?,
            None => (0..entries.len()).filter(|i| val_indices.binary_search(i).is_err()).collect(),
        };
        let val_people: BTreeSet<PersonId> = val_indices.iter().map(|&i| entries[i].person).collect();
        if let Some(&leak) = train_indices.iter().find(|&&i| val_people.contains(&entries[i].person)) {
            return Err(DataError::table(
                val,
                format!("person {}", entries[leak].person),
                format!(
                    "has images in both training ({}) and validation; keep both hands of a person together",
                    entries[leak].rel
                ),
            ));
        }
        Ok(Fold { train: train_indices, val: val_indices })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(people: &[(u32, usize)]) -> Vec<ImageEntry> {
        let mut out = Vec::new();
        for &(person, images) in people {
            for i in 0..images {
                out.push(ImageEntry {
                    rel: format!("ID{person:03}/image{person}{i}.png"),
                    person: PersonId(person),
                    image: PathBuf::new(),
                    label: None,
                    width: 8,
                    height: 8,
                });
            }
        }
        out
    }

    #[test]
    fn folds_are_balanced_and_keep_people_together() {
        let all = entries(&(1..=23).map(|p| (p, 2)).collect::<Vec<_>>());
        for seed in [None, Some(7)] {
            let fold_of = group_k_fold(&all, 5, seed);
            let mut counts = [0; 5];
            for (entry, &fold) in all.iter().zip(&fold_of) {
                counts[fold] += 1;
                let partner = all.iter().zip(&fold_of).find(|(e, _)| e.person == entry.person).unwrap();
                assert_eq!(*partner.1, fold, "both hands of {} together", entry.person);
            }
            assert_eq!(counts.iter().max().unwrap() - counts.iter().min().unwrap(), 2, "{counts:?}");
        }
        assert_eq!(group_k_fold(&all, 5, Some(3)), group_k_fold(&all, 5, Some(3)), "deterministic");
        assert_ne!(group_k_fold(&all, 5, Some(3)), group_k_fold(&all, 5, None));
    }

    #[test]
    fn larger_groups_are_placed_first() {
        let all = entries(&[(1, 1), (2, 3), (3, 1), (4, 1)]);
        let fold_of = group_k_fold(&all, 2, None);
        // Person 2 (3 images) goes first into fold 0; the singles fill fold 1 up to 3.
        assert_eq!(fold_of, vec![1, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn fold_files_round_trip_and_hand_written_lists_work() {
        let dir = tempfile::tempdir().unwrap();
        let all = entries(&[(1, 2), (2, 2), (3, 2), (4, 2)]);
        let fold_of = group_k_fold(&all, 2, None);
        write_folds(dir.path(), &all, &fold_of, 2).unwrap();
        let fold = Fold::from_split_dir(dir.path(), 1, &all).unwrap();
        assert_eq!(fold.val, (0..8).filter(|&i| fold_of[i] == 1).collect::<Vec<_>>());
        assert_eq!(fold.train.len() + fold.val.len(), 8);

        let hand = dir.path().join("mine.csv");
        std::fs::write(&hand, "person\nID003\n").unwrap();
        let fold = Fold::from_lists(&hand, None, &all).unwrap();
        assert_eq!(fold.val, vec![4, 5]);
        std::fs::write(&hand, "image\nimage30.png\n").unwrap();
        assert_eq!(read_list(&hand, &all).unwrap(), vec![4]);
    }

    #[test]
    fn leaks_and_unknown_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let all = entries(&[(1, 2), (2, 2)]);
        let (val, train) = (dir.path().join("val.csv"), dir.path().join("train.csv"));
        std::fs::write(&val, "image,person\nID001/image10.png,ID001\n").unwrap();
        std::fs::write(&train, "image\nID001/image11.png\nID002/image20.png\n").unwrap();
        let err = Fold::from_lists(&val, Some(&train), &all).unwrap_err().to_string();
        assert!(err.contains("person ID001: has images in both training"), "{err}");
        std::fs::write(&val, "image\nID009/x.png\n").unwrap();
        let err = read_list(&val, &all).unwrap_err().to_string();
        assert!(err.contains("line 2: image `ID009/x.png` is not in the dataset"), "{err}");
        std::fs::write(&val, "file\nx\n").unwrap();
        assert!(read_list(&val, &all).unwrap_err().to_string().contains("needs an `image` column"));
    }
}
