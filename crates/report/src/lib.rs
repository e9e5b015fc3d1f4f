//! Pictures for people: a radiograph with its 29 classes drawn over it, each in a fixed colour.

pub mod overlay;
pub mod palette;

pub use overlay::{OverlayOptions, overlay};
pub use palette::class_colour;
