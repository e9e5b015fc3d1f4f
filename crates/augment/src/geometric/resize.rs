//! Resizing and cropping a sample (the image like `cv2.INTER_LINEAR`, the labels like
//! `INTER_NEAREST`, see [`boneseg_data::resize`]), and `A.RandomResizedCrop` on top.

use boneseg_contract::rng::Random;
use serde::Deserialize;

use crate::limit::Limit;
use crate::rng::Rng;
use boneseg_data::plane::{Plane, Sample};
pub use boneseg_data::resize::{resize_linear, resize_nearest};

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
