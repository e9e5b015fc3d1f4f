//! Point operations on the grey levels, as 256-entry tables built the way albumentations
//! (albucore) builds them for `uint8`: in `f32`, clipped, then truncated.

use boneseg_contract::rng::Random;
use serde::Deserialize;

use crate::limit::Limit;
use crate::rng::Rng;
use boneseg_data::plane::Plane;

pub type Lut = [u8; 256];

pub fn apply_lut(plane: &mut Plane<u8>, lut: &Lut) {
    plane.data.iter_mut().for_each(|v| *v = lut[*v as usize]);
}

fn clip_trunc(v: f32) -> u8 {
    v.clamp(0.0, 255.0) as u8
}

/// `value * alpha + beta`, clipped and truncated (`albucore.multiply_add`).
pub fn multiply_add_lut(alpha: f64, beta: f64) -> Lut {
    std::array::from_fn(|i| clip_trunc(i as f32 * alpha as f32 + beta as f32))
}

/// `(value / 255) ^ gamma * 255`, truncated (`gamma_transform`).
pub fn gamma_lut(gamma: f64) -> Lut {
    std::array::from_fn(|i| ((i as f64 * (1.0 / 255.0)).powf(gamma) * 255.0) as u8)
}

/// `255 - value` (`A.InvertImg`).
pub fn invert_lut() -> Lut {
    std::array::from_fn(|i| 255 - i as u8)
}

/// `A.RandomBrightnessContrast`: `alpha = 1 + u(contrast_limit)`,
/// `beta = u(brightness_limit) * 255` (or times the image mean without `brightness_by_max`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrightnessContrast {
    #[serde(default = "BrightnessContrast::default_limit")]
    pub brightness_limit: Limit,
    #[serde(default = "BrightnessContrast::default_limit")]
    pub contrast_limit: Limit,
    #[serde(default = "BrightnessContrast::default_by_max")]
    pub brightness_by_max: bool,
}

impl BrightnessContrast {
    fn default_limit() -> Limit {
        Limit::One(0.2)
    }
    fn default_by_max() -> bool {
        true
    }

    pub fn apply(&self, rng: &mut Rng, image: &mut Plane<u8>) {
        let (c0, c1) = self.contrast_limit.symmetric();
        let (b0, b1) = self.brightness_limit.symmetric();
        let alpha = 1.0 + rng.uniform(c0, c1);
        let beta = rng.uniform(b0, b1);
        let beta = if self.brightness_by_max {
            beta * 255.0
        } else {
            beta * image.data.iter().map(|&v| v as u64).sum::<u64>() as f64 / image.data.len().max(1) as f64
        };
        apply_lut(image, &multiply_add_lut(alpha, beta));
    }
}

/// `A.RandomGamma`: `gamma = u(gamma_limit) / 100`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomGamma {
    #[serde(default = "RandomGamma::default_limit")]
    pub gamma_limit: Limit,
}

impl RandomGamma {
    fn default_limit() -> Limit {
        Limit::Two([80.0, 120.0])
    }

    pub fn apply(&self, rng: &mut Rng, image: &mut Plane<u8>) {
        let (low, high) = self.gamma_limit.exact();
        apply_lut(image, &gamma_lut(rng.uniform(low, high) / 100.0));
    }
}

/// `A.MultiplicativeNoise` with one multiplier for the whole image (its default).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiplicativeNoise {
    #[serde(default = "MultiplicativeNoise::default_multiplier")]
    pub multiplier: Limit,
}

impl MultiplicativeNoise {
    fn default_multiplier() -> Limit {
        Limit::Two([0.9, 1.1])
    }

    pub fn apply(&self, rng: &mut Rng, image: &mut Plane<u8>) {
        let (low, high) = self.multiplier.exact();
        apply_lut(image, &multiply_add_lut(rng.uniform(low, high) as f32 as f64, 0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_clip_and_truncate() {
        let lut = multiply_add_lut(1.5, -10.0);
        assert_eq!((lut[0], lut[7], lut[10], lut[200]), (0, 0, 5, 255));
        assert_eq!(gamma_lut(1.0)[77], 77);
        assert_eq!(invert_lut()[0], 255);
    }
}
