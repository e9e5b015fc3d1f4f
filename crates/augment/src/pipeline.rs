//! A list of transforms with a probability each, and `one_of` groups, described in TOML the way
//! albumentations users write `A.Compose`:
//!
//! ```toml
//! [[augment]]
//! name = "horizontal_flip"
//! p = 0.5
//!
//! [[augment]]
//! name = "clahe"
//! p = 0.5
//! clip_limit = 2.0
//!
//! [[augment]]
//! name = "one_of"
//! p = 0.8
//! [[augment.transforms]]
//! name = "emboss"
//! [[augment.transforms]]
//! name = "sharpen"
//! p = 2.0          # weights inside one_of are relative, as in albumentations
//! ```
//!
//! Names are albumentations' class names in snake case (`random_brightness_contrast`); the class
//! names themselves (`RandomBrightnessContrast`) are accepted too. Parameters keep
//! albumentations' names, meanings and defaults; `p` defaults to 0.5 as there.

use std::path::{Path, PathBuf};

use boneseg_contract::ClassMasks;
use boneseg_contract::rng::Random;
use image::GrayImage;
use serde::Deserialize;

use crate::geometric::affine::{Rotate, ShiftScaleRotate};
use crate::geometric::distortion::{ElasticTransform, GridDistortion};
use crate::geometric::flip::{hflip, vflip};
use crate::geometric::resize::RandomResizedCrop;
use crate::intensity::clahe::Clahe;
use crate::intensity::filter::{Emboss, GaussianBlur, MedianBlur, Sharpen};
use crate::intensity::jpeg::ImageCompression;
use crate::intensity::lut::{BrightnessContrast, MultiplicativeNoise, RandomGamma, apply_lut, invert_lut};
use crate::intensity::noise::GaussNoise;
use crate::paste::{CopyPaste, Donors};
use crate::rng::Rng;
use boneseg_data::plane::{Sample, plane_to_gray, unpack};

/// A transform without parameters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// One transform and its parameters, selected by `name`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Transform {
    #[serde(alias = "HorizontalFlip", alias = "hflip")]
    HorizontalFlip(NoParams),
    #[serde(alias = "VerticalFlip", alias = "vflip")]
    VerticalFlip(NoParams),
    #[serde(alias = "Rotate")]
    Rotate(Rotate),
    #[serde(alias = "ShiftScaleRotate")]
    ShiftScaleRotate(ShiftScaleRotate),
    #[serde(alias = "RandomResizedCrop")]
    RandomResizedCrop(RandomResizedCrop),
    #[serde(alias = "ElasticTransform", alias = "elastic")]
    ElasticTransform(ElasticTransform),
    #[serde(alias = "GridDistortion")]
    GridDistortion(GridDistortion),
    #[serde(alias = "RandomBrightnessContrast", alias = "brightness_contrast")]
    RandomBrightnessContrast(BrightnessContrast),
    #[serde(alias = "RandomGamma", alias = "gamma")]
    RandomGamma(RandomGamma),
    #[serde(alias = "CLAHE")]
    Clahe(Clahe),
    #[serde(alias = "Emboss")]
    Emboss(Emboss),
    #[serde(alias = "Sharpen")]
    Sharpen(Sharpen),
    #[serde(alias = "GaussianBlur")]
    GaussianBlur(GaussianBlur),
    #[serde(alias = "MedianBlur")]
    MedianBlur(MedianBlur),
    #[serde(alias = "GaussNoise")]
    GaussNoise(GaussNoise),
    #[serde(alias = "MultiplicativeNoise")]
    MultiplicativeNoise(MultiplicativeNoise),
    #[serde(alias = "ImageCompression", alias = "jpeg")]
    ImageCompression(ImageCompression),
    #[serde(alias = "InvertImg", alias = "invert")]
    InvertImg(NoParams),
    #[serde(alias = "CopyPaste")]
    CopyPaste(CopyPaste),
    #[serde(alias = "OneOf")]
    OneOf(OneOf),
}

