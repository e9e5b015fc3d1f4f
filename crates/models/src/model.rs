//! A whole segmentation network: SMP's encoder + decoder + segmentation head, or
//! torchvision's FCN; keys exactly as their PyTorch state dicts spell them.

use burn::module::Module;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor};

use crate::blocks::{ConvSpec, resize_bilinear, scaled_size};
use crate::decoders::{
    Decoder, DeepLabV3Decoder, DeepLabV3PlusDecoder, FcnHead, FpnDecoder, HrnetHead, SegformerDecoder,
    UnetDecoder, UnetPlusPlusDecoder, UperNetDecoder, deeplab, fpn, segformer, upernet,
};
use crate::encoders::{Encoder, HrnetEncoder, HrnetFeatures, ResNet, ResNetDilation};
use crate::layers::Conv2d;
use crate::registry::{Architecture, EncoderName, ModelSpec};

/// Choices that change training behaviour but not the parameters.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Dropout and drop-connect as SMP/torchvision set them; off gives a deterministic
    /// training-mode forward (the batch-statistics parity tests need that).
    pub dropout: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self { dropout: true }
    }
}

/// SMP's `SegmentationHead`: a convolution to the classes, then bilinear upsampling
/// (align_corners=True) by a fixed factor back to the input resolution.
#[derive(Module, Debug)]
pub struct SegmentationHead {
    pub _0: Conv2d,
    pub upsampling: usize,
}

impl SegmentationHead {
    fn new(channels_in: usize, classes: usize, kernel: usize, upsampling: usize, device: &Device) -> Self {
        Self { _0: ConvSpec::new(channels_in, classes, kernel).bias(true).init(device), upsampling }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self._0.forward(x);
        if self.upsampling > 1 {
            let size = scaled_size(&x, self.upsampling);
            resize_bilinear(x, size, true)
        } else {
            x
        }
    }
}

#[derive(Module, Debug)]
pub struct SmpModel {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub segmentation_head: SegmentationHead,
}

#[derive(Module, Debug)]
pub struct FcnModel {
    pub backbone: ResNet,
    pub classifier: FcnHead,
}

#[derive(Module, Debug)]
pub enum SegmentationModel {
    Smp(SmpModel),
    Fcn(FcnModel),
}

impl SegmentationModel {
    pub fn new(spec: ModelSpec, device: &Device) -> Self {
        Self::build(spec, BuildOptions::default(), device)
    }

