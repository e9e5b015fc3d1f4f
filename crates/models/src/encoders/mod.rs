//! Encoders: each turns an image batch into the six features SMP's decoders expect
//! (the input itself, then strides 2, 4, 8, 16 and 32).

pub mod convnext;
pub mod efficientnet;
pub mod hrnet;
pub mod mix_transformer;
pub mod resnet;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::registry::EncoderName;
use crate::weights::PackTensor;
pub use convnext::ConvNextEncoder;
pub use efficientnet::EfficientNet;
pub use hrnet::{HrnetEncoder, HrnetFeatures};
pub use mix_transformer::MixTransformer;
pub use resnet::{ResNet, ResNetDilation};

#[derive(Module, Debug)]
pub enum Encoder {
    ResNet(ResNet),
    EfficientNet(EfficientNet),
    MixTransformer(MixTransformer),
    Hrnet(HrnetEncoder),
    ConvNext(ConvNextEncoder),
}

impl Encoder {
    /// The encoder `name` with SMP's `output_stride` (32, or 16/8 for DeepLab: the last
    /// stages trade their stride for dilation).
    pub fn new(name: EncoderName, output_stride: usize, device: &Device) -> Self {
        match name {
            EncoderName::ResNet(depth) => {
                Encoder::ResNet(ResNet::new(depth.layout(), ResNetDilation::Smp { output_stride }, device))
            }
            EncoderName::ResNeXt(variant) => {
                Encoder::ResNet(ResNet::new(variant.layout(), ResNetDilation::Smp { output_stride }, device))
            }
            EncoderName::EfficientNet(variant) => {
                Encoder::EfficientNet(EfficientNet::new(variant, output_stride, device))
            }
            EncoderName::MixTransformer(variant) => {
                Encoder::MixTransformer(MixTransformer::new(variant, device))
            }
            EncoderName::Hrnet(width) => {
                Encoder::Hrnet(HrnetEncoder::new(width, HrnetFeatures::Incre, device))
            }
            EncoderName::ConvNext(variant) => Encoder::ConvNext(ConvNextEncoder::new(variant, device)),
        }
    }

    /// The six features, highest resolution first.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        match self {
            Encoder::ResNet(encoder) => encoder.forward(x),
            Encoder::EfficientNet(encoder) => encoder.forward(x),
            Encoder::MixTransformer(encoder) => encoder.forward(x),
            Encoder::Hrnet(encoder) => encoder.forward(x),
            Encoder::ConvNext(encoder) => encoder.forward(x),
        }
    }

    /// An encoder checkpoint in the encoder's own key layout. The encoders SMP takes from timm
    /// (`tu-*`) hold timm's features model under `model.`; a checkpoint of timm's classifier
    /// (the hub's `timm/*` files) is renamed into it and loses the head that model lacks.
    /// Other checkpoints, and timm ones already in this layout, pass unchanged.
    pub fn adopt_keys(&self, tensors: Vec<PackTensor>) -> Vec<PackTensor> {
        let rename: &dyn Fn(&str) -> Option<String> = match self {
            Encoder::Hrnet(encoder) => &|key| encoder.key_from_timm(key),
            Encoder::ConvNext(encoder) => &|key| encoder.key_from_timm(key),
            _ => return tensors,
        };
        if tensors.iter().any(|t| t.name.starts_with("model.")) {
            return tensors;
        }
        tensors
            .into_iter()
            .filter_map(|mut tensor| {
                tensor.name = rename(&tensor.name)?;
                Some(tensor)
            })
            .collect()
    }
}

/// The stride-2 feature of encoders that start at stride 4 (MiT, ConvNeXt): no channels, as
/// SMP's `TimmUniversalEncoder` and MiT encoder give it.
pub fn empty_feature(x: &Tensor<4>) -> Tensor<4> {
    let [n, _, h, w] = x.dims();
    Tensor::<4>::zeros([n, 0, h / 2, w / 2], &x.device())
}
