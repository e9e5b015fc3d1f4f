//! From predictions to the best submission, without burn: the probability store ([`store`]),
//! streaming ensembles over submissions and stores ([`vote`], [`mean`], [`stream`], [`recipe`]),
//! per-class thresholds ([`thresholds`]), mask post-processing ([`postprocess`]), and the search
//! that chooses weights, thresholds and post-processing on validation stores ([`tune`], written
//! to the file of [`tuned`]).
//!
//! Everything works on run-length form ([`runs`]): a 2048² class with a few thousand
//! foreground pixels is a few hundred runs, so voting and averaging cost in proportion to the
//! foreground, not to the 4 million pixels, and memory never holds more than one image and class
//! per input.

pub mod mean;
pub mod postprocess;
pub mod recipe;
pub mod runs;
pub mod store;
pub mod stream;
pub mod thresholds;
pub mod tune;
pub mod tuned;
pub mod vote;

pub use postprocess::{ClassRule, PostProcess};
pub use runs::Runs;
pub use store::{ProbReader, ProbRow, ProbWriter, SparseProbs};
pub use thresholds::ClassThresholds;
pub use tuned::TunedSettings;
