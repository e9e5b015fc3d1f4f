//! Affine warps: rotate and shift-scale-rotate, built like albumentations 2.x builds them and
//! applied like `cv2.warpAffine` (the forward matrix inverted by `invertAffineTransform`, then
//! sampled through [`super::warp`]).

use boneseg_contract::rng::Random;
use serde::Deserialize;

use super::warp::{Border, SourceMap, resample};
use crate::border::BorderMode;
use crate::limit::Limit;
use crate::rng::Rng;
use boneseg_data::plane::Sample;

/// A 2x3 affine matrix mapping (x, y, 1) to (x', y').
pub type Matrix = [[f64; 3]; 2];

/// The forward matrix of albumentations' `create_affine_transformation_matrix` without shear:
/// scale, rotate (degrees, counter-clockwise on screen) and translate (pixels) about `center`.
pub fn affine_matrix(center: (f64, f64), angle: f64, scale: (f64, f64), translate: (f64, f64)) -> Matrix {
    let r = (angle.rem_euclid(360.0)).to_radians();
    let (sin, cos) = r.sin_cos();
    let (sx, sy) = scale;
    let (cx, cy) = center;
    // shift_center @ translate @ rotate @ scale @ shift_topleft
    let a = [[cos * sx, sin * sy], [-sin * sx, cos * sy]];
    let tx = -(a[0][0] * cx + a[0][1] * cy) + translate.0 + cx;
    let ty = -(a[1][0] * cx + a[1][1] * cy) + translate.1 + cy;
    [[a[0][0], a[0][1], tx], [a[1][0], a[1][1], ty]]
}

/// albumentations' image centre: `(width / 2 - 0.5, height / 2 - 0.5)`.
pub fn center(width: usize, height: usize) -> (f64, f64) {
    (width as f64 / 2.0 - 0.5, height as f64 / 2.0 - 0.5)
}

/// OpenCV's `invertAffineTransform`.
pub fn invert(m: &Matrix) -> Matrix {
    let d = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let d = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (a11, a22, a12, a21) = (m[1][1] * d, m[0][0] * d, -m[0][1] * d, -m[1][0] * d);
    let b1 = -a11 * m[0][2] - a12 * m[1][2];
    let b2 = -a21 * m[0][2] - a22 * m[1][2];
    [[a11, a12, b1], [a21, a22, b2]]
}

/// Source coordinates of `cv2.warpAffine` for the inverse matrix `m`, in `f32` as OpenCV
/// computes them: `m0 x + (m1 y + m2)`.
struct AffineMap {
    m: [f32; 6],
}

impl SourceMap for AffineMap {
    #[inline]
    fn source(&self, x: usize, y: usize) -> (f32, f32) {
        let (x, y) = (x as f32, y as f32);
        let m = &self.m;
        (m[0] * x + (m[1] * y + m[2]), m[3] * x + (m[4] * y + m[5]))
    }
}

/// Warps a sample by the forward matrix `forward` (source to output), keeping its size.
/// The identity returns the sample unchanged, as albumentations does.
pub fn warp_affine(sample: &Sample, forward: &Matrix, border: &Border) -> Sample {
    if *forward == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] {
        return sample.clone();
    }
    let (w, h) = (sample.width(), sample.height());
    let inverse = invert(forward);
    let m = [0, 1, 2, 3, 4, 5].map(|i| inverse[i / 3][i % 3] as f32);
    resample(sample, &AffineMap { m }, w, h, border)
}

fn default_border_mode() -> BorderMode {
    BorderMode::Constant
}

/// `A.Rotate`: a random angle in `limit` about the image centre.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Degrees; a number `a` means `[-a, a]`.
    #[serde(default = "Rotate::default_limit")]
    pub limit: Limit,
    #[serde(default = "default_border_mode")]
    pub border_mode: BorderMode,
    #[serde(default)]
    pub fill: u8,
    #[serde(default)]
    pub fill_mask: u32,
}

impl Rotate {
    fn default_limit() -> Limit {
        Limit::One(90.0)
    }

