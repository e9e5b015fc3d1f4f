//! Learning-rate schedules with the values of PyTorch's schedulers, as closed forms of the
//! optimiser step (`lr(step)`, step 0 being the first update) so that a resumed run needs
//! nothing but the step count; reduce-on-plateau is the one schedule that also learns from
//! validation (`observe`) and keeps that state in the checkpoint.
//!
//! ```toml
//! [schedule]
//! kind = "warmup_cosine"
//! warmup_steps = 500
//! ```

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

/// A schedule as the config writes it (`[schedule] kind = "..."`); without one the rate is
/// constant.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// Linear warm-up from `start_factor * lr` to `lr` over `warmup_steps`, then cosine
    /// annealing to `min_lr` at `total_steps` (held there after): torch's
    /// `SequentialLR([LinearLR(start_factor, total_iters=warmup), CosineAnnealingLR(T_max=total-warmup, eta_min)])`.
    WarmupCosine {
        warmup_steps: usize,
        /// Default: the run's number of optimiser steps.
        #[serde(default)]
        total_steps: Option<usize>,
        #[serde(default = "default_start_factor")]
        start_factor: f64,
        #[serde(default)]
        min_lr: f64,
    },
    /// `lr * (1 - step / total_steps)^power`: torch's `PolynomialLR`.
    Poly {
        #[serde(default)]
        total_steps: Option<usize>,
        #[serde(default = "one")]
        power: f64,
    },
    /// `lr * gamma^(step / step_size)`: torch's `StepLR`.
    Step {
        step_size: usize,
        #[serde(default = "default_factor")]
        gamma: f64,
    },
    /// Cosine annealing restarted after `t_0` steps, each period `t_mult` times the last:
    /// torch's `CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`.
    CosineRestarts {
        t_0: usize,
        #[serde(default = "one_usize")]
        t_mult: usize,
        #[serde(default)]
        eta_min: f64,
    },
    /// Multiplies the rate by `factor` once the validation metric has not improved for more
    /// than `patience` validations: torch's `ReduceLROnPlateau` (mode "max" for Dice).
    Plateau {
        #[serde(default)]
        mode: PlateauMode,
        #[serde(default = "default_factor")]
        factor: f64,
        #[serde(default = "default_patience")]
        patience: usize,
        #[serde(default = "default_threshold")]
        threshold: f64,
        #[serde(default)]
        threshold_mode: ThresholdMode,
        #[serde(default)]
        cooldown: usize,
        #[serde(default)]
        min_lr: f64,
        /// Reductions smaller than this are skipped.
        #[serde(default = "default_eps")]
        eps: f64,
    },
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PlateauMode {
    /// Higher is better (Dice).
    #[default]
    Max,
    /// Lower is better (a loss).
    Min,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Better means beyond `best * (1 ± threshold)`.
    #[default]
    Rel,
    /// Better means beyond `best ± threshold`.
    Abs,
}

fn default_start_factor() -> f64 {
    1e-3
}
fn one() -> f64 {
    1.0
}
fn one_usize() -> usize {
    1
}
fn default_factor() -> f64 {
    0.1
}
fn default_patience() -> usize {
    10
}
fn default_threshold() -> f64 {
    1e-4
}
fn default_eps() -> f64 {
    1e-8
}

/// What reduce-on-plateau has seen; the rate itself is replayed from `reductions`, an
/// integer, so that a checkpoint restores it bit for bit.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct PlateauState {
    pub best: Option<f64>,
    pub bad_validations: usize,
    pub cooldown_left: usize,
    pub reductions: usize,
}

/// A schedule bound to a run: its base rate, its length, and (for plateau) what it has seen.
/// It serialises whole into the checkpoint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Schedule {
    config: Option<ScheduleConfig>,
    base_lr: f64,
    total_steps: usize,
    #[serde(default)]
    plateau: PlateauState,
}

impl Schedule {
    /// `total_steps` (optimiser steps in the run) is used where the config names none.
    pub fn new(config: Option<ScheduleConfig>, base_lr: f64, total_steps: usize) -> Self {
        Self { config, base_lr, total_steps, plateau: PlateauState::default() }
    }

