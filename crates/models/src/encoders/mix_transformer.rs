//! SMP's Mix Transformer encoders `mit_b0`..`mit_b5` (SegFormer's backbone): four stages of
//! overlapping patch embedding and transformer blocks whose attention shrinks keys and
//! values by a strided convolution (`sr_ratio`), with a depthwise 3x3 inside the MLP.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor, activation};

use super::empty_feature;
use crate::blocks::{ConvSpec, norm_channels};
use crate::layers::Conv2d;
use crate::registry::MitVariant;

/// Epsilon of SMP's `norm_layer` for MiT (`partial(LayerNorm, eps=1e-6)`); the patch
/// embeddings and the attention's reduction norm keep PyTorch's default 1e-5.
const BLOCK_EPS: f64 = 1e-6;
const DEFAULT_EPS: f64 = 1e-5;
/// SMP's `drop_path_rate`: stochastic depth rising linearly to 0.1 over all blocks.
const DROP_PATH_RATE: f64 = 0.1;

struct Settings {
    embed_dims: [usize; 4],
    depths: [usize; 4],
}

impl MitVariant {
    fn settings(self) -> Settings {
        let wide = [64, 128, 320, 512];
        match self {
            MitVariant::B0 => Settings { embed_dims: [32, 64, 160, 256], depths: [2, 2, 2, 2] },
            MitVariant::B1 => Settings { embed_dims: wide, depths: [2, 2, 2, 2] },
            MitVariant::B2 => Settings { embed_dims: wide, depths: [3, 4, 6, 3] },
            MitVariant::B3 => Settings { embed_dims: wide, depths: [3, 4, 18, 3] },
            MitVariant::B4 => Settings { embed_dims: wide, depths: [3, 8, 27, 3] },
            MitVariant::B5 => Settings { embed_dims: wide, depths: [3, 6, 40, 3] },
        }
    }
}

const NUM_HEADS: [usize; 4] = [1, 2, 5, 8];
const SR_RATIOS: [usize; 4] = [8, 4, 2, 1];
const MLP_RATIO: usize = 4;

fn tokens_to_map(x: Tensor<3>, size: [usize; 2]) -> Tensor<4> {
    let [n, _, c] = x.dims();
    x.swap_dims(1, 2).reshape([n, c, size[0], size[1]])
}

fn map_to_tokens(x: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).swap_dims(1, 2)
}

#[derive(Module, Debug)]
pub struct OverlapPatchEmbed {
    pub proj: Conv2d,
    pub norm: LayerNorm,
}

impl OverlapPatchEmbed {
    fn new(channels_in: usize, dim: usize, patch: usize, stride: usize, device: &Device) -> Self {
        Self {
            proj: ConvSpec::new(channels_in, dim, patch).stride(stride).bias(true).init(device),
            norm: LayerNormConfig::new(dim).with_epsilon(DEFAULT_EPS).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        norm_channels(&self.norm, self.proj.forward(x))
    }
}

/// Attention whose keys and values come from the map shrunk by `sr_ratio` (the strided
/// convolution `sr` and the LayerNorm `norm`, both absent at ratio 1).
#[derive(Module, Debug)]
pub struct Attention {
    pub q: Linear,
    pub kv: Linear,
    pub proj: Linear,
    pub sr: Option<Conv2d>,
    pub norm: Option<LayerNorm>,
    pub heads: usize,
}

impl Attention {
    fn new(dim: usize, heads: usize, sr_ratio: usize, device: &Device) -> Self {
        let reduced = sr_ratio > 1;
        Self {
            q: LinearConfig::new(dim, dim).init(device),
            kv: LinearConfig::new(dim, 2 * dim).init(device),
            proj: LinearConfig::new(dim, dim).init(device),
            sr: reduced.then(|| {
                ConvSpec::new(dim, dim, sr_ratio).stride(sr_ratio).padding(0).bias(true).init(device)
            }),
            norm: reduced.then(|| LayerNormConfig::new(dim).with_epsilon(DEFAULT_EPS).init(device)),
            heads,
        }
    }

    /// `[N, tokens, C]` split into heads: `[N, heads, tokens, C / heads]`.
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [n, tokens, c] = x.dims();
        x.reshape([n, tokens, self.heads, c / self.heads]).swap_dims(1, 2)
    }

    fn forward(&self, x: Tensor<3>, size: [usize; 2]) -> Tensor<3> {
        let [n, tokens, c] = x.dims();
        let q = self.split_heads(self.q.forward(x.clone()));
        let source = match (&self.sr, &self.norm) {
            (Some(sr), Some(norm)) => norm.forward(map_to_tokens(sr.forward(tokens_to_map(x, size)))),
            _ => x,
        };
        let kv = self.kv.forward(source);
        let k = self.split_heads(kv.clone().narrow(2, 0, c));
        let v = self.split_heads(kv.narrow(2, c, c));
        let scale = ((c / self.heads) as f64).powf(-0.5);
        let attention = activation::softmax(q.matmul(k.swap_dims(2, 3)).mul_scalar(scale), 3);
        let out = attention.matmul(v).swap_dims(1, 2).reshape([n, tokens, c]);
        self.proj.forward(out)
    }
}

#[derive(Module, Debug)]
pub struct DepthwiseConv {
    pub dwconv: Conv2d,
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub dwconv: DepthwiseConv,
    pub fc2: Linear,
}

