//! Copy-paste: a bone of another image (its pixels under its mask, with its labels) pasted
//! onto the same bone of the sample, as the teams that beat the reference did for the weak
//! carpals.
//!
//! ```toml
//! [[augment]]
//! name = "copy_paste"
//! p = 0.5
//! classes = ["Trapezoid", "Pisiform"]   # names or groups; default below
//! bones = 2                              # bones pasted per application (default 1)
//! ```
//!
//! How one bone of class `c` is pasted:
//! - The donor is another image of the training set ([`Donors`]), drawn from the sample's seed;
//!   one without class `c` is passed over (up to a few draws).
//! - The donor's bone is placed with its centroid on the centroid of the sample's own bone of
//!   class `c` ("the same class position"); a sample without that bone (a crop that missed it)
//!   gets nothing for that class. A donor of the other hand (thumb on the other side) is
//!   mirrored first, so a left Pisiform is never pasted onto a right hand.
//! - Every pixel under the donor's mask takes the donor's grey value and the donor's whole label
//!   word there (its class `c` bit and any bone it overlaps in the donor): the labels say what
//!   the pixels show. Outside the pasted mask nothing changes, so the sample's own bone `c` still
//!   visible around the paste keeps its label and the class's mask is the union of both.
//!
//! Donors are samples at the same scale as the one augmented (the loader's training cache, or
//! a dataset read by [`DatasetDonors`] for `boneseg augment preview`), so copy-paste must come
//! before any transform that rotates, rescales or distorts the sample ([`crate::Pipeline`]
//! refuses the other order). Without donors ([`Donors::none`]) the step changes nothing.

use std::path::Path;
use std::sync::Arc;

use boneseg_contract::{NUM_CLASSES, class_set};
use boneseg_data::image_io::read_gray;
use boneseg_data::labels::LabelOptions;
use boneseg_data::plane::Sample;
use boneseg_data::{DataError, ImageEntry, labels};
use rayon::prelude::*;
use serde::Deserialize;

use crate::geometric::resize::resize;
use crate::rng::Rng;

/// Images whose bones may be pasted onto a sample.
pub trait DonorSource: Sync {
    /// How many donor images there are.
    fn donor_count(&self) -> usize;
    /// Donor `index` with its labels, at the scale of the samples being augmented.
    fn donor(&self, index: usize) -> Arc<Sample>;
}

/// The donors of one sample: a source, less the sample itself when it is one of them.
#[derive(Clone, Copy)]
pub struct Donors<'a> {
    source: Option<&'a dyn DonorSource>,
    recipient: Option<usize>,
}

impl<'a> Donors<'a> {
    /// The images of `source`, except `recipient` (the sample's own index in it, if any).
    pub fn new(source: &'a dyn DonorSource, recipient: Option<usize>) -> Self {
        Donors { source: Some(source), recipient }
    }

    /// No donors: copy-paste steps change nothing.
    pub fn none() -> Self {
        Donors { source: None, recipient: None }
    }

    /// A donor other than the recipient, drawn from `rng`; `None` without any.
    fn draw(&self, rng: &mut Rng) -> Option<Arc<Sample>> {
        let source = self.source?;
        let others = source.donor_count() - usize::from(self.recipient.is_some());
        if others == 0 {
            return None;
        }
        let mut index = rng.int(0, others as i64 - 1) as usize;
        if self.recipient.is_some_and(|recipient| index >= recipient) {
            index += 1;
        }
        Some(source.donor(index))
    }
}

/// Donor draws for one bone before its class is given up (a donor may lack the bone).
const DRAWS: usize = 4;

fn default_classes() -> Vec<String> {
    ["Trapezium", "Trapezoid", "Triquetrum", "Pisiform"].map(String::from).to_vec()
}

fn one() -> usize {
    1
}

/// The `copy_paste` step's parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyPaste {
    /// Classes whose bones are pasted: names or groups (`"carpals"`). Default: Trapezium,
    /// Trapezoid, Triquetrum and Pisiform: the two overlapping pairs of carpals that hold the
    /// smallest ones (Pisiform, Trapezoid).
    #[serde(default = "default_classes")]
    pub classes: Vec<String>,
    /// Bones pasted per application, of distinct classes drawn from `classes`, each from its
    /// own donor.
    #[serde(default = "one")]
    pub bones: usize,
}

