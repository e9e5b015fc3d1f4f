//! EfficientNet encoders: SMP's `efficientnet-b0`..`b7` (lukemelas' EfficientNet-PyTorch,
//! which SMP vendors) and EfficientNet-Lite0 in the same layout.
//!
//! Parameter names are SMP's state-dict keys under `encoder.`: `_conv_stem`, `_bn0`,
//! `_blocks.N._expand_conv`, ..., and the unused head `_conv_head`/`_bn1`, which SMP keeps
//! in its state dict (it deletes only `_fc`).
//!
//! The trap reproduced here: lukemelas' "same" padding is TensorFlow's, but *static*: each
//! convolution's (possibly asymmetric) padding is computed once, at construction, from the
//! variant's nominal image size (b0 224 ... b7 600) as it shrinks through the strides, not
//! from the actual input. On a 64x64 input a stride-2 3x3 convolution therefore pads
//! (top 0, bottom 1) whatever the input size, exactly as SMP does.

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Distribution, Tensor, activation};

use crate::layers::Conv2d;
use crate::layers::{self, conv_batch_norm};
use crate::registry::EfficientNetVariant;

/// lukemelas' BatchNorm: eps 1e-3, PyTorch momentum `1 - 0.99`.
const BN_EPS: f64 = 1e-3;
const BN_MOMENTUM: f64 = 0.01;

/// SMP's default `drop_connect_rate` (all variants).
pub const DROP_CONNECT_RATE: f64 = 0.2;

/// The activation between layers: swish (`nn.SiLU`) for EfficientNet, ReLU6 for the Lite models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Swish,
    Relu6,
}

impl Activation {
    pub fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Activation::Swish => x.clone() * activation::sigmoid(x),
            Activation::Relu6 => x.clamp(0.0, 6.0),
        }
    }
}

/// The scaling of one member of the family (lukemelas' `efficientnet_params` and SMP's table).
#[derive(Debug, Clone, Copy)]
pub struct VariantParams {
    pub width: f64,
    pub depth: f64,
    /// The image size the static "same" paddings are computed for.
    pub image_size: usize,
    /// Indexes of the blocks whose outputs are the stride 4, 8, 16, 32 features (SMP's `out_indexes`).
    pub out_indexes: [usize; 4],
    pub squeeze_excitation: bool,
    pub activation: Activation,
}

impl VariantParams {
    pub fn of(variant: EfficientNetVariant) -> Self {
        use EfficientNetVariant as E;
        let (width, depth, image_size, out_indexes) = match variant {
            E::B0 => (1.0, 1.0, 224, [2, 4, 8, 15]),
            E::B1 => (1.0, 1.1, 240, [4, 7, 15, 22]),
            E::B2 => (1.1, 1.2, 260, [4, 7, 15, 22]),
            E::B3 => (1.2, 1.4, 300, [4, 7, 17, 25]),
            E::B4 => (1.4, 1.8, 380, [5, 9, 21, 31]),
            E::B5 => (1.6, 2.2, 456, [7, 12, 26, 38]),
            E::B6 => (1.8, 2.6, 528, [8, 14, 30, 44]),
            E::B7 => (2.0, 3.1, 600, [10, 17, 37, 54]),
            // Lite0: b0's layout (width and depth 1.0, so the unscaled stem and head of the
            // Lite family change nothing), without squeeze-excitation, with ReLU6.
            E::Lite0 => (1.0, 1.0, 224, [2, 4, 8, 15]),
        };
        let lite = variant == E::Lite0;
        Self {
            width,
            depth,
            image_size,
            out_indexes,
            squeeze_excitation: !lite,
            activation: if lite { Activation::Relu6 } else { Activation::Swish },
        }
    }

    /// lukemelas' `round_filters` (divisor 8, min depth 8).
    pub fn round_filters(&self, filters: usize) -> usize {
        let divisor = 8.0_f64;
        let filters = filters as f64 * self.width;
        let mut rounded = divisor.max(((filters + divisor / 2.0) as usize / 8 * 8) as f64);
        if rounded < 0.9 * filters {
            rounded += divisor;
        }
        rounded as usize
    }

