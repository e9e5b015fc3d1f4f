//! PyTorch state dicts in and out: reading `.pth`/`.safetensors` checkpoints as SMP and
//! torchvision write them, matching their keys to our parameters, and the synthetic
//! weights that the parity fixtures are built from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use boneseg_contract::rng::{GOLDEN_GAMMA, mix64};
use burn::module::Module;
use burn::store::bridge::{from_data, to_data};
use burn::store::{
    BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::TensorData;

pub use burn::store::burn_pack::Tensor as PackTensor;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: the file name must end in .safetensors, .pth, .pt, .bin or .bpk")]
    UnknownFormat { path: PathBuf },
    #[error(
        "{path}: {report}; is it a checkpoint of this {what}? (model.allow_partial = true, or \
         --allow-partial, starts from what matches)"
    )]
    Incomplete { path: PathBuf, what: &'static str, report: String },
    #[error("{path}: none of its {count} tensors is a parameter of the {what}: {report}")]
    NothingMatched { path: PathBuf, what: &'static str, count: usize, report: String },
}

/// Prefixes under which training scripts wrap a state dict (`{"state_dict": ...}`,
/// `{"model": ...}`) or under which `nn.DataParallel` stores it.
const WRAPPERS: [&str; 3] = ["state_dict.", "model.", "module."];

/// Every tensor of a checkpoint, named by its state-dict key, wrappers removed.
pub fn read_state_dict(path: &Path) -> Result<Vec<PackTensor>, WeightsError> {
    let read_error = |message: String| WeightsError::Read { path: path.to_path_buf(), message };
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let tensors: Vec<PackTensor> = match extension.as_str() {
        "safetensors" => SafetensorsStore::from_file(path)
            .get_all_tensors()
            .map_err(|e| read_error(e.to_string()))?
            .values()
            .cloned()
            .collect(),
        // burn renumbers `nn.Sequential` indices by default (`classifier.4` -> `.2`); our
        // names keep PyTorch's positions, so the keys must arrive as PyTorch wrote them.
        "pth" | "pt" | "bin" => PytorchStore::from_file(path)
            .map_indices_contiguous(false)
            .get_all_tensors()
            .map_err(|e| read_error(e.to_string()))?
            .values()
            .cloned()
            .collect(),
        _ => return Err(WeightsError::UnknownFormat { path: path.to_path_buf() }),
    };
    if tensors.is_empty() {
        return Err(read_error("holds no tensors".to_string()));
    }
    Ok(unwrap_prefixes(tensors))
}

fn unwrap_prefixes(mut tensors: Vec<PackTensor>) -> Vec<PackTensor> {
    while let Some(prefix) = WRAPPERS.iter().find(|p| tensors.iter().all(|t| t.name.starts_with(*p))) {
        for tensor in &mut tensors {
            tensor.name = tensor.name[prefix.len()..].to_string();
        }
    }
    tensors
}

/// What loading a state dict did: keys are PyTorch's.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub applied: usize,
    /// Parameters of the model the checkpoint does not have (they keep their initial values).
    pub missing: Vec<String>,
    /// Checkpoint tensors the model has no place for.
    pub unused: Vec<String>,
    /// Tensors that matched a name but not its shape or type.
    pub errors: Vec<String>,
}

