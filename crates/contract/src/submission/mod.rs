//! The submission CSV: header `image_name,class,rle`, then 29 rows per test image in class
//! order, images in sorted path order, `image_name` the file's base name, an empty mask an empty
//! field.
//!
//! [`SubmissionWriter`] writes one, [`Submission::read`] loads one for scoring, and
//! [`check::check`] lists every problem of one with its line number; [`merge::merge_parts`] puts
//! the parts of a sharded inference back together.

pub mod check;
pub mod merge;
mod rows;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use rows::{Row, RowProblem, Rows};
pub use writer::SubmissionWriter;

use crate::classes::{NUM_CLASSES, class_index};
use crate::mask::{BitMask, ClassMasks};
use crate::rle::{self, RleError};

/// The header line.
pub const HEADER: [&str; 3] = ["image_name", "class", "rle"];

/// A submission loaded for scoring: the RLE of each (image, class) with its line number.
#[derive(Debug, Default)]
pub struct Submission {
    path: PathBuf,
    entries: HashMap<(String, usize), (u64, String)>,
}

/// Why a submission cannot be used for scoring.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {problem} (run `boneseg submission check` for a full report)", path.display())]
    Row { path: PathBuf, line: u64, problem: String },
}

impl Submission {
    /// Reads a submission, failing on the first structural problem (bad header, wrong field
    /// count, unknown class, duplicate row). RLE text is validated when a mask is decoded.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, SubmissionError> {
        let path = path.as_ref().to_path_buf();
        let rows = Rows::open(&path).map_err(|source| SubmissionError::Io { path: path.clone(), source })?;
        let row_error = |line, problem: String| SubmissionError::Row { path: path.clone(), line, problem };
        let mut entries = HashMap::new();
        for row in rows {
            let row = row.map_err(|(line, problem)| row_error(line, problem.to_string()))?;
            let class = class_index(&row.class)
                .ok_or_else(|| row_error(row.line, format!("unknown class `{}`", row.class)))?;
            let line = row.line;
            if let Some((first, _)) = entries.insert((row.image_name.clone(), class), (line, row.rle)) {
                return Err(row_error(
                    line,
                    format!("duplicate row for {} / {} (first at line {first})", row.image_name, row.class),
                ));
            }
        }
        Ok(Submission { path, entries })
    }

    /// Number of (image, class) rows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All image names in the submission, sorted.
    pub fn image_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.entries.keys().map(|(image, _)| image.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The decoded mask of one image and class; `Ok(None)` when the submission has no such row.
    pub fn mask(
        &self,
        image_name: &str,
        class: usize,
        height: usize,
        width: usize,
    ) -> Result<Option<BitMask>, SubmissionError> {
        let Some((line, text)) = self.entries.get(&(image_name.to_string(), class)) else {
            return Ok(None);
        };
        rle::decode(text, height, width).map(Some).map_err(|e: RleError| SubmissionError::Row {
            path: self.path.clone(),
            line: *line,
            problem: format!("malformed RLE: {e}"),
        })
    }

    /// The 29 decoded masks of one image (a class without a row stays empty); `Ok(None)` when
    /// the submission has no row for the image at all.
    pub fn image_masks(
        &self,
        image_name: &str,
        height: usize,
        width: usize,
    ) -> Result<Option<ClassMasks>, SubmissionError> {
        if !self.entries.keys().any(|(image, _)| image == image_name) {
            return Ok(None);
        }
        let mut masks = ClassMasks::new(height, width);
        for class in 0..NUM_CLASSES {
            if let Some(mask) = self.mask(image_name, class, height, width)? {
                *masks.class_mut(class) = mask;
            }
        }
        Ok(Some(masks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_submissions_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("submission.csv");
        let mut masks = ClassMasks::new(3, 4);
        masks.class_mut(2).set_range(1, 7);
        masks.class_mut(28).set_range(11, 12);
        let mut writer = SubmissionWriter::create(&path).unwrap();
        writer.write_image("a.png", &masks).unwrap();
        writer.finish().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "image_name,class,rle");
        assert_eq!(lines[1], "a.png,finger-1,");
        assert_eq!(lines[3], "a.png,finger-3,2 6");
        assert_eq!(lines[29], "a.png,Ulna,12 1");
        assert_eq!(lines.len(), 30);

        let submission = Submission::read(&path).unwrap();
        assert_eq!(submission.len(), 29);
        assert_eq!(submission.image_names(), vec!["a.png"]);
        for class in 0..29 {
            assert_eq!(&submission.mask("a.png", class, 3, 4).unwrap().unwrap(), masks.class(class));
        }
        assert!(submission.mask("b.png", 0, 3, 4).unwrap().is_none());
        let image = submission.image_masks("a.png", 3, 4).unwrap().unwrap();
        assert_eq!(image, masks);
        assert!(submission.image_masks("b.png", 3, 4).unwrap().is_none());
    }

    #[test]
    fn read_names_the_line_of_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "image_name,class,rle\na.png,finger-1,1 2\na.png,finger-1,\n").unwrap();
        let err = Submission::read(&path).unwrap_err().to_string();
        assert!(err.contains("line 3: duplicate row for a.png / finger-1 (first at line 2)"), "{err}");
        std::fs::write(&path, "image_name,class,rle\na.png,finger-1,1 x\n").unwrap();
        let err = Submission::read(&path).unwrap().mask("a.png", 0, 2, 2).unwrap_err().to_string();
        assert!(err.contains("line 2: malformed RLE: token 2 (`x`)"), "{err}");
    }
}
