//! The names a user chooses a model by (`--arch unetplusplus --encoder efficientnet-b5`),
//! and which combinations exist.

use std::fmt;
use std::str::FromStr;

/// A decoder family: SMP's, plus torchvision's FCN (the competition baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    Unet,
    UnetPlusPlus,
    Fpn,
    DeepLabV3,
    DeepLabV3Plus,
    Segformer,
    UperNet,
    /// HRNetV2's segmentation head on an HRNet's four branches.
    Hrnet,
    Fcn,
}

impl Architecture {
    pub const ALL: [Architecture; 9] = [
        Architecture::Unet,
        Architecture::UnetPlusPlus,
        Architecture::Fpn,
        Architecture::DeepLabV3,
        Architecture::DeepLabV3Plus,
        Architecture::Segformer,
        Architecture::UperNet,
        Architecture::Hrnet,
        Architecture::Fcn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Architecture::Unet => "unet",
            Architecture::UnetPlusPlus => "unetplusplus",
            Architecture::Fpn => "fpn",
            Architecture::DeepLabV3 => "deeplabv3",
            Architecture::DeepLabV3Plus => "deeplabv3plus",
            Architecture::Segformer => "segformer",
            Architecture::UperNet => "upernet",
            Architecture::Hrnet => "hrnet",
            Architecture::Fcn => "fcn",
        }
    }

    /// Where the model comes from in PyTorch, for `model list`.
    pub fn origin(self) -> &'static str {
        match self {
            Architecture::Unet => "smp.Unet",
            Architecture::UnetPlusPlus => "smp.UnetPlusPlus",
            Architecture::Fpn => "smp.FPN",
            Architecture::DeepLabV3 => "smp.DeepLabV3",
            Architecture::DeepLabV3Plus => "smp.DeepLabV3Plus",
            Architecture::Segformer => "smp.Segformer",
            Architecture::UperNet => "smp.UPerNet",
            Architecture::Hrnet => "HRNetV2 head (HRNet-Seg)",
            Architecture::Fcn => "torchvision fcn_resnet50/101",
        }
    }

    /// Whether this architecture can be built on `encoder`: what SMP 0.6 builds, less what
    /// boneseg does not reproduce.
    pub fn supports(self, encoder: EncoderName) -> bool {
        self.refusal(encoder).is_none()
    }

    /// Why this architecture cannot be built on `encoder`, or None when it can.
    pub fn refusal(self, encoder: EncoderName) -> Option<&'static str> {
        use EncoderName as E;
        match (self, encoder) {
            (Architecture::Fcn, E::ResNet(ResNetDepth::D50 | ResNetDepth::D101)) => None,
            (Architecture::Fcn, _) => Some("fcn is built on resnet50 or resnet101 only (torchvision's FCN)"),
            (Architecture::Hrnet, E::Hrnet(_)) => None,
            (Architecture::Hrnet, _) => {
                Some("hrnet is HRNetV2's head on an HRNet's branches: choose a tu-hrnet_w* encoder")
            }
            (Architecture::Segformer | Architecture::UperNet, _) => None,
            (Architecture::UnetPlusPlus, E::MixTransformer(_)) => {
                Some("SMP's U-Net++ refuses the Mix Transformers (mit_b*)")
            }
            (Architecture::Unet | Architecture::Fpn, E::MixTransformer(_)) => {
                Some("the Mix Transformers (mit_b*) serve segformer and upernet here")
            }
            (Architecture::DeepLabV3 | Architecture::DeepLabV3Plus, E::MixTransformer(_)) => {
                Some("the Mix Transformers (mit_b*) serve segformer and upernet here")
            }
            (Architecture::DeepLabV3 | Architecture::DeepLabV3Plus, E::Hrnet(_)) => {
                Some("HRNet cannot trade its strides for dilation (timm asserts output_stride 32)")
            }
            (Architecture::DeepLabV3 | Architecture::DeepLabV3Plus, E::ConvNext(_)) => {
                Some("ConvNeXt's dilated stages (timm's output_stride 8/16) are not reproduced here")
            }
            _ => None,
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Architecture {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Accept SMP's class names and the usual spellings: UnetPlusPlus, unet++, DeepLabV3+.
        let wanted = text.to_ascii_lowercase().replace('+', "plus").replace(['_', '-'], "");
        Architecture::ALL.into_iter().find(|arch| arch.name() == wanted).ok_or_else(|| {
            let names: Vec<_> = Architecture::ALL.iter().map(|a| a.name()).collect();
            format!("unknown architecture `{text}`; choose one of {}", names.join(", "))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResNetDepth {
    D18,
    D34,
    D50,
    D101,
}

impl ResNetDepth {
    /// Blocks per stage, torchvision's table.
    pub fn layers(self) -> [usize; 4] {
        match self {
            ResNetDepth::D18 => [2, 2, 2, 2],
            ResNetDepth::D34 | ResNetDepth::D50 => [3, 4, 6, 3],
            ResNetDepth::D101 => [3, 4, 23, 3],
        }
    }

    /// Bottleneck blocks (1x1-3x3-1x1, expansion 4) rather than basic blocks (3x3-3x3).
    pub fn bottleneck(self) -> bool {
        matches!(self, ResNetDepth::D50 | ResNetDepth::D101)
    }
}

/// SMP's `resnext*` encoders: torchvision's ResNeXt (grouped 3x3 in every bottleneck).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResNeXtVariant {
    X50_32x4d,
    X101_32x4d,
    X101_32x8d,
}

/// The residual blocks of a torchvision ResNet or ResNeXt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResNetLayout {
    /// Blocks per stage.
    pub layers: [usize; 4],
    /// Bottleneck blocks (1x1-3x3-1x1, expansion 4) rather than basic blocks (3x3-3x3).
    pub bottleneck: bool,
    /// Groups of the bottleneck's 3x3 (ResNeXt's cardinality).
    pub groups: usize,
    /// Channels per group at the first stage (ResNet: 64).
    pub width_per_group: usize,
}

impl ResNetDepth {
    pub fn layout(self) -> ResNetLayout {
        ResNetLayout { layers: self.layers(), bottleneck: self.bottleneck(), groups: 1, width_per_group: 64 }
    }
}

impl ResNeXtVariant {
    pub fn layout(self) -> ResNetLayout {
        let (layers, width_per_group) = match self {
            ResNeXtVariant::X50_32x4d => ([3, 4, 6, 3], 4),
            ResNeXtVariant::X101_32x4d => ([3, 4, 23, 3], 4),
            ResNeXtVariant::X101_32x8d => ([3, 4, 23, 3], 8),
        };
        ResNetLayout { layers, bottleneck: true, groups: 32, width_per_group }
    }
}

/// timm's `hrnet_w18`..`hrnet_w64`: the width of the highest-resolution branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HrnetWidth {
    W18,
    W32,
    W48,
    W64,
}

impl HrnetWidth {
    /// Channels of the four branches: C, 2C, 4C, 8C.
    pub fn branch_channels(self) -> [usize; 4] {
        let c = match self {
            HrnetWidth::W18 => 18,
            HrnetWidth::W32 => 32,
            HrnetWidth::W48 => 48,
            HrnetWidth::W64 => 64,
        };
        [c, 2 * c, 4 * c, 8 * c]
    }
}

/// timm's `convnext_tiny`, `convnext_small`, `convnext_base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConvNextVariant {
    Tiny,
    Small,
    Base,
}

