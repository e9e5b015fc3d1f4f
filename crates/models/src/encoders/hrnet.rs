//! HRNet-W18/W32/W48/W64 in timm's layout (`timm/hrnet_w48.ms_in1k` keys), as SMP's
//! `tu-hrnet_w*` encoders hold it under `encoder.model.`: timm's `HighResolutionNetFeatures`.
//!
//! A stem of two stride-2 3x3 convolutions, four bottlenecks, then three stages that keep every
//! resolution reached so far as a parallel branch (widths C, 2C, 4C, 8C at strides 4..32): each
//! stage's modules run the branches' basic blocks side by side and then fuse them, every branch
//! receiving the sum of all branches brought to its resolution (1x1 conv and nearest upsampling
//! from below, stride-2 3x3 convolutions from above). The transitions between stages open the
//! next, lower branch.
//!
//! SMP takes the features through timm's `incre` blocks (one bottleneck per branch, to 128, 256,
//! 512 and 1024 channels); HRNetV2's segmentation head takes the branches as they are, and its
//! encoder has no `incre_modules` ([`HrnetFeatures`]).

use burn::module::Module;
use burn::nn::BatchNorm;
use burn::tensor::{Device, Tensor, activation};

use super::resnet::{Block, BlockKind, run_stage};
use crate::blocks::{BN_EPS, ConvBn, ConvSpec, batch_norm, resize_nearest};
use crate::layers::{Activation, Conv2d, conv_batch_norm};
use crate::registry::HrnetWidth;

/// Blocks per branch in every module, and modules per stage (the same for W18..W64).
const BLOCKS_PER_BRANCH: usize = 4;
const MODULES: [usize; 3] = [1, 4, 3];
/// Channels of the stem and of the first stage's bottlenecks (their `planes`).
const STEM_CHANNELS: usize = 64;
/// `planes` of the `incre` bottleneck of each branch (x4 channels out).
const INCRE_PLANES: [usize; 4] = [32, 64, 128, 256];

/// Which features the encoder hands on (timm's `feature_location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HrnetFeatures {
    /// `incre`: each branch through its bottleneck, as SMP's `tu-hrnet_w*` (128..1024 channels).
    Incre,
    /// `''`: the branches themselves (C..8C channels), for HRNetV2's head.
    Branches,
}

/// What leads from one stage's branches to the next stage's.
#[derive(Module, Debug)]
pub enum Transition {
    /// The same resolution with other channels: conv3x3-BN-ReLU (`transitionN.i.0`, `.1`).
    Adapt(ConvBn),
    /// A new, lower branch from the lowest one: stride-2 conv3x3-BN-ReLU steps (`.k.0`, `.k.1`).
    Open(Vec<ConvBn>),
}

/// How branch `j` reaches branch `i` inside a fuse (the identity when `i == j`).
#[derive(Module, Debug)]
pub enum Fuse {
    /// From a lower resolution: 1x1 conv + BN, then nearest upsampling (`.0`, `.1`).
    Up(ConvBn),
    /// From a higher resolution: stride-2 conv3x3 + BN steps, ReLU between them (`.k.0`, `.k.1`).
    Down(Vec<ConvBn>),
}

/// timm's `HighResolutionModule`: the branches' blocks, then the fuse of every pair.
#[derive(Module, Debug)]
pub struct HrModule {
    pub branches: Vec<Vec<Block>>,
    /// `fuse_layers[i][j]` brings branch `j` to branch `i`; None is the identity.
    pub fuse_layers: Vec<Vec<Option<Fuse>>>,
}

impl HrModule {
    fn new(channels: &[usize], device: &Device) -> Self {
        let branches = channels
            .iter()
            .map(|&c| {
                (0..BLOCKS_PER_BRANCH).map(|_| Block::new(BlockKind::BASIC, c, c, 1, 1, device)).collect()
            })
            .collect();
        let fuse = |i: usize, j: usize| -> Option<Fuse> {
            if j > i {
                return Some(Fuse::Up(ConvBn::new(ConvSpec::new(channels[j], channels[i], 1), device)));
            }
            let steps = i - j;
            (steps > 0).then(|| {
                Fuse::Down(
                    (0..steps)
                        .map(|k| {
                            let out = if k + 1 == steps { channels[i] } else { channels[j] };
                            ConvBn::new(ConvSpec::new(channels[j], out, 3).stride(2), device)
                        })
                        .collect(),
                )
            })
        };
        let n = channels.len();
        Self { branches, fuse_layers: (0..n).map(|i| (0..n).map(|j| fuse(i, j)).collect()).collect() }
    }

    fn forward(&self, inputs: Vec<Tensor<4>>) -> Vec<Tensor<4>> {
        let xs: Vec<Tensor<4>> =
            inputs.into_iter().zip(&self.branches).map(|(x, blocks)| run_stage(blocks, x)).collect();
        self.fuse_layers
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let [_, _, h, w] = xs[i].dims();
                let sum = row
                    .iter()
                    .zip(&xs)
                    .map(|(fuse, x)| match fuse {
                        None => x.clone(),
                        Some(Fuse::Up(step)) => resize_nearest(step.forward(x.clone()), [h, w]),
                        Some(Fuse::Down(steps)) => {
                            let last = steps.len() - 1;
                            steps.iter().enumerate().fold(x.clone(), |x, (k, step)| {
                                if k == last { step.forward(x) } else { step.forward_relu(x) }
                            })
                        }
                    })
                    .reduce(|sum, x| sum + x)
                    .expect("a module has branches");
                activation::relu(sum)
            })
            .collect()
    }
}

