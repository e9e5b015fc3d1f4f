//! `A.GaussNoise`: per-pixel Gaussian noise, standard deviation and mean given as fractions of
//! 255, added in `f32`, clipped and truncated to `uint8` as albucore does.
//!
//! Random by nature: it is compared with albumentations statistically (mean and spread of the
//! added noise), not pixel by pixel.

use boneseg_contract::rng::Random;
use serde::Deserialize;

use crate::limit::Limit;
use crate::rng::Rng;
use boneseg_data::plane::Plane;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussNoise {
    #[serde(default = "GaussNoise::default_std")]
    pub std_range: Limit,
    #[serde(default = "GaussNoise::default_mean")]
    pub mean_range: Limit,
}

impl GaussNoise {
    fn default_std() -> Limit {
        Limit::Two([0.2, 0.44])
    }
    fn default_mean() -> Limit {
        Limit::Two([0.0, 0.0])
    }

    pub fn apply(&self, rng: &mut Rng, image: &mut Plane<u8>) {
        let (s0, s1) = self.std_range.exact();
        let (m0, m1) = self.mean_range.exact();
        let sigma = (rng.uniform(s0, s1) * 255.0) as f32;
        let mean = (rng.uniform(m0, m1) * 255.0) as f32;
        let noise = rng.normals(image.data.len());
        for (v, n) in image.data.iter_mut().zip(noise) {
            *v = (f32::from(*v) + mean + sigma * n).clamp(0.0, 255.0) as u8;
        }
    }
}