impl ConvNextVariant {
    /// Blocks per stage and channels per stage.
    pub fn depths_dims(self) -> ([usize; 4], [usize; 4]) {
        match self {
            ConvNextVariant::Tiny => ([3, 3, 9, 3], [96, 192, 384, 768]),
            ConvNextVariant::Small => ([3, 3, 27, 3], [96, 192, 384, 768]),
            ConvNextVariant::Base => ([3, 3, 27, 3], [128, 256, 512, 1024]),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EfficientNetVariant {
    B0,
    B1,
    B2,
    B3,
    B4,
    B5,
    B6,
    B7,
    Lite0,
}

/// SMP's `mit_b0`..`mit_b5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MitVariant {
    B0,
    B1,
    B2,
    B3,
    B4,
    B5,
}

/// An encoder family member, named as SMP names it (`tu-` for those SMP takes from timm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncoderName {
    ResNet(ResNetDepth),
    ResNeXt(ResNeXtVariant),
    EfficientNet(EfficientNetVariant),
    MixTransformer(MitVariant),
    Hrnet(HrnetWidth),
    ConvNext(ConvNextVariant),
}

impl EncoderName {
    pub const ALL: [EncoderName; 29] = [
        EncoderName::ResNet(ResNetDepth::D18),
        EncoderName::ResNet(ResNetDepth::D34),
        EncoderName::ResNet(ResNetDepth::D50),
        EncoderName::ResNet(ResNetDepth::D101),
        EncoderName::ResNeXt(ResNeXtVariant::X50_32x4d),
        EncoderName::ResNeXt(ResNeXtVariant::X101_32x4d),
        EncoderName::ResNeXt(ResNeXtVariant::X101_32x8d),
        EncoderName::EfficientNet(EfficientNetVariant::B0),
        EncoderName::EfficientNet(EfficientNetVariant::B1),
        EncoderName::EfficientNet(EfficientNetVariant::B2),
        EncoderName::EfficientNet(EfficientNetVariant::B3),
        EncoderName::EfficientNet(EfficientNetVariant::B4),
        EncoderName::EfficientNet(EfficientNetVariant::B5),
        EncoderName::EfficientNet(EfficientNetVariant::B6),
        EncoderName::EfficientNet(EfficientNetVariant::B7),
        EncoderName::EfficientNet(EfficientNetVariant::Lite0),
        EncoderName::MixTransformer(MitVariant::B0),
        EncoderName::MixTransformer(MitVariant::B1),
        EncoderName::MixTransformer(MitVariant::B2),
        EncoderName::MixTransformer(MitVariant::B3),
        EncoderName::MixTransformer(MitVariant::B4),
        EncoderName::MixTransformer(MitVariant::B5),
        EncoderName::Hrnet(HrnetWidth::W18),
        EncoderName::Hrnet(HrnetWidth::W32),
        EncoderName::Hrnet(HrnetWidth::W48),
        EncoderName::Hrnet(HrnetWidth::W64),
        EncoderName::ConvNext(ConvNextVariant::Tiny),
        EncoderName::ConvNext(ConvNextVariant::Small),
        EncoderName::ConvNext(ConvNextVariant::Base),
    ];

