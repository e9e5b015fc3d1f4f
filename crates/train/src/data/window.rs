//! Where a training crop (`data.crop`) is cut: anywhere at random, or, for a share of the
//! samples (`data.crop_focus`), around a bone of a chosen class set, so that the small bones
//! the metric weighs as much as a radius are seen more often and at full resolution (a team
//! lifted Pisiform 0.82 -> 0.89 and Trapezoid 0.87 -> 0.90 on validation this way).
//!
//! ```toml
//! [data]
//! crop = 256
//! crop_focus = { share = 0.5, classes = ["carpals", "finger-16"] }
//! ```
//!
//! A focused window contains the chosen bone's centre in its middle half (a uniform offset of
//! up to a quarter of the side either way), so the bone is never cut by the window's edge more
//! than its size forces and does not always sit at the same place in it. Validation always sees
//! whole images.

use boneseg_augment::geometric::resize::crop;
use boneseg_augment::rng::{Random, Rng};
use boneseg_contract::class_set;
use boneseg_data::plane::Sample;
use serde::{Deserialize, Serialize};

/// `data.crop_focus`: the share of crops centred on a bone of `classes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CropFocus {
    /// Share of training crops centred on a chosen bone (0 to 1; default 0.5).
    #[serde(default = "default_share")]
    pub share: f64,
    /// Class names or groups (`"carpals"`, `"fingers"`); default: the carpals (Pisiform and
    /// Trapezoid among them) and finger-16, the smallest bones.
    #[serde(default = "default_classes")]
    pub classes: Vec<String>,
}

fn default_share() -> f64 {
    0.5
}

fn default_classes() -> Vec<String> {
    vec!["carpals".into(), "finger-16".into()]
}

impl Default for CropFocus {
    fn default() -> Self {
        CropFocus { share: default_share(), classes: default_classes() }
    }
}

impl CropFocus {
    /// The focus ready to use, or what is wrong with it (the caller names the key).
    pub fn resolve(&self) -> Result<Focus, String> {
        if !(0.0..=1.0).contains(&self.share) {
            return Err(format!("share = {} must lie between 0 and 1", self.share));
        }
        let classes = class_set(&self.classes)?;
        if classes.is_empty() {
            return Err("classes is empty; name at least one class or group".into());
        }
        Ok(Focus { share: self.share, classes: classes.iter().fold(0, |bits, &c| bits | 1 << c) })
    }
}

/// A resolved [`CropFocus`]: the share and the classes as a bit set over the label words.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Focus {
    pub share: f64,
    pub classes: u32,
}

/// Stream of the focus draws: a sample whose crop is not focused keeps the window an unfocused
/// run draws for it.
const FOCUS_STREAM: u64 = 0xF0C5_C409_11AA_0001;

/// A `side x side` window of `sample` drawn from `seed`: around a bone of `focus`'s classes
/// for its share of the samples (those that have such a bone), else anywhere.
pub fn training_window(sample: &Sample, side: usize, seed: u64, focus: Option<&Focus>) -> Sample {
    let (x, y) = focus
        .and_then(|focus| focused_origin(sample, side, seed, focus))
        .unwrap_or_else(|| random_origin(sample, side, seed));
    crop(sample, x, y, side, side)
}

/// A uniform window position (its own stream, so the augmentation's draws stay those of an
/// uncropped run).
fn random_origin(sample: &Sample, side: usize, seed: u64) -> (usize, usize) {
    let mut rng = Rng::new(seed ^ 0x5EED_C409);
    let mut offset =
        |extent: usize| (rng.uniform(0.0, (extent - side + 1) as f64) as usize).min(extent - side);
    (offset(sample.width()), offset(sample.height()))
}

