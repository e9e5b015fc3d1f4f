//! `boneseg infer` (and `boneseg predict`, its plain form): trained runs to a submission.
//!
//! Per image, for each run and each test-time view: the model's logits, either of the whole
//! image resized to the training size (the baseline) or of a Gaussian-blended sliding window
//! over the full-resolution image ([`window`]); the view is undone and the views and runs are
//! merged on one grid ([`views`]). The merged logits are then upsampled bilinearly
//! (`align_corners = false`) to the image's size ([`upsample`]) and thresholded per class,
//! post-processed, and RLE-encoded; the probabilities at or above a floor can go to a
//! probability store too ([`submission`]).
//!
//! A run is read through [`run::RunDir`], the one description of a run directory's layout, and
//! loaded by [`load::load_run`]. Training's validation scores through the same upsampling and
//! thresholding, so what validation reports is what inference submits.

pub mod load;
pub mod mismatch;
pub mod run;
pub mod submission;
pub mod upsample;
pub mod views;
pub mod window;

pub use load::{InferError, LoadedRun, RunConfig, load_run};
pub use run::RunDir;
pub use submission::{InferOptions, InferSummary, Mode, infer, infer_entries};
pub use views::{Merge, Tta, View};
pub use window::Window;