/// Applies exactly one of its transforms, chosen with probability proportional to their `p`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneOf {
    pub transforms: Vec<Step>,
}

fn half() -> f64 {
    0.5
}

/// A transform applied with probability `p`.
#[derive(Clone, Debug, Deserialize)]
pub struct Step {
    #[serde(default = "half")]
    pub p: f64,
    #[serde(flatten)]
    pub transform: Transform,
}

impl Transform {
    /// The transform's name as written in a config.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::HorizontalFlip(_) => "horizontal_flip",
            Transform::VerticalFlip(_) => "vertical_flip",
            Transform::Rotate(_) => "rotate",
            Transform::ShiftScaleRotate(_) => "shift_scale_rotate",
            Transform::RandomResizedCrop(_) => "random_resized_crop",
            Transform::ElasticTransform(_) => "elastic_transform",
            Transform::GridDistortion(_) => "grid_distortion",
            Transform::RandomBrightnessContrast(_) => "random_brightness_contrast",
            Transform::RandomGamma(_) => "random_gamma",
            Transform::Clahe(_) => "clahe",
            Transform::Emboss(_) => "emboss",
            Transform::Sharpen(_) => "sharpen",
            Transform::GaussianBlur(_) => "gaussian_blur",
            Transform::MedianBlur(_) => "median_blur",
            Transform::GaussNoise(_) => "gauss_noise",
            Transform::MultiplicativeNoise(_) => "multiplicative_noise",
            Transform::ImageCompression(_) => "image_compression",
            Transform::InvertImg(_) => "invert_img",
            Transform::CopyPaste(_) => "copy_paste",
            Transform::OneOf(_) => "one_of",
        }
    }

    /// Whether the transform moves pixels other than by a flip (so that bones no longer sit
    /// where they do in other images of the dataset).
    fn reshapes(&self) -> bool {
        matches!(
            self,
            Transform::Rotate(_)
                | Transform::ShiftScaleRotate(_)
                | Transform::RandomResizedCrop(_)
                | Transform::ElasticTransform(_)
                | Transform::GridDistortion(_)
        )
    }

    /// Applies the transform (its random parameters drawn from `rng`); copy-paste has no
    /// donors here and changes nothing (see [`Transform::apply_with`]).
    pub fn apply(&self, rng: &mut Rng, sample: Sample) -> Sample {
        self.apply_with(rng, sample, &Donors::none())
    }

    /// Applies the transform, copy-paste taking its bones from `donors`.
    pub fn apply_with(&self, rng: &mut Rng, mut sample: Sample, donors: &Donors) -> Sample {
        let image = &mut sample.image;
        match self {
            Transform::HorizontalFlip(_) => return hflip(&sample),
            Transform::VerticalFlip(_) => return vflip(&sample),
            Transform::Rotate(t) => return t.apply(rng, &sample),
            Transform::ShiftScaleRotate(t) => return t.apply(rng, &sample),
            Transform::RandomResizedCrop(t) => return t.apply(rng, &sample),
            Transform::ElasticTransform(t) => return t.apply(rng, &sample),
            Transform::GridDistortion(t) => return t.apply(rng, &sample),
            Transform::OneOf(one_of) => return one_of.apply(rng, sample, donors),
            Transform::CopyPaste(t) => return t.apply(rng, sample, donors),
            Transform::RandomBrightnessContrast(t) => t.apply(rng, image),
            Transform::RandomGamma(t) => t.apply(rng, image),
            Transform::MultiplicativeNoise(t) => t.apply(rng, image),
            Transform::GaussNoise(t) => t.apply(rng, image),
            Transform::InvertImg(_) => apply_lut(image, &invert_lut()),
            Transform::Clahe(t) => *image = t.apply(rng, image),
            Transform::Emboss(t) => *image = t.apply(rng, image),
            Transform::Sharpen(t) => *image = t.apply(rng, image),
            Transform::GaussianBlur(t) => *image = t.apply(rng, image),
            Transform::MedianBlur(t) => *image = t.apply(rng, image),
            Transform::ImageCompression(t) => *image = t.apply(rng, image),
        }
        sample
    }
}

