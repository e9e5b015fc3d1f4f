//! The input normalisation that travels with pretrained weights.
//!
//! An X-ray is grey; the model sees it as three equal channels of `grey / 255` in [0, 1], then
//! `(x - mean[c]) / std[c]` per channel. ImageNet encoders were trained on that normalisation,
//! and a run records it (`model.input` in its config) so that validation, `predict` and `infer`
//! feed the model exactly what training did.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Per-channel mean and standard deviation, in units of the [0, 1] input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Normalization {
    /// `grey / 255` as it is: what a model trained from scratch sees.
    fn default() -> Self {
        Normalization { mean: [0.0; 3], std: [1.0; 3] }
    }
}

/// torchvision's ImageNet statistics, which SMP's `imagenet` and `advprop`-free configs carry.
pub const IMAGENET: Normalization = Normalization { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

impl Normalization {
    pub fn is_identity(&self) -> bool {
        *self == Normalization::default()
    }

    /// A lookup table per channel: the model's input value of each grey level.
    pub fn table(&self) -> [[f32; 256]; 3] {
        std::array::from_fn(|c| std::array::from_fn(|g| (g as f32 / 255.0 - self.mean[c]) / self.std[c]))
    }

    /// Checks the values make sense (finite, positive deviations).
    pub fn check(&self) -> Result<(), String> {
        if self.mean.iter().chain(&self.std).any(|v| !v.is_finite()) || self.std.iter().any(|&s| s <= 0.0) {
            return Err(format!(
                "mean {:?} / std {:?}: values must be finite and std positive",
                self.mean, self.std
            ));
        }
        Ok(())
    }

    /// The preprocessing a hub `config.json` states, as SMP's `get_preprocessing_params` reads
    /// it: `mean`, `std`, `input_range` (default [0, 1]) and `input_space` (RGB or BGR) at the
    /// top (smp-hub), or under `pretrained_cfg` (timm).
    pub fn from_config_json(text: &str) -> Result<Normalization, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let settings = value.get("pretrained_cfg").unwrap_or(&value);
        let triple = |key: &str| -> Result<[f32; 3], String> {
            let list = settings.get(key).and_then(|v| v.as_array()).ok_or(format!("no `{key}` list"))?;
            let values: Vec<f32> = list.iter().filter_map(|v| v.as_f64()).map(|v| v as f32).collect();
            values.try_into().map_err(|_| format!("`{key}` must hold three numbers"))
        };
        let (mut mean, mut std) = (triple("mean")?, triple("std")?);
        let top = match settings.get("input_range").and_then(|v| v.as_array()) {
            Some(range) => {
                range.get(1).and_then(|v| v.as_f64()).ok_or("`input_range` must be [low, high]")?
            }
            None => 1.0,
        };
        // SMP divides by 255 only when the range is [0, 1]; a [0, 255] model takes raw levels.
        if top > 1.0 {
            mean = mean.map(|m| m / 255.0);
            std = std.map(|s| s / 255.0);
        }
        if settings.get("input_space").and_then(|v| v.as_str()) == Some("BGR") {
            mean.reverse();
            std.reverse();
        }
        let normalization = Normalization { mean, std };
        normalization.check()?;
        Ok(normalization)
    }
}

/// Grey images of `size x size` pixels as the model's `[n, 3, size, size]` input (grey / 255 in
/// three channels, then `input`'s per-channel normalisation), for validation and prediction.
pub fn images_tensor(images: &[&[u8]], size: usize, input: &Normalization, device: &Device) -> Tensor<4> {
    let plane = size * size;
    let table = input.table();
    let mut values = vec![0f32; images.len() * 3 * plane];
    for (image, out) in images.iter().zip(values.chunks_exact_mut(3 * plane)) {
        fill_input(image, &table, out);
    }
    Tensor::from_data(TensorData::new(values, [images.len(), 3, size, size]), device)
}

/// One grey image as three planes through the per-channel tables of [`Normalization::table`].
pub fn fill_input(grey: &[u8], table: &[[f32; 256]; 3], out: &mut [f32]) {
    for (channel, plane) in out.chunks_exact_mut(grey.len()).enumerate() {
        for (value, &g) in plane.iter_mut().zip(grey) {
            *value = table[channel][usize::from(g)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smp_and_timm_configs_read_alike() {
        let smp = r#"{"input_space": "RGB", "input_range": [0, 1], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#;
        assert_eq!(Normalization::from_config_json(smp), Ok(IMAGENET));
        let timm = r#"{"architecture": "hrnet_w18", "pretrained_cfg": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}"#;
        assert_eq!(Normalization::from_config_json(timm), Ok(IMAGENET));
    }

    #[test]
    fn raw_range_and_bgr_are_folded_into_the_statistics() {
        let caffe = r#"{"input_space": "BGR", "input_range": [0, 255], "mean": [103.0, 116.0, 123.0], "std": [1, 1, 1]}"#;
        let n = Normalization::from_config_json(caffe).unwrap();
        assert_eq!(n.mean, [123.0 / 255.0, 116.0 / 255.0, 103.0 / 255.0]);
        // Level 255 with mean 123 (red, first after the swap) and std 1 in raw units.
        assert!((n.table()[0][255] - 132.0).abs() < 1e-3, "{}", n.table()[0][255]);
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        assert!(Normalization::from_config_json(r#"{"mean": [0.5, 0.5]}"#).unwrap_err().contains("three"));
        assert!(
            Normalization::from_config_json(r#"{"mean": [0,0,0], "std": [0,1,1]}"#)
                .unwrap_err()
                .contains("positive")
        );
        assert!(Normalization::from_config_json("{").is_err());
    }
}
