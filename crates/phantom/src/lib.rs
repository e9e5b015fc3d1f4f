//! boneseg's phantom: a seeded generator of hand radiographs with their 29 bone polygons,
//! written in exactly the competition's layout so that every tool reads it like the real data.
//!
//! The real data is private, so every test, demo and benchmark runs on this. It aims at what a
//! model meets on real radiographs: anatomy with the competition's numbering and real
//! proportions, overlapping labels where real bones overlap, both hands per person, pose and size
//! variation, bent fingers and rotated wrists, an X-ray look (cortical rims, joint spaces, soft
//! tissue, detector band, noise), and outliers (rings, nail art, wrist implants) recorded in the
//! meta table.
//!
//! Pipeline: [`person`] draws a person and each image's pose, [`anatomy`] builds the canonical
//! hand, [`scene`] places it in the image and makes the label polygons, [`render`] draws the
//! radiograph, [`dataset`] writes it all.

pub mod anatomy;
pub mod dataset;
pub mod film;
pub mod geometry;
pub mod growth;
pub mod markers;
pub mod person;
pub mod render;
pub mod rng;
pub mod scene;
pub mod shape;
pub mod style;

pub use dataset::{SynthConfig, SynthError, SynthImage, SynthSummary, generate, synth_image};