impl LoadReport {
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.unused.is_empty() && self.errors.is_empty()
    }

    /// What did not match, a few keys of each side.
    pub fn describe(&self) -> String {
        const SHOWN: usize = 5;
        let first = |keys: &[String]| {
            let mut listed = keys.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
            if keys.len() > SHOWN {
                listed.push_str(", ...");
            }
            listed
        };
        let mut parts = vec![format!("{} tensors loaded", self.applied)];
        if !self.unused.is_empty() {
            parts.push(format!(
                "{} in the file have no place in the model ({})",
                self.unused.len(),
                first(&self.unused)
            ));
        }
        if !self.missing.is_empty() {
            parts.push(format!(
                "{} of the model's are missing from the file ({})",
                self.missing.len(),
                first(&self.missing)
            ));
        }
        if !self.errors.is_empty() {
            parts.push(format!("{} do not fit ({})", self.errors.len(), first(&self.errors)));
        }
        parts.join("; ")
    }

    /// An error unless every tensor found its place (or `allow_partial` and at least one did).
    pub fn require(
        self,
        path: &Path,
        what: &'static str,
        count: usize,
        allow_partial: bool,
    ) -> Result<Self, WeightsError> {
        if self.applied == 0 {
            return Err(WeightsError::NothingMatched {
                path: path.to_path_buf(),
                what,
                count,
                report: self.describe(),
            });
        }
        if !self.errors.is_empty() || (!allow_partial && !self.is_complete()) {
            return Err(WeightsError::Incomplete { path: path.to_path_buf(), what, report: self.describe() });
        }
        Ok(self)
    }
}

/// The classifier keys SMP's encoders drop before loading an ImageNet state dict.
const CLASSIFIER_KEYS: [&str; 6] =
    ["fc.weight", "fc.bias", "_fc.weight", "_fc.bias", "head.weight", "head.bias"];

/// How a file names its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// PyTorch state-dict keys (.pth, .safetensors).
    PyTorch,
    /// burn's module paths (.bpk, as `weights import` and checkpoints write them).
    Burn,
}

fn read_any(path: &Path) -> Result<(Vec<PackTensor>, Naming), WeightsError> {
    let is_burnpack =
        path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("bpk"));
    if !is_burnpack {
        return Ok((read_state_dict(path)?, Naming::PyTorch));
    }
    let read_error = |message: String| WeightsError::Read { path: path.to_path_buf(), message };
    if !path.is_file() {
        return Err(read_error("no such file".to_string()));
    }
    let tensors: Vec<PackTensor> = burn::store::BurnpackStore::from_file(path)
        .get_all_tensors()
        .map_err(|e| read_error(e.to_string()))?
        .values()
        .cloned()
        .map(|mut tensor| {
            // A burnpack names enum variants in its paths (`decoder.Unet.blocks...`, a lone
            // encoder's `ResNet.conv1.weight`); applying to a module wants them without.
            tensor.name = tensor
                .name
                .split('.')
                .filter(|segment| !segment.starts_with(|c: char| c.is_ascii_uppercase()))
                .collect::<Vec<_>>()
                .join(".");
            tensor
        })
        .collect();
    Ok((tensors, Naming::Burn))
}

fn apply_named<M: Module>(module: &mut M, tensors: Vec<PackTensor>, naming: Naming) -> LoadReport {
    match naming {
        Naming::PyTorch => apply_state_dict(module, tensors),
        Naming::Burn => {
            let result = module.apply(tensors, None, None, true);
            LoadReport {
                applied: result.applied.len(),
                missing: result.missing.into_iter().map(|(path, _)| path).collect(),
                unused: result.unused,
                errors: result.errors.iter().map(|e| e.to_string()).collect(),
            }
        }
    }
}

/// Loads an encoder's tensors (keys without the model's `encoder.`/`backbone.` prefix, a
/// classifier allowed and dropped) into `model`'s encoder, strictly unless `allow_partial`.
pub fn load_into_encoder(
    model: &mut crate::SegmentationModel,
    tensors: Vec<PackTensor>,
    path: &Path,
    allow_partial: bool,
) -> Result<LoadReport, WeightsError> {
    load_encoder_named(model, tensors, Naming::PyTorch, path, allow_partial)
}

fn load_encoder_named(
    model: &mut crate::SegmentationModel,
    mut tensors: Vec<PackTensor>,
    naming: Naming,
    path: &Path,
    allow_partial: bool,
) -> Result<LoadReport, WeightsError> {
    tensors.retain(|t| !CLASSIFIER_KEYS.contains(&t.name.as_str()));
    let count = tensors.len();
    let report = match model {
        crate::SegmentationModel::Smp(smp) => apply_named(&mut smp.encoder, tensors, naming),
        crate::SegmentationModel::Fcn(fcn) => apply_named(&mut fcn.backbone, tensors, naming),
    };
    report.require(path, "encoder", count, allow_partial)
}

