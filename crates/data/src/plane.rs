//! The two pixel planes every transform works on: the grey image (`u8`) and the labels, the 29
//! class masks packed into one `u32` per pixel (bit `c` = class `c`).
//!
//! Packing the classes makes a geometric transform sample the mask once instead of 29 times,
//! and nearest sampling of a packed word moves every class together, so classes can never be
//! blurred or split apart; the packed plane is 4 bytes a pixel (16 MiB at 2048²) instead of the
//! 29 bytes of one byte per class.

use boneseg_contract::{ClassMasks, NUM_CLASSES};
use image::GrayImage;

/// A row-major plane of pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plane<T> {
    pub width: usize,
    pub height: usize,
    pub data: Vec<T>,
}

impl<T: Copy + Default> Plane<T> {
    /// A plane filled with `T::default()`.
    pub fn new(width: usize, height: usize) -> Self {
        Plane { width, height, data: vec![T::default(); width * height] }
    }

    pub fn from_vec(width: usize, height: usize, data: Vec<T>) -> Self {
        assert_eq!(data.len(), width * height, "a {width}x{height} plane needs {} pixels", width * height);
        Plane { width, height, data }
    }

    /// The pixel at column `x`, row `y`.
    pub fn at(&self, x: usize, y: usize) -> T {
        self.data[y * self.width + x]
    }

    pub fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// A new plane from a function of (x, y).
    pub fn from_fn(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let data = (0..height).flat_map(|y| (0..width).map(move |x| (y, x))).map(|(y, x)| f(x, y)).collect();
        Plane { width, height, data }
    }
}

/// An image with its labels: what the online transforms take and return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub image: Plane<u8>,
    /// One bit per class, same size as the image.
    pub labels: Plane<u32>,
}

impl Sample {
    pub fn new(image: Plane<u8>, labels: Plane<u32>) -> Self {
        assert_eq!(
            (image.width, image.height),
            (labels.width, labels.height),
            "image and labels differ in size"
        );
        Sample { image, labels }
    }

    /// A sample from a grey image and its class masks.
    pub fn from_masks(image: &GrayImage, masks: &ClassMasks) -> Self {
        Sample::new(gray_to_plane(image), pack(masks))
    }

    pub fn width(&self) -> usize {
        self.image.width
    }

    pub fn height(&self) -> usize {
        self.image.height
    }
}

pub fn gray_to_plane(image: &GrayImage) -> Plane<u8> {
    Plane::from_vec(image.width() as usize, image.height() as usize, image.as_raw().clone())
}

pub fn plane_to_gray(plane: &Plane<u8>) -> GrayImage {
    GrayImage::from_raw(plane.width as u32, plane.height as u32, plane.data.clone())
        .expect("a plane holds width * height pixels")
}

/// The 29 class masks packed into one word per pixel.
pub fn pack(masks: &ClassMasks) -> Plane<u32> {
    let mut plane = Plane::new(masks.width(), masks.height());
    for (class, mask) in masks.iter().enumerate() {
        for (start, length) in mask.runs() {
            for word in &mut plane.data[start..start + length] {
                *word |= 1 << class;
            }
        }
    }
    plane
}

/// The class masks of a packed plane, in one pass: a run of a class starts or ends only where
/// the packed word changes, so only those pixels do any work.
pub fn unpack(labels: &Plane<u32>) -> ClassMasks {
    let mut masks = ClassMasks::new(labels.height, labels.width);
    let mut starts = [0usize; NUM_CLASSES];
    let mut previous = 0u32;
    for (i, &word) in labels.data.iter().chain(std::iter::once(&0)).enumerate() {
        let mut changed = (word ^ previous) & ((1 << NUM_CLASSES) - 1);
        while changed != 0 {
            let class = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            if word >> class & 1 == 1 {
                starts[class] = i;
            } else {
                masks.class_mut(class).set_range(starts[class], i);
            }
        }
        previous = word;
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_overlapping_classes() {
        let mut masks = ClassMasks::new(5, 7);
        masks.class_mut(0).set_span(1, 0, 6);
        masks.class_mut(28).set_span(1, 3, 4);
        masks.class_mut(28).set_range(30, 35);
        let packed = pack(&masks);
        assert_eq!(packed.at(3, 1), 1 | 1 << 28, "overlap keeps both classes");
        assert_eq!(unpack(&packed), masks);
    }
}
