//! Resizing like `cv2.resize`: `INTER_LINEAR` for the image (11-bit fixed-point weights and the
//! rounding of OpenCV's SIMD 8-bit path; a few upscaled pixels still differ by one grey level)
//! and `INTER_NEAREST` for the labels; and `A.RandomResizedCrop` on top.

use boneseg_contract::rng::Random;
use serde::Deserialize;

use crate::limit::Limit;
use crate::plane::{Plane, Sample};
use crate::rng::Rng;

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

/// Per output index: the first source index and the two fixed-point weights.
fn linear_taps(src_len: usize, dst_len: usize) -> Vec<(usize, i32, i32)> {
    let scale = src_len as f64 / dst_len as f64;
    (0..dst_len)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as isize;
            f -= s as f32;
            if s < 0 {
                f = 0.0;
                s = 0;
            }
            if s >= src_len as isize - 1 {
                f = 0.0;
                s = src_len as isize - 1;
            }
            let a1 = (f * COEF_SCALE).round_ties_even() as i32;
            let a0 = ((1.0 - f) * COEF_SCALE).round_ties_even() as i32;
            (s as usize, a0, a1)
        })
        .collect()
}

/// Bilinear resize of a grey plane (`cv2.INTER_LINEAR`).
pub fn resize_linear(src: &Plane<u8>, width: usize, height: usize) -> Plane<u8> {
    let xs = linear_taps(src.width, width);
    let ys = linear_taps(src.height, height);
    let horizontal = |row: &[u8]| -> Vec<i32> {
        xs.iter()
            .map(|&(s, a0, a1)| {
                let next = row[(s + 1).min(row.len() - 1)];
                i32::from(row[s]) * a0 + i32::from(next) * a1
            })
            .collect()
    };
    let rows: Vec<Vec<i32>> = (0..src.height).map(|y| horizontal(src.row(y))).collect();
    let mut out = Plane::new(width, height);
    for (y, &(s, b0, b1)) in ys.iter().enumerate() {
        let (r0, r1) = (&rows[s], &rows[(s + 1).min(src.height - 1)]);
        for x in 0..width {
            // OpenCV's SIMD vertical pass (`VResizeLinearVec_32s8u`): drops 4 bits, keeps 16.
            let v = (((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2;
            out.data[y * width + x] = v.clamp(0, 255) as u8;
        }
    }
    out
}

/// Nearest resize (`cv2.INTER_NEAREST`: source index `floor(d * src / dst)`).
pub fn resize_nearest<T: Copy + Default>(src: &Plane<T>, width: usize, height: usize) -> Plane<T> {
    let index = |d: usize, src_len: usize, dst_len: usize| {
        ((d as f64 * (src_len as f64 / dst_len as f64)).floor() as usize).min(src_len - 1)
    };
    let xs: Vec<usize> = (0..width).map(|x| index(x, src.width, width)).collect();
    Plane::from_fn(width, height, |x, y| src.at(xs[x], index(y, src.height, height)))
}

pub fn resize(sample: &Sample, width: usize, height: usize) -> Sample {
    Sample::new(resize_linear(&sample.image, width, height), resize_nearest(&sample.labels, width, height))
}

/// The `(x, y, width, height)` window of a sample.
pub fn crop(sample: &Sample, x: usize, y: usize, width: usize, height: usize) -> Sample {
    fn cut<T: Copy + Default>(p: &Plane<T>, x: usize, y: usize, w: usize, h: usize) -> Plane<T> {
        Plane::from_vec(w, h, (y..y + h).flat_map(|r| p.row(r)[x..x + w].iter().copied()).collect())
    }
    Sample::new(cut(&sample.image, x, y, width, height), cut(&sample.labels, x, y, width, height))
}

/// `A.RandomResizedCrop`: a window of random area and aspect ratio, resized to `size`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomResizedCrop {
    /// Output `[height, width]`.
    pub size: [usize; 2],
    /// Share of the image area, `[low, high]`.
    #[serde(default = "RandomResizedCrop::default_scale")]
    pub scale: Limit,
    /// Width / height of the window, `[low, high]`.
    #[serde(default = "RandomResizedCrop::default_ratio")]
    pub ratio: Limit,
}

impl RandomResizedCrop {
    fn default_scale() -> Limit {
        Limit::Two([0.08, 1.0])
    }
    fn default_ratio() -> Limit {
        Limit::Two([0.75, 4.0 / 3.0])
    }

    /// The window `(x, y, width, height)`, drawn like albumentations (ten tries, then a
    /// central crop of the nearest allowed ratio).
    pub fn window(&self, rng: &mut Rng, width: usize, height: usize) -> (usize, usize, usize, usize) {
        let area = (width * height) as f64;
        let (s0, s1) = self.scale.exact();
        let (r0, r1) = self.ratio.exact();
        for _ in 0..10 {
            let target = rng.uniform(s0, s1) * area;
            let aspect = rng.uniform(r0.ln(), r1.ln()).exp();
            let w = (target * aspect).sqrt().round() as usize;
            let h = (target / aspect).sqrt().round() as usize;
            if (1..=width).contains(&w) && (1..=height).contains(&h) {
                let y = rng.int(0, (height - h) as i64) as usize;
                let x = rng.int(0, (width - w) as i64) as usize;
                return (x, y, w, h);
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (w, h) = if in_ratio < r0 {
            (width, ((width as f64 / r0).round() as usize).min(height))
        } else if in_ratio > r1 {
            (((height as f64 * r1).round() as usize).min(width), height)
        } else {
            (width, height)
        };
        ((width - w) / 2, (height - h) / 2, w, h)
    }

    pub fn apply(&self, rng: &mut Rng, sample: &Sample) -> Sample {
        let (x, y, w, h) = self.window(rng, sample.width(), sample.height());
        let [out_h, out_w] = self.size;
        resize(&crop(sample, x, y, w, h), out_w, out_h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscaling_interpolates_and_nearest_repeats() {
        let src = Plane::from_vec(2, 1, vec![0u8, 200]);
        assert_eq!(resize_linear(&src, 4, 1).data, [0, 50, 150, 200]);
        let labels = Plane::from_vec(2, 1, vec![1u32, 2]);
        assert_eq!(resize_nearest(&labels, 4, 2).data, [1, 1, 2, 2, 1, 1, 2, 2]);
    }

    #[test]
    fn crops_stay_inside_and_have_the_asked_size() {
        let spec = RandomResizedCrop {
            size: [16, 24],
            scale: Limit::Two([0.08, 1.0]),
            ratio: RandomResizedCrop::default_ratio(),
        };
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let (x, y, w, h) = spec.window(&mut rng, 40, 30);
            assert!(x + w <= 40 && y + h <= 30 && w > 0 && h > 0);
        }
        let sample = Sample::new(Plane::new(40, 30), Plane::new(40, 30));
        let out = spec.apply(&mut rng, &sample);
        assert_eq!((out.width(), out.height()), (24, 16));
    }
}