impl CopyPaste {
    /// What serde cannot check: known class names, at least one bone.
    pub fn check(&self) -> Result<(), String> {
        let classes = class_set(&self.classes)?;
        if classes.is_empty() {
            return Err("classes is empty; name at least one class or group".into());
        }
        if self.bones == 0 {
            return Err("bones must be at least 1".into());
        }
        Ok(())
    }

    /// Pastes up to `bones` bones onto `sample` (see the module docs).
    pub fn apply(&self, rng: &mut Rng, mut sample: Sample, donors: &Donors) -> Sample {
        let mut classes = class_set(&self.classes).expect("checked when the pipeline was built");
        let recipient = Layout::of(&sample);
        for _ in 0..self.bones.min(classes.len()) {
            let class = classes.swap_remove(rng.int(0, classes.len() as i64 - 1) as usize);
            let Some(target) = recipient.centroid(class) else { continue };
            for _ in 0..DRAWS {
                let Some(donor) = donors.draw(rng) else { return sample };
                let layout = Layout::of(&donor);
                if let Some(source) = layout.centroid(class) {
                    let mirror = matches!(
                        (recipient.thumb_on_left(), layout.thumb_on_left()),
                        (Some(a), Some(b)) if a != b
                    );
                    paste(&mut sample, &donor, class, source, target, mirror);
                    break;
                }
            }
        }
        sample
    }
}

/// Copies the pixels of `donor`'s class `class` onto `sample`, the donor point `source` landing
/// on `target`, mirrored about the bone's centroid column when `mirror`.
fn paste(
    sample: &mut Sample,
    donor: &Sample,
    class: usize,
    source: (f64, f64),
    target: (f64, f64),
    mirror: bool,
) {
    let bit = 1u32 << class;
    let (width, height) = (sample.width() as i64, sample.height() as i64);
    let donor_width = donor.width();
    for (i, &word) in donor.labels.data.iter().enumerate() {
        if word & bit == 0 {
            continue;
        }
        let (dx, dy) = ((i % donor_width) as f64, (i / donor_width) as f64);
        let along = if mirror { source.0 - dx } else { dx - source.0 };
        let x = (target.0 + along).round() as i64;
        let y = (target.1 + dy - source.1).round() as i64;
        if (0..width).contains(&x) && (0..height).contains(&y) {
            let at = (y * width + x) as usize;
            sample.image.data[at] = donor.image.data[i];
            sample.labels.data[at] = word;
        }
    }
}

/// Classes on the thumb side of a hand (finger-1..3, Trapezium, Scaphoid, Radius) and on the
/// little-finger side (finger-16..19, Hamate, Triquetrum, Pisiform, Ulna).
const THUMB_SIDE: [usize; 6] = [0, 1, 2, 19, 23, 27];
const LITTLE_SIDE: [usize; 7] = [15, 16, 17, 18, 22, 25, 26];

/// The pixel centroid of every class of a sample.
struct Layout {
    centroids: [Option<(f64, f64)>; NUM_CLASSES],
}

impl Layout {
    fn of(sample: &Sample) -> Layout {
        let mut sums = [(0f64, 0f64, 0u64); NUM_CLASSES];
        let width = sample.width();
        for (i, &word) in sample.labels.data.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let class = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(sum) = sums.get_mut(class) {
                    sum.0 += (i % width) as f64;
                    sum.1 += (i / width) as f64;
                    sum.2 += 1;
                }
            }
        }
        Layout { centroids: sums.map(|(x, y, n)| (n > 0).then(|| (x / n as f64, y / n as f64))) }
    }

    fn centroid(&self, class: usize) -> Option<(f64, f64)> {
        self.centroids[class]
    }

    /// Whether the thumb side lies left of the little-finger side; `None` when the sample
    /// shows no bone of one of the sides.
    fn thumb_on_left(&self) -> Option<bool> {
        let mean_x = |classes: &[usize]| {
            let xs: Vec<f64> = classes.iter().filter_map(|&c| self.centroids[c]).map(|(x, _)| x).collect();
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
        };
        Some(mean_x(&THUMB_SIDE)? < mean_x(&LITTLE_SIDE)?)
    }
}

/// Labelled images of a dataset as donors, read once: what `boneseg augment preview` pastes
/// from. Each is resized to `width x height` (the image previewed) when its size differs.
pub struct DatasetDonors {
    samples: Vec<Arc<Sample>>,
}

