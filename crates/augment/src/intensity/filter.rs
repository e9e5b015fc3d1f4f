//! Neighbourhood filters on the grey image, as OpenCV computes them for `uint8`: `filter2D`
//! (`f32` fused multiply-adds in kernel order, as its SIMD `FilterVec_8u`) and `sepFilter2D`
//! (`f32` sums), rounded half to even, border `REFLECT_101`; and
//! `medianBlur` with a replicated border. `A.Emboss`, `A.Sharpen`, `A.GaussianBlur` and
//! `A.MedianBlur` build their kernels here exactly as albumentations does.

use boneseg_contract::rng::Random;
use serde::Deserialize;

use crate::border::BorderMode;
use crate::limit::Limit;
use crate::rng::Rng;
use crate::round::rint;
use boneseg_data::plane::Plane;

#[inline]
fn to_u8(v: f32) -> u8 {
    rint(v).clamp(0.0, 255.0) as u8
}

/// Columns of a row with `radius` reflected pixels on each side.
fn padded_columns(width: usize, radius: usize) -> Vec<usize> {
    (-(radius as isize)..(width + radius) as isize)
        .map(|x| BorderMode::Reflect101.index(x, width).expect("reflect never returns None"))
        .collect()
}

/// `cv2.filter2D(src, -1, kernel)` for a 3x3 kernel, row-major.
pub fn filter3x3(src: &Plane<u8>, kernel: &[f32; 9]) -> Plane<u8> {
    let (w, h) = (src.width, src.height);
    let cols = padded_columns(w, 1);
    let rows: Vec<usize> =
        (-1..h as isize + 1).map(|y| BorderMode::Reflect101.index(y, h).unwrap()).collect();
    let taps: Vec<(usize, usize, f32)> =
        (0..9).filter(|&k| kernel[k] != 0.0).map(|k| (k / 3, k % 3, kernel[k])).collect();
    let mut out = Plane::new(w, h);
    for y in 0..h {
        let lines = [src.row(rows[y]), src.row(rows[y + 1]), src.row(rows[y + 2])];
        for x in 0..w {
            let mut sum = 0f32;
            for &(ky, kx, k) in &taps {
                sum = f32::from(lines[ky][cols[x + kx]]).mul_add(k, sum);
            }
            out.data[y * w + x] = to_u8(sum);
        }
    }
    out
}

/// `cv2.sepFilter2D(src, -1, kernel, kernel)` for an odd symmetric kernel.
pub fn sep_filter(src: &Plane<u8>, kernel: &[f32]) -> Plane<u8> {
    let (w, h) = (src.width, src.height);
    let r = kernel.len() / 2;
    let cols = padded_columns(w, r);
    let mut horizontal = vec![0f32; w * h];
    for y in 0..h {
        let row = src.row(y);
        for x in 0..w {
            horizontal[y * w + x] =
                kernel.iter().enumerate().map(|(k, &c)| c * f32::from(row[cols[x + k]])).sum();
        }
    }
    let mut out = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0f32;
            for (k, &c) in kernel.iter().enumerate() {
                let yy = BorderMode::Reflect101.index(y as isize + k as isize - r as isize, h).unwrap();
                sum += c * horizontal[yy * w + x];
            }
            out.data[y * w + x] = to_u8(sum);
        }
    }
    out
}

/// `cv2.medianBlur(src, size)`: median of the `size x size` window, replicated border.
pub fn median(src: &Plane<u8>, size: usize) -> Plane<u8> {
    let (w, h) = (src.width, src.height);
    let r = (size / 2) as isize;
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut window = Vec::with_capacity(size * size);
    Plane::from_fn(w, h, |x, y| {
        window.clear();
        for dy in -r..=r {
            let row = src.row(clamp(y as isize + dy, h));
            window.extend((-r..=r).map(|dx| row[clamp(x as isize + dx, w)]));
        }
        let mid = window.len() / 2;
        *window.select_nth_unstable(mid).1
    })
}

const NO_CHANGE: [f32; 9] = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];

/// `(1 - alpha) * identity + alpha * effect`, in `f32` as numpy does with an `f32` matrix.
fn blend(alpha: f64, effect: [f32; 9]) -> [f32; 9] {
    let (keep, mix) = ((1.0 - alpha) as f32, alpha as f32);
    std::array::from_fn(|i| keep * NO_CHANGE[i] + mix * effect[i])
}

/// albumentations' emboss kernel.
pub fn emboss_kernel(alpha: f64, strength: f64) -> [f32; 9] {
    let s = strength;
    let effect = [-1.0 - s, -s, 0.0, -s, 1.0, s, 0.0, s, 1.0 + s].map(|v| v as f32);
    blend(alpha, effect)
}

/// albumentations' sharpening kernel.
pub fn sharpen_kernel(alpha: f64, lightness: f64) -> [f32; 9] {
    let effect = [-1.0, -1.0, -1.0, -1.0, 8.0 + lightness, -1.0, -1.0, -1.0, -1.0].map(|v| v as f32);
    blend(alpha, effect)
}