/// The weights a training run starts from (`model.weights`): a whole model's state dict (SMP
/// keys, or a boneseg checkpoint's `model.bpk`), or an encoder's alone (timm/torchvision/SMP-hub
/// keys, or a `.bpk` from `boneseg weights import`), put under the encoder. Every tensor must
/// find its place and every parameter of what is loaded must be filled, unless `allow_partial`;
/// a file that matches nothing is an error either way.
pub fn load_start_weights(
    model: &mut crate::SegmentationModel,
    path: &Path,
    allow_partial: bool,
) -> Result<LoadReport, WeightsError> {
    let (tensors, naming) = read_any(path)?;
    let own: Vec<String> = match naming {
        Naming::PyTorch => state_dict(model).into_iter().map(|t| t.name).collect(),
        Naming::Burn => model.collect(None, None, true).into_iter().map(|t| t.name).collect(),
    };
    let roots: std::collections::HashSet<&str> = own.iter().filter_map(|k| k.split('.').next()).collect();
    let whole_model =
        tensors.iter().any(|t| t.name.split('.').next().is_some_and(|root| roots.contains(root)));
    if !whole_model {
        return load_encoder_named(model, tensors, naming, path, allow_partial);
    }
    let count = tensors.len();
    apply_named(model, tensors, naming).require(path, "model", count, allow_partial)
}

/// Loads PyTorch-named tensors into `model`. BatchNorm's `num_batches_tracked` has no
/// counterpart here and is neither applied nor reported.
pub fn apply_state_dict<M: Module>(model: &mut M, tensors: Vec<PackTensor>) -> LoadReport {
    let modules = module_paths(model);
    let renamed: Vec<PackTensor> = tensors
        .into_iter()
        .filter(|t| !t.name.ends_with("num_batches_tracked"))
        .map(|mut tensor| {
            if let Some((module, param)) = tensor.name.rsplit_once('.')
                && let Some(ours) = modules.get(module)
            {
                tensor.name = format!("{ours}.{param}");
            }
            tensor
        })
        .collect();
    let result = model.apply(renamed, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    LoadReport {
        applied: result.applied.len(),
        missing: result.missing.iter().map(|(path, _)| pytorch_key(&burn_param_to_pytorch(path))).collect(),
        unused: result.unused.iter().map(|path| pytorch_key(path)).collect(),
        errors: result.errors.iter().map(|e| e.to_string()).collect(),
    }
}

/// Loads a checkpoint file into `model`, reporting what did not match (callers decide).
pub fn load_file<M: Module>(model: &mut M, path: &Path) -> Result<LoadReport, WeightsError> {
    Ok(apply_state_dict(model, read_state_dict(path)?))
}

/// Encoder weights from a timm/torchvision/SMP checkpoint, ready to start training from.
///
/// A whole SMP model's checkpoint carries the encoder under `encoder.`, torchvision's FCN
/// under `backbone.`; a bare encoder's (torchvision, SMP hub) carries it at the top, with a
/// classifier (`fc`, `_fc`) that has no place in a segmentation encoder and is reported unused.
pub fn import_encoder(
    name: crate::registry::EncoderName,
    path: &Path,
    device: &burn::tensor::Device,
) -> Result<(crate::encoders::Encoder, LoadReport), WeightsError> {
    let mut tensors = read_state_dict(path)?;
    for prefix in ["encoder.", "backbone."] {
        if tensors.iter().any(|t| t.name.starts_with(prefix)) {
            tensors.retain(|t| t.name.starts_with(prefix));
            for tensor in &mut tensors {
                tensor.name = tensor.name[prefix.len()..].to_string();
            }
            break;
        }
    }
    let mut encoder = crate::encoders::Encoder::new(name, 32, device);
    let report = apply_state_dict(&mut encoder, tensors);
    Ok((encoder, report))
}

/// Writes a module in burn's own format (`.bpk`), under a temporary name first.
pub fn save_burnpack<M: Module>(module: &M, path: &Path) -> Result<(), WeightsError> {
    let write_error = |message: String| WeightsError::Read { path: path.to_path_buf(), message };
    let partial = path.with_extension("bpk.partial");
    let mut store = burn::store::BurnpackStore::from_file(&partial).overwrite(true);
    module.save_into(&mut store).map_err(|e| write_error(e.to_string()))?;
    std::fs::rename(&partial, path).map_err(|e| write_error(e.to_string()))
}

/// How two weight files differ, tensor by tensor (by name).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeightsDiff {
    /// Tensors in both files with the same shape.
    pub compared: usize,
    /// Of those, the ones equal value for value.
    pub identical: usize,
    /// The largest absolute difference of any value, and the tensor it is in.
    pub max_abs: f64,
    pub worst: Option<String>,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    /// Tensors whose shapes differ.
    pub reshaped: Vec<String>,
}