/// timm's `_make_transition_layer`: branches kept (adapted where their channels change) and
/// one new branch per missing resolution, from the lowest one.
fn transition(previous: &[usize], current: &[usize], device: &Device) -> Vec<Option<Transition>> {
    let lowest = *previous.last().expect("a stage has branches");
    current
        .iter()
        .enumerate()
        .map(|(i, &channels)| {
            if let Some(&before) = previous.get(i) {
                return (before != channels)
                    .then(|| Transition::Adapt(ConvBn::new(ConvSpec::new(before, channels, 3), device)));
            }
            let steps = i + 1 - previous.len();
            Some(Transition::Open(
                (0..steps)
                    .map(|k| {
                        let out = if k + 1 == steps { channels } else { lowest };
                        ConvBn::new(ConvSpec::new(lowest, out, 3).stride(2), device)
                    })
                    .collect(),
            ))
        })
        .collect()
}

fn apply_transition(layers: &[Option<Transition>], branches: Vec<Tensor<4>>) -> Vec<Tensor<4>> {
    let lowest = branches.last().expect("a stage has branches").clone();
    layers
        .iter()
        .enumerate()
        .map(|(i, layer)| match layer {
            None => branches[i].clone(),
            Some(Transition::Adapt(step)) => step.forward_relu(branches[i].clone()),
            Some(Transition::Open(steps)) => {
                steps.iter().fold(lowest.clone(), |x, step| step.forward_relu(x))
            }
        })
        .collect()
}

/// timm's `HighResolutionNet` trunk with its feature taps (no classification head).
#[derive(Module, Debug)]
pub struct HighResolutionNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub layer1: Vec<Block>,
    pub transition1: Vec<Option<Transition>>,
    pub stage2: Vec<HrModule>,
    pub transition2: Vec<Option<Transition>>,
    pub stage3: Vec<HrModule>,
    pub transition3: Vec<Option<Transition>>,
    pub stage4: Vec<HrModule>,
    pub incre_modules: Option<Vec<Vec<Block>>>,
}

impl HighResolutionNet {
    pub fn new(width: HrnetWidth, features: HrnetFeatures, device: &Device) -> Self {
        let channels = width.branch_channels();
        let layer1_out = STEM_CHANNELS * 4;
        let layer1 = (0..BLOCKS_PER_BRANCH)
            .map(|i| {
                let channels_in = if i == 0 { STEM_CHANNELS } else { layer1_out };
                Block::new(BlockKind::BOTTLENECK, channels_in, STEM_CHANNELS, 1, 1, device)
            })
            .collect();
        let stage = |branches: usize, device: &Device| -> Vec<HrModule> {
            (0..MODULES[branches - 2]).map(|_| HrModule::new(&channels[..branches], device)).collect()
        };
        let incre_modules = (features == HrnetFeatures::Incre).then(|| {
            channels
                .iter()
                .zip(INCRE_PLANES)
                .map(|(&c, planes)| vec![Block::new(BlockKind::BOTTLENECK, c, planes, 1, 1, device)])
                .collect()
        });
        Self {
            conv1: ConvSpec::new(3, STEM_CHANNELS, 3).stride(2).init(device),
            bn1: batch_norm(STEM_CHANNELS, BN_EPS, device),
            conv2: ConvSpec::new(STEM_CHANNELS, STEM_CHANNELS, 3).stride(2).init(device),
            bn2: batch_norm(STEM_CHANNELS, BN_EPS, device),
            layer1,
            transition1: transition(&[layer1_out], &channels[..2], device),
            stage2: stage(2, device),
            transition2: transition(&channels[..2], &channels[..3], device),
            stage3: stage(3, device),
            transition3: transition(&channels[..3], &channels, device),
            stage4: stage(4, device),
            incre_modules,
        }
    }

    /// The six features: the input, the first stem convolution (stride 2), then the four
    /// branches (strides 4..32), through their `incre` blocks when the encoder has them.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let stem = conv_batch_norm(&self.conv1, &self.bn1, x.clone(), Activation::Relu);
        let trunk = conv_batch_norm(&self.conv2, &self.bn2, stem.clone(), Activation::Relu);
        let mut branches = vec![run_stage(&self.layer1, trunk)];
        for (layers, modules) in [
            (&self.transition1, &self.stage2),
            (&self.transition2, &self.stage3),
            (&self.transition3, &self.stage4),
        ] {
            branches = apply_transition(layers, branches);
            branches = modules.iter().fold(branches, |branches, module| module.forward(branches));
        }
        if let Some(incre) = &self.incre_modules {
            branches = branches.into_iter().zip(incre).map(|(x, blocks)| run_stage(blocks, x)).collect();
        }
        let mut features = vec![x, stem];
        features.extend(branches);
        features
    }
}

/// SMP's `TimmUniversalEncoder` around timm's features model: the keys sit under `model.`.
#[derive(Module, Debug)]
pub struct HrnetEncoder {
    pub model: HighResolutionNet,
}

impl HrnetEncoder {
    pub fn new(width: HrnetWidth, features: HrnetFeatures, device: &Device) -> Self {
        Self { model: HighResolutionNet::new(width, features, device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        self.model.forward(x)
    }

    /// The encoder's key for a key of timm's classification checkpoint (`hrnet_w48.ms_in1k`),
    /// None for the classification head that the features model does not have (timm loads
    /// these checkpoints non-strictly for the same reason).
    pub fn key_from_timm(&self, key: &str) -> Option<String> {
        let head = ["downsamp_modules.", "final_layer.", "classifier."];
        let unused = head.iter().any(|prefix| key.starts_with(prefix))
            || (self.model.incre_modules.is_none() && key.starts_with("incre_modules."));
        (!unused).then(|| format!("model.{key}"))
    }
}