impl OneOf {
    fn apply(&self, rng: &mut Rng, sample: Sample, donors: &Donors) -> Sample {
        let total: f64 = self.transforms.iter().map(|s| s.p).sum();
        if total <= 0.0 {
            return sample;
        }
        let mut pick = rng.unit() * total;
        for step in &self.transforms {
            if pick < step.p {
                return step.transform.apply_with(rng, sample, donors);
            }
            pick -= step.p;
        }
        let last = self.transforms.last().expect("total > 0 means a transform");
        last.transform.apply_with(rng, sample, donors)
    }
}

/// A config problem, with the file and the step it is in.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}{message}", place(path))]
    Invalid { path: Option<PathBuf>, message: String },
}

fn place(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default()
}

/// The `[[augment]]` list of a TOML file; other keys (the rest of a training config) are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct AugmentConfig {
    #[serde(default)]
    pub augment: Vec<Step>,
}

/// A composed augmentation: every step in order, each with its own probability.
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    pub steps: Vec<Step>,
}

impl Pipeline {
    /// A pipeline of steps, checked (see [`Pipeline::check`]).
    pub fn new(steps: Vec<Step>) -> Result<Pipeline, ConfigError> {
        let pipeline = Pipeline { steps };
        pipeline.check().map_err(|message| ConfigError::Invalid { path: None, message })?;
        Ok(pipeline)
    }

    /// Parses the `[[augment]]` tables of a TOML text.
    pub fn parse(text: &str) -> Result<Pipeline, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: None, message };
        let config: AugmentConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        Pipeline::new(config.augment)
    }

    /// Reads and parses a TOML file.
    pub fn read(path: &Path) -> Result<Pipeline, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Pipeline::parse(&text).map_err(|e| match e {
            ConfigError::Invalid { message, .. } => {
                ConfigError::Invalid { path: Some(path.to_path_buf()), message }
            }
            other => other,
        })
    }

    /// Checks what serde cannot: probabilities, sizes, non-empty groups. The message names the
    /// step as `augment[i]` (and `transforms[j]` inside a `one_of`).
    pub fn check(&self) -> Result<(), String> {
        check_steps(&self.steps, "augment")?;
        check_paste_order(&self.steps)
    }

    /// Augments a sample; the same seed always gives the same result. Copy-paste steps have no
    /// donors here and change nothing: see [`Pipeline::apply_with`].
    pub fn apply(&self, seed: u64, sample: Sample) -> Sample {
        self.apply_with(seed, sample, &Donors::none())
    }

    /// Augments a sample, copy-paste steps taking their bones from `donors`.
    pub fn apply_with(&self, seed: u64, sample: Sample, donors: &Donors) -> Sample {
        let mut rng = Rng::new(seed);
        self.steps.iter().fold(sample, |sample, step| {
            if rng.chance(step.p) { step.transform.apply_with(&mut rng, sample, donors) } else { sample }
        })
    }

    /// Whether a step pastes bones from other images (and so needs donors).
    pub fn needs_donors(&self) -> bool {
        fn any(steps: &[Step]) -> bool {
            steps.iter().any(|step| match &step.transform {
                Transform::CopyPaste(_) => true,
                Transform::OneOf(group) => any(&group.transforms),
                _ => false,
            })
        }
        any(&self.steps)
    }

    /// An image and its masks in, augmented copies out (without donors, as [`Pipeline::apply`]).
    pub fn augment(&self, seed: u64, image: &GrayImage, masks: &ClassMasks) -> (GrayImage, ClassMasks) {
        self.augment_with(seed, image, masks, &Donors::none())
    }

    /// [`Pipeline::augment`] with donors for copy-paste.
    pub fn augment_with(
        &self,
        seed: u64,
        image: &GrayImage,
        masks: &ClassMasks,
        donors: &Donors,
    ) -> (GrayImage, ClassMasks) {
        let out = self.apply_with(seed, Sample::from_masks(image, masks), donors);
        (plane_to_gray(&out.image), unpack(&out.labels))
    }
}

