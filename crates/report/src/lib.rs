//! Pictures and pages for people: a radiograph with its 29 classes drawn over it, and the EDA
//! ([`eda`]) and evaluation ([`evaluate`]) reports — each one self-contained HTML file with
//! inline SVG plots ([`chart`], [`html`]) plus JSON and CSV tables for scripts.

pub mod bins;
pub mod chart;
pub mod eda;
pub mod error_map;
pub mod evaluate;
pub mod hand;
pub mod html;
pub mod overlay;
pub mod palette;
pub mod preview;

pub use overlay::{OverlayOptions, overlay};
pub use palette::class_colour;
