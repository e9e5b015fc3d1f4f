//! Optimisation with PyTorch's semantics: Adam, AdamW, SGD (Nesterov) and AdamP update rules,
//! gradient accumulation with mean semantics, clipping by the global norm as
//! `clip_grad_norm_`, a lower rate for the encoder, and state that checkpoints and resumes
//! exactly.
//!
//! ```toml
//! [optim]
//! kind = "adamw"          # adam | adamw | sgd | adamp
//! lr = 3e-4
//! weight_decay = 1e-2     # torch's defaults: 0, and 1e-2 for adamw
//! clip_grad_norm = 1.0
//! encoder_lr_scale = 0.1
//! accumulate = 4
//! ```
//!
//! [`Optim::step`] is called once per micro-batch; it sums the gradients and, every
//! `accumulate` calls, steps once on their mean (after clipping that mean).

mod checkpoint;
pub mod grads;
pub mod rules;

use std::path::Path;

use boneseg_models::burn::module::{Module, ParamGroup};
use boneseg_models::burn::optim::{GradientsParams, ModuleOptimizer};
use boneseg_models::burn::store::RecordError;
use boneseg_models::burn::store::burn_pack::{self, Bytes};
use serde::{Deserialize, Serialize};

use rules::{Adam, AdamP, Decay, Sgd};

/// The update rule.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    Adam,
    AdamW,
    Sgd,
    AdamP,
}

/// `[optim]` of the config. Settings of another kind (`momentum` for Adam, say) are refused
/// by [`Optim::new`]; the unset ones take PyTorch's defaults for the kind.
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    pub kind: OptimKind,
    /// The base learning rate (a schedule scales it).
    pub lr: f64,
    /// L2 for adam and sgd, decoupled for adamw and adamp. Default 0 (adamw: 1e-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Adam family (default [0.9, 0.999]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub betas: Option<[f64; 2]>,
    /// Adam family (default 1e-8, torch's; burn's Adam has 1e-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    /// SGD (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// SGD (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dampening: Option<f64>,
    /// SGD and AdamP (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesterov: Option<bool>,
    /// AdamP: the cosine threshold of its scale-invariance test (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// AdamP: weight decay is multiplied by this for projected weights (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wd_ratio: Option<f64>,
    /// Clip the global gradient norm to this before each step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
    /// Parameters under `encoder.` or `backbone.` train at `lr * encoder_lr_scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_lr_scale: Option<f64>,
    /// Micro-batches per optimiser step (default 1).
    #[serde(default = "one")]
    pub accumulate: usize,
}

fn one() -> usize {
    1
}

