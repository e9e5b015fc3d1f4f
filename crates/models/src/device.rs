//! Which backend runs the model, chosen by name (`--device cpu|vulkan|wgpu|cuda`). The GPU
//! backends exist only in binaries built with the matching cargo feature. Also what a caller
//! asks of the device beyond running tensors: whether it computes in a float type, how much
//! memory its allocator holds, and the autodiff device training runs on.

use std::str::FromStr;

use burn::tensor::{Device, FloatDType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Backend {
    /// burn's pure-Rust CPU backend `flex`.
    Cpu,
    Vulkan,
    Wgpu,
    Cuda,
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(Backend::Cpu),
            "vulkan" => Ok(Backend::Vulkan),
            "wgpu" => Ok(Backend::Wgpu),
            "cuda" => Ok(Backend::Cuda),
            _ => Err(format!("unknown device `{text}`; choose cpu, vulkan, wgpu or cuda")),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Cpu => "cpu",
            Backend::Vulkan => "vulkan",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        })
    }
}

boneseg_contract::named_in_config!(Backend);

impl Backend {
    /// The burn device, or why this binary cannot provide it.
    pub fn device(self) -> Result<Device, String> {
        let missing = |feature: &str| {
            Err(format!(
                "this boneseg was built without the `{feature}` feature; rebuild with `--features {feature}`"
            ))
        };
        match self {
            #[cfg(feature = "flex")]
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(not(feature = "flex"))]
            Backend::Cpu => missing("flex"),
            #[cfg(feature = "vulkan")]
            Backend::Vulkan => Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "vulkan"))]
            Backend::Vulkan => missing("vulkan"),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => missing("wgpu"),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => missing("cuda"),
        }
    }
}

/// Whether `device` can train in `dtype`, or why not: the adapter must report storage,
/// conversion and arithmetic in it (a Vulkan device without `VK_KHR_shader_bfloat16` has no
/// bf16 arithmetic, and running it anyway poisons the device), and the driver must not be one
/// known to crash on its kernels. flex computes in every float type.
pub fn computes_in(device: &Device, dtype: FloatDType) -> Result<(), String> {
    if !device.supports_dtype(dtype) {
        return Err(format!("its adapter does not offer {} arithmetic", format!("{dtype:?}").to_lowercase()));
    }
    match driver_defect(device, dtype) {
        Some(defect) => Err(defect),
        None => Ok(()),
    }
}

/// Drivers that report a type but crash on the kernels that compute in it, by the name the
/// adapter gives itself. Mesa's lavapipe (llvmpipe; Mesa 22.3.6, Debian 12) offers
/// `shaderFloat16`, then dies with SIGSEGV inside `libvulkan_lvp.so` while compiling the first
/// f16 training kernel (`vkCreateComputePipelines`, from cubecl-wgpu's `create_pipeline`), which
/// no error handling can catch. (Its shader compiler crashes the same way on one of SegFormer's
/// float32 kernels: see crates/models/tests/gpu.rs.)
fn driver_defect(device: &Device, dtype: FloatDType) -> Option<String> {
    #[cfg(any(feature = "vulkan", feature = "wgpu", feature = "cuda"))]
    if dtype == FloatDType::F16 {
        let name = device.identity()?.name;
        if name.starts_with("llvmpipe") {
            return Some(format!(
                "its driver, Mesa's lavapipe ({name}), crashes (SIGSEGV in libvulkan_lvp.so) compiling f16 kernels"
            ));
        }
    }
    let _ = (device, dtype);
    None
}

/// The autodiff device a model trains on. With `checkpointing`, burn's balanced gradient
/// checkpointing keeps the outputs of compute-bound operations (convolutions, matrix products)
/// for the backward pass and recomputes the memory-bound ones (activations, normalisation,
/// element-wise arithmetic) from them, which lowers the peak memory of a step at the price of
/// recomputing cheap operations.
pub fn training_device(device: &Device, checkpointing: bool) -> Device {
    let device = device.clone().autodiff();
    if checkpointing { device.gradient_checkpointing() } else { device }
}

/// The most device memory seen in the samples taken so far, where the backend reports its
/// allocator (the GPU backends; flex does not, and its memory is the process's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceMemory {
    /// Bytes of live tensors, at most, among the samples.
    pub in_use: u64,
    /// Bytes the allocator's pools held from the driver, at most, among the samples. The pools
    /// keep their pages for reuse, so this is the high-water mark of the device memory taken.
    pub reserved: u64,
}

impl DeviceMemory {
    /// Folds in what `device` holds now; `false` when the backend does not say.
    pub fn sample(&mut self, device: &Device) -> bool {
        match device.memory_pool_usage() {
            Some(usage) => {
                self.in_use = self.in_use.max(usage.bytes_in_use);
                self.reserved = self.reserved.max(usage.bytes_reserved);
                true
            }
            None => false,
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::{GradientCheckpointingStrategy, Gradients, Tensor, TensorData};

    use super::*;
    use crate::model::BuildOptions;
    use crate::weights::{apply_state_dict, synthetic_input, synthetic_state_dict};
    use crate::{ModelSpec, SegmentationModel};

    /// Every parameter's gradient of a small U-Net's nonlinear loss, in visiting order.
    fn gradients(checkpointing: bool) -> Vec<f32> {
        let device = training_device(&Device::flex(), checkpointing);
        let spec = ModelSpec::new("unet".parse().unwrap(), "resnet18".parse().unwrap(), 3).unwrap();
        let mut model = SegmentationModel::build(spec, BuildOptions { dropout: false }, &device);
        let weights = synthetic_state_dict(&model);
        assert!(apply_state_dict(&mut model, weights).is_complete());
        let shape = [2, 3, 32, 32];
        let x = Tensor::<4>::from_data(TensorData::new(synthetic_input(shape), shape), &device);
        let grads = burn::tensor::activation::sigmoid(model.forward(x)).square().mean().backward();
        struct Collect<'a>(&'a Gradients, Vec<f32>);
        impl ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(grad) = param.val().grad(self.0) {
                    self.1.extend(grad.into_data().iter::<f32>());
                }
            }
        }
        let mut collect = Collect(&grads, Vec::new());
        model.visit(&mut collect);
        collect.1
    }

    /// Recomputing activations in the backward pass gives the gradients of keeping them.
    #[test]
    fn gradient_checkpointing_keeps_the_gradients() {
        let checkpointed = training_device(&Device::flex(), true);
        assert_eq!(
            checkpointed.gradient_checkpointing_strategy(),
            Some(GradientCheckpointingStrategy::Balanced)
        );
        let (kept, recomputed) = (gradients(false), gradients(true));
        assert!(!kept.is_empty() && kept.iter().any(|&g| g != 0.0));
        assert_eq!(kept, recomputed);
    }
}
