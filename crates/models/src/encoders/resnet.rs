//! ResNet-18/34/50/101 and ResNeXt in torchvision's layout, as SMP's `resnet*`/`resnext*`
//! encoders and torchvision's FCN backbone use it (keys `conv1`, `bn1`, `layer1.0.conv1`, ...).
//! timm's blocks have the same keys, so HRNet builds its stages of these [`Block`]s.

use burn::module::Module;
use burn::nn::BatchNorm;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, activation};

use crate::blocks::{BN_EPS, ConvBn, ConvSpec, batch_norm};
use crate::layers::Conv2d;
use crate::layers::{Activation, conv_batch_norm};
use crate::registry::ResNetLayout;
use boneseg_kernels::max_pool2d;

/// How the last stages give up their stride. SMP and torchvision dilate differently: SMP
/// dilates every convolution of a stage, torchvision keeps the previous dilation in the
/// first block of the stage. Both must be reproduced for their checkpoints to mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResNetDilation {
    /// SMP's `make_dilated(output_stride)`; 32 means no dilation.
    Smp { output_stride: usize },
    /// torchvision's `replace_stride_with_dilation=[False, True, True]` (FCN, output stride 8).
    TorchvisionStride8,
}

/// One residual block: basic (two 3x3) or bottleneck (1x1, 3x3, 1x1) when `conv3` is present.
#[derive(Module, Debug)]
pub struct Block {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub conv3: Option<Conv2d>,
    pub bn3: Option<BatchNorm>,
    pub downsample: Option<ConvBn>,
}

/// The kind of a residual block: basic or bottleneck, and the bottleneck's grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockKind {
    pub bottleneck: bool,
    /// Groups of the bottleneck's 3x3 (ResNeXt's cardinality).
    pub groups: usize,
    /// Channels per group for 64 `planes` (ResNet: 64).
    pub width_per_group: usize,
}

impl BlockKind {
    pub const BASIC: BlockKind = BlockKind { bottleneck: false, groups: 1, width_per_group: 64 };
    pub const BOTTLENECK: BlockKind = BlockKind { bottleneck: true, groups: 1, width_per_group: 64 };

    pub fn of(layout: ResNetLayout) -> Self {
        BlockKind {
            bottleneck: layout.bottleneck,
            groups: layout.groups,
            width_per_group: layout.width_per_group,
        }
    }
}

/// Dilation of one stage's blocks: the first block's 3x3 and every later block's 3x3.
#[derive(Debug, Clone, Copy)]
struct StagePlan {
    stride: usize,
    first_dilation: usize,
    dilation: usize,
}

impl Block {
    /// A block of `kind` taking `channels_in` to `planes` (times 4 for a bottleneck), with
    /// torchvision's `downsample` where the shape changes.
    pub fn new(
        kind: BlockKind,
        channels_in: usize,
        planes: usize,
        stride: usize,
        dilation: usize,
        device: &Device,
    ) -> Self {
        let expansion = if kind.bottleneck { 4 } else { 1 };
        let channels_out = planes * expansion;
        let downsample = (stride != 1 || channels_in != channels_out).then(|| {
            ConvBn::new(ConvSpec::new(channels_in, channels_out, 1).stride(stride).padding(0), device)
        });
        if kind.bottleneck {
            // torchvision's `width = planes * (base_width / 64) * groups`.
            let width = planes * kind.width_per_group / 64 * kind.groups;
            Self {
                conv1: ConvSpec::new(channels_in, width, 1).init(device),
                bn1: batch_norm(width, BN_EPS, device),
                conv2: ConvSpec::new(width, width, 3)
                    .dilation(dilation)
                    .stride(stride)
                    .groups(kind.groups)
                    .init(device),
                bn2: batch_norm(width, BN_EPS, device),
                conv3: Some(ConvSpec::new(width, channels_out, 1).init(device)),
                bn3: Some(batch_norm(channels_out, BN_EPS, device)),
                downsample,
            }
        } else {
            Self {
                conv1: ConvSpec::new(channels_in, planes, 3).dilation(dilation).stride(stride).init(device),
                bn1: batch_norm(planes, BN_EPS, device),
                conv2: ConvSpec::new(planes, planes, 3).dilation(dilation).init(device),
                bn2: batch_norm(planes, BN_EPS, device),
                conv3: None,
                bn3: None,
                downsample,
            }
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(downsample) => downsample.forward(x.clone()),
            None => x.clone(),
        };
        let mut out = conv_batch_norm(&self.conv1, &self.bn1, x, Activation::Relu);
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            out = conv_batch_norm(&self.conv2, &self.bn2, out, Activation::Relu);
            out = conv_batch_norm(conv3, bn3, out, Activation::Identity);
        } else {
            out = conv_batch_norm(&self.conv2, &self.bn2, out, Activation::Identity);
        }
        activation::relu(out + identity)
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub layer1: Vec<Block>,
    pub layer2: Vec<Block>,
    pub layer3: Vec<Block>,
    pub layer4: Vec<Block>,
}

impl ResNet {
    pub fn new(layout: ResNetLayout, dilation: ResNetDilation, device: &Device) -> Self {
        let plans = stage_plans(dilation);
        let expansion = if layout.bottleneck { 4 } else { 1 };
        let mut channels_in = 64;
        let mut stages =
            [64, 128, 256, 512].into_iter().zip(layout.layers).zip(plans).map(|((planes, count), plan)| {
                let blocks: Vec<Block> = (0..count)
                    .map(|index| {
                        let (stride, dilation) =
                            if index == 0 { (plan.stride, plan.first_dilation) } else { (1, plan.dilation) };
                        let block =
                            Block::new(BlockKind::of(layout), channels_in, planes, stride, dilation, device);
                        channels_in = planes * expansion;
                        block
                    })
                    .collect();
                blocks
            });
        Self {
            conv1: ConvSpec::new(3, 64, 7).stride(2).padding(3).init(device),
            bn1: batch_norm(64, BN_EPS, device),
            layer1: stages.next().expect("four stages"),
            layer2: stages.next().expect("four stages"),
            layer3: stages.next().expect("four stages"),
            layer4: stages.next().expect("four stages"),
        }
    }

    /// The six features: input, stem (stride 2), then the four stages.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let stem = conv_batch_norm(&self.conv1, &self.bn1, x.clone(), Activation::Relu);
        let pooled =
            max_pool2d(stem.clone(), MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1]));
        let f2 = run_stage(&self.layer1, pooled);
        let f3 = run_stage(&self.layer2, f2.clone());
        let f4 = run_stage(&self.layer3, f3.clone());
        let f5 = run_stage(&self.layer4, f4.clone());
        vec![x, stem, f2, f3, f4, f5]
    }
}

/// Blocks applied in turn (an `nn.Sequential` of blocks).
pub fn run_stage(blocks: &[Block], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

fn stage_plans(dilation: ResNetDilation) -> [StagePlan; 4] {
    let plain = |stride| StagePlan { stride, first_dilation: 1, dilation: 1 };
    match dilation {
        ResNetDilation::Smp { output_stride } => {
            let stage = |stage_stride: usize| {
                if stage_stride <= output_stride {
                    plain(2)
                } else {
                    let rate = stage_stride / output_stride;
                    StagePlan { stride: 1, first_dilation: rate, dilation: rate }
                }
            };
            [plain(1), plain(2), stage(16), stage(32)]
        }
        ResNetDilation::TorchvisionStride8 => [
            plain(1),
            plain(2),
            StagePlan { stride: 1, first_dilation: 1, dilation: 2 },
            StagePlan { stride: 1, first_dilation: 2, dilation: 4 },
        ],
    }
}
