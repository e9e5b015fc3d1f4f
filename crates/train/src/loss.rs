//! Multi-label segmentation losses on logits, one sigmoid per class (never a softmax: the
//! bones overlap), with the semantics of PyTorch's `BCEWithLogitsLoss` and of
//! segmentation-models-pytorch's `mode="multilabel", from_logits=True` losses, so that a
//! config carried over from the Python pipeline trains the same objective.
//!
//! Every loss takes logits and float targets in {0, 1} of shape `[N, C, H, W]` and returns
//! a scalar (shape `[1]`) that is differentiable on an autodiff device. A [`Loss`] is a
//! weighted sum of [`LossTerm`]s read from the config:
//!
//! ```toml
//! loss = [{ kind = "focal", weight = 0.5 }, { kind = "dice", weight = 0.5, per_image = true }]
//! ```

use boneseg_models::burn::tensor::activation::sigmoid;
use boneseg_models::burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// SMP's floor on a score's denominator (`eps` of `DiceLoss`, `JaccardLoss`, `TverskyLoss`).
const SMP_EPS: f64 = 1e-7;

/// Which loss a [`LossTerm`] computes.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// `BCEWithLogitsLoss`, mean over all elements; `pos_weight` per class.
    Bce,
    /// SMP `DiceLoss` (soft Dice over batch and pixels per class), or per image and class.
    Dice,
    /// SMP `FocalLoss`: `alpha` (none by default) and `gamma` (2).
    Focal,
    /// SMP `JaccardLoss` (soft IoU).
    Jaccard,
    /// SMP `TverskyLoss`: `alpha` (false positives), `beta` (false negatives), `gamma` (power).
    Tversky,
}

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::Dice => "dice",
            LossKind::Focal => "focal",
            LossKind::Jaccard => "jaccard",
            LossKind::Tversky => "tversky",
        }
    }
}

/// One weighted term of the training loss, as written in the config. Parameters a kind does
/// not use are refused by [`Loss::new`] rather than silently ignored.
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct LossTerm {
    pub kind: LossKind,
    pub weight: f64,
    /// Dice, Jaccard, Tversky: added to numerator and denominator (SMP `smooth`, default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smooth: Option<f64>,
    /// Focal: weight of positives (SMP default: none). Tversky: weight of false positives (0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Tversky: weight of false negatives (0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Focal: focusing power (2). Tversky: power of the mean loss (1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Dice, Jaccard, Tversky: score each image and class on its own (as the competition
    /// metric does) instead of pooling the batch per class as SMP does (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_image: Option<bool>,
    /// BCE: weight of positive pixels, one value per class or one for all classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos_weight: Option<Vec<f64>>,
}

