//! `A.ImageCompression` (JPEG): the lossy part of baseline JPEG on the grey channel, without
//! writing a file: 8x8 blocks (edges replicated), level shift, DCT, quantisation by the IJG
//! luminance table scaled to the quality as libjpeg scales it, then the way back.
//!
//! Intended difference: libjpeg's integer DCT (`islow`) and its rounding are replaced by an exact
//! `f32` DCT, so outputs differ from `cv2.imencode`/`imdecode` by a grey level here and there; the
//! test bounds the mean and the largest difference.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::limit::Limit;
use crate::rng::Rng;
use boneseg_data::plane::Plane;

/// The IJG standard luminance quantisation table (JPEG spec, Annex K.1), row-major.
const LUMINANCE: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17,
    22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78,
    87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// libjpeg's `jpeg_quality_scaling` and `jpeg_add_quant_table` (baseline: 1..=255).
pub fn quant_table(quality: u32) -> [f32; 64] {
    let q = quality.clamp(1, 100);
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    LUMINANCE.map(|base| ((u32::from(base) * scale + 50) / 100).clamp(1, 255) as f32)
}

/// `cos((2x + 1) u π / 16) * c(u) / 2`, the 1-D DCT basis.
fn basis() -> &'static [[f32; 8]; 8] {
    static BASIS: OnceLock<[[f32; 8]; 8]> = OnceLock::new();
    BASIS.get_or_init(|| {
        std::array::from_fn(|u| {
            let c = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
            std::array::from_fn(|x| {
                (c / 2.0 * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()) as f32
            })
        })
    })
}

/// Forward (`inverse == false`) or inverse separable 8x8 DCT.
fn dct(block: &[f32; 64], inverse: bool) -> [f32; 64] {
    let b = basis();
    let k = |i: usize, j: usize| if inverse { b[j][i] } else { b[i][j] };
    let mut rows = [0f32; 64];
    for y in 0..8 {
        for u in 0..8 {
            rows[y * 8 + u] = (0..8).map(|x| k(u, x) * block[y * 8 + x]).sum();
        }
    }
    let mut out = [0f32; 64];
    for u in 0..8 {
        for v in 0..8 {
            out[v * 8 + u] = (0..8).map(|y| k(v, y) * rows[y * 8 + u]).sum();
        }
    }
    out
}

/// The image after a JPEG round trip at `quality`.
pub fn jpeg_round_trip(src: &Plane<u8>, quality: u32) -> Plane<u8> {
    let table = quant_table(quality);
    let (w, h) = (src.width, src.height);
    let mut out = Plane::new(w, h);
    for by in (0..h).step_by(8) {
        for bx in (0..w).step_by(8) {
            let block: [f32; 64] = std::array::from_fn(|i| {
                let (x, y) = ((bx + i % 8).min(w - 1), (by + i / 8).min(h - 1));
                f32::from(src.at(x, y)) - 128.0
            });
            let mut coefficients = dct(&block, false);
            for (c, q) in coefficients.iter_mut().zip(&table) {
                *c = (*c / q).round() * q;
            }
            let back = dct(&coefficients, true);
            for (i, value) in back.iter().enumerate() {
                let (x, y) = (bx + i % 8, by + i / 8);
                if x < w && y < h {
                    out.data[y * w + x] = (value + 128.0).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
    out
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCompression {
    /// JPEG quality, `[low, high]` in 1..=100.
    #[serde(default = "ImageCompression::default_quality")]
    pub quality_range: Limit,
}

impl ImageCompression {
    fn default_quality() -> Limit {
        Limit::Two([99.0, 100.0])
    }

    pub fn apply(&self, rng: &mut Rng, image: &Plane<u8>) -> Plane<u8> {
        let (low, high) = self.quality_range.exact();
        jpeg_round_trip(image, rng.int(low as i64, high as i64) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_100_is_nearly_lossless_and_tables_follow_libjpeg() {
        assert_eq!(quant_table(50)[0], 16.0);
        assert_eq!(quant_table(100), [1.0; 64]);
        assert_eq!(quant_table(10)[0], 80.0);
        let image = Plane::from_fn(20, 12, |x, y| (x * 11 + y * 5) as u8);
        let out = jpeg_round_trip(&image, 100);
        assert!(image.data.iter().zip(&out.data).all(|(a, b)| a.abs_diff(*b) <= 1));
    }
}
