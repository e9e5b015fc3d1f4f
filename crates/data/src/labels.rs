//! Label files turned into masks, with the checks that need the image beside them.

use std::fmt;

use boneseg_contract::annotation::DuplicateClass;
use boneseg_contract::{AnnotationError, AnnotationFile, ClassMasks, FillRule};

use crate::error::DataError;
use crate::layout::ImageEntry;

/// Something odd but usable in a label file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelWarning {
    /// Several polygons of one class: their union is used.
    DuplicateClass(DuplicateClass),
    /// The `filename` field names another image than the one paired by path.
    FilenameMismatch { found: String, expected: String },
}

impl fmt::Display for LabelWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelWarning::DuplicateClass(duplicate) => write!(f, "{duplicate}"),
            LabelWarning::FilenameMismatch { found, expected } => {
                write!(f, "`filename` is `{found}` but the file is paired with {expected} by its path")
            }
        }
    }
}

/// The masks of one labelled image.
#[derive(Clone, Debug)]
pub struct Labels {
    pub masks: ClassMasks,
    pub warnings: Vec<LabelWarning>,
}

/// Reads the label file of `entry` and fills its polygons at the image's size.
pub fn load(entry: &ImageEntry, rule: FillRule) -> Result<Labels, DataError> {
    let path = entry.label.as_ref().ok_or_else(|| DataError::Image {
        path: entry.image.clone(),
        problem: "this image has no label file".into(),
    })?;
    let file = AnnotationFile::read(path)?;
    file.check_inside(entry.height, entry.width)
        .map_err(|problem| AnnotationError { path: path.clone(), problem })?;
    let mut warnings: Vec<LabelWarning> =
        file.duplicate_classes().into_iter().map(LabelWarning::DuplicateClass).collect();
    if let Some(found) = file.filename.as_ref().filter(|&f| f != entry.name()) {
        warnings.push(LabelWarning::FilenameMismatch {
            found: found.clone(),
            expected: entry.name().to_string(),
        });
    }
    Ok(Labels { masks: file.rasterize(entry.height, entry.width, rule), warnings })
}
