//! The competition's dataset on disk:
//!
//! ```text
//! data/
//!   meta_data.xlsx                       one row per person (train and test)
//!   train/DCM/IDxxx/<stem>.png           2 per person
//!   train/outputs_json/IDxxx/<stem>.json same relative path and stem as the PNG
//!   test/DCM/IDxxx/<stem>.png
//! ```
//!
//! [`layout`] finds and pairs the files (and finds the radiographs of any other folder to
//! predict on), [`image_io`] reads the images (PNG, or JPEG) and writes PNGs, [`meta`] the
//! person table, [`split`] the folds, [`labels`] turns label files into masks and [`score`]
//! measures a submission against them. Every error names the file and the place in it.

pub mod error;
pub mod image_io;
pub mod labels;
pub mod layout;
pub mod meta;
pub mod plane;
pub mod resize;
pub mod score;
pub mod split;

pub use error::DataError;
pub use layout::{Dataset, ImageEntry, Listing, Radiograph, ReadOptions};