impl LossTerm {
    /// A term of `kind` with `weight` and every parameter at its default.
    pub fn new(kind: LossKind, weight: f64) -> Self {
        Self {
            kind,
            weight,
            smooth: None,
            alpha: None,
            beta: None,
            gamma: None,
            per_image: None,
            pos_weight: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LossError {
    #[error("the loss needs at least one term, e.g. loss = [{{ kind = \"bce\", weight = 1.0 }}]")]
    Empty,
    #[error("loss term {index} ({kind}): {message}")]
    Invalid { index: usize, kind: &'static str, message: String },
}

/// Whether a score is pooled over the batch per class (SMP) or kept per image and class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Sums over images and pixels, one score per class (SMP `dims=(0, 2)`).
    PerClass,
    /// Sums over pixels, one score per image and class; empty targets are masked per image.
    PerImage,
}

/// A loss function ready to evaluate, its parameters resolved to their defaults.
#[derive(Clone, Debug)]
pub enum LossFn {
    Bce {
        pos_weight: Option<Vec<f64>>,
    },
    Focal {
        alpha: Option<f64>,
        gamma: f64,
    },
    /// Dice, Jaccard and Tversky are one family: Dice is alpha = beta = 0.5, Jaccard 1 and 1.
    Tversky {
        alpha: f64,
        beta: f64,
        gamma: f64,
        smooth: f64,
        reduction: Reduction,
    },
}

impl LossFn {
    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        match self {
            LossFn::Bce { pos_weight } => bce_with_logits(logits, targets, pos_weight.as_deref()),
            LossFn::Focal { alpha, gamma } => focal_with_logits(logits, targets, *alpha, *gamma),
            LossFn::Tversky { alpha, beta, gamma, smooth, reduction } => {
                tversky_with_logits(logits, targets, *alpha, *beta, *gamma, *smooth, *reduction)
            }
        }
    }
}

/// The training loss: a weighted sum of terms.
#[derive(Clone, Debug)]
pub struct Loss {
    terms: Vec<(String, f64, LossFn)>,
}

/// The loss and its unweighted terms, for logging.
pub struct LossParts {
    pub total: Tensor<1>,
    /// `(label, unweighted value)` in config order.
    pub terms: Vec<(String, Tensor<1>)>,
}

impl Loss {
    /// Resolves each term's defaults and refuses parameters its kind does not take.
    pub fn new(terms: &[LossTerm]) -> Result<Self, LossError> {
        if terms.is_empty() {
            return Err(LossError::Empty);
        }
        let mut resolved = Vec::with_capacity(terms.len());
        for (index, term) in terms.iter().enumerate() {
            let function = resolve(term).map_err(|message| LossError::Invalid {
                index,
                kind: term.kind.name(),
                message,
            })?;
            let repeats = terms[..index].iter().filter(|t| t.kind == term.kind).count();
            let label = if repeats == 0 {
                term.kind.name().to_string()
            } else {
                format!("{}{}", term.kind.name(), repeats + 1)
            };
            resolved.push((label, term.weight, function));
        }
        Ok(Self { terms: resolved })
    }

    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        self.forward_parts(logits, targets).total
    }

    /// The total and each term's unweighted value (a repeated kind is labelled `dice2`, ...).
    pub fn forward_parts(&self, logits: Tensor<4>, targets: Tensor<4>) -> LossParts {
        let mut total: Option<Tensor<1>> = None;
        let mut parts = Vec::with_capacity(self.terms.len());
        for (label, weight, function) in &self.terms {
            let value = function.forward(logits.clone(), targets.clone());
            let weighted = value.clone().mul_scalar(*weight);
            total = Some(match total {
                Some(sum) => sum + weighted,
                None => weighted,
            });
            parts.push((label.clone(), value));
        }
        LossParts { total: total.expect("at least one term"), terms: parts }
    }

    /// Refuses a `pos_weight` whose length is neither 1 nor `classes`, before training rather
    /// than at the first batch.
    pub fn check_classes(&self, classes: usize) -> Result<(), LossError> {
        for (index, (_, _, function)) in self.terms.iter().enumerate() {
            if let LossFn::Bce { pos_weight: Some(weights) } = function
                && weights.len() != 1
                && weights.len() != classes
            {
                return Err(LossError::Invalid {
                    index,
                    kind: "bce",
                    message: format!("pos_weight has {} values for {classes} classes", weights.len()),
                });
            }
        }
        Ok(())
    }

    /// The labels of [`LossParts::terms`], in order.
    pub fn labels(&self) -> Vec<&str> {
        self.terms.iter().map(|(label, _, _)| label.as_str()).collect()
    }
}

fn resolve(term: &LossTerm) -> Result<LossFn, String> {
    let given = |name: &str, present: bool| present.then(|| name.to_string());
    let unused: Vec<String> = match term.kind {
        LossKind::Bce => [
            given("smooth", term.smooth.is_some()),
            given("alpha", term.alpha.is_some()),
            given("beta", term.beta.is_some()),
            given("gamma", term.gamma.is_some()),
            given("per_image", term.per_image.is_some()),
        ]
        .into_iter()
        .flatten()
        .collect(),
        LossKind::Focal => [
            given("smooth", term.smooth.is_some()),
            given("beta", term.beta.is_some()),
            given("per_image", term.per_image.is_some()),
            given("pos_weight", term.pos_weight.is_some()),
        ]
        .into_iter()
        .flatten()
        .collect(),
        LossKind::Dice | LossKind::Jaccard => [
            given("alpha", term.alpha.is_some()),
            given("beta", term.beta.is_some()),
            given("gamma", term.gamma.is_some()),
            given("pos_weight", term.pos_weight.is_some()),
        ]
        .into_iter()
        .flatten()
        .collect(),
        LossKind::Tversky => given("pos_weight", term.pos_weight.is_some()).into_iter().collect(),
    };
    if !unused.is_empty() {
        return Err(format!("does not take {}", unused.join(", ")));
    }
    if !term.weight.is_finite() {
        return Err(format!("weight {} is not finite", term.weight));
    }
    let reduction = if term.per_image.unwrap_or(false) { Reduction::PerImage } else { Reduction::PerClass };
    let smooth = term.smooth.unwrap_or(0.0);
    Ok(match term.kind {
        LossKind::Bce => {
            if term.pos_weight.as_ref().is_some_and(|w| w.is_empty()) {
                return Err("pos_weight needs one value per class, or one for all".into());
            }
            LossFn::Bce { pos_weight: term.pos_weight.clone() }
        }
        LossKind::Focal => LossFn::Focal { alpha: term.alpha, gamma: term.gamma.unwrap_or(2.0) },
        LossKind::Dice => LossFn::Tversky { alpha: 0.5, beta: 0.5, gamma: 1.0, smooth, reduction },
        LossKind::Jaccard => LossFn::Tversky { alpha: 1.0, beta: 1.0, gamma: 1.0, smooth, reduction },
        LossKind::Tversky => LossFn::Tversky {
            alpha: term.alpha.unwrap_or(0.5),
            beta: term.beta.unwrap_or(0.5),
            gamma: term.gamma.unwrap_or(1.0),
            smooth,
            reduction,
        },
    })
}

/// Elementwise `BCEWithLogits` without reduction, in the form that never overflows:
/// `max(x, 0) - x t + log(1 + exp(-|x|))`; with a positive weight `p`, torch's
/// `(1 - t) x + (1 + (p - 1) t) (log(1 + exp(-|x|)) + max(-x, 0))`.
fn bce_elementwise(logits: Tensor<4>, targets: Tensor<4>, pos_weight: Option<&[f64]>) -> Tensor<4> {
    let softplus_neg_abs = logits.clone().abs().neg().exp().log1p();
    match pos_weight {
        None => logits.clone().clamp_min(0.0) - logits * targets + softplus_neg_abs,
        Some(weights) => {
            let [_, classes, _, _] = logits.dims();
            let per_class: Vec<f32> = match weights.len() {
                1 => vec![weights[0] as f32; classes],
                n if n == classes => weights.iter().map(|&w| w as f32).collect(),
                n => panic!("pos_weight has {n} values for {classes} classes (see Loss::check_classes)"),
            };
            let weight = Tensor::<1>::from_data(TensorData::new(per_class, [classes]), &logits.device())
                .reshape([1, classes, 1, 1]);
            let log_weight = weight.sub_scalar(1.0).mul(targets.clone()).add_scalar(1.0);
            let negative_part = logits.clone().neg().clamp_min(0.0);
            targets.neg().add_scalar(1.0).mul(logits) + log_weight * (softplus_neg_abs + negative_part)
        }
    }
}

/// `BCEWithLogitsLoss(pos_weight=w.view(C, 1, 1))`: the mean over all elements. The weight
/// is per class (axis 1), which in torch needs the `[C, 1, 1]` shape to broadcast over NCHW.
pub fn bce_with_logits(logits: Tensor<4>, targets: Tensor<4>, pos_weight: Option<&[f64]>) -> Tensor<1> {
    mean_in_fixed_order(bce_elementwise(logits, targets, pos_weight))
}

/// The mean of all elements, summed plane by plane and then over the planes. The same value
/// as `mean()`, but always summed in the same order: flex sums a tensor of 4M values or more
/// (a batch of 4 at 256²) in rayon-sized chunks whose grouping changes from call to call, and
/// that would make two runs with one seed part after a few steps.
fn mean_in_fixed_order(values: Tensor<4>) -> Tensor<1> {
    let [n, c, h, w] = values.dims();
    values.reshape([n * c, h * w]).sum_dim(1).sum().div_scalar((n * c * h * w) as f64)
}

/// SMP `FocalLoss(mode="multilabel", alpha, gamma)`: `(1 - p_t)^gamma * bce`, weighted by
/// `alpha t + (1 - alpha)(1 - t)` when alpha is given. SMP averages per class and then over
/// classes; every class has N·H·W elements, so that is the plain mean.
pub fn focal_with_logits(logits: Tensor<4>, targets: Tensor<4>, alpha: Option<f64>, gamma: f64) -> Tensor<1> {
    let log_pt = bce_elementwise(logits, targets.clone(), None);
    let pt = log_pt.clone().neg().exp();
    let focal = pt.neg().add_scalar(1.0).powf_scalar(gamma);
    let mut loss = focal * log_pt;
    if let Some(alpha) = alpha {
        loss = loss * targets.mul_scalar(2.0 * alpha - 1.0).add_scalar(1.0 - alpha);
    }
    mean_in_fixed_order(loss)
}

/// The Tversky family on sigmoid probabilities (SMP `soft_tversky_score`):
/// score = `(TP + smooth) / max(TP + alpha FP + beta FN + smooth, eps)`, loss = `1 - score`,
/// zeroed where the target is empty (SMP: the score is undefined there), averaged over the
/// scores (zeros included, as SMP does) and raised to `gamma`.
///
/// SMP computes TP as `(Σp + Σt - Σ|p - t|) / 2`; for targets in {0, 1} that is `Σ p t`,
/// value and gradient alike, and the product is the form that loses no precision.
///
/// With [`Reduction::PerClass`] this is SMP's `DiceLoss` (alpha = beta = 0.5, gamma = 1),
/// `JaccardLoss` (alpha = beta = 1) and `TverskyLoss`. [`Reduction::PerImage`] scores each
/// image and class alone, as the competition metric does, so one large image does not
/// drown a small one; it is not an SMP option.
pub fn tversky_with_logits(
    logits: Tensor<4>,
    targets: Tensor<4>,
    alpha: f64,
    beta: f64,
    gamma: f64,
    smooth: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let [n, c, h, w] = logits.dims();
    let probabilities = sigmoid(logits).reshape([n, c, h * w]);
    let targets = targets.reshape([n, c, h * w]);
    let sum = |t: Tensor<3>| -> Tensor<2> {
        let per_image = t.sum_dim(2).reshape([n, c]);
        match reduction {
            Reduction::PerClass => per_image.sum_dim(0),
            Reduction::PerImage => per_image,
        }
    };
    let tp = sum(probabilities.clone() * targets.clone());
    let predicted = sum(probabilities);
    let actual = sum(targets);
    let fp = predicted - tp.clone();
    let fn_ = actual.clone() - tp.clone();
    let denominator =
        (tp.clone() + fp.mul_scalar(alpha) + fn_.mul_scalar(beta)).add_scalar(smooth).clamp_min(SMP_EPS);
    let score = tp.add_scalar(smooth) / denominator;
    let present = actual.greater_elem(0.0).float();
    let loss = (score.neg().add_scalar(1.0) * present).mean();
    if gamma == 1.0 { loss } else { loss.powf_scalar(gamma) }
}

/// SMP `DiceLoss(mode="multilabel", from_logits=True, smooth)` or its per-image variant.
pub fn dice_with_logits(
    logits: Tensor<4>,
    targets: Tensor<4>,
    smooth: f64,
    reduction: Reduction,
) -> Tensor<1> {
    tversky_with_logits(logits, targets, 0.5, 0.5, 1.0, smooth, reduction)
}

/// SMP `JaccardLoss(mode="multilabel", from_logits=True, smooth)` or its per-image variant.
pub fn jaccard_with_logits(
    logits: Tensor<4>,
    targets: Tensor<4>,
    smooth: f64,
    reduction: Reduction,
) -> Tensor<1> {
    tversky_with_logits(logits, targets, 1.0, 1.0, 1.0, smooth, reduction)
}