    /// lukemelas' `round_repeats`.
    pub fn round_repeats(&self, repeats: usize) -> usize {
        (self.depth * repeats as f64).ceil() as usize
    }
}

/// One row of the EfficientNet-B0 block table (`r1_k3_s11_e1_i32_o16_se0.25`, ...).
#[derive(Debug, Clone, Copy)]
struct StageArgs {
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    input: usize,
    output: usize,
}

const STAGES: [StageArgs; 7] = [
    StageArgs { repeats: 1, kernel: 3, stride: 1, expand: 1, input: 32, output: 16 },
    StageArgs { repeats: 2, kernel: 3, stride: 2, expand: 6, input: 16, output: 24 },
    StageArgs { repeats: 2, kernel: 5, stride: 2, expand: 6, input: 24, output: 40 },
    StageArgs { repeats: 3, kernel: 3, stride: 2, expand: 6, input: 40, output: 80 },
    StageArgs { repeats: 3, kernel: 5, stride: 1, expand: 6, input: 80, output: 112 },
    StageArgs { repeats: 4, kernel: 5, stride: 2, expand: 6, input: 112, output: 192 },
    StageArgs { repeats: 1, kernel: 3, stride: 1, expand: 6, input: 192, output: 320 },
];

/// SE ratio of every block of the table.
const SE_RATIO: f64 = 0.25;

/// lukemelas' `Conv2dStaticSamePadding` for an `image`-sized input, or, with `dilation > 1`,
/// what SMP's `replace_strides_with_dilation` makes of it (stride 1, symmetric `(k/2)*d`).
#[allow(clippy::too_many_arguments)]
fn same_conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    image: usize,
    dilation: usize,
    device: &Device,
) -> Conv2d {
    let (stride, padding) = if dilation > 1 {
        let p = (kernel / 2) * dilation;
        (1, PaddingConfig2d::Explicit(p, p, p, p))
    } else {
        let out = image.div_ceil(stride);
        let pad = ((out - 1) * stride + kernel).saturating_sub(image);
        let (before, after) = (pad / 2, pad - pad / 2);
        // Explicit(top, left, bottom, right); ZeroPad2d(left, right, top, bottom) in PyTorch.
        (stride, PaddingConfig2d::Explicit(before, before, after, after))
    };
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(padding)
        .with_dilation([dilation, dilation])
        .with_groups(groups)
        .with_bias(bias)
        .init(device)
        .into()
}

fn bn(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).with_epsilon(BN_EPS).with_momentum(BN_MOMENTUM).init(device)
}

/// lukemelas' `MBConvBlock`: expansion 1x1, depthwise kxk, squeeze-excitation, projection 1x1,
/// identity skip (with drop-connect while training) when the shape is kept.
#[derive(Module, Debug)]
pub struct MbConvBlock {
    pub _expand_conv: Option<Conv2d>,
    pub _bn0: Option<BatchNorm>,
    pub _depthwise_conv: Conv2d,
    pub _bn1: BatchNorm,
    pub _se_reduce: Option<Conv2d>,
    pub _se_expand: Option<Conv2d>,
    pub _project_conv: Conv2d,
    pub _bn2: BatchNorm,
    #[module(skip)]
    pub activation: Activation,
    #[module(skip)]
    pub skip: bool,
}

impl MbConvBlock {
    #[allow(clippy::too_many_arguments)]
    fn new(
        params: &VariantParams,
        input: usize,
        output: usize,
        expand: usize,
        kernel: usize,
        stride: usize,
        image: usize,
        dilation: usize,
        device: &Device,
    ) -> Self {
        let expanded = input * expand;
        let (expand_conv, bn0) = if expand != 1 {
            (
                Some(same_conv([input, expanded], 1, 1, 1, false, image, dilation, device)),
                Some(bn(expanded, device)),
            )
        } else {
            (None, None)
        };
        let (se_reduce, se_expand) = if params.squeeze_excitation {
            let squeezed = ((input as f64 * SE_RATIO) as usize).max(1);
            (
                Some(same_conv([expanded, squeezed], 1, 1, 1, true, 1, dilation, device)),
                Some(same_conv([squeezed, expanded], 1, 1, 1, true, 1, dilation, device)),
            )
        } else {
            (None, None)
        };
        let after = image.div_ceil(stride);
        Self {
            _expand_conv: expand_conv,
            _bn0: bn0,
            _depthwise_conv: same_conv(
                [expanded, expanded],
                kernel,
                stride,
                expanded,
                false,
                image,
                dilation,
                device,
            ),
            _bn1: bn(expanded, device),
            _se_reduce: se_reduce,
            _se_expand: se_expand,
            _project_conv: same_conv([expanded, output], 1, 1, 1, false, after, dilation, device),
            _bn2: bn(output, device),
            activation: params.activation,
            // id_skip is true for every row of the table.
            skip: stride == 1 && input == output,
        }
    }

