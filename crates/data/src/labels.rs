//! Label files turned into masks, with the checks that need the image beside them.

use std::fmt;

use boneseg_contract::annotation::{DuplicateClass, PointsOutside};
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
    /// Points outside the image: clipped, as OpenCV's fillPoly clips them.
    PointsOutside(PointsOutside),
}

impl fmt::Display for LabelWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelWarning::DuplicateClass(duplicate) => write!(f, "{duplicate}"),
            LabelWarning::FilenameMismatch { found, expected } => {
                write!(f, "`filename` is `{found}` but the file is paired with {expected} by its path")
            }
            LabelWarning::PointsOutside(outside) => write!(f, "{outside}"),
        }
    }
}

/// The masks of one labelled image.
#[derive(Clone, Debug)]
pub struct Labels {
    pub masks: ClassMasks,
    pub warnings: Vec<LabelWarning>,
}

/// How label files are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelOptions {
    /// Which OpenCV release's fillPoly the masks reproduce.
    pub rule: FillRule,
    /// Refuse a file with points outside its image, instead of clipping them with a warning as
    /// the reference (OpenCV's fillPoly) does.
    pub strict_points: bool,
}

impl From<FillRule> for LabelOptions {
    fn from(rule: FillRule) -> Self {
        LabelOptions { rule, strict_points: false }
    }
}

/// Reads the label file of `entry` and fills its polygons at the image's size. Points outside
/// the image are clipped with a warning, or refused with `strict_points`.
pub fn load(entry: &ImageEntry, options: impl Into<LabelOptions>) -> Result<Labels, DataError> {
    let LabelOptions { rule, strict_points } = options.into();
    let path = entry.label.as_ref().ok_or_else(|| DataError::Image {
        path: entry.image.clone(),
        problem: "this image has no label file".into(),
    })?;
    let file = AnnotationFile::read(path)?;
    let outside = file.points_outside(entry.height, entry.width);
    if let Some(first) = outside.first().filter(|_| strict_points) {
        return Err(AnnotationError { path: path.clone(), problem: first.clone().into_problem() }.into());
    }
    let mut warnings: Vec<LabelWarning> =
        file.duplicate_classes().into_iter().map(LabelWarning::DuplicateClass).collect();
    warnings.extend(outside.into_iter().map(LabelWarning::PointsOutside));
    if let Some(found) = file.filename.as_ref().filter(|&f| f != entry.name()) {
        warnings.push(LabelWarning::FilenameMismatch {
            found: found.clone(),
            expected: entry.name().to_string(),
        });
    }
    Ok(Labels { masks: file.rasterize(entry.height, entry.width, rule), warnings })
}
