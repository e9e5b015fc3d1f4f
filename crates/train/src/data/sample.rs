//! One image as the cache keeps it: the grey image and its 29 masks at training size, and the
//! masks at the original size for validation, all decoded once.
//!
//! Sizes: a 512² sample is 256 KiB of image plus a few tens of KiB of label runs, so a whole
//! 800-image training set fits in a few hundred MiB; nothing is ever held as `f32`.
//!
//! Resizing, and why:
//! - The image is resized like `cv2.resize(..., INTER_LINEAR)` (bilinear, pixel centres aligned),
//!   which is what the reference pipeline's `A.Resize` did: weights trained there see the same
//!   input here, and `boneseg predict` resizes test images with the same function.
//! - Masks are rasterised at full size and reduced by **area majority**: a training pixel belongs
//!   to a class when at least half of the original pixels it covers do. This keeps the masks
//!   centred on the image's pixels, which is what validation assumes when it upsamples logits
//!   with `align_corners = false`. (The reference's `INTER_NEAREST` takes the top-left pixel of
//!   each block, which shifts a 4x-reduced mask 1.5 original pixels up and left of its image.)

use boneseg_contract::{BitMask, ClassMasks, NUM_CLASSES};
use boneseg_data::image_io::GrayImage;
use boneseg_data::plane::{Plane, Sample, gray_to_plane, plane_to_gray};
use boneseg_data::resize::resize_linear;

/// An image and its labels, decoded and resized for training, with the full-size truth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedSample {
    /// Side of the training square.
    pub size: usize,
    /// Grey pixels, `size x size`, row-major.
    pub image: Vec<u8>,
    /// The 29 masks at training size, packed one bit per class into a `u32` per pixel (as
    /// boneseg-augment's planes), stored as runs `(word, length)` of the row-major plane.
    pub labels: Vec<(u32, u32)>,
    /// The masks at the image's original size, for validation.
    pub truth: Truth,
}

impl CachedSample {
    /// Builds a sample from a decoded image and its full-size masks.
    pub fn new(image: &GrayImage, masks: &ClassMasks, size: usize) -> CachedSample {
        assert_eq!(
            (image.width() as usize, image.height() as usize),
            (masks.width(), masks.height()),
            "image and masks differ in size"
        );
        let small = resize_image(image, size);
        let labels = plane_runs(&downscale_masks(masks, size).data);
        CachedSample { size, image: small.into_raw(), labels, truth: Truth::from_masks(masks) }
    }

    /// The image and packed labels as boneseg-augment's sample, ready to augment.
    pub fn to_sample(&self) -> Sample {
        let labels = Plane::from_vec(self.size, self.size, expand_runs(&self.labels, self.size * self.size));
        Sample::new(Plane::from_vec(self.size, self.size, self.image.clone()), labels)
    }

    /// The masks at training size.
    pub fn masks(&self) -> ClassMasks {
        boneseg_data::plane::unpack(&self.to_sample().labels)
    }

    /// Bytes held in memory (what the cache's budget counts).
    pub fn bytes(&self) -> u64 {
        (self.image.len() + 8 * self.labels.len() + 8 * self.truth.run_count()) as u64
    }
}

/// The 29 masks at the original size, kept as runs: a bone's mask is one run per row it
/// spans, so a 2048² image's truth is tens of KiB instead of 14.5 MiB of bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truth {
    pub height: usize,
    pub width: usize,
    /// Per class, runs `(start, length)` of the row-major flattening.
    pub runs: Vec<Vec<(u32, u32)>>,
}

impl Truth {
    pub fn from_masks(masks: &ClassMasks) -> Truth {
        let runs = masks.iter().map(|m| m.runs().map(|(s, l)| (s as u32, l as u32)).collect()).collect();
        Truth { height: masks.height(), width: masks.width(), runs }
    }

