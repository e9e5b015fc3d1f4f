//! Geometric transforms: they move pixels, so they act on the image and its labels together
//! (bilinear for the image, nearest for the labels).

pub mod affine;
pub mod distortion;
pub mod flip;
pub mod resize;
pub mod warp;