impl Mlp {
    fn new(dim: usize, device: &Device) -> Self {
        let hidden = dim * MLP_RATIO;
        Self {
            fc1: LinearConfig::new(dim, hidden).init(device),
            dwconv: DepthwiseConv {
                dwconv: ConvSpec::new(hidden, hidden, 3).groups(hidden).bias(true).init(device),
            },
            fc2: LinearConfig::new(hidden, dim).init(device),
        }
    }

    fn forward(&self, x: Tensor<3>, size: [usize; 2]) -> Tensor<3> {
        let hidden = self.fc1.forward(x);
        let mixed = map_to_tokens(self.dwconv.dwconv.forward(tokens_to_map(hidden, size)));
        self.fc2.forward(activation::gelu(mixed))
    }
}

#[derive(Module, Debug)]
pub struct Block {
    pub norm1: LayerNorm,
    pub attn: Attention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
    /// Stochastic depth: the probability of skipping this block's branches while training.
    pub drop_path: f64,
}

impl Block {
    fn new(dim: usize, heads: usize, sr_ratio: usize, drop_path: f64, device: &Device) -> Self {
        Self {
            norm1: LayerNormConfig::new(dim).with_epsilon(BLOCK_EPS).init(device),
            attn: Attention::new(dim, heads, sr_ratio, device),
            norm2: LayerNormConfig::new(dim).with_epsilon(BLOCK_EPS).init(device),
            mlp: Mlp::new(dim, device),
            drop_path,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let size = [h, w];
        let tokens = map_to_tokens(x);
        let attended = self.attn.forward(self.norm1.forward(tokens.clone()), size);
        let tokens = tokens + self.drop(attended);
        let mixed = self.mlp.forward(self.norm2.forward(tokens.clone()), size);
        tokens_to_map(tokens + self.drop(mixed), size)
    }

    /// timm's `DropPath`: while training, each sample's branch is dropped with probability
    /// `drop_path` and kept ones are scaled by 1 / (1 - drop_path).
    fn drop(&self, branch: Tensor<3>) -> Tensor<3> {
        if self.drop_path == 0.0 || !branch.device().is_autodiff() {
            return branch;
        }
        let [n, _, _] = branch.dims();
        let keep = Tensor::<3>::random(
            [n, 1, 1],
            Distribution::Bernoulli(1.0 - self.drop_path),
            (&branch.device(), branch.dtype()),
        );
        branch.mul(keep).div_scalar(1.0 - self.drop_path)
    }
}

#[derive(Module, Debug)]
pub struct MixTransformer {
    pub patch_embed1: OverlapPatchEmbed,
    pub block1: Vec<Block>,
    pub norm1: LayerNorm,
    pub patch_embed2: OverlapPatchEmbed,
    pub block2: Vec<Block>,
    pub norm2: LayerNorm,
    pub patch_embed3: OverlapPatchEmbed,
    pub block3: Vec<Block>,
    pub norm3: LayerNorm,
    pub patch_embed4: OverlapPatchEmbed,
    pub block4: Vec<Block>,
    pub norm4: LayerNorm,
}

impl MixTransformer {
    pub fn new(variant: MitVariant, device: &Device) -> Self {
        let Settings { embed_dims, depths } = variant.settings();
        let total: usize = depths.iter().sum();
        let mut index = 0;
        let mut blocks = |stage: usize| -> Vec<Block> {
            (0..depths[stage])
                .map(|_| {
                    let rate =
                        if total > 1 { DROP_PATH_RATE * index as f64 / (total - 1) as f64 } else { 0.0 };
                    index += 1;
                    Block::new(embed_dims[stage], NUM_HEADS[stage], SR_RATIOS[stage], rate, device)
                })
                .collect()
        };
        let norm =
            |stage: usize| LayerNormConfig::new(embed_dims[stage]).with_epsilon(BLOCK_EPS).init(device);
        let embed = |stage: usize| {
            let (channels_in, patch, stride) =
                if stage == 0 { (3, 7, 4) } else { (embed_dims[stage - 1], 3, 2) };
            OverlapPatchEmbed::new(channels_in, embed_dims[stage], patch, stride, device)
        };
        Self {
            patch_embed1: embed(0),
            block1: blocks(0),
            norm1: norm(0),
            patch_embed2: embed(1),
            block2: blocks(1),
            norm2: norm(1),
            patch_embed3: embed(2),
            block3: blocks(2),
            norm3: norm(2),
            patch_embed4: embed(3),
            block4: blocks(3),
            norm4: norm(3),
        }
    }

    /// Without drop path (deterministic training-mode forwards).
    pub fn without_drop_path(mut self) -> Self {
        for block in
            self.block1.iter_mut().chain(&mut self.block2).chain(&mut self.block3).chain(&mut self.block4)
        {
            block.drop_path = 0.0;
        }
        self
    }

    /// Six features as SMP's MiT encoder gives them: the input, an empty stride-2 feature
    /// (MiT starts at stride 4), then the four stages.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let empty = empty_feature(&x);
        let stage = |x: Tensor<4>, embed: &OverlapPatchEmbed, blocks: &[Block], norm: &LayerNorm| {
            let x = blocks.iter().fold(embed.forward(x), |x, block| block.forward(x));
            norm_channels(norm, x)
        };
        let f2 = stage(x.clone(), &self.patch_embed1, &self.block1, &self.norm1);
        let f3 = stage(f2.clone(), &self.patch_embed2, &self.block2, &self.norm2);
        let f4 = stage(f3.clone(), &self.patch_embed3, &self.block3, &self.norm3);
        let f5 = stage(f4.clone(), &self.patch_embed4, &self.block4, &self.norm4);
        vec![x, empty, f2, f3, f4, f5]
    }
}