    /// The block with drop-connect probability `drop` (applied only on an autodiff device).
    pub fn forward(&self, inputs: Tensor<4>, drop: f64) -> Tensor<4> {
        let mut x = inputs.clone();
        if let (Some(conv), Some(bn0)) = (&self._expand_conv, &self._bn0) {
            x = self.activation.apply(conv_batch_norm(conv, bn0, x, layers::Activation::Identity));
        }
        x = self.activation.apply(conv_batch_norm(
            &self._depthwise_conv,
            &self._bn1,
            x,
            layers::Activation::Identity,
        ));
        if let (Some(reduce), Some(expand)) = (&self._se_reduce, &self._se_expand) {
            let squeezed = x.clone().mean_dim(3).mean_dim(2);
            let squeezed = expand.forward(self.activation.apply(reduce.forward(squeezed)));
            x = activation::sigmoid(squeezed) * x;
        }
        x = conv_batch_norm(&self._project_conv, &self._bn2, x, layers::Activation::Identity);
        if self.skip {
            if drop > 0.0 && x.device().is_autodiff() {
                x = drop_connect(x, drop);
            }
            x = x + inputs;
        }
        x
    }
}

/// lukemelas' `drop_connect`: drops whole samples with probability `p`, scales the rest by 1/(1-p).
fn drop_connect(x: Tensor<4>, p: f64) -> Tensor<4> {
    let [n, _, _, _] = x.dims();
    let keep = Tensor::<4>::random([n, 1, 1, 1], Distribution::Bernoulli(1.0 - p), (&x.device(), x.dtype()));
    x.div_scalar(1.0 - p) * keep
}

/// SMP's `EfficientNetEncoder` (depth 5): stem, MBConv blocks, and the unused head.
#[derive(Module, Debug)]
pub struct EfficientNet {
    pub _conv_stem: Conv2d,
    pub _bn0: BatchNorm,
    pub _blocks: Vec<MbConvBlock>,
    pub _conv_head: Conv2d,
    pub _bn1: BatchNorm,
    #[module(skip)]
    pub activation: Activation,
    #[module(skip)]
    pub out_indexes: [usize; 4],
    /// SMP's `drop_connect_rate`: block `i` of `n` drops its residual branch with
    /// probability `rate * i / n` while training (on an autodiff device).
    #[module(skip)]
    pub drop_connect_rate: f64,
}

impl EfficientNet {
    /// `output_stride` 32, or 16/8 as SMP's `make_dilated` gives DeepLab: the blocks of the
    /// stages beyond it trade their stride (and static padding) for dilation.
    pub fn new(variant: EfficientNetVariant, output_stride: usize, device: &Device) -> Self {
        assert!(
            matches!(output_stride, 8 | 16 | 32),
            "EfficientNet output stride must be 32, 16 or 8, not {output_stride}"
        );
        let params = VariantParams::of(variant);
        let out = params.out_indexes;
        // SMP's get_stages: stride 16 is blocks out[1]+1 ..= out[2], stride 32 the rest.
        let dilation_of = |index: usize| -> usize {
            let stage_stride = if index > out[2] {
                32
            } else if index > out[1] {
                16
            } else {
                return 1;
            };
            if stage_stride <= output_stride { 1 } else { stage_stride / output_stride }
        };

        let mut image = params.image_size;
        let stem_channels = params.round_filters(32);
        let conv_stem = same_conv([3, stem_channels], 3, 2, 1, false, image, 1, device);
        image = image.div_ceil(2);

        let mut blocks = Vec::new();
        let mut last_output = stem_channels;
        for stage in STAGES {
            let input = params.round_filters(stage.input);
            let output = params.round_filters(stage.output);
            let repeats = params.round_repeats(stage.repeats);
            for repeat in 0..repeats {
                let (input, stride) = if repeat == 0 { (input, stage.stride) } else { (output, 1) };
                let dilation = dilation_of(blocks.len());
                blocks.push(MbConvBlock::new(
                    &params,
                    input,
                    output,
                    stage.expand,
                    stage.kernel,
                    stride,
                    image,
                    dilation,
                    device,
                ));
                image = image.div_ceil(stride);
            }
            last_output = output;
        }
        let head_channels = params.round_filters(1280);
        Self {
            _conv_stem: conv_stem,
            _bn0: bn(stem_channels, device),
            _blocks: blocks,
            _conv_head: same_conv([last_output, head_channels], 1, 1, 1, false, image, 1, device),
            _bn1: bn(head_channels, device),
            activation: params.activation,
            out_indexes: out,
            drop_connect_rate: DROP_CONNECT_RATE,
        }
    }

