//! Draws class masks over a radiograph: each class tinted inside and outlined in its colour,
//! overlaps mixing their tints, so a person can check labels (or predictions) at a glance.

use boneseg_contract::ClassMasks;
use image::{GrayImage, RgbImage};

use crate::palette::class_colour;

#[derive(Clone, Copy, Debug)]
pub struct OverlayOptions {
    /// Opacity of the tint inside a class (0 = outline only).
    pub fill: f32,
    /// Longest side of the output; larger images are shrunk (area averaging), `None` keeps size.
    pub max_side: Option<u32>,
}

impl Default for OverlayOptions {
    fn default() -> Self {
        OverlayOptions { fill: 0.35, max_side: Some(1024) }
    }
}

/// The image in grey with the masks (if any) drawn over it.
pub fn overlay(image: &GrayImage, masks: Option<&ClassMasks>, options: OverlayOptions) -> RgbImage {
    let (w, h) = image.dimensions();
    let mut out = RgbImage::from_fn(w, h, |x, y| {
        let v = image.get_pixel(x, y)[0];
        image::Rgb([v, v, v])
    });
    if let Some(masks) = masks {
        assert_eq!(
            (masks.width(), masks.height()),
            (w as usize, h as usize),
            "masks and image differ in size"
        );
        draw_masks(&mut out, masks, options.fill);
    }
    match options.max_side {
        Some(side) if w.max(h) > side => shrink(&out, side),
        _ => out,
    }
}

fn draw_masks(out: &mut RgbImage, masks: &ClassMasks, fill: f32) {
    let (w, h) = (masks.width(), masks.height());
    // Outlines stay visible after shrinking: about 2 output pixels for a 1024-pixel view.
    let thickness = (w.max(h) / 1024).max(1);
    for (class, mask) in masks.iter().enumerate() {
        if mask.is_empty() {
            continue;
        }
        let colour = class_colour(class).map(f32::from);
        for (start, length) in mask.runs() {
            for i in start..start + length {
                let (x, y) = (i % w, i / w);
                let pixel = out.get_pixel_mut(x as u32, y as u32);
                let on_edge = (1..=thickness).any(|d| {
                    (x < d || !mask.get(y, x - d))
                        || (x + d >= w || !mask.get(y, x + d))
                        || (y < d || !mask.get(y - d, x))
                        || (y + d >= h || !mask.get(y + d, x))
                });
                let alpha = if on_edge { 1.0 } else { fill };
                for (c, &tint) in pixel.0.iter_mut().zip(&colour) {
                    *c = (f32::from(*c) * (1.0 - alpha) + tint * alpha).round() as u8;
                }
            }
        }
    }
}

/// Area-average shrink so that the longest side is `side`.
pub(crate) fn shrink(image: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let scale = side as f64 / w.max(h) as f64;
    let (nw, nh) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
    RgbImage::from_fn(nw, nh, |x, y| {
        let (x0, x1) = ((x as f64 / scale) as u32, (((x + 1) as f64 / scale) as u32).clamp(1, w));
        let (y0, y1) = ((y as f64 / scale) as u32, (((y + 1) as f64 / scale) as u32).clamp(1, h));
        let mut sum = [0u32; 3];
        let mut count = 0;
        for yy in y0..y1.max(y0 + 1) {
            for xx in x0..x1.max(x0 + 1) {
                let p = image.get_pixel(xx.min(w - 1), yy.min(h - 1));
                for c in 0..3 {
                    sum[c] += u32::from(p[c]);
                }
                count += 1;
            }
        }
        image::Rgb(sum.map(|s| (s / count) as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_outlined_and_tinted_in_their_colour() {
        let image = GrayImage::from_pixel(20, 10, image::Luma([50]));
        let mut masks = ClassMasks::new(10, 20);
        for row in 2..8 {
            masks.class_mut(4).set_span(row, 5, 14);
        }
        let out = overlay(&image, Some(&masks), OverlayOptions { fill: 0.5, max_side: None });
        assert_eq!(out.get_pixel(5, 2).0, class_colour(4), "outline in full colour");
        let inside = out.get_pixel(9, 5).0;
        let expected = class_colour(4).map(|c| ((50.0 + f32::from(c)) / 2.0).round() as u8);
        assert_eq!(inside, expected, "tinted inside");
        assert_eq!(out.get_pixel(0, 0).0, [50, 50, 50], "untouched outside");
    }

    #[test]
    fn large_images_are_shrunk() {
        let image = GrayImage::from_pixel(300, 150, image::Luma([100]));
        let out = overlay(&image, None, OverlayOptions { fill: 0.3, max_side: Some(100) });
        assert_eq!(out.dimensions(), (100, 50));
        assert_eq!(out.get_pixel(10, 10).0, [100, 100, 100]);
    }
}