impl DatasetDonors {
    /// Up to `limit` of the labelled `entries` (a dataset's `train`), evenly spread over them,
    /// less `recipient` (the image being previewed), decoded in parallel.
    pub fn read(
        entries: &[ImageEntry],
        recipient: Option<&Path>,
        options: LabelOptions,
        size: (usize, usize),
        limit: usize,
    ) -> Result<Self, DataError> {
        let canonical = |path: &Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let skip = recipient.map(canonical);
        let candidates: Vec<&ImageEntry> =
            entries.iter().filter(|e| e.label.is_some() && Some(canonical(&e.image)) != skip).collect();
        let step = candidates.len().div_ceil(limit.max(1)).max(1);
        let chosen: Vec<&ImageEntry> = candidates.into_iter().step_by(step).collect();
        let samples = chosen
            .par_iter()
            .map(|entry| {
                let image = read_gray(&entry.image)?;
                let masks = labels::load(entry, options)?.masks;
                let sample = Sample::from_masks(&image, &masks);
                let (width, height) = size;
                let sample = if (sample.width(), sample.height()) == (width, height) {
                    sample
                } else {
                    resize(&sample, width, height)
                };
                Ok(Arc::new(sample))
            })
            .collect::<Result<_, DataError>>()?;
        Ok(DatasetDonors { samples })
    }
}

impl DonorSource for DatasetDonors {
    fn donor_count(&self) -> usize {
        self.samples.len()
    }

