//! Mask-aware augmentation for boneseg, without burn.
//!
//! Online: [`Pipeline`] applies albumentations-style transforms ([`pipeline::Transform`]) to a
//! grey image and its 29 class masks, seeded and deterministic; geometric transforms
//! ([`geometric`]) move image and masks together (bilinear / nearest, like OpenCV), intensity
//! transforms ([`intensity`]) touch the image only. Masks travel packed, one bit per class in a
//! `u32` per pixel ([`plane`]), so they are sampled once, never blurred, never `f32`.
//!
//! Copy-paste ([`paste`]) pastes bones of other images of the training set, which the caller
//! hands over as [`Donors`] ([`Pipeline::apply_with`]).
//!
//! Offline: [`offline`] writes augmented copies of a dataset in the competition layout (flip,
//! rotate or straighten, mosaic), transforming the label polygons themselves.
//!
//! What a training loop calls, once per sample and epoch:
//!
//! ```
//! use boneseg_augment::{Pipeline, sample_seed};
//! use boneseg_contract::ClassMasks;
//!
//! let pipeline = Pipeline::parse(r#"
//!     [[augment]]
//!     name = "horizontal_flip"
//!     [[augment]]
//!     name = "clahe"
//!     p = 0.5
//!     clip_limit = 2.0
//! "#).unwrap();
//! let image = image::GrayImage::new(64, 48);
//! let masks = ClassMasks::new(48, 64);
//! let (image, masks) = pipeline.augment(sample_seed(42, 0, 7), &image, &masks);
//! assert_eq!((image.width(), masks.height()), (64, 48));
//! ```

pub mod border;
pub mod geometric;
pub mod intensity;
pub mod limit;
pub mod offline;
pub mod paste;
pub mod pipeline;
pub mod rng;
pub mod round;

pub use boneseg_data::plane::{Plane, Sample};
pub use paste::{DatasetDonors, DonorSource, Donors};
pub use pipeline::{ConfigError, Pipeline, Step, Transform, sample_seed};