    pub fn name(self) -> &'static str {
        use EfficientNetVariant as E;
        match self {
            EncoderName::ResNet(ResNetDepth::D18) => "resnet18",
            EncoderName::ResNet(ResNetDepth::D34) => "resnet34",
            EncoderName::ResNet(ResNetDepth::D50) => "resnet50",
            EncoderName::ResNet(ResNetDepth::D101) => "resnet101",
            EncoderName::ResNeXt(ResNeXtVariant::X50_32x4d) => "resnext50_32x4d",
            EncoderName::ResNeXt(ResNeXtVariant::X101_32x4d) => "resnext101_32x4d",
            EncoderName::ResNeXt(ResNeXtVariant::X101_32x8d) => "resnext101_32x8d",
            EncoderName::EfficientNet(E::B0) => "efficientnet-b0",
            EncoderName::EfficientNet(E::B1) => "efficientnet-b1",
            EncoderName::EfficientNet(E::B2) => "efficientnet-b2",
            EncoderName::EfficientNet(E::B3) => "efficientnet-b3",
            EncoderName::EfficientNet(E::B4) => "efficientnet-b4",
            EncoderName::EfficientNet(E::B5) => "efficientnet-b5",
            EncoderName::EfficientNet(E::B6) => "efficientnet-b6",
            EncoderName::EfficientNet(E::B7) => "efficientnet-b7",
            EncoderName::EfficientNet(E::Lite0) => "efficientnet-lite0",
            EncoderName::MixTransformer(MitVariant::B0) => "mit_b0",
            EncoderName::MixTransformer(MitVariant::B1) => "mit_b1",
            EncoderName::MixTransformer(MitVariant::B2) => "mit_b2",
            EncoderName::MixTransformer(MitVariant::B3) => "mit_b3",
            EncoderName::MixTransformer(MitVariant::B4) => "mit_b4",
            EncoderName::MixTransformer(MitVariant::B5) => "mit_b5",
            EncoderName::Hrnet(HrnetWidth::W18) => "tu-hrnet_w18",
            EncoderName::Hrnet(HrnetWidth::W32) => "tu-hrnet_w32",
            EncoderName::Hrnet(HrnetWidth::W48) => "tu-hrnet_w48",
            EncoderName::Hrnet(HrnetWidth::W64) => "tu-hrnet_w64",
            EncoderName::ConvNext(ConvNextVariant::Tiny) => "tu-convnext_tiny",
            EncoderName::ConvNext(ConvNextVariant::Small) => "tu-convnext_small",
            EncoderName::ConvNext(ConvNextVariant::Base) => "tu-convnext_base",
        }
    }

