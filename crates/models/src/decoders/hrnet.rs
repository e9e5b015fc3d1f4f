//! HRNetV2's segmentation head (HRNet-Semantic-Segmentation, mmsegmentation's HRNet + FCNHead):
//! the four branches of an HRNet, the lower three upsampled bilinearly to the first's stride 4,
//! concatenated and mixed by a 1x1 conv-BN-ReLU; the model's segmentation head then classifies
//! (1x1) and upsamples to the input.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::unet::spatial;
use crate::blocks::{ConvBn, ConvSpec, resize_bilinear};

#[derive(Module, Debug)]
pub struct HrnetHead {
    pub fuse: ConvBn,
}

impl HrnetHead {
    /// `branches`: the channels of the four branches (C, 2C, 4C, 8C).
    pub fn new(branches: [usize; 4], device: &Device) -> Self {
        let joined = Self::channels(branches);
        Self { fuse: ConvBn::new(ConvSpec::new(joined, joined, 1), device) }
    }

    /// Channels out: all branches' together (15C).
    pub fn channels(branches: [usize; 4]) -> usize {
        branches.iter().sum()
    }

    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        let branches: Vec<Tensor<4>> = features.into_iter().skip(2).collect();
        let target = spatial(&branches[0]);
        let resized: Vec<Tensor<4>> = branches
            .into_iter()
            .map(|x| if spatial(&x) == target { x } else { resize_bilinear(x, target, false) })
            .collect();
        self.fuse.forward_relu(Tensor::cat(resized, 1))
    }
}
