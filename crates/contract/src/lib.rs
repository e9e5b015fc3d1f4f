//! The competition's data contract, bit-exact with its reference Python code.
//!
//! Everything here is plain data and arithmetic — no tensors, no images — so it compiles in seconds
//! and every later crate (training, inference, reports) shares one definition of:
//! the 29 classes and their order ([`classes`]), person ids ([`person`]), compact multi-label masks
//! ([`mask`]), OpenCV-exact polygon filling ([`fill_poly`]), annotation files ([`annotation`]),
//! run-length encoding ([`rle`]), the submission CSV ([`submission`]) and the leaderboard dice
//! ([`metric`]).

pub mod annotation;
pub mod atomic;
pub mod classes;
mod config_name;
pub mod fill_poly;
pub mod mask;
pub mod metric;
pub mod person;
pub mod rle;
pub mod rng;
pub mod shard;
pub mod submission;

pub use annotation::{AnnotationError, AnnotationFile, AnnotationProblem, Polygon};
pub use classes::{CLASSES, NUM_CLASSES, class_index};
pub use fill_poly::{FillRule, fill_poly};
pub use mask::{BitMask, ClassMasks};
pub use person::PersonId;
pub use shard::Shard;