    /// Channels of the six features the encoder hands to a decoder: the input, then strides
    /// 2..32 (0 where the encoder has no such feature, as MiT at stride 2).
    pub fn out_channels(self) -> [usize; 6] {
        use EfficientNetVariant as E;
        match self {
            EncoderName::ResNet(depth) if depth.bottleneck() => [3, 64, 256, 512, 1024, 2048],
            EncoderName::ResNeXt(_) => [3, 64, 256, 512, 1024, 2048],
            EncoderName::ResNet(_) => [3, 64, 64, 128, 256, 512],
            EncoderName::EfficientNet(E::B0 | E::B1) => [3, 32, 24, 40, 112, 320],
            EncoderName::EfficientNet(E::B2) => [3, 32, 24, 48, 120, 352],
            EncoderName::EfficientNet(E::B3) => [3, 40, 32, 48, 136, 384],
            EncoderName::EfficientNet(E::B4) => [3, 48, 32, 56, 160, 448],
            EncoderName::EfficientNet(E::B5) => [3, 48, 40, 64, 176, 512],
            EncoderName::EfficientNet(E::B6) => [3, 56, 40, 72, 200, 576],
            EncoderName::EfficientNet(E::B7) => [3, 64, 48, 80, 224, 640],
            EncoderName::EfficientNet(E::Lite0) => [3, 32, 24, 40, 112, 320],
            EncoderName::MixTransformer(MitVariant::B0) => [3, 0, 32, 64, 160, 256],
            EncoderName::MixTransformer(_) => [3, 0, 64, 128, 320, 512],
            // timm's `features_only` HRNet: the stem, then each branch through its `incre` block.
            EncoderName::Hrnet(_) => [3, 64, 128, 256, 512, 1024],
            EncoderName::ConvNext(variant) => {
                let [a, b, c, d] = variant.depths_dims().1;
                [3, 0, a, b, c, d]
            }
        }
    }
}

impl fmt::Display for EncoderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EncoderName {
    type Err = String;

    /// SMP's names, `_` and `-` alike; timm's encoders also without SMP's `tu-` prefix.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let normal = |name: &str| name.to_ascii_lowercase().replace('_', "-");
        let wanted = normal(text);
        let matches = |encoder: &EncoderName| {
            let name = normal(encoder.name());
            name == wanted || name.strip_prefix("tu-") == Some(wanted.as_str())
        };
        EncoderName::ALL.into_iter().find(matches).ok_or_else(|| {
            let names: Vec<_> = EncoderName::ALL.iter().map(|e| e.name()).collect();
            format!("unknown encoder `{text}`; choose one of {}", names.join(", "))
        })
    }
}

/// What `--arch A --encoder E --classes C` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    pub arch: Architecture,
    pub encoder: EncoderName,
    pub classes: usize,
    /// The U-Net and U-Net++ decoder blocks' widths, deepest first (SMP's `decoder_channels`).
    pub decoder_channels: [usize; 5],
}