/// The window around one of the focus bones present, chosen uniformly among them; `None` when
/// this sample is not to be focused or has none of them.
fn focused_origin(sample: &Sample, side: usize, seed: u64, focus: &Focus) -> Option<(usize, usize)> {
    let mut rng = Rng::new(seed ^ FOCUS_STREAM);
    if !rng.chance(focus.share) {
        return None;
    }
    let boxes = bounding_boxes(sample, focus.classes);
    let present: Vec<&Box> = boxes.iter().flatten().collect();
    if present.is_empty() {
        return None;
    }
    let chosen = present[rng.int(0, present.len() as i64 - 1) as usize];
    let quarter = side as f64 / 4.0;
    let mut place = |centre: f64, extent: usize| {
        let start = centre + rng.uniform(-quarter, quarter) - side as f64 / 2.0;
        start.round().clamp(0.0, (extent - side) as f64) as usize
    };
    let x = place((chosen.x0 + chosen.x1) as f64 / 2.0, sample.width());
    let y = place((chosen.y0 + chosen.y1) as f64 / 2.0, sample.height());
    Some((x, y))
}

/// A class's pixel extent, `x0..=x1`, `y0..=y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Box {
    x0: usize,
    x1: usize,
    y0: usize,
    y1: usize,
}

/// The bounding box of each class in `classes` (a bit set), `None` where the class is absent.
fn bounding_boxes(sample: &Sample, classes: u32) -> Vec<Option<Box>> {
    let mut boxes: Vec<Option<Box>> = vec![None; 32];
    let width = sample.width();
    for (i, &word) in sample.labels.data.iter().enumerate() {
        let mut bits = word & classes;
        while bits != 0 {
            let class = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let (x, y) = (i % width, i / width);
            let extent = boxes[class].get_or_insert(Box { x0: x, x1: x, y0: y, y1: y });
            extent.x0 = extent.x0.min(x);
            extent.x1 = extent.x1.max(x);
            extent.y1 = y;
        }
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;
    use boneseg_data::plane::Plane;

    /// A 64² sample with class 26 (Pisiform) in a 4x4 block at (50..54, 6..10).
    fn sample() -> Sample {
        let image = Plane::from_fn(64, 64, |x, y| (x + y) as u8);
        let labels =
            Plane::from_fn(64, 64, |x, y| u32::from((50..54).contains(&x) && (6..10).contains(&y)) << 26);
        Sample::new(image, labels)
    }

    #[test]
    fn a_focused_window_holds_the_bone_in_its_middle_half() {
        let focus = CropFocus { share: 1.0, classes: vec!["Pisiform".into()] }.resolve().unwrap();
        for seed in 0..50 {
            let window = training_window(&sample(), 16, seed, Some(&focus));
            let inside = window.labels.data.iter().filter(|&&w| w != 0).count();
            assert_eq!(inside, 16, "seed {seed}: the whole bone is in the window");
        }
        // Without focus, most 16² windows of a 64² image miss a 4² bone.
        let missed = (0..50)
            .filter(|&seed| training_window(&sample(), 16, seed, None).labels.data.iter().all(|&w| w == 0));
        assert!(missed.count() > 25);
    }

    #[test]
    fn the_share_is_kept_and_unfocused_windows_do_not_move() {
        let focus = CropFocus { share: 0.3, classes: vec!["carpals".into()] }.resolve().unwrap();
        let mut focused = 0;
        for seed in 0..400 {
            let plain = training_window(&sample(), 16, seed, None);
            let window = training_window(&sample(), 16, seed, Some(&focus));
            if window != plain {
                focused += 1;
            }
        }
        // A focused draw can land on the random window by chance; it rarely does.
        assert!((80..=160).contains(&focused), "{focused} of 400 focused at share 0.3");
        let absent = CropFocus { share: 1.0, classes: vec!["Radius".into()] }.resolve().unwrap();
        assert_eq!(training_window(&sample(), 16, 3, Some(&absent)), training_window(&sample(), 16, 3, None));
    }

    #[test]
    fn mistakes_are_named() {
        let bad_share = CropFocus { share: 1.5, ..CropFocus::default() }.resolve().unwrap_err();
        assert!(bad_share.contains("share = 1.5 must lie between 0 and 1"), "{bad_share}");
        let unknown =
            CropFocus { classes: vec!["wrist".into()], ..CropFocus::default() }.resolve().unwrap_err();
        assert!(unknown.contains("unknown class `wrist`"), "{unknown}");
        let empty = CropFocus { classes: vec![], ..CropFocus::default() }.resolve().unwrap_err();
        assert!(empty.contains("classes is empty"), "{empty}");
        assert_eq!(CropFocus::default().resolve().unwrap().classes.count_ones(), 9);
    }
}
