//! One error type for everything read from a dataset; each variant names the file.

use std::path::PathBuf;

use boneseg_contract::AnnotationError;
use boneseg_contract::submission::SubmissionError;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {what} not found; expected the competition layout (train/DCM, train/outputs_json, test/DCM, meta_data.xlsx)", path.display())]
    MissingFolder { path: PathBuf, what: &'static str },
    #[error("{}: no images found (.png, .jpg or .jpeg)", path.display())]
    NoImages { path: PathBuf },
    #[error("{}: image without a label file (expected {})", image.display(), expected.display())]
    ImageWithoutLabel { image: PathBuf, expected: PathBuf },
    #[error("{}: label file without an image (expected {})", label.display(), expected.display())]
    LabelWithoutImage { label: PathBuf, expected: PathBuf },
    #[error("{}: a symbolic link that leads nowhere ({problem}); fix or remove it", path.display())]
    BrokenLink { path: PathBuf, problem: String },
    #[error("{}: a symbolic link to a folder already listed ({}); a link loop or a second link to one folder would list its images twice", path.display(), first.display())]
    LinkLoop { path: PathBuf, first: PathBuf },
    #[error("{}: not inside a person folder: images go in IDxxx/ folders, one per person", path.display())]
    NotInPersonFolder { path: PathBuf },
    #[error("{}: {problem}", path.display())]
    Image { path: PathBuf, problem: String },
    #[error("{}: unexpected image size {width}x{height}; the other images are {expected_width}x{expected_height} ({count} images, {} among them)", path.display(), example.display())]
    ImageSize {
        path: PathBuf,
        width: usize,
        height: usize,
        expected_width: usize,
        expected_height: usize,
        /// How many images have the expected size, and one of them.
        count: usize,
        example: PathBuf,
    },
    #[error("{}: the image is {}x{} but {} is {}x{}; the images of a folder must share one size, and no size is shared by most of them", path.display(), size.0, size.1, other.display(), other_size.0, other_size.1)]
    MixedSizes { path: PathBuf, size: (usize, usize), other: PathBuf, other_size: (usize, usize) },
    #[error("{}: another file has the same name but for its extension ({}); keep one of them", path.display(), other.display())]
    SameStem { path: PathBuf, other: PathBuf },
    #[error("{}: the image name is used twice (also {}); submissions identify images by name, so names must be unique", path.display(), other.display())]
    DuplicateName { path: PathBuf, other: PathBuf },
    #[error(transparent)]
    Annotation(#[from] AnnotationError),
    #[error(transparent)]
    Submission(#[from] SubmissionError),
    #[error("{}: {place}: {problem}", path.display())]
    Table { path: PathBuf, place: String, problem: String },
}

impl DataError {
    /// An I/O error on `path` (also for the report writers beside this crate).
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    pub(crate) fn table(
        path: impl Into<PathBuf>,
        place: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        DataError::Table { path: path.into(), place: place.into(), problem: problem.into() }
    }
}
