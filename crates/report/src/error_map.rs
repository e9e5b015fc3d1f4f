//! The reference team's per-pixel error map, defined for multi-label masks.
//!
//! At each pixel let T be the set of classes the truth marks and P the set the prediction marks:
//! - BLUE: T = P and T is not empty — every class right;
//! - RED: T and P both non-empty but T ≠ P — foreground in both, a class wrong (a class-label
//!   error: missing, extra or swapped classes where the truth already has bone);
//! - YELLOW: T non-empty, P empty — under-prediction;
//! - GREEN: T empty, P non-empty — over-prediction;
//! - pixels with T and P both empty are background and belong to no colour.
//!
//! The "overlap region" is where the truth marks two or more classes. Counting works 64 pixels
//! at a time on the packed bit masks.

use boneseg_contract::ClassMasks;
use image::{GrayImage, RgbImage};
use serde::Serialize;

pub const BLUE: [u8; 3] = [30, 90, 255];
pub const RED: [u8; 3] = [230, 20, 20];
pub const YELLOW: [u8; 3] = [255, 220, 0];
pub const GREEN: [u8; 3] = [20, 200, 60];

/// Pixels of each colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    pub blue: u64,
    pub red: u64,
    pub yellow: u64,
    pub green: u64,
}

impl ErrorCounts {
    pub fn add(&mut self, other: &ErrorCounts) {
        self.blue += other.blue;
        self.red += other.red;
        self.yellow += other.yellow;
        self.green += other.green;
    }

    /// Shares of RED, YELLOW and GREEN among the error pixels (the team's 21% / 45% / 33%).
    pub fn error_shares(&self) -> [f64; 3] {
        let errors = (self.red + self.yellow + self.green) as f64;
        [self.red, self.yellow, self.green].map(|v| if errors > 0.0 { v as f64 / errors } else { 0.0 })
    }

    /// Share of BLUE among all coloured pixels.
    pub fn blue_share(&self) -> f64 {
        let all = (self.blue + self.red + self.yellow + self.green) as f64;
        if all > 0.0 { self.blue as f64 / all } else { 0.0 }
    }
}

/// The 64 pixels of one word: masks of each colour and of the truth's overlap region.
struct WordColours {
    blue: u64,
    red: u64,
    yellow: u64,
    green: u64,
    overlap: u64,
}

fn word_colours(truth: &ClassMasks, predicted: &ClassMasks, w: usize) -> WordColours {
    let (mut any_t, mut two_t, mut any_p, mut differ) = (0u64, 0u64, 0u64, 0u64);
    for (t, p) in truth.iter().zip(predicted.iter()) {
        let (t, p) = (t.words()[w], p.words()[w]);
        two_t |= any_t & t;
        any_t |= t;
        any_p |= p;
        differ |= t ^ p;
    }
    WordColours {
        blue: any_t & any_p & !differ,
        red: any_t & any_p & differ,
        yellow: any_t & !any_p,
        green: !any_t & any_p,
        overlap: two_t,
    }
}

/// Colour counts over the whole image and inside the truth's overlap region.
pub fn count(truth: &ClassMasks, predicted: &ClassMasks) -> (ErrorCounts, ErrorCounts) {
    let words = truth.class(0).words().len();
    let (mut all, mut overlap) = (ErrorCounts::default(), ErrorCounts::default());
    for w in 0..words {
        let c = word_colours(truth, predicted, w);
        let ones = |x: u64| u64::from(x.count_ones());
        all.add(&ErrorCounts {
            blue: ones(c.blue),
            red: ones(c.red),
            yellow: ones(c.yellow),
            green: ones(c.green),
        });
        overlap.add(&ErrorCounts {
            blue: ones(c.blue & c.overlap),
            red: ones(c.red & c.overlap),
            yellow: ones(c.yellow & c.overlap),
            green: ones(c.green & c.overlap),
        });
    }
    (all, overlap)
}

/// The image in grey with each coloured pixel painted (60% opaque), shrunk to `max_side`.
pub fn draw(image: &GrayImage, truth: &ClassMasks, predicted: &ClassMasks, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    assert_eq!((truth.width(), truth.height()), (w as usize, h as usize), "masks and image differ in size");
    let mut out = RgbImage::from_fn(w, h, |x, y| {
        let v = image.get_pixel(x, y)[0];
        image::Rgb([v, v, v])
    });
    let pixels = w as usize * h as usize;
    for word in 0..truth.class(0).words().len() {
        let c = word_colours(truth, predicted, word);
        for (mask, colour) in [(c.blue, BLUE), (c.red, RED), (c.yellow, YELLOW), (c.green, GREEN)] {
            let mut bits = mask;
            while bits != 0 {
                let i = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if i >= pixels {
                    break;
                }
                let pixel = out.get_pixel_mut((i % w as usize) as u32, (i / w as usize) as u32);
                for (v, &tint) in pixel.0.iter_mut().zip(&colour) {
                    *v = (f32::from(*v) * 0.4 + f32::from(tint) * 0.6).round() as u8;
                }
            }
        }
    }
    if w.max(h) > max_side { crate::overlay::shrink(&out, max_side) } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_case_gets_its_colour() {
        let (h, w) = (2, 5);
        let mut truth = ClassMasks::new(h, w);
        let mut predicted = ClassMasks::new(h, w);
        // Pixel 0: right. Pixel 1: truth {0,1} (overlap), prediction {0}: RED in the overlap.
        // Pixel 2: truth {2}, prediction {3}: RED. Pixel 3: truth only: YELLOW. Pixel 4: GREEN.
        for (class, pixel) in [(0, 0), (0, 1), (1, 1), (2, 2), (4, 3)] {
            truth.class_mut(class).set_range(pixel, pixel + 1);
        }
        for (class, pixel) in [(0, 0), (0, 1), (3, 2), (5, 4)] {
            predicted.class_mut(class).set_range(pixel, pixel + 1);
        }
        let (all, overlap) = count(&truth, &predicted);
        assert_eq!(all, ErrorCounts { blue: 1, red: 2, yellow: 1, green: 1 });
        assert_eq!(overlap, ErrorCounts { blue: 0, red: 1, yellow: 0, green: 0 });
        assert_eq!(all.error_shares(), [0.5, 0.25, 0.25]);
        let image = GrayImage::new(w as u32, h as u32);
        let picture = draw(&image, &truth, &predicted, 100);
        let tinted = |c: [u8; 3]| c.map(|v| (f32::from(v) * 0.6).round() as u8);
        assert_eq!(picture.get_pixel(0, 0).0, tinted(BLUE));
        assert_eq!(picture.get_pixel(2, 0).0, tinted(RED));
        assert_eq!(picture.get_pixel(3, 0).0, tinted(YELLOW));
        assert_eq!(picture.get_pixel(4, 0).0, tinted(GREEN));
        assert_eq!(picture.get_pixel(0, 1).0, [0, 0, 0], "background stays");
    }
}