impl OptimConfig {
    /// A config of `kind` at `lr`, everything else at its default.
    pub fn new(kind: OptimKind, lr: f64) -> Self {
        Self {
            kind,
            lr,
            weight_decay: None,
            betas: None,
            eps: None,
            momentum: None,
            dampening: None,
            nesterov: None,
            delta: None,
            wd_ratio: None,
            clip_grad_norm: None,
            encoder_lr_scale: None,
            accumulate: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    #[error("optim: {0}")]
    Config(String),
    #[error("optimiser state: {0}")]
    Mismatch(String),
    #[error("optimiser state: {0}")]
    Record(#[from] RecordError),
    #[error("optimiser state: {0}")]
    Pack(#[from] burn_pack::Error),
    #[error("optimiser state {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Path of a parameter in the encoder: `encoder.` or `backbone.` at the top of the model,
/// after any enum variant names (`Smp.encoder.…`; variants are CamelCase, fields are not).
const ENCODER_PATHS: &str = r"^(?:[A-Z][A-Za-z0-9]*\.)*(?:encoder|backbone)\.";

/// An optimiser for a whole model: the update rule of the config behind burn's
/// [`ModuleOptimizer`], with accumulation, global-norm clipping and the encoder's rate.
pub struct Optim {
    config: OptimConfig,
    inner: ModuleOptimizer,
    accumulated: Option<GradientsParams>,
    micro_batches: u64,
    updates: u64,
    last_grad_norm: Option<f64>,
}

impl std::fmt::Debug for Optim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optim")
            .field("config", &self.config)
            .field("micro_batches", &self.micro_batches)
            .field("updates", &self.updates)
            .finish()
    }
}

impl Optim {
    pub fn new(config: &OptimConfig) -> Result<Self, OptimError> {
        let mut inner = build_rule(config, 1.0)?.into_module_optimizer();
        if let Some(scale) = config.encoder_lr_scale {
            if !(scale.is_finite() && scale >= 0.0) {
                return Err(OptimError::Config(format!(
                    "encoder_lr_scale {scale} must be a finite number >= 0"
                )));
            }
            let encoder = ParamGroup::from_regex(ENCODER_PATHS).expect("a valid pattern");
            inner = build_rule(config, scale)?.add_to(inner, encoder);
        }
        if config.accumulate == 0 {
            return Err(OptimError::Config("accumulate must be at least 1".into()));
        }
        if let Some(max) = config.clip_grad_norm
            && !(max.is_finite() && max > 0.0)
        {
            return Err(OptimError::Config(format!("clip_grad_norm {max} must be a positive number")));
        }
        Ok(Self {
            config: config.clone(),
            inner,
            accumulated: None,
            micro_batches: 0,
            updates: 0,
            last_grad_norm: None,
        })
    }

    /// Takes one micro-batch's gradients. Every `accumulate`-th call steps on the mean of the
    /// gradients gathered since the last step (clipped to `clip_grad_norm`) at rate `lr`
    /// (the encoder at `lr * encoder_lr_scale`); the other calls return the model as it was.
    pub fn step<M: Module>(&mut self, lr: f64, model: M, grads: GradientsParams) -> M {
        let k = self.config.accumulate;
        let grads = if k == 1 {
            grads
        } else {
            let sum = match self.accumulated.take() {
                Some(sum) => grads::add(&model, sum, grads),
                None => grads,
            };
            self.micro_batches += 1;
            if self.micro_batches < k as u64 {
                self.accumulated = Some(sum);
                return model;
            }
            self.micro_batches = 0;
            grads::scale(&model, sum, 1.0 / k as f64)
        };
        let grads = match self.config.clip_grad_norm {
            Some(max_norm) => {
                let (clipped, norm) = grads::clip_grad_norm(&model, grads, max_norm);
                self.last_grad_norm = Some(norm);
                clipped
            }
            None => grads,
        };
        self.updates += 1;
        self.inner.step(lr, model, grads)
    }

    /// Whether the next [`step`](Self::step) call will update the model.
    pub fn will_step(&self) -> bool {
        self.micro_batches + 1 >= self.config.accumulate as u64
    }

    /// Optimiser updates made so far (micro-batches / accumulate): the step a schedule follows.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The global gradient norm before clipping at the last update (when clipping is on).
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.last_grad_norm
    }

    pub fn config(&self) -> &OptimConfig {
        &self.config
    }

    /// The whole state (per-parameter moments, accumulated gradients, counters) as a burnpack.
    pub fn to_bytes<M: Module>(&self, model: &M) -> Result<Vec<u8>, OptimError> {
        let accumulated =
            self.accumulated.as_ref().map(|g| checkpoint::gradients_data(model, g)).unwrap_or_default();
        let extra =
            checkpoint::Extra { accumulated, micro_batches: self.micro_batches, updates: self.updates };
        Ok(checkpoint::encode(self.inner.into_bytes()?, extra)?.to_vec())
    }

    /// Restores a state written by [`to_bytes`](Self::to_bytes) for `model`, whose parameter
    /// ids must be those it was saved with (a model loaded from the same checkpoint has them).
    pub fn load_bytes<M: Module>(&mut self, bytes: Vec<u8>, model: &M) -> Result<(), OptimError> {
        let known = grads::param_ids(model);
        let (record, extra) = checkpoint::decode(Bytes::from_bytes_vec(bytes), &known)?;
        self.inner = self.inner.clone().from_bytes(record)?;
        self.accumulated = (!extra.accumulated.is_empty())
            .then(|| checkpoint::gradients_from_data(model, extra.accumulated));
        self.micro_batches = extra.micro_batches;
        self.updates = extra.updates;
        Ok(())
    }

    pub fn save<M: Module>(&self, path: &Path, model: &M) -> Result<(), OptimError> {
        let bytes = self.to_bytes(model)?;
        std::fs::write(path, bytes)
            .map_err(|source| OptimError::Io { path: path.display().to_string(), source })
    }

    pub fn load<M: Module>(&mut self, path: &Path, model: &M) -> Result<(), OptimError> {
        let bytes = std::fs::read(path)
            .map_err(|source| OptimError::Io { path: path.display().to_string(), source })?;
        self.load_bytes(bytes, model)
    }
}

enum Rule {
    Adam(Adam),
    Sgd(Sgd),
    AdamP(AdamP),
}

impl Rule {
    fn into_module_optimizer(self) -> ModuleOptimizer {
        match self {
            Rule::Adam(r) => r.into(),
            Rule::Sgd(r) => r.into(),
            Rule::AdamP(r) => r.into(),
        }
    }

    /// `base` with this rule for the parameters of `group`.
    fn add_to(self, base: ModuleOptimizer, group: ParamGroup) -> ModuleOptimizer {
        match self {
            Rule::Adam(r) => base.with_group(group, r, None),
            Rule::Sgd(r) => base.with_group(group, r, None),
            Rule::AdamP(r) => base.with_group(group, r, None),
        }
    }
}

/// The rule of `config.kind`, refusing settings that belong to other kinds.
fn build_rule(config: &OptimConfig, lr_scale: f64) -> Result<Rule, OptimError> {
    let kind = config.kind;
    let refuse = |names: &[(&str, bool)]| -> Result<(), OptimError> {
        let given: Vec<&str> = names.iter().filter(|(_, present)| *present).map(|(name, _)| *name).collect();
        if given.is_empty() {
            Ok(())
        } else {
            Err(OptimError::Config(format!(
                "{} does not apply to kind = \"{}\"",
                given.join(", "),
                kind_name(kind)
            )))
        }
    };
    if !(config.lr.is_finite() && config.lr >= 0.0) {
        return Err(OptimError::Config(format!("lr {} must be a finite number >= 0", config.lr)));
    }
    let [beta1, beta2] = config.betas.unwrap_or([0.9, 0.999]);
    let eps = config.eps.unwrap_or(1e-8);
    Ok(match kind {
        OptimKind::Adam | OptimKind::AdamW => {
            refuse(&[
                ("momentum", config.momentum.is_some()),
                ("dampening", config.dampening.is_some()),
                ("nesterov", config.nesterov.is_some()),
                ("delta", config.delta.is_some()),
                ("wd_ratio", config.wd_ratio.is_some()),
            ])?;
            let (decay, default_decay) =
                if kind == OptimKind::AdamW { (Decay::Decoupled, 1e-2) } else { (Decay::L2, 0.0) };
            let weight_decay = config.weight_decay.unwrap_or(default_decay);
            Rule::Adam(Adam { beta1, beta2, eps, weight_decay, decay, lr_scale })
        }
        OptimKind::Sgd => {
            refuse(&[
                ("betas", config.betas.is_some()),
                ("eps", config.eps.is_some()),
                ("delta", config.delta.is_some()),
                ("wd_ratio", config.wd_ratio.is_some()),
            ])?;
            let momentum = config.momentum.unwrap_or(0.0);
            let dampening = config.dampening.unwrap_or(0.0);
            let nesterov = config.nesterov.unwrap_or(false);
            if nesterov && (momentum <= 0.0 || dampening != 0.0) {
                return Err(OptimError::Config(
                    "nesterov needs momentum > 0 and dampening = 0 (as in torch)".into(),
                ));
            }
            Rule::Sgd(Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay: config.weight_decay.unwrap_or(0.0),
                lr_scale,
            })
        }
        OptimKind::AdamP => {
            refuse(&[("momentum", config.momentum.is_some()), ("dampening", config.dampening.is_some())])?;
            Rule::AdamP(AdamP {
                beta1,
                beta2,
                eps,
                weight_decay: config.weight_decay.unwrap_or(0.0),
                delta: config.delta.unwrap_or(0.1),
                wd_ratio: config.wd_ratio.unwrap_or(0.1),
                nesterov: config.nesterov.unwrap_or(false),
                lr_scale,
            })
        }
    })
}

fn kind_name(kind: OptimKind) -> &'static str {
    match kind {
        OptimKind::Adam => "adam",
        OptimKind::AdamW => "adamw",
        OptimKind::Sgd => "sgd",
        OptimKind::AdamP => "adamp",
    }
}
