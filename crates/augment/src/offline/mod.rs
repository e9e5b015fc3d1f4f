//! Offline augmentation: new images and label files written to disk in the competition layout,
//! their polygons transformed with the pixels (flip, rotate/straighten, mosaic).

pub mod dataset;
pub mod ops;
pub mod polygon;

pub use dataset::{OfflineError, OfflineOptions, Op, Provenance, Rotation, Summary, augment_dataset};