/// albumentations' `create_gaussian_kernel_1d`: `exp(-x²/2σ²)` at integer offsets, normalised.
pub fn gaussian_kernel(sigma: f64, size: usize) -> Vec<f32> {
    let size = if size == 0 { (sigma * 3.5) as usize * 2 + 1 } else { size };
    let size = if size % 2 == 0 { size + 1 } else { size };
    let half = (size / 2) as f64;
    let raw: Vec<f64> = (0..size).map(|i| (-0.5 * ((i as f64 - half) / sigma).powi(2)).exp()).collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|v| (v / sum) as f32).collect()
}

/// An odd kernel size drawn from `limit`.
fn odd_size(rng: &mut Rng, limit: Limit) -> usize {
    let (low, high) = limit.exact();
    let (low, high) = (low.max(3.0) as i64, high.max(3.0) as i64);
    let odd: Vec<i64> = (low..=high).filter(|k| k % 2 == 1).collect();
    if odd.is_empty() {
        return (low | 1) as usize;
    }
    odd[rng.int(0, odd.len() as i64 - 1) as usize] as usize
}

/// `A.Emboss`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emboss {
    #[serde(default = "Emboss::default_alpha")]
    pub alpha: Limit,
    #[serde(default = "Emboss::default_strength")]
    pub strength: Limit,
}

impl Emboss {
    fn default_alpha() -> Limit {
        Limit::Two([0.2, 0.5])
    }
    fn default_strength() -> Limit {
        Limit::Two([0.2, 0.7])
    }

    pub fn apply(&self, rng: &mut Rng, image: &Plane<u8>) -> Plane<u8> {
        let (a0, a1) = self.alpha.exact();
        let (s0, s1) = self.strength.exact();
        let (alpha, strength) = (rng.uniform(a0, a1), rng.uniform(s0, s1));
        filter3x3(image, &emboss_kernel(alpha, strength))
    }
}

/// `A.Sharpen` (its default `kernel` method).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sharpen {
    #[serde(default = "Sharpen::default_alpha")]
    pub alpha: Limit,
    #[serde(default = "Sharpen::default_lightness")]
    pub lightness: Limit,
}

impl Sharpen {
    fn default_alpha() -> Limit {
        Limit::Two([0.2, 0.5])
    }
    fn default_lightness() -> Limit {
        Limit::Two([0.5, 1.0])
    }

    pub fn apply(&self, rng: &mut Rng, image: &Plane<u8>) -> Plane<u8> {
        let (a0, a1) = self.alpha.exact();
        let (l0, l1) = self.lightness.exact();
        let (alpha, lightness) = (rng.uniform(a0, a1), rng.uniform(l0, l1));
        filter3x3(image, &sharpen_kernel(alpha, lightness))
    }
}

/// `A.GaussianBlur`: an odd kernel size from `blur_limit`, sigma from `sigma_limit`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianBlur {
    #[serde(default = "GaussianBlur::default_blur")]
    pub blur_limit: Limit,
    #[serde(default = "GaussianBlur::default_sigma")]
    pub sigma_limit: Limit,
}

impl GaussianBlur {
    fn default_blur() -> Limit {
        Limit::Two([3.0, 7.0])
    }
    fn default_sigma() -> Limit {
        Limit::Two([0.5, 3.0])
    }

    pub fn apply(&self, rng: &mut Rng, image: &Plane<u8>) -> Plane<u8> {
        let (s0, s1) = self.sigma_limit.exact();
        let sigma = rng.uniform(s0, s1);
        let size = odd_size(rng, self.blur_limit);
        sep_filter(image, &gaussian_kernel(sigma, size))
    }
}

/// `A.MedianBlur`: an odd window size from `blur_limit`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedianBlur {
    #[serde(default = "MedianBlur::default_blur")]
    pub blur_limit: Limit,
}

impl MedianBlur {
    fn default_blur() -> Limit {
        Limit::Two([3.0, 7.0])
    }

    pub fn apply(&self, rng: &mut Rng, image: &Plane<u8>) -> Plane<u8> {
        median(image, odd_size(rng, self.blur_limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_kernels_keep_the_image() {
        let image = Plane::from_fn(7, 5, |x, y| (x * 30 + y * 7) as u8);
        assert_eq!(filter3x3(&image, &NO_CHANGE), image);
        assert_eq!(sep_filter(&image, &[1.0]), image);
        assert_eq!(median(&image, 1), image);
        let kernel = gaussian_kernel(1.0, 5);
        assert!((kernel.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn median_removes_a_lone_spike() {
        let mut image = Plane::from_vec(5, 5, vec![10u8; 25]);
        image.data[12] = 255;
        assert!(median(&image, 3).data.iter().all(|&v| v == 10));
    }
}
