//! Segmentation models in the image of segmentation-models-pytorch (SMP): an encoder family
//! and a decoder family, each chosen by name, whose parameter names are SMP's state-dict keys
//! so that a checkpoint trained in PyTorch loads as it is.

// Families are enums of whole networks, built once per run; boxing their variants would buy
// nothing and would add a level to every parameter path.
#![allow(clippy::large_enum_variant)]

pub mod blocks;
pub mod config;
pub mod decoders;
pub mod device;
pub mod encoders;
pub mod layers;
pub mod lite0;
pub mod model;
pub mod normalization;
pub mod pretrained;
pub mod registry;
pub mod summary;
pub mod weights;

/// The burn version the models are built with, for callers that handle their tensors.
pub use burn;
pub use config::ModelConfig;
pub use model::SegmentationModel;
pub use normalization::Normalization;
pub use registry::{Architecture, EncoderName, ModelSpec};
