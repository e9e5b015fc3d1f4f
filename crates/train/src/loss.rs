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
//!
//! Each term may weight the classes ([`weights`]: `class_weights = "small_bones"` or 29
//! values), and a [`stages`] list (`loss_schedule`) changes the terms' weights by epoch.

pub mod lovasz;
pub mod stages;
pub mod weights;

use boneseg_models::burn::tensor::activation::sigmoid;
use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

pub use lovasz::{Grouping, lovasz_hinge};
pub use stages::LossStage;
pub use weights::{ClassWeights, WeightPreset};

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
    /// SMP `LovaszLoss(mode="multilabel")` (the Lovász hinge), `per_image` as there; with
    /// `per_class`, one hinge per class (and image), averaged (see [`lovasz`]).
    Lovasz,
}

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::Dice => "dice",
            LossKind::Focal => "focal",
            LossKind::Jaccard => "jaccard",
            LossKind::Tversky => "tversky",
            LossKind::Lovasz => "lovasz",
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
    /// Lovasz: SMP's `per_image` (one hinge per image instead of one for the batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_image: Option<bool>,
    /// Lovasz: one hinge per class instead of SMP's pooling of all classes (default false,
    /// SMP's `mode="multilabel"`; `per_class = true, per_image = true` is the competition's
    /// per-image, per-class view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_class: Option<bool>,
    /// BCE: weight of positive pixels, one value per class or one for all classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos_weight: Option<Vec<f64>>,
    /// Every kind (Lovasz with `per_class` only): a weight per class, or a preset
    /// (`"small_bones"`); see [`weights`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weights: Option<ClassWeights>,
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
            per_class: None,
            pos_weight: None,
            class_weights: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LossError {
    #[error("the loss needs at least one term, e.g. loss = [{{ kind = \"bce\", weight = 1.0 }}]")]
    Empty,
    #[error("loss[{index}] ({kind}): {message}")]
    Invalid { index: usize, kind: &'static str, message: String },
    #[error("loss: every term has weight 0; give one a positive weight")]
    NoWeight,
    #[error("loss_schedule[{index}]: {message}")]
    Stage { index: usize, message: String },
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
        shape: TverskyShape,
        reduction: Reduction,
    },
    Lovasz {
        grouping: Grouping,
    },
}

impl LossFn {
    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        self.forward_weighted(logits, targets, None)
    }

    /// The loss with the classes weighted as SMP 0.6 weights them (`class_weights`, one per
    /// channel): `Σ w_c L_c / Σ w_c` where the unweighted loss takes the mean over classes.
    pub fn forward_weighted(
        &self,
        logits: Tensor<4>,
        targets: Tensor<4>,
        class_weights: Option<&[f64]>,
    ) -> Tensor<1> {
        // Scaled to a mean of 1, a weighted mean over classes is the plain mean of the
        // weighted terms, which is how every function below applies them.
        let weights = class_weights.map(|w| {
            let mean = w.iter().sum::<f64>() / w.len() as f64;
            let scaled: Vec<f64> = w.iter().map(|v| v / mean).collect();
            per_class_tensor(&scaled, logits.dims()[1], &logits.device())
        });
        match self {
            LossFn::Bce { pos_weight } => bce_with_logits(logits, targets, pos_weight.as_deref(), weights),
            LossFn::Focal { alpha, gamma } => focal_with_logits(logits, targets, *alpha, *gamma, weights),
            LossFn::Tversky { shape, reduction } => {
                tversky_with_logits(logits, targets, *shape, *reduction, weights)
            }
            LossFn::Lovasz { grouping } => lovasz_hinge(logits, targets, *grouping, weights),
        }
    }
}

/// One value per class as a `[C]` tensor; a single value stands for every class.
fn per_class_tensor(values: &[f64], classes: usize, device: &Device) -> Tensor<1> {
    let per_class: Vec<f32> = match values.len() {
        1 => vec![values[0] as f32; classes],
        n if n == classes => values.iter().map(|&w| w as f32).collect(),
        n => panic!("{n} per-class values for {classes} classes (see Loss::check_classes)"),
    };
    Tensor::from_data(TensorData::new(per_class, [classes]), device)
}

/// One term as [`Loss`] keeps it.
#[derive(Clone, Debug)]
struct Term {
    label: String,
    kind: LossKind,
    weight: f64,
    function: LossFn,
    class_weights: Option<ClassWeights>,
    /// The values of `class_weights` (checked against the model by [`Loss::check_classes`]).
    resolved: Option<Vec<f64>>,
}