impl ModelSpec {
    pub fn new(arch: Architecture, encoder: EncoderName, classes: usize) -> Result<Self, String> {
        if let Some(reason) = arch.refusal(encoder) {
            return Err(format!("{arch} cannot be built on {encoder}: {reason}"));
        }
        if classes == 0 {
            return Err("a model needs at least one class".to_string());
        }
        Ok(Self { arch, encoder, classes, decoder_channels: crate::decoders::unet::DECODER_CHANNELS })
    }

    /// With SMP's `decoder_channels`: narrower blocks make a cheaper step (U-Net-ResNet18, 256²,
    /// batch 4: 1,225 ms at SMP's widths, 999 ms at 128-16; BENCHMARKS, "The demo's model").
    /// Only U-Net and U-Net++ take it, as in SMP.
    pub fn with_decoder_channels(self, channels: &[usize]) -> Result<Self, String> {
        if !matches!(self.arch, Architecture::Unet | Architecture::UnetPlusPlus) {
            return Err(format!(
                "{} has no decoder_channels (only unet and unetplusplus take them, as in SMP)",
                self.arch
            ));
        }
        let decoder_channels: [usize; 5] = channels.try_into().map_err(|_| {
            format!("decoder_channels needs five widths, one per decoder block, got {}", channels.len())
        })?;
        if decoder_channels.contains(&0) {
            return Err(format!("decoder_channels must all be above 0, got {channels:?}"));
        }
        Ok(Self { decoder_channels, ..self })
    }

    /// Every valid (architecture, encoder) pair, in `model list` order.
    pub fn combinations() -> Vec<(Architecture, EncoderName)> {
        Architecture::ALL
            .into_iter()
            .flat_map(|arch| EncoderName::ALL.into_iter().map(move |encoder| (arch, encoder)))
            .filter(|(arch, encoder)| arch.supports(*encoder))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for encoder in EncoderName::ALL {
            assert_eq!(encoder.name().parse::<EncoderName>(), Ok(encoder));
        }
        for arch in Architecture::ALL {
            assert_eq!(arch.name().parse::<Architecture>(), Ok(arch));
        }
        assert_eq!("UnetPlusPlus".parse::<Architecture>(), Ok(Architecture::UnetPlusPlus));
        assert_eq!("deeplabv3+".parse::<Architecture>(), Ok(Architecture::DeepLabV3Plus));
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let error = "resnet19".parse::<EncoderName>().unwrap_err();
        assert!(error.contains("resnet18") && error.contains("efficientnet-b5"), "{error}");
        assert!(ModelSpec::new(Architecture::Fcn, EncoderName::ResNet(ResNetDepth::D18), 29).is_err());
    }

    #[test]
    fn timm_encoders_parse_with_or_without_smp_prefix() {
        let w48 = EncoderName::Hrnet(HrnetWidth::W48);
        assert_eq!("tu-hrnet_w48".parse::<EncoderName>(), Ok(w48));
        assert_eq!("hrnet_w48".parse::<EncoderName>(), Ok(w48));
        assert_eq!("convnext-tiny".parse::<EncoderName>(), Ok(EncoderName::ConvNext(ConvNextVariant::Tiny)));
        assert_eq!("UPerNet".parse::<Architecture>(), Ok(Architecture::UperNet));
    }

    #[test]
    fn refusals_say_why() {
        let error =
            ModelSpec::new(Architecture::Hrnet, EncoderName::ResNet(ResNetDepth::D34), 29).unwrap_err();
        assert!(error.contains("tu-hrnet_w"), "{error}");
        let error =
            ModelSpec::new(Architecture::DeepLabV3Plus, EncoderName::Hrnet(HrnetWidth::W18), 29).unwrap_err();
        assert!(error.contains("dilation"), "{error}");
    }

    #[test]
    fn combinations_cover_smp_and_fcn() {
        let all = ModelSpec::combinations();
        // U-Net, U-Net++ and FPN on all but MiT (23 encoders); DeepLabV3(+) on the 16 ResNets,
        // ResNeXts and EfficientNets; SegFormer and UPerNet on all 29; HRNetV2 on the 4 HRNets;
        // FCN on two ResNets.
        assert_eq!(all.len(), 3 * 23 + 2 * 16 + 2 * 29 + 4 + 2);
    }
}