    fn donor(&self, index: usize) -> Arc<Sample> {
        Arc::clone(&self.samples[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pipeline;
    use boneseg_data::plane::Plane;

    const PISIFORM: usize = 26;
    const RADIUS: usize = 27;
    const ULNA: usize = 28;

    /// A 32² hand with the radius at the left (`thumb_left`) or right edge, the ulna at the other,
    /// and a Pisiform given as the pixels of `bone` (relative to `at`), its grey `grey`.
    fn hand(thumb_left: bool, at: (usize, usize), bone: &[(usize, usize)], grey: u8) -> Sample {
        let mut image = Plane::from_fn(32, 32, |_, _| 10u8);
        let mut labels = Plane::from_fn(32, 32, |x, y| {
            let (radius, ulna) = if thumb_left { (x < 3, x > 28) } else { (x > 28, x < 3) };
            match y > 28 {
                true if radius => 1 << RADIUS,
                true if ulna => 1 << ULNA,
                _ => 0,
            }
        });
        for &(dx, dy) in bone {
            let i = (at.1 + dy) * 32 + at.0 + dx;
            image.data[i] = grey;
            labels.data[i] |= 1 << PISIFORM;
        }
        Sample::new(image, labels)
    }

    struct Fixed(Vec<Arc<Sample>>);

    impl DonorSource for Fixed {
        fn donor_count(&self) -> usize {
            self.0.len()
        }
        fn donor(&self, index: usize) -> Arc<Sample> {
            Arc::clone(&self.0[index])
        }
    }

    fn paste_pisiform() -> Pipeline {
        Pipeline::parse("[[augment]]\nname = \"copy_paste\"\np = 1\nclasses = [\"Pisiform\"]").unwrap()
    }

    /// An L of five pixels: (0,0) (0,1) (0,2) (1,2) (2,2); its centroid is (0.6, 1.4).
    const L: [(usize, usize); 5] = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2)];

    fn pisiform_pixels(sample: &Sample) -> Vec<(usize, usize, u8)> {
        (0..32 * 32)
            .filter(|&i| sample.labels.data[i] >> PISIFORM & 1 == 1)
            .map(|i| (i % 32, i / 32, sample.image.data[i]))
            .collect()
    }

    #[test]
    fn the_donor_bone_lands_on_the_sample_bone_with_its_pixels_and_labels() {
        let recipient = hand(true, (10, 10), &[(0, 0), (1, 0), (0, 1), (1, 1)], 100);
        let donor = hand(true, (20, 4), &L, 200);
        let donors = Fixed(vec![Arc::new(recipient.clone()), Arc::new(donor)]);
        let out = paste_pisiform().apply_with(5, recipient.clone(), &Donors::new(&donors, Some(0)));
        // The 2x2 bone's centroid (10.5, 10.5) receives the L's (20.6, 5.4): an offset of
        // (-10.1, +5.1), rounded per pixel.
        let pasted: Vec<(usize, usize)> = L.iter().map(|&(dx, dy)| (10 + dx, 9 + dy)).collect();
        for &(x, y) in &pasted {
            assert_eq!(out.image.at(x, y), 200, "donor grey at ({x}, {y})");
            assert_eq!(out.labels.at(x, y), 1 << PISIFORM);
        }
        // The sample's own bone outside the paste keeps its pixels and label: the union.
        assert_eq!((out.image.at(11, 10), out.labels.at(11, 10)), (100, 1 << PISIFORM));
        assert_eq!(pisiform_pixels(&out).len(), 6);
        // Nothing else moved.
        let changed = (0..32 * 32).filter(|&i| out.image.data[i] != recipient.image.data[i]).count();
        assert_eq!(changed, 5, "only the five pixels of the L changed grey");
        assert_eq!(out, paste_pisiform().apply_with(5, recipient, &Donors::new(&donors, Some(0))), "seeded");
    }

    #[test]
    fn a_donor_of_the_other_hand_is_mirrored() {
        let recipient = hand(true, (10, 10), &[(0, 0)], 100);
        let donor = hand(false, (20, 4), &L, 200);
        let donors = Fixed(vec![Arc::new(donor)]);
        let out = paste_pisiform().apply_with(0, recipient, &Donors::new(&donors, None));
        let mut got: Vec<(usize, usize)> =
            pisiform_pixels(&out).into_iter().filter(|p| p.2 == 200).map(|p| (p.0, p.1)).collect();
        got.sort_unstable();
        // Mirrored about its centroid column (x 0.6): x -> 1.2 - x, placed at (10, 10).
        let mut expected: Vec<(usize, usize)> = L
            .iter()
            .map(|&(dx, dy)| {
                ((10.0 + 0.6 - dx as f64).round() as usize, (10.0 + dy as f64 - 1.4).round() as usize)
            })
            .collect();
        expected.sort_unstable();
        assert_eq!(got, expected);
    }

    #[test]
    fn nothing_is_pasted_without_the_bone_or_without_donors() {
        let without = hand(true, (10, 10), &[], 100);
        let donors = Fixed(vec![Arc::new(hand(true, (20, 4), &L, 200))]);
        assert_eq!(paste_pisiform().apply_with(1, without.clone(), &Donors::new(&donors, None)), without);
        let with = hand(true, (10, 10), &[(0, 0)], 100);
        assert_eq!(paste_pisiform().apply(1, with.clone()), with, "no donors");
        assert_eq!(
            paste_pisiform().apply_with(1, with.clone(), &Donors::new(&donors, Some(0))),
            with,
            "the only donor is the sample itself"
        );
        let lacking = Fixed(vec![Arc::new(without.clone())]);
        assert_eq!(paste_pisiform().apply_with(1, with.clone(), &Donors::new(&lacking, None)), with);
    }

    #[test]
    fn the_step_is_checked_and_must_precede_reshaping_steps() {
        let err = |text: &str| Pipeline::parse(text).unwrap_err().to_string();
        let unknown = err("[[augment]]\nname = \"copy_paste\"\nclasses = [\"pisiform\"]");
        assert!(unknown.contains("augment[0] (copy_paste): unknown class `pisiform`"), "{unknown}");
        let zero = err("[[augment]]\nname = \"copy_paste\"\nbones = 0");
        assert!(zero.contains("augment[0] (copy_paste): bones must be at least 1"), "{zero}");
        let late = err(
            "[[augment]]\nname = \"hflip\"\n[[augment]]\nname = \"rotate\"\n[[augment]]\nname = \"copy_paste\"",
        );
        assert!(
            late.contains("augment[2] (copy_paste): copy_paste must come before augment[1] (rotate)"),
            "{late}"
        );
        let grouped = "[[augment]]\nname = \"hflip\"\n[[augment]]\nname = \"one_of\"\n[[augment.transforms]]\nname = \"copy_paste\"\n[[augment]]\nname = \"rotate\"";
        let pipeline = Pipeline::parse(grouped).unwrap();
        assert!(pipeline.needs_donors());
        assert!(!Pipeline::parse("[[augment]]\nname = \"hflip\"").unwrap().needs_donors());
        let defaults = Pipeline::parse("[[augment]]\nname = \"CopyPaste\"").unwrap();
        let crate::Transform::CopyPaste(step) = &defaults.steps[0].transform else { panic!("copy_paste") };
        assert_eq!((step.classes.len(), step.bones), (4, 1));
    }
}
