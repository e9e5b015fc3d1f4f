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
    Fcn,
}

impl Architecture {
    pub const ALL: [Architecture; 7] = [
        Architecture::Unet,
        Architecture::UnetPlusPlus,
        Architecture::Fpn,
        Architecture::DeepLabV3,
        Architecture::DeepLabV3Plus,
        Architecture::Segformer,
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
            Architecture::Fcn => "torchvision fcn_resnet50/101",
        }
    }

    /// Whether this architecture can be built on `encoder`: FCN is torchvision's ResNet-50/101
    /// model, and the Mix Transformers (no stride-2 feature) serve SegFormer only.
    pub fn supports(self, encoder: EncoderName) -> bool {
        match (self, encoder) {
            (Architecture::Fcn, _) => {
                matches!(encoder, EncoderName::ResNet(ResNetDepth::D50 | ResNetDepth::D101))
            }
            (Architecture::Segformer, _) => true,
            (_, EncoderName::MixTransformer(_)) => false,
            _ => true,
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

/// An encoder family member, named as SMP names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncoderName {
    ResNet(ResNetDepth),
    EfficientNet(EfficientNetVariant),
    MixTransformer(MitVariant),
}

impl EncoderName {
    pub const ALL: [EncoderName; 19] = [
        EncoderName::ResNet(ResNetDepth::D18),
        EncoderName::ResNet(ResNetDepth::D34),
        EncoderName::ResNet(ResNetDepth::D50),
        EncoderName::ResNet(ResNetDepth::D101),
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
    ];

    pub fn name(self) -> &'static str {
        use EfficientNetVariant as E;
        match self {
            EncoderName::ResNet(ResNetDepth::D18) => "resnet18",
            EncoderName::ResNet(ResNetDepth::D34) => "resnet34",
            EncoderName::ResNet(ResNetDepth::D50) => "resnet50",
            EncoderName::ResNet(ResNetDepth::D101) => "resnet101",
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
        }
    }

    /// Channels of the six features the encoder hands to a decoder: the input, then strides
    /// 2..32 (0 where the encoder has no such feature, as MiT at stride 2).
    pub fn out_channels(self) -> [usize; 6] {
        use EfficientNetVariant as E;
        match self {
            EncoderName::ResNet(depth) if depth.bottleneck() => [3, 64, 256, 512, 1024, 2048],
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

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.to_ascii_lowercase().replace('_', "-");
        EncoderName::ALL.into_iter().find(|encoder| encoder.name().replace('_', "-") == wanted).ok_or_else(
            || {
                let names: Vec<_> = EncoderName::ALL.iter().map(|e| e.name()).collect();
                format!("unknown encoder `{text}`; choose one of {}", names.join(", "))
            },
        )
    }
}

/// What `--arch A --encoder E --classes C` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    pub arch: Architecture,
    pub encoder: EncoderName,
    pub classes: usize,
}

impl ModelSpec {
    pub fn new(arch: Architecture, encoder: EncoderName, classes: usize) -> Result<Self, String> {
        if !arch.supports(encoder) {
            return Err(format!(
                "{arch} is built on resnet50 or resnet101 only (torchvision's FCN), not {encoder}"
            ));
        }
        if classes == 0 {
            return Err("a model needs at least one class".to_string());
        }
        Ok(Self { arch, encoder, classes })
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
    fn combinations_cover_smp_and_fcn() {
        let all = ModelSpec::combinations();
        // Five SMP decoders on ResNets and EfficientNets, SegFormer on everything, FCN on two.
        assert_eq!(all.len(), 5 * 13 + 19 + 2);
    }
}