/// The training loss: a weighted sum of terms, their weights switched by epoch when a
/// `loss_schedule` is given.
#[derive(Clone, Debug)]
pub struct Loss {
    terms: Vec<Term>,
    stages: Vec<LossStage>,
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
        let mut built = Vec::with_capacity(terms.len());
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
            built.push(Term {
                label,
                kind: term.kind,
                weight: term.weight,
                function,
                class_weights: term.class_weights.clone(),
                resolved: term.class_weights.as_ref().map(ClassWeights::values),
            });
        }
        if terms.iter().all(|t| t.weight == 0.0) {
            return Err(LossError::NoWeight);
        }
        Ok(Self { terms: built, stages: Vec::new() })
    }

    /// The loss with its weights switched by epoch (`loss_schedule`), checked against the terms.
    pub fn with_stages(mut self, stages: &[LossStage]) -> Result<Self, LossError> {
        stages::check(stages, self.terms.len())?;
        self.stages = stages.to_vec();
        Ok(self)
    }

    /// The total at the config's weights (those of the first epoch: a stage starts at 2 or later).
    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        self.forward_at(0, logits, targets)
    }

    /// The total with the weights of `epoch` (0-based); terms weighted 0 there are not computed.
    pub fn forward_at(&self, epoch: usize, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        let weights = self.weights_at(epoch);
        self.terms
            .iter()
            .zip(weights)
            .filter(|(_, weight)| *weight != 0.0)
            .map(|(term, weight)| term.value(logits.clone(), targets.clone()).mul_scalar(weight))
            .reduce(|sum, weighted| sum + weighted)
            // Loss::new and stages::check refuse weights that are all zero.
            .expect("a term with a positive weight")
    }

    /// The total and each term's unweighted value (a repeated kind is labelled `dice2`, ...),
    /// at the config's weights.
    pub fn forward_parts(&self, logits: Tensor<4>, targets: Tensor<4>) -> LossParts {
        let terms: Vec<(String, Tensor<1>)> = self
            .terms
            .iter()
            .map(|term| (term.label.clone(), term.value(logits.clone(), targets.clone())))
            .collect();
        let total = terms
            .iter()
            .zip(&self.terms)
            .map(|((_, value), term)| value.clone().mul_scalar(term.weight))
            .reduce(|sum, weighted| sum + weighted)
            .expect("at least one term");
        LossParts { total, terms }
    }

    /// The terms' weights in `epoch` (0-based): the config's, or the last stage begun by then.
    pub fn weights_at(&self, epoch: usize) -> Vec<f64> {
        stages::current(&self.stages, epoch)
            .map_or_else(|| self.terms.iter().map(|t| t.weight).collect(), |stage| stage.weights.clone())
    }

    /// A line for the log when `epoch` (0-based) begins a stage of the schedule.
    pub fn stage_begins(&self, epoch: usize) -> Option<String> {
        let stage = self.stages.iter().find(|s| s.from_epoch == epoch + 1)?;
        let terms: Vec<String> =
            self.terms.iter().zip(&stage.weights).map(|(t, w)| format!("{} {w}", t.label)).collect();
        Some(format!("epoch {}: loss weights now {}", epoch + 1, terms.join(", ")))
    }

    /// Refuses per-class values (`pos_weight`, `class_weights`) that do not fit `classes`
    /// channels, before training rather than at the first batch.
    pub fn check_classes(&self, classes: usize) -> Result<(), LossError> {
        for (index, term) in self.terms.iter().enumerate() {
            let invalid = |message: String| LossError::Invalid { index, kind: term.kind.name(), message };
            if let LossFn::Bce { pos_weight: Some(weights) } = &term.function
                && weights.len() != 1
                && weights.len() != classes
            {
                return Err(invalid(format!(
                    "pos_weight has {} values for {classes} classes",
                    weights.len()
                )));
            }
            if let Some(weights) = &term.class_weights {
                weights.resolve(classes).map_err(invalid)?;
            }
        }
        Ok(())
    }

    /// The labels of [`LossParts::terms`], in order.
    pub fn labels(&self) -> Vec<&str> {
        self.terms.iter().map(|t| t.label.as_str()).collect()
    }
}

impl Term {
    fn value(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        self.function.forward_weighted(logits, targets, self.resolved.as_deref())
    }
}