/// A per-sample seed from a run seed, an epoch and a sample index, so that every sample of every
/// epoch gets its own stream whatever the order or the number of workers.
pub fn sample_seed(run_seed: u64, epoch: u64, index: u64) -> u64 {
    let mut rng = Rng::new(run_seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.next_u64() ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03)
}

fn check_steps(steps: &[Step], list: &str) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{list}[{i}] ({})", step.transform.name());
        if !(0.0..=1.0).contains(&step.p) && !list.ends_with("transforms") {
            return Err(format!("{at}: p = {} must be between 0 and 1", step.p));
        }
        if step.p < 0.0 {
            return Err(format!("{at}: p = {} must not be negative", step.p));
        }
        match &step.transform {
            Transform::OneOf(one_of) if one_of.transforms.is_empty() => {
                return Err(format!(
                    "{at}: `transforms` is empty; list at least one [[...transforms]] table"
                ));
            }
            Transform::OneOf(one_of) => check_steps(&one_of.transforms, &format!("{at}.transforms"))?,
            Transform::RandomResizedCrop(t) if t.size.contains(&0) => {
                return Err(format!("{at}: size = {:?} must be positive [height, width]", t.size));
            }
            Transform::Clahe(t) if t.tile_grid_size.contains(&0) => {
                return Err(format!("{at}: tile_grid_size = {:?} must be at least [1, 1]", t.tile_grid_size));
            }
            Transform::GridDistortion(t) if t.num_steps == 0 => {
                return Err(format!("{at}: num_steps must be at least 1"));
            }
            Transform::ElasticTransform(t) if t.sigma <= 0.0 => {
                return Err(format!("{at}: sigma = {} must be positive", t.sigma));
            }
            Transform::CopyPaste(t) => t.check().map_err(|message| format!("{at}: {message}"))?,
            _ => {}
        }
    }
    Ok(())
}

