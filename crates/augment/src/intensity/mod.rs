//! Intensity transforms: they change grey levels only, so the labels pass through untouched.

pub mod clahe;
pub mod filter;
pub mod jpeg;
pub mod lut;
pub mod noise;