fn resolve(term: &LossTerm) -> Result<LossFn, String> {
    let given = |name: &str, present: bool| present.then(|| name.to_string());
    let (smooth, alpha, beta, gamma) =
        (term.smooth.is_some(), term.alpha.is_some(), term.beta.is_some(), term.gamma.is_some());
    let (per_image, per_class, pos_weight) =
        (term.per_image.is_some(), term.per_class.is_some(), term.pos_weight.is_some());
    let refused = match term.kind {
        LossKind::Bce => vec![("smooth", smooth), ("alpha", alpha), ("beta", beta), ("gamma", gamma)]
            .into_iter()
            .chain([("per_image", per_image), ("per_class", per_class)])
            .collect::<Vec<_>>(),
        LossKind::Focal => vec![
            ("smooth", smooth),
            ("beta", beta),
            ("per_image", per_image),
            ("per_class", per_class),
            ("pos_weight", pos_weight),
        ],
        LossKind::Dice | LossKind::Jaccard => vec![
            ("alpha", alpha),
            ("beta", beta),
            ("gamma", gamma),
            ("per_class", per_class),
            ("pos_weight", pos_weight),
        ],
        LossKind::Tversky => vec![("per_class", per_class), ("pos_weight", pos_weight)],
        LossKind::Lovasz => {
            vec![
                ("smooth", smooth),
                ("alpha", alpha),
                ("beta", beta),
                ("gamma", gamma),
                ("pos_weight", pos_weight),
            ]
        }
    };
    let unused: Vec<String> =
        refused.into_iter().filter_map(|(name, present)| given(name, present)).collect();
    if !unused.is_empty() {
        return Err(format!("does not take {}", unused.join(", ")));
    }
    if !term.weight.is_finite() || term.weight < 0.0 {
        return Err(format!("weight {} must be a finite number >= 0", term.weight));
    }
    if term.kind == LossKind::Lovasz && term.class_weights.is_some() && term.per_class != Some(true) {
        return Err("class_weights need per_class = true: without it the hinge pools all classes (SMP's multilabel mode)".into());
    }
    if let Some(ClassWeights::Values(values)) = &term.class_weights {
        // The length is checked against the model's classes by Loss::check_classes.
        weights::check_values(values)?;
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
        LossKind::Dice => LossFn::Tversky { shape: TverskyShape::dice(smooth), reduction },
        LossKind::Jaccard => LossFn::Tversky { shape: TverskyShape::jaccard(smooth), reduction },
        LossKind::Tversky => LossFn::Tversky {
            shape: TverskyShape {
                alpha: term.alpha.unwrap_or(0.5),
                beta: term.beta.unwrap_or(0.5),
                gamma: term.gamma.unwrap_or(1.0),
                smooth,
            },
            reduction,
        },
        LossKind::Lovasz => LossFn::Lovasz {
            grouping: Grouping {
                per_image: term.per_image.unwrap_or(false),
                per_class: term.per_class.unwrap_or(false),
            },
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
            let weight = per_class_tensor(weights, classes, &logits.device()).reshape([1, classes, 1, 1]);
            let log_weight = weight.sub_scalar(1.0).mul(targets.clone()).add_scalar(1.0);
            let negative_part = logits.clone().neg().clamp_min(0.0);
            targets.neg().add_scalar(1.0).mul(logits) + log_weight * (softplus_neg_abs + negative_part)
        }
    }
}

/// The mean of an elementwise `[N, C, H, W]` loss, each class's elements weighted first.
fn class_weighted_mean(loss: Tensor<4>, class_weights: Option<Tensor<1>>) -> Tensor<1> {
    match class_weights {
        Some(weights) => {
            let classes = loss.dims()[1];
            mean_in_fixed_order(loss * weights.reshape([1, classes, 1, 1]))
        }
        None => mean_in_fixed_order(loss),
    }
}

/// `BCEWithLogitsLoss(weight=cw.view(C, 1, 1), pos_weight=w.view(C, 1, 1))`: the mean over
/// all elements. Both weights are per class (axis 1), which in torch needs the `[C, 1, 1]`
/// shape to broadcast over NCHW; [`LossFn::forward_weighted`] hands `cw` scaled to mean 1.
pub fn bce_with_logits(
    logits: Tensor<4>,
    targets: Tensor<4>,
    pos_weight: Option<&[f64]>,
    class_weights: Option<Tensor<1>>,
) -> Tensor<1> {
    class_weighted_mean(bce_elementwise(logits, targets, pos_weight), class_weights)
}