    /// The mask of one class.
    pub fn class(&self, class: usize) -> BitMask {
        let mut mask = BitMask::new(self.height, self.width);
        for &(start, length) in &self.runs[class] {
            mask.set_range(start as usize, (start + length) as usize);
        }
        mask
    }

    /// All 29 masks.
    pub fn masks(&self) -> ClassMasks {
        let mut masks = ClassMasks::new(self.height, self.width);
        for class in 0..NUM_CLASSES {
            *masks.class_mut(class) = self.class(class);
        }
        masks
    }

    fn run_count(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }
}

/// Resizes a grey image to `size x size` like `cv2.resize(..., INTER_LINEAR)`; the training
/// cache and prediction both use it, so a model sees test images exactly as it saw training ones.
pub fn resize_image(image: &GrayImage, size: usize) -> GrayImage {
    if (image.width() as usize, image.height() as usize) == (size, size) {
        return image.clone();
    }
    plane_to_gray(&resize_linear(&gray_to_plane(image), size, size))
}

/// The masks at `size x size` by area majority (see the module docs), packed one bit per class.
pub fn downscale_masks(masks: &ClassMasks, size: usize) -> Plane<u32> {
    let (height, width) = (masks.height(), masks.width());
    let rows = coverage(height, size);
    let cols = coverage(width, size);
    let half = 0.5 * (height as f64 / size as f64) * (width as f64 / size as f64);
    let mut plane = Plane::new(size, size);
    let mut area = vec![0f64; size * size];
    for (class, mask) in masks.iter().enumerate() {
        if mask.is_empty() {
            continue;
        }
        area.fill(0.0);
        for (start, length) in mask.runs() {
            // A run may cross rows: cut it into row segments.
            let (mut at, end) = (start, start + length);
            while at < end {
                let (y, x0) = (at / width, at % width);
                let x1 = (x0 + end - at).min(width);
                for &(oy, wy) in &rows[y] {
                    let out_row = &mut area[oy * size..(oy + 1) * size];
                    for taps in &cols[x0..x1] {
                        for &(ox, wx) in taps {
                            out_row[ox] += wy * wx;
                        }
                    }
                }
                at += x1 - x0;
            }
        }
        for (word, &covered) in plane.data.iter_mut().zip(&area) {
            // A relative tolerance so that an exact half of a fractional-scale pixel, summed in
            // another order, still counts as half.
            if covered >= half * (1.0 - 1e-9) {
                *word |= 1 << class;
            }
        }
    }
    plane
}

/// For each source index, the output indices its unit interval overlaps and by how much, when
/// `src` pixels are mapped onto `dst` (output pixel `o` covers `[o, o + 1) * src / dst`).
fn coverage(src: usize, dst: usize) -> Vec<Vec<(usize, f64)>> {
    let scale = src as f64 / dst as f64;
    (0..src)
        .map(|i| {
            let (lo, hi) = (i as f64, i as f64 + 1.0);
            let first = ((lo / scale).floor() as usize).min(dst - 1);
            let last = ((hi / scale).ceil() as usize).clamp(first + 1, dst);
            (first..last)
                .filter_map(|o| {
                    let overlap = hi.min((o + 1) as f64 * scale) - lo.max(o as f64 * scale);
                    (overlap > 0.0).then_some((o, overlap))
                })
                .collect()
        })
        .collect()
}

/// Runs `(value, length)` of a plane's words.
pub fn plane_runs(data: &[u32]) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &word in data {
        match runs.last_mut() {
            Some((value, length)) if *value == word => *length += 1,
            _ => runs.push((word, 1)),
        }
    }
    runs
}

/// The plane of `len` words that [`plane_runs`] encoded.
pub fn expand_runs(runs: &[(u32, u32)], len: usize) -> Vec<u32> {
    let mut data = Vec::with_capacity(len);
    for &(value, length) in runs {
        data.extend(std::iter::repeat_n(value, length as usize));
    }
    assert_eq!(data.len(), len, "label runs cover {} pixels, expected {len}", data.len());
    data
}