    pub fn apply(&self, rng: &mut Rng, sample: &Sample) -> Sample {
        let (low, high) = self.limit.symmetric();
        let angle = rng.uniform(low, high);
        let m = affine_matrix(center(sample.width(), sample.height()), angle, (1.0, 1.0), (0.0, 0.0));
        warp_affine(
            sample,
            &m,
            &Border { mode: self.border_mode, fill: self.fill, fill_mask: self.fill_mask },
        )
    }
}

/// `A.ShiftScaleRotate` (an `A.Affine` in albumentations 2.x): shift as a fraction of the size
/// (truncated to whole pixels), scale drawn separately for x and y (albumentations 2.x does so
/// because it passes `keep_ratio=False`), rotation in degrees.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftScaleRotate {
    /// A number `s` means `[-s, s]`.
    #[serde(default = "ShiftScaleRotate::default_shift")]
    pub shift_limit: Limit,
    /// Added to 1: a number `s` means scales in `[1 - s, 1 + s]`.
    #[serde(default = "ShiftScaleRotate::default_scale")]
    pub scale_limit: Limit,
    /// Degrees; a number `a` means `[-a, a]`.
    #[serde(default = "ShiftScaleRotate::default_rotate")]
    pub rotate_limit: Limit,
    #[serde(default = "default_border_mode")]
    pub border_mode: BorderMode,
    #[serde(default)]
    pub fill: u8,
    #[serde(default)]
    pub fill_mask: u32,
}

impl ShiftScaleRotate {
    fn default_shift() -> Limit {
        Limit::One(0.0625)
    }
    fn default_scale() -> Limit {
        Limit::One(0.1)
    }
    fn default_rotate() -> Limit {
        Limit::One(45.0)
    }

    pub fn apply(&self, rng: &mut Rng, sample: &Sample) -> Sample {
        let (w, h) = (sample.width(), sample.height());
        let (s0, s1) = self.shift_limit.symmetric();
        let (tx, ty) = (rng.uniform(s0, s1), rng.uniform(s0, s1));
        let translate = ((tx * w as f64).trunc(), (ty * h as f64).trunc());
        let (k0, k1) = self.scale_limit.symmetric();
        let scale = (1.0 + rng.uniform(k0, k1), 1.0 + rng.uniform(k0, k1));
        let (r0, r1) = self.rotate_limit.symmetric();
        let angle = rng.uniform(r0, r1);
        let m = affine_matrix(center(w, h), angle, scale, translate);
        warp_affine(
            sample,
            &m,
            &Border { mode: self.border_mode, fill: self.fill, fill_mask: self.fill_mask },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boneseg_data::plane::Plane;

    #[test]
    fn matrix_rotates_about_the_centre_and_inverts() {
        let m = affine_matrix((10.0, 20.0), 90.0, (1.0, 1.0), (0.0, 0.0));
        let apply = |m: &Matrix, (x, y): (f64, f64)| {
            (m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2])
        };
        let (x, y) = apply(&m, (10.0, 20.0));
        assert!((x - 10.0).abs() < 1e-9 && (y - 20.0).abs() < 1e-9, "the centre stays");
        let (x, y) = apply(&m, (11.0, 20.0));
        assert!((x - 10.0).abs() < 1e-9 && (y - 19.0).abs() < 1e-9, "+x turns to -y (up on screen)");
        let back = apply(&invert(&m), apply(&m, (3.0, 4.0)));
        assert!((back.0 - 3.0).abs() < 1e-9 && (back.1 - 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_half_turn_turns_image_and_labels_together() {
        let image = Plane::from_fn(6, 4, |x, y| (x * 10 + y) as u8);
        let labels = Plane::from_fn(6, 4, |x, y| u32::from(x == 0 && y == 0) << 3);
        let sample = Sample::new(image, labels);
        let m = affine_matrix(center(6, 4), 180.0, (1.0, 1.0), (0.0, 0.0));
        let out = warp_affine(&sample, &m, &Border::constant());
        assert_eq!(out.image.at(5, 3), 0);
        assert_eq!(out.image.at(0, 0), 53);
        assert_eq!(out.labels.at(5, 3), 1 << 3);
        assert_eq!(out.labels.data.iter().filter(|&&v| v != 0).count(), 1);
    }
}