/// The mean of all elements, summed plane by plane and then over the planes. The same value
/// as `mean()`, but always summed in the same order: flex sums a tensor of 4M values or more
/// (a batch of 4 at 256²) in rayon-sized chunks whose grouping changes from call to call, and
/// that would make two runs with one seed part after a few steps.
///
/// Only flex needs it: on GPU backends the summation order is the device's anyway (README,
/// reliability), and Mesa's lavapipe crashes (SIGSEGV) compiling this reshape-and-reduce kernel,
/// so they take the plain mean.
fn mean_in_fixed_order(values: Tensor<4>) -> Tensor<1> {
    if !boneseg_kernels::on_flex(&values) {
        return values.mean();
    }
    let [n, c, h, w] = values.dims();
    values.reshape([n * c, h * w]).sum_dim(1).sum().div_scalar((n * c * h * w) as f64)
}

/// SMP `FocalLoss(mode="multilabel", alpha, gamma)`: `(1 - p_t)^gamma * bce`, weighted by
/// `alpha t + (1 - alpha)(1 - t)` when alpha is given. SMP averages per class and then over
/// classes; every class has N·H·W elements, so that is the plain mean (of the class-weighted
/// elements, with class weights).
pub fn focal_with_logits(
    logits: Tensor<4>,
    targets: Tensor<4>,
    alpha: Option<f64>,
    gamma: f64,
    class_weights: Option<Tensor<1>>,
) -> Tensor<1> {
    let log_pt = bce_elementwise(logits, targets.clone(), None);
    let pt = log_pt.clone().neg().exp();
    let focal = pt.neg().add_scalar(1.0).powf_scalar(gamma);
    let mut loss = focal * log_pt;
    if let Some(alpha) = alpha {
        loss = loss * targets.mul_scalar(2.0 * alpha - 1.0).add_scalar(1.0 - alpha);
    }
    class_weighted_mean(loss, class_weights)
}

/// The parameters of a Tversky-family score: false positives weigh `alpha`, false negatives
/// `beta`; `smooth` joins numerator and denominator; the mean loss is raised to `gamma`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TverskyShape {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub smooth: f64,
}

impl TverskyShape {
    /// SMP `DiceLoss`.
    pub fn dice(smooth: f64) -> Self {
        TverskyShape { alpha: 0.5, beta: 0.5, gamma: 1.0, smooth }
    }

    /// SMP `JaccardLoss`.
    pub fn jaccard(smooth: f64) -> Self {
        TverskyShape { alpha: 1.0, beta: 1.0, gamma: 1.0, smooth }
    }
}

/// The Tversky family on sigmoid probabilities (SMP `soft_tversky_score`):
/// score = `(TP + smooth) / max(TP + alpha FP + beta FN + smooth, eps)`, loss = `1 - score`,
/// zeroed where the target is empty (SMP: the score is undefined there), averaged over the
/// scores (zeros included, as SMP does; each class's scores times its weight first, with class
/// weights) and raised to `gamma`.
///
/// SMP computes TP as `(Σp + Σt - Σ|p - t|) / 2`; for targets in {0, 1} that is `Σ p t`,
/// value and gradient alike, and the product is the form that loses no precision.
///
/// With [`Reduction::PerClass`] this is SMP's `DiceLoss` ([`TverskyShape::dice`]),
/// `JaccardLoss` ([`TverskyShape::jaccard`]) and `TverskyLoss`. [`Reduction::PerImage`] scores
/// each image and class alone, as the competition metric does, so one large image does not
/// drown a small one; it is not an SMP option.
pub fn tversky_with_logits(
    logits: Tensor<4>,
    targets: Tensor<4>,
    shape: TverskyShape,
    reduction: Reduction,
    class_weights: Option<Tensor<1>>,
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
    let denominator = (tp.clone() + fp.mul_scalar(shape.alpha) + fn_.mul_scalar(shape.beta))
        .add_scalar(shape.smooth)
        .clamp_min(SMP_EPS);
    let score = tp.add_scalar(shape.smooth) / denominator;
    let present = actual.greater_elem(0.0).float();
    let mut per_score = score.neg().add_scalar(1.0) * present;
    if let Some(weights) = class_weights {
        per_score = per_score * weights.reshape([1, c]);
    }
    let loss = per_score.mean();
    if shape.gamma == 1.0 { loss } else { loss.powf_scalar(shape.gamma) }
}