    /// Gives the run a new length (a run fitted to its time budget); schedules whose config
    /// names its own `total_steps` keep it.
    pub fn refit(&mut self, total_steps: usize) {
        self.total_steps = total_steps;
    }

    /// The learning rate of optimiser step `step` (0-based).
    pub fn lr(&self, step: usize) -> f64 {
        let base = self.base_lr;
        match &self.config {
            None => base,
            Some(ScheduleConfig::WarmupCosine { warmup_steps, total_steps, start_factor, min_lr }) => {
                let total = total_steps.unwrap_or(self.total_steps);
                warmup_cosine(base, step, *warmup_steps, total, *start_factor, *min_lr)
            }
            Some(ScheduleConfig::Poly { total_steps, power }) => {
                let total = total_steps.unwrap_or(self.total_steps).max(1);
                base * (1.0 - step.min(total) as f64 / total as f64).powf(*power)
            }
            Some(ScheduleConfig::Step { step_size, gamma }) => {
                base * gamma.powi((step / (*step_size).max(1)) as i32)
            }
            Some(ScheduleConfig::CosineRestarts { t_0, t_mult, eta_min }) => {
                let (position, period) = restart_position(step, (*t_0).max(1), (*t_mult).max(1));
                eta_min + (base - eta_min) * (1.0 + (PI * position as f64 / period as f64).cos()) / 2.0
            }
            Some(ScheduleConfig::Plateau { factor, min_lr, eps, .. }) => {
                (0..self.plateau.reductions).fold(base, |lr, _| reduce(lr, *factor, *min_lr, *eps))
            }
        }
    }

    /// Tells the schedule a validation result; only reduce-on-plateau listens.
    pub fn observe(&mut self, metric: f64) {
        let Some(ScheduleConfig::Plateau { mode, patience, threshold, threshold_mode, cooldown, .. }) =
            &self.config
        else {
            return;
        };
        let state = &mut self.plateau;
        if state.best.is_none_or(|best| is_better(metric, best, *mode, *threshold_mode, *threshold)) {
            state.best = Some(metric);
            state.bad_validations = 0;
        } else {
            state.bad_validations += 1;
        }
        if state.cooldown_left > 0 {
            state.cooldown_left -= 1;
            state.bad_validations = 0;
        }
        if state.bad_validations > *patience {
            state.reductions += 1;
            state.cooldown_left = *cooldown;
            state.bad_validations = 0;
        }
    }

    pub fn plateau_state(&self) -> &PlateauState {
        &self.plateau
    }
}

fn warmup_cosine(base: f64, step: usize, warmup: usize, total: usize, start_factor: f64, min_lr: f64) -> f64 {
    if step < warmup {
        return base * (start_factor + (1.0 - start_factor) * step as f64 / warmup as f64);
    }
    let span = total.saturating_sub(warmup);
    if span == 0 {
        return base;
    }
    let progress = (step - warmup).min(span) as f64 / span as f64;
    min_lr + (base - min_lr) * (1.0 + (PI * progress).cos()) / 2.0
}

/// Steps since the last restart and the current period, counted in integers as torch does.
fn restart_position(step: usize, t_0: usize, t_mult: usize) -> (usize, usize) {
    let (mut position, mut period) = (step, t_0);
    while position >= period {
        position -= period;
        period *= t_mult;
    }
    (position, period)
}

/// One of torch's `_reduce_lr`: a cut smaller than `eps` is not made.
fn reduce(lr: f64, factor: f64, min_lr: f64, eps: f64) -> f64 {
    let new = (lr * factor).max(min_lr);
    if lr - new > eps { new } else { lr }
}

fn is_better(
    metric: f64,
    best: f64,
    mode: PlateauMode,
    threshold_mode: ThresholdMode,
    threshold: f64,
) -> bool {
    match (mode, threshold_mode) {
        (PlateauMode::Max, ThresholdMode::Rel) => metric > best * (1.0 + threshold),
        (PlateauMode::Max, ThresholdMode::Abs) => metric > best + threshold,
        (PlateauMode::Min, ThresholdMode::Rel) => metric < best * (1.0 - threshold),
        (PlateauMode::Min, ThresholdMode::Abs) => metric < best - threshold,
    }
}
