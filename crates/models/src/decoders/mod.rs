//! Decoders: each turns the encoder's six features into a feature map at the input's
//! resolution (or a fixed fraction of it, restored by the segmentation head).

pub mod deeplab;
pub mod fcn;
pub mod fpn;
pub mod hrnet;
pub mod segformer;
pub mod unet;
pub mod unetplusplus;
pub mod upernet;

use burn::module::Module;
use burn::tensor::Tensor;

pub use deeplab::{DeepLabV3Decoder, DeepLabV3PlusDecoder};
pub use fcn::FcnHead;
pub use fpn::FpnDecoder;
pub use hrnet::HrnetHead;
pub use segformer::SegformerDecoder;
pub use unet::UnetDecoder;
pub use unetplusplus::UnetPlusPlusDecoder;
pub use upernet::UperNetDecoder;

#[derive(Module, Debug)]
pub enum Decoder {
    Unet(UnetDecoder),
    UnetPlusPlus(UnetPlusPlusDecoder),
    Fpn(FpnDecoder),
    DeepLabV3(DeepLabV3Decoder),
    DeepLabV3Plus(DeepLabV3PlusDecoder),
    Segformer(SegformerDecoder),
    UperNet(UperNetDecoder),
    Hrnet(HrnetHead),
}

impl Decoder {
    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        match self {
            Decoder::Unet(decoder) => decoder.forward(features),
            Decoder::UnetPlusPlus(decoder) => decoder.forward(features),
            Decoder::Fpn(decoder) => decoder.forward(features),
            Decoder::DeepLabV3(decoder) => decoder.forward(features),
            Decoder::DeepLabV3Plus(decoder) => decoder.forward(features),
            Decoder::Segformer(decoder) => decoder.forward(features),
            Decoder::UperNet(decoder) => decoder.forward(features),
            Decoder::Hrnet(decoder) => decoder.forward(features),
        }
    }
}