impl WeightsDiff {
    /// Same tensors, same shapes, every value within `tolerance`.
    pub fn within(&self, tolerance: f64) -> bool {
        self.only_in_a.is_empty()
            && self.only_in_b.is_empty()
            && self.reshaped.is_empty()
            && self.max_abs <= tolerance
    }
}

/// Compares the weights in `a` and `b` (files as [`load_start_weights`] reads them, or checkpoint
/// folders) value for value, as f64; parameter ids, which differ between any two runs, are not
/// compared.
pub fn compare_weights(a: &Path, b: &Path) -> Result<WeightsDiff, WeightsError> {
    let values = |tensor: &PackTensor, path: &Path| -> Result<Vec<f64>, WeightsError> {
        let read_error = |message: String| WeightsError::Read { path: path.to_path_buf(), message };
        let data = to_data(tensor).map_err(|e| read_error(format!("{}: {e:?}", tensor.name)))?;
        data.convert::<f64>().try_into_vec::<f64>().map_err(|e| read_error(format!("{}: {e:?}", tensor.name)))
    };
    // A checkpoint folder stands for its model.
    let file = |path: &Path| if path.is_dir() { path.join("model.bpk") } else { path.to_path_buf() };
    let ((left, _), (right, _)) = (read_any(&file(a))?, read_any(&file(b))?);
    let right: HashMap<&str, &PackTensor> = right.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut diff = WeightsDiff::default();
    let mut seen = std::collections::HashSet::new();
    for x in &left {
        seen.insert(x.name.as_str());
        let Some(y) = right.get(x.name.as_str()) else {
            diff.only_in_a.push(x.name.clone());
            continue;
        };
        if x.shape != y.shape {
            diff.reshaped.push(x.name.clone());
            continue;
        }
        let (u, v) = (values(x, a)?, values(y, b)?);
        let worst = u.iter().zip(&v).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
        diff.compared += 1;
        diff.identical += usize::from(u == v);
        if worst > diff.max_abs {
            diff.max_abs = worst;
            diff.worst = Some(x.name.clone());
        }
    }
    diff.only_in_b = right.keys().filter(|name| !seen.contains(*name)).map(|name| name.to_string()).collect();
    diff.only_in_b.sort();
    Ok(diff)
}

