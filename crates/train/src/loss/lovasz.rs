//! The Lovász hinge (Berman et al. 2018): a convex surrogate of `1 - IoU` on logits, as
//! segmentation-models-pytorch 0.6 computes it.
//!
//! For one group of pixels, errors `e = 1 - x (2t - 1)` are sorted in decreasing order and the
//! loss is `Σ relu(e_sorted) · g`, where `g` is the discrete gradient of the Jaccard loss along
//! that order (it depends on the labels only). Which pixels form a group is the whole story of
//! the multi-label case:
//!
//! - SMP's `LovaszLoss(mode="multilabel")` treats the target as one binary mask: with
//!   `per_image = False` every element of the batch (all classes) is one group, with
//!   `per_image = True` each image's `C·H·W` elements are one group, the classes pooled. Its
//!   `ignore_index` drops the elements whose target equals it; boneseg's targets are 0 or 1
//!   only, so that option has nothing to drop and is not offered.
//! - `per_class` keeps the classes apart: one group per class (over the batch) or per image and
//!   class, averaged; what an SMP user gets by looping `LovaszLoss(mode="binary")` over the
//!   channels, and what the competition's per-image, per-class dice rewards.

use boneseg_models::burn::tensor::Tensor;
use boneseg_models::burn::tensor::activation::relu;

/// Which pixels are scored together (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grouping {
    pub per_image: bool,
    pub per_class: bool,
}

/// The Lovász hinge of `logits` against `targets` (`[N, C, H, W]`), the groups averaged; with
/// `per_class`, `class_weights` (length C) weight each class's groups in that average.
pub fn lovasz_hinge(
    logits: Tensor<4>,
    targets: Tensor<4>,
    grouping: Grouping,
    class_weights: Option<Tensor<1>>,
) -> Tensor<1> {
    let [n, c, h, w] = logits.dims();
    let (logits, targets) = match grouping.per_image {
        // Class-major so that a class's pixels of every image are contiguous.
        false if grouping.per_class => (logits.swap_dims(0, 1), targets.swap_dims(0, 1)),
        _ => (logits, targets),
    };
    let groups = match (grouping.per_image, grouping.per_class) {
        (false, false) => 1,
        (true, false) => n,
        (false, true) => c,
        (true, true) => n * c,
    };
    let length = n * c * h * w / groups;
    let logits: Tensor<2> = logits.reshape([groups, length]);
    let targets: Tensor<2> = targets.reshape([groups, length]);
    let errors = targets.clone().mul_scalar(2.0).sub_scalar(1.0).mul(logits).neg().add_scalar(1.0);
    let (sorted, order) = errors.sort_descending_with_indices(1);
    let gradient = jaccard_gradient(targets.gather(1, order));
    let per_group = (relu(sorted) * gradient).sum_dim(1);
    match class_weights {
        Some(weights) if grouping.per_class => {
            let rows = if grouping.per_image { n } else { 1 };
            (per_group.reshape([rows, c]) * weights.reshape([1, c])).mean()
        }
        Some(_) => panic!("class weights need per_class groups (see Loss::new)"),
        None => per_group.mean(),
    }
}

/// SMP's `_lovasz_grad` for each row of labels sorted by decreasing error: the Jaccard loss
/// `1 - (P - cumsum(t)) / (P + cumsum(1 - t))` of the first `i` pixels, differenced along the
/// row (`P`: the row's positives). Counts are exact in float32 up to 2^24 pixels a group.
fn jaccard_gradient(labels: Tensor<2>) -> Tensor<2> {
    let [rows, length] = labels.dims();
    let positives = labels.clone().sum_dim(1);
    let intersection = positives.clone() - labels.clone().cumsum(1);
    let union = positives + labels.neg().add_scalar(1.0).cumsum(1);
    let jaccard = (intersection / union).neg().add_scalar(1.0);
    if length == 1 {
        return jaccard;
    }
    let zeros = Tensor::<2>::zeros([rows, 1], &jaccard.device());
    let previous = Tensor::cat(vec![zeros, jaccard.clone().narrow(1, 0, length - 1)], 1);
    jaccard - previous
}