/// Copy-paste places a donor's bone at the dataset's scale and angle, so no step that rotates,
/// rescales or distorts may come before it (flips may: a mirrored hand is handled).
fn check_paste_order(steps: &[Step]) -> Result<(), String> {
    let mut reshaped: Option<String> = None;
    for (i, step) in steps.iter().enumerate() {
        let group = match &step.transform {
            Transform::OneOf(group) => group.transforms.iter().map(|s| &s.transform).collect(),
            single => vec![single],
        };
        if let Some(before) = &reshaped
            && group.iter().any(|t| matches!(t, Transform::CopyPaste(_)))
        {
            return Err(format!(
                "augment[{i}] ({}): copy_paste must come before {before}: donors' bones are pasted at the dataset's scale and angle",
                step.transform.name()
            ));
        }
        if reshaped.is_none()
            && let Some(moving) = group.iter().find(|t| t.reshapes())
        {
            reshaped = Some(format!("augment[{i}] ({})", moving.name()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use boneseg_data::plane::Plane;

    const EVERYTHING: &str = r#"
        [[augment]]
        name = "horizontal_flip"
        [[augment]]
        name = "ShiftScaleRotate"
        p = 1
        rotate_limit = 20
        border_mode = "reflect101"
        [[augment]]
        name = "elastic_transform"
        p = 1.0
        alpha = 8
        sigma = 3
        [[augment]]
        name = "grid_distortion"
        [[augment]]
        name = "random_resized_crop"
        size = [40, 48]
        p = 0.7
        [[augment]]
        name = "clahe"
        clip_limit = 2.0
        tile_grid_size = [4, 4]
        [[augment]]
        name = "one_of"
        p = 0.9
        [[augment.transforms]]
        name = "emboss"
        [[augment.transforms]]
        name = "sharpen"
        p = 2
        [[augment.transforms]]
        name = "gaussian_blur"
        [[augment]]
        name = "random_brightness_contrast"
        [[augment]]
        name = "gauss_noise"
        std_range = [0.05, 0.1]
    "#;

    fn sample() -> Sample {
        let image = Plane::from_fn(64, 50, |x, y| (x * 3 + y * 2) as u8);
        let labels = Plane::from_fn(64, 50, |x, y| {
            u32::from((10..30).contains(&x) && (5..40).contains(&y)) | u32::from(x > 20 && y > 20) << 28
        });
        Sample::new(image, labels)
    }

    #[test]
    fn parses_albumentations_style_toml_with_nested_one_of() {
        let pipeline = Pipeline::parse(EVERYTHING).unwrap();
        assert_eq!(pipeline.steps.len(), 9);
        assert_eq!(pipeline.steps[0].p, 0.5, "albumentations' default p");
        assert_eq!(pipeline.steps[1].transform.name(), "shift_scale_rotate");
        let Transform::OneOf(one_of) = &pipeline.steps[6].transform else { panic!("one_of expected") };
        assert_eq!(one_of.transforms.len(), 3);
        assert_eq!(one_of.transforms[1].p, 2.0);
    }

    #[test]
    fn same_seed_same_result_and_masks_only_move() {
        let pipeline = Pipeline::parse(EVERYTHING).unwrap();
        let a = pipeline.apply(11, sample());
        assert_eq!(a, pipeline.apply(11, sample()), "deterministic");
        let different = (0..8).any(|seed| pipeline.apply(seed, sample()) != a);
        assert!(different, "seeds matter");
        for seed in 0..8 {
            let out = pipeline.apply(seed, sample());
            // Nearest sampling: every output word is a word of the input (or the empty border).
            assert!(out.labels.data.iter().all(|&w| [0, 1, 1 << 28, 1 | 1 << 28].contains(&w)));
        }
    }

    #[test]
    fn the_training_entry_point_keeps_masks_and_image_together() {
        let pipeline = Pipeline::parse("[[augment]]\nname = \"hflip\"\np = 1").unwrap();
        let image = GrayImage::from_fn(8, 4, |x, _| image::Luma([x as u8]));
        let mut masks = ClassMasks::new(4, 8);
        masks.class_mut(3).set_span(1, 0, 1);
        let (out, out_masks) = pipeline.augment(0, &image, &masks);
        assert_eq!(out.get_pixel(0, 0)[0], 7);
        assert!(out_masks.class(3).get(1, 7) && out_masks.class(3).get(1, 6));
        assert_eq!(out_masks.class(3).count(), 2);
    }

    #[test]
    fn mistakes_are_named_with_their_place_and_fix() {
        let err = |text: &str| Pipeline::parse(text).unwrap_err().to_string();
        let unknown = err("[[augment]]\nname = \"clahee\"");
        assert!(
            unknown.contains("unknown variant `clahee`, expected one of") && unknown.contains("`clahe`"),
            "{unknown}"
        );
        let typo = err("[[augment]]\nname = \"clahe\"\nclip_limt = 2.0");
        assert!(typo.contains("clip_limt"), "{typo}");
        let p = err("[[augment]]\nname = \"clahe\"\np = 1.5");
        assert!(p.contains("augment[0] (clahe): p = 1.5 must be between 0 and 1"), "{p}");
        let empty = err("[[augment]]\nname = \"one_of\"\ntransforms = []");
        assert!(empty.contains("augment[0] (one_of): `transforms` is empty"), "{empty}");
        let tiles =
            err("[[augment]]\nname = \"hflip\"\n[[augment]]\nname = \"clahe\"\ntile_grid_size = [0, 8]");
        assert!(tiles.contains("augment[1] (clahe): tile_grid_size"), "{tiles}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aug.toml");
        std::fs::write(&path, "[[augment]]\nname = \"nope\"").unwrap();
        assert!(Pipeline::read(&path).unwrap_err().to_string().starts_with(&path.display().to_string()));
    }

    #[test]
    fn sample_seeds_differ_per_epoch_and_index() {
        assert_ne!(sample_seed(1, 0, 0), sample_seed(1, 0, 1));
        assert_ne!(sample_seed(1, 0, 0), sample_seed(1, 1, 0));
        assert_eq!(sample_seed(1, 2, 3), sample_seed(1, 2, 3));
    }
}