    /// The same encoder with another drop-connect rate (0 for deterministic training steps).
    pub fn with_drop_connect(self, rate: f64) -> Self {
        Self { drop_connect_rate: rate, ..self }
    }

    fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        self.activation.apply(conv_batch_norm(&self._conv_stem, &self._bn0, x, layers::Activation::Identity))
    }

    fn drop_probability(&self, index: usize) -> f64 {
        self.drop_connect_rate * index as f64 / self._blocks.len() as f64
    }

    /// The six features `[x, stride 2, 4, 8, 16, 32]` of SMP's `EfficientNetEncoder.forward`.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut features = vec![x.clone()];
        let mut x = self.stem(x);
        features.push(x.clone());
        let last = self.out_indexes[3];
        for (index, block) in self._blocks.iter().enumerate().take(last + 1) {
            x = block.forward(x, self.drop_probability(index));
            if self.out_indexes.contains(&index) {
                features.push(x.clone());
            }
        }
        features
    }

    /// lukemelas' `extract_features`: every block, then `_conv_head`, `_bn1` and the
    /// activation (the input of the classifier's global pooling).
    pub fn extract_features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem(x);
        for (index, block) in self._blocks.iter().enumerate() {
            x = block.forward(x, self.drop_probability(index));
        }
        self.activation.apply(conv_batch_norm(&self._conv_head, &self._bn1, x, layers::Activation::Identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::EncoderName;

    #[test]
    fn scaling_matches_lukemelas() {
        let b5 = VariantParams::of(EfficientNetVariant::B5);
        assert_eq!(b5.round_filters(32), 48);
        assert_eq!(b5.round_filters(1280), 2048);
        assert_eq!(b5.round_repeats(4), 9);
        let blocks: usize = STAGES.iter().map(|s| b5.round_repeats(s.repeats)).sum();
        assert_eq!(blocks, 39);
    }

    #[test]
    fn features_have_smp_channels_and_strides() {
        let device = Device::flex();
        for variant in [EfficientNetVariant::B0, EfficientNetVariant::B2, EfficientNetVariant::Lite0] {
            let encoder = EfficientNet::new(variant, 32, &device);
            let features = encoder.forward(Tensor::<4>::zeros([1, 3, 64, 64], &device));
            let channels: Vec<usize> = features.iter().map(|f| f.dims()[1]).collect();
            let sizes: Vec<usize> = features.iter().map(|f| f.dims()[2]).collect();
            assert_eq!(channels, EncoderName::EfficientNet(variant).out_channels().to_vec(), "{variant:?}");
            assert_eq!(sizes, vec![64, 32, 16, 8, 4, 2], "{variant:?}");
        }
        let dilated = EfficientNet::new(EfficientNetVariant::B0, 8, &device);
        let sizes: Vec<usize> = dilated
            .forward(Tensor::<4>::zeros([1, 3, 64, 64], &device))
            .iter()
            .map(|f| f.dims()[2])
            .collect();
        assert_eq!(sizes, vec![64, 32, 16, 8, 8, 8]);
    }
}
