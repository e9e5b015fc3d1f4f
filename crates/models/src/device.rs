//! Which backend runs the model, chosen by name (`--device cpu|vulkan|wgpu|cuda`). The GPU
//! backends exist only in binaries built with the matching cargo feature.

use std::str::FromStr;

use burn::tensor::Device;

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