    pub fn build(spec: ModelSpec, options: BuildOptions, device: &Device) -> Self {
        let drop = |p: f64| if options.dropout { p } else { 0.0 };
        let output_stride = output_stride(spec.arch);
        if spec.arch == Architecture::Fcn {
            let EncoderName::ResNet(depth) = spec.encoder else {
                unreachable!("ModelSpec::new accepts FCN on ResNets only")
            };
            return SegmentationModel::Fcn(FcnModel {
                backbone: ResNet::new(depth.layout(), ResNetDilation::TorchvisionStride8, device),
                classifier: FcnHead::new(2048, spec.classes, drop(0.1), device),
            });
        }
        if let (Architecture::Hrnet, EncoderName::Hrnet(width)) = (spec.arch, spec.encoder) {
            let branches = width.branch_channels();
            return SegmentationModel::Smp(SmpModel {
                encoder: Encoder::Hrnet(HrnetEncoder::new(width, HrnetFeatures::Branches, device)),
                decoder: Decoder::Hrnet(HrnetHead::new(branches, device)),
                segmentation_head: SegmentationHead::new(
                    HrnetHead::channels(branches),
                    spec.classes,
                    1,
                    4,
                    device,
                ),
            });
        }
        let encoder = match Encoder::new(spec.encoder, output_stride, device) {
            Encoder::EfficientNet(efficientnet) => {
                Encoder::EfficientNet(efficientnet.with_drop_connect(drop(0.2)))
            }
            Encoder::MixTransformer(mit) if !options.dropout => {
                Encoder::MixTransformer(mit.without_drop_path())
            }
            encoder => encoder,
        };
        let channels = spec.encoder.out_channels();
        let (decoder, head_channels, kernel, upsampling) = match spec.arch {
            Architecture::Unet => (
                Decoder::Unet(UnetDecoder::new(channels, spec.decoder_channels, device)),
                spec.decoder_channels[4],
                3,
                1,
            ),
            Architecture::UnetPlusPlus => (
                Decoder::UnetPlusPlus(UnetPlusPlusDecoder::new(channels, spec.decoder_channels, device)),
                spec.decoder_channels[4],
                3,
                1,
            ),
            Architecture::Fpn => (
                Decoder::Fpn(FpnDecoder::new(channels, drop(fpn::DROPOUT), device)),
                fpn::SEGMENTATION_CHANNELS,
                1,
                4,
            ),
            Architecture::DeepLabV3 => (
                Decoder::DeepLabV3(DeepLabV3Decoder::new(channels, drop(deeplab::ASPP_DROPOUT), device)),
                deeplab::CHANNELS,
                1,
                output_stride,
            ),
            Architecture::DeepLabV3Plus => (
                Decoder::DeepLabV3Plus(DeepLabV3PlusDecoder::new(
                    channels,
                    output_stride,
                    drop(deeplab::ASPP_DROPOUT),
                    device,
                )),
                deeplab::CHANNELS,
                1,
                4,
            ),
            Architecture::Segformer => (
                Decoder::Segformer(SegformerDecoder::new(channels, device)),
                segformer::SEGMENTATION_CHANNELS,
                1,
                4,
            ),
            Architecture::UperNet => {
                (Decoder::UperNet(UperNetDecoder::new(channels, device)), upernet::CHANNELS, 1, 4)
            }
            Architecture::Fcn | Architecture::Hrnet => unreachable!("handled above"),
        };
        SegmentationModel::Smp(SmpModel {
            encoder,
            decoder,
            segmentation_head: SegmentationHead::new(head_channels, spec.classes, kernel, upsampling, device),
        })
    }

    /// Logits (N, classes, H, W) for images (N, 3, H, W) of any size: SMP refuses sizes that
    /// are not a multiple of its stride, boneseg pads with zeros at the bottom and right
    /// and crops the logits back.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let multiple = self.size_multiple();
        let (pad_h, pad_w) = ((multiple - h % multiple) % multiple, (multiple - w % multiple) % multiple);
        let padded =
            if pad_h + pad_w > 0 { x.pad([(0, pad_h), (0, pad_w)], PadMode::Constant(0.0)) } else { x };
        let logits = match self {
            SegmentationModel::Smp(model) => {
                let features = model.encoder.forward(padded);
                model.segmentation_head.forward(model.decoder.forward(features))
            }
            SegmentationModel::Fcn(model) => {
                let size = [h + pad_h, w + pad_w];
                let features = model.backbone.forward(padded);
                let last = features.into_iter().last().expect("six backbone features");
                resize_bilinear(model.classifier.forward(last), size, false)
            }
        };
        if pad_h + pad_w > 0 { logits.narrow(2, 0, h).narrow(3, 0, w) } else { logits }
    }

    /// The multiple of which input sizes must be for the network itself (SMP's check).
    pub fn size_multiple(&self) -> usize {
        match self {
            SegmentationModel::Smp(model) => match model.decoder {
                Decoder::DeepLabV3(_) => output_stride(Architecture::DeepLabV3),
                Decoder::DeepLabV3Plus(_) => output_stride(Architecture::DeepLabV3Plus),
                _ => 32,
            },
            SegmentationModel::Fcn(_) => 1,
        }
    }
}

/// SMP's default `encoder_output_stride` per architecture (torchvision's FCN: 8).
pub fn output_stride(arch: Architecture) -> usize {
    match arch {
        Architecture::DeepLabV3 | Architecture::Fcn => 8,
        Architecture::DeepLabV3Plus => 16,
        _ => 32,
    }
}
