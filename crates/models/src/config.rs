//! The `[model]` table of an experiment's config: which network, from which weights, fed how.
//! Training reads it with the rest of the experiment; inference reads it back from the run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{ModelSpec, Normalization, pretrained};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// unet, unetplusplus, fpn, deeplabv3, deeplabv3plus, segformer, upernet, hrnet or fcn.
    pub arch: String,
    pub encoder: String,
    #[serde(default = "default_classes")]
    pub classes: usize,
    /// U-Net and U-Net++ only: the five decoder blocks' widths, deepest first, as SMP's
    /// `decoder_channels` (default [256, 128, 64, 32, 16]); narrower is a cheaper step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder_channels: Option<Vec<usize>>,
    /// Start the encoder from public pretrained weights, as SMP's `encoder_weights`:
    /// "imagenet" (every encoder but resnext101_32x4d), "advprop" (EfficientNets), "ssl"/"swsl"
    /// (ResNet-18/50, ResNeXt), "instagram" (resnext101_32x8d).
    /// Downloaded once into the cache (`BONESEG_CACHE`); see `boneseg model list`. "none", as
    /// SMP's `encoder_weights=None`, starts from scratch (`--set model.encoder_weights=none`
    /// turns off a config's pretrained start).
    #[serde(default, deserialize_with = "tag_or_none")]
    pub encoder_weights: Option<String>,
    /// Weights to start from (after `encoder_weights`): a `.bpk` from `boneseg weights import`
    /// or a checkpoint's `model.bpk`, a whole model's PyTorch state dict (.pth/.safetensors, SMP
    /// keys), or an encoder's alone (timm/torchvision/SMP-hub keys), put under the encoder.
    #[serde(default)]
    pub weights: Option<PathBuf>,
    /// Start from weights that fill only part of the model (else that is an error).
    #[serde(default)]
    pub allow_partial: bool,
    /// The input normalisation, `(grey / 255 - mean) / std` per channel. Left out, it is the
    /// pretrained weights' (written here in the run's config) or, from scratch, none.
    #[serde(default)]
    pub input: Option<Normalization>,
}

impl ModelConfig {
    /// What the model is fed: `model.input`, else `grey / 255` as it is.
    pub fn normalization(&self) -> Normalization {
        self.input.unwrap_or_default()
    }
}

/// A pretrained tag, or None for `none` (any case) and an empty string.
fn tag_or_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let tag = Option::<String>::deserialize(deserializer)?;
    Ok(tag.filter(|tag| !tag.is_empty() && !tag.eq_ignore_ascii_case("none")))
}

fn default_classes() -> usize {
    boneseg_contract::NUM_CLASSES
}

impl ModelConfig {
    /// The architecture and encoder, parsed and checked against each other.
    pub fn spec(&self) -> Result<ModelSpec, String> {
        let arch = self.arch.parse().map_err(|e| format!("model.arch: {e}"))?;
        let encoder = self.encoder.parse().map_err(|e| format!("model.encoder: {e}"))?;
        let spec = ModelSpec::new(arch, encoder, self.classes)?;
        match &self.decoder_channels {
            Some(channels) => {
                spec.with_decoder_channels(channels).map_err(|e| format!("model.decoder_channels: {e}"))
            }
            None => Ok(spec),
        }
    }

    /// Everything a loaded table must satisfy beyond its types, with the key at fault named.
    pub fn check(&self) -> Result<(), String> {
        self.spec()?;
        if let Some(tag) = &self.encoder_weights {
            let encoder = self.encoder.parse().map_err(|e| format!("model.encoder: {e}"))?;
            pretrained::lookup(encoder, tag).map_err(|e| format!("model.encoder_weights: {e}"))?;
        }
        if let Some(input) = &self.input {
            input.check().map_err(|e| format!("model.input: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_weights_none_means_from_scratch() {
        let read = |tag: &str| {
            let text = format!(r#"{{"arch": "unet", "encoder": "resnet18", "encoder_weights": "{tag}"}}"#);
            serde_json::from_str::<ModelConfig>(&text).unwrap().encoder_weights
        };
        assert_eq!(read("none"), None);
        assert_eq!(read("None"), None);
        assert_eq!(read("imagenet").as_deref(), Some("imagenet"));
    }

    #[test]
    fn decoder_channels_are_checked_against_the_architecture() {
        let spec = |arch: &str, channels: &str| {
            let text =
                format!(r#"{{"arch": "{arch}", "encoder": "resnet18", "decoder_channels": {channels}}}"#);
            serde_json::from_str::<ModelConfig>(&text).unwrap().spec()
        };
        assert_eq!(spec("unet", "[128, 64, 32, 16, 16]").unwrap().decoder_channels, [128, 64, 32, 16, 16]);
        assert_eq!(
            spec("unetplusplus", "[64, 32, 16, 16, 8]").unwrap().decoder_channels,
            [64, 32, 16, 16, 8]
        );
        let refused = |arch: &str, channels: &str, says: &str| {
            let error = spec(arch, channels).unwrap_err();
            assert!(error.starts_with("model.decoder_channels: ") && error.contains(says), "{error}");
        };
        refused("fpn", "[128, 64, 32, 16, 16]", "only unet and unetplusplus");
        refused("unet", "[128, 64, 32, 16]", "five widths");
        refused("unet", "[128, 64, 0, 16, 16]", "above 0");
    }
}
