//! Encoders: each turns an image batch into the six features SMP's decoders expect
//! (the input itself, then strides 2, 4, 8, 16 and 32).

pub mod efficientnet;
pub mod mix_transformer;
pub mod resnet;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::registry::EncoderName;
pub use efficientnet::EfficientNet;
pub use mix_transformer::MixTransformer;
pub use resnet::{ResNet, ResNetDilation};

#[derive(Module, Debug)]
pub enum Encoder {
    ResNet(ResNet),
    EfficientNet(EfficientNet),
    MixTransformer(MixTransformer),
}

impl Encoder {
    /// The encoder `name` with SMP's `output_stride` (32, or 16/8 for DeepLab: the last
    /// stages trade their stride for dilation).
    pub fn new(name: EncoderName, output_stride: usize, device: &Device) -> Self {
        match name {
            EncoderName::ResNet(depth) => {
                Encoder::ResNet(ResNet::new(depth, ResNetDilation::Smp { output_stride }, device))
            }
            EncoderName::EfficientNet(variant) => {
                Encoder::EfficientNet(EfficientNet::new(variant, output_stride, device))
            }
            EncoderName::MixTransformer(variant) => {
                Encoder::MixTransformer(MixTransformer::new(variant, device))
            }
        }
    }

    /// The six features, highest resolution first.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        match self {
            Encoder::ResNet(encoder) => encoder.forward(x),
            Encoder::EfficientNet(encoder) => encoder.forward(x),
            Encoder::MixTransformer(encoder) => encoder.forward(x),
        }
    }
}
