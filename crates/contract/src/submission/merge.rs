//! Submission parts (`infer --shard K/N`) put back together: each part holds the rows of a
//! contiguous run of the sorted image list, so the parts, ordered by their first image and
//! copied row by row, give the unsharded submission byte for byte. The merge checks that
//! together they cover every expected image exactly once, in order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::rows::Rows;
use super::writer::SubmissionWriter;
use crate::classes::{CLASSES, NUM_CLASSES};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {problem}", path.display())]
    Part { path: PathBuf, line: u64, problem: String },
    #[error("{0}")]
    Coverage(String),
}

/// Writes `out` from `parts` (any order) so that it lists `expected` (image names in submission
/// order) once each; returns the number of images.
pub fn merge_parts(parts: &[PathBuf], expected: &[String], out: &Path) -> Result<usize, MergeError> {
    let position: HashMap<&str, usize> = expected.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    // Each part's first image places it in the list.
    let mut ordered = Vec::new();
    for path in parts {
        let mut rows = open(path)?;
        match rows.next() {
            None => continue,
            Some(row) => {
                let row = row.map_err(|(line, p)| part_error(path, line, p.to_string()))?;
                let at = *position.get(row.image_name.as_str()).ok_or_else(|| {
                    part_error(path, row.line, format!("{} is not among the expected images", row.image_name))
                })?;
                ordered.push((at, path));
            }
        }
    }
    ordered.sort();
    let mut writer =
        SubmissionWriter::create(out).map_err(|source| MergeError::Io { path: out.into(), source })?;
    // The next expected image and how many of its rows have been copied.
    let (mut next, mut rows_of_image) = (0usize, 0usize);
    for (start, path) in ordered {
        if start != next {
            let (lo, hi) = (start.min(next), start.max(next));
            return Err(MergeError::Coverage(format!(
                "{} starts at image {} ({}) where {} was expected: {}",
                path.display(),
                start + 1,
                expected[start],
                expected.get(next).map_or("the end", String::as_str),
                if start > next {
                    format!("images {} to {} are in no part", lo + 1, hi)
                } else {
                    format!("images {} to {} are in two parts", lo + 1, hi)
                }
            )));
        }
        for row in open(path)? {
            let row = row.map_err(|(line, p)| part_error(path, line, p.to_string()))?;
            let wanted = expected.get(next).map_or("the end", String::as_str);
            if row.image_name != wanted {
                return Err(part_error(
                    path,
                    row.line,
                    format!(
                        "{} where {wanted} was expected: parts hold {NUM_CLASSES} rows for each of consecutive images of the sorted list (infer --shard K/N)",
                        row.image_name
                    ),
                ));
            }
            if row.class != CLASSES[rows_of_image] {
                return Err(part_error(
                    path,
                    row.line,
                    format!(
                        "class {} where {} was expected (class order)",
                        row.class, CLASSES[rows_of_image]
                    ),
                ));
            }
            let image = &expected[next];
            writer
                .write_row(image, &row.class, &row.rle)
                .map_err(|source| MergeError::Io { path: out.into(), source })?;
            rows_of_image += 1;
            if rows_of_image == NUM_CLASSES {
                (next, rows_of_image) = (next + 1, 0);
            }
        }
        if rows_of_image != 0 {
            return Err(part_error(path, 0, format!("{} has fewer than {NUM_CLASSES} rows", expected[next])));
        }
    }
    if next != expected.len() {
        return Err(MergeError::Coverage(format!(
            "the parts end at image {next} of {}: {} and later are in no part",
            expected.len(),
            expected[next]
        )));
    }
    writer.finish().map_err(|source| MergeError::Io { path: out.into(), source })?;
    Ok(next)
}

fn open(path: &Path) -> Result<Rows, MergeError> {
    Rows::open(path).map_err(|source| MergeError::Io { path: path.into(), source })
}

fn part_error(path: &Path, line: u64, problem: String) -> MergeError {
    MergeError::Part { path: path.into(), line, problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shard;
    use crate::mask::ClassMasks;

    /// A submission of `names` (each image's masks made from its position), one part of them
    /// when `shard` is given.
    fn write(path: &Path, names: &[String], shard: Option<Shard>) {
        let range = shard.map_or(0..names.len(), |s| s.range(names.len()));
        let mut writer = SubmissionWriter::create(path).unwrap();
        for (i, name) in names.iter().enumerate().skip(range.start).take(range.len()) {
            let mut masks = ClassMasks::new(4, 4);
            for class in 0..NUM_CLASSES {
                masks.class_mut(class).set_range(i % 5, i % 5 + class % 3);
            }
            writer.write_image(name, &masks).unwrap();
        }
        writer.finish().unwrap();
    }

    #[test]
    fn parts_in_any_order_give_the_whole_submission() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..7).map(|i| format!("b{}.png", 7 - i)).collect();
        let whole = dir.path().join("whole.csv");
        write(&whole, &names, None);
        let parts: Vec<PathBuf> = (0..3)
            .rev()
            .map(|index| {
                let path = dir.path().join(format!("part{index}.csv"));
                write(&path, &names, Some(Shard { index, count: 3 }));
                path
            })
            .collect();
        let merged = dir.path().join("merged.csv");
        assert_eq!(merge_parts(&parts, &names, &merged).unwrap(), 7);
        assert_eq!(std::fs::read(&merged).unwrap(), std::fs::read(&whole).unwrap());

        let error = merge_parts(&parts[..2], &names, &merged).unwrap_err().to_string();
        assert!(error.contains("are in no part"), "{error}");
        let twice = [parts.clone(), vec![parts[1].clone()]].concat();
        let error = merge_parts(&twice, &names, &merged).unwrap_err().to_string();
        assert!(error.contains("in two parts"), "{error}");
        let error = merge_parts(&parts, &names[..6], &merged).unwrap_err().to_string();
        assert!(error.contains("is not among the expected images") || error.contains("where"), "{error}");
    }
}