/// Float tensors as the bytes of a safetensors file (f32), the format SMP's hub and
/// `model.save_pretrained` write; for handing weights to PyTorch, and for the tests' hubs.
pub fn safetensors_bytes(tensors: &[PackTensor]) -> Result<Vec<u8>, String> {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|t| {
            let values = to_data(t).map_err(|e| format!("{}: {e:?}", t.name))?.convert::<f32>();
            let values = values.try_into_vec::<f32>().map_err(|e| format!("{}: {e:?}", t.name))?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Ok((t.name.clone(), bytes, t.shape.iter().copied().collect()))
        })
        .collect::<Result<_, String>>()?;
    let views = data
        .iter()
        .map(|(name, bytes, shape)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|e| format!("{name}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    safetensors::serialize(views, None).map_err(|e| e.to_string())
}

/// Our module paths keyed by the PyTorch module path they stand for.
fn module_paths<M: Module>(model: &M) -> HashMap<String, String> {
    model
        .collect(None, None, true)
        .into_iter()
        .filter_map(|t| t.name.rsplit_once('.').map(|(module, _)| module.to_string()))
        .map(|ours| (pytorch_key(&ours), ours))
        .collect()
}

/// The PyTorch key of one of our paths: `_N` segments are `nn.Sequential` positions `N`.
pub fn pytorch_key(path: &str) -> String {
    path.split('.')
        .map(|segment| match segment.strip_prefix('_') {
            Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => segment,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn burn_param_to_pytorch(path: &str) -> String {
    match path.rsplit_once('.') {
        Some((module, "gamma")) => format!("{module}.weight"),
        Some((module, "beta")) => format!("{module}.bias"),
        _ => path.to_string(),
    }
}

/// The model's parameters as a PyTorch state dict would hold them (names, layouts).
pub fn state_dict<M: Module>(model: &M) -> Vec<PackTensor> {
    model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|mut tensor| {
            tensor.name = pytorch_key(&tensor.name);
            tensor
        })
        .collect()
}

/// Synthetic weights, a pure function of each PyTorch key and shape: the same formula as
/// `tools/reference/smp_reference.py`, so parity fixtures need to carry only their logits.
pub fn synthetic_state_dict<M: Module>(model: &M) -> Vec<PackTensor> {
    state_dict(model)
        .into_iter()
        .map(|tensor| {
            let shape: Vec<usize> = tensor.shape.iter().copied().collect();
            let values = synthetic_values(&tensor.name, &shape);
            from_data(TensorData::new(values, shape), tensor.name, None)
        })
        .collect()
}

/// The values `tools/reference/smp_reference.py::synthetic_tensor` gives the key `key`.
pub fn synthetic_values(key: &str, shape: &[usize]) -> Vec<f32> {
    let count: usize = shape.iter().product();
    let u = uniform(key, count);
    let values: Vec<f64> = if key.ends_with("running_var") {
        u.map(|u| 0.5 + u).collect()
    } else if key.ends_with("running_mean") || (shape.len() == 1 && key.ends_with("bias")) {
        u.map(|u| (u - 0.5) * 0.2).collect()
    } else if shape.len() == 1 {
        u.map(|u| 0.9 + 0.2 * u).collect()
    } else {
        let fan_in = (count / shape[0]) as f64;
        let bound = 2.0 / fan_in.sqrt();
        u.map(|u| (u - 0.5) * bound).collect()
    };
    values.into_iter().map(|v| v as f32).collect()
}

/// The synthetic input batch of the parity fixtures.
pub fn synthetic_input(shape: [usize; 4]) -> Vec<f32> {
    uniform("input", shape.iter().product()).map(|u| ((u - 0.5) * 4.0) as f32).collect()
}

/// `count` numbers in [0, 1): splitmix64 of (fnv1a64(key) + i), top 53 bits.
fn uniform(key: &str, count: usize) -> impl Iterator<Item = f64> {
    let seed =
        key.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01B3));
    (0..count as u64)
        .map(move |i| (mix64(seed.wrapping_add(i).wrapping_add(GOLDEN_GAMMA)) >> 11) as f64 * 2f64.powi(-53))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_positions_lose_their_underscore_only() {
        assert_eq!(
            pytorch_key("decoder.blocks.x_0_0.conv1._1.weight"),
            "decoder.blocks.x_0_0.conv1.1.weight"
        );
        assert_eq!(pytorch_key("encoder._blocks.3._bn0.weight"), "encoder._blocks.3._bn0.weight");
        assert_eq!(pytorch_key("segmentation_head._0.bias"), "segmentation_head.0.bias");
    }

    #[test]
    fn uniform_matches_the_python_reference() {
        // numpy: smp_reference.uniform("input", 3)
        let first: Vec<f64> = uniform("input", 3).collect();
        assert!(first.iter().all(|u| (0.0..1.0).contains(u)));
        assert_ne!(first[0], first[1]);
    }
}
