//! A loss schedule: the terms' weights switched at chosen epochs, as a team that moved from
//! BCE towards Dice in three stages did.
//!
//! ```toml
//! loss = [{ kind = "bce", weight = 1.0 }, { kind = "dice", weight = 0.0 }]
//! loss_schedule = [
//!     { from_epoch = 11, weights = [0.5, 0.5] },   # epochs 11-20
//!     { from_epoch = 21, weights = [0.1, 0.9] },   # epoch 21 on
//! ]
//! ```
//!
//! Epochs count from 1, as the log prints them; before the first stage the terms keep the
//! weights written in `loss`. The weights of an epoch are a function of the epoch alone, so a
//! resumed run trains with the weights the uninterrupted run had.

use serde::{Deserialize, Serialize};

use crate::loss::LossError;

/// From `from_epoch` (1-based) on, the terms weigh `weights` (one per `loss` term, in order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossStage {
    pub from_epoch: usize,
    pub weights: Vec<f64>,
}

/// Refuses stages that cannot mean what they say: out of order, starting at epoch 1 (that is
/// what `loss` itself says), with a weight per term missing or extra, negative, or all zero.
pub fn check(stages: &[LossStage], terms: usize) -> Result<(), LossError> {
    let mut previous = 1;
    for (index, stage) in stages.iter().enumerate() {
        let invalid = |message: String| LossError::Stage { index, message };
        if stage.from_epoch <= previous {
            return Err(invalid(if index == 0 {
                format!(
                    "from_epoch = {} must be at least 2: the weights in `loss` hold until the first stage",
                    stage.from_epoch
                )
            } else {
                format!("from_epoch = {} must come after the previous stage's {previous}", stage.from_epoch)
            }));
        }
        if stage.weights.len() != terms {
            return Err(invalid(format!(
                "weights has {} values for {terms} loss terms (one per term, in order)",
                stage.weights.len()
            )));
        }
        if let Some(w) = stage.weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(invalid(format!("weight {w} must be a finite number >= 0")));
        }
        if stage.weights.iter().all(|&w| w == 0.0) {
            return Err(invalid("every weight is 0; give a term a positive weight".into()));
        }
        previous = stage.from_epoch;
    }
    Ok(())
}

/// The last stage begun by `epoch` (0-based), if any.
pub fn current(stages: &[LossStage], epoch: usize) -> Option<&LossStage> {
    stages.iter().rev().find(|stage| stage.from_epoch <= epoch + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(from_epoch: usize, weights: &[f64]) -> LossStage {
        LossStage { from_epoch, weights: weights.to_vec() }
    }

    #[test]
    fn the_last_stage_begun_holds() {
        let stages = [stage(3, &[0.5, 0.5]), stage(6, &[0.0, 1.0])];
        check(&stages, 2).unwrap();
        let at = |epoch| current(&stages, epoch).map(|s| s.from_epoch);
        assert_eq!(
            [at(0), at(1), at(2), at(4), at(5), at(50)],
            [None, None, Some(3), Some(3), Some(6), Some(6)]
        );
    }

    #[test]
    fn mistakes_name_the_stage() {
        let error = |stages: &[LossStage]| check(stages, 2).unwrap_err().to_string();
        assert!(
            error(&[stage(1, &[1.0, 0.0])]).contains("loss_schedule[0]: from_epoch = 1 must be at least 2")
        );
        let order = error(&[stage(5, &[1.0, 0.0]), stage(5, &[0.0, 1.0])]);
        assert!(
            order.contains("loss_schedule[1]: from_epoch = 5 must come after the previous stage's 5"),
            "{order}"
        );
        assert!(error(&[stage(2, &[1.0])]).contains("weights has 1 values for 2 loss terms"));
        assert!(error(&[stage(2, &[-1.0, 1.0])]).contains("weight -1 must be a finite number >= 0"));
        assert!(error(&[stage(2, &[0.0, 0.0])]).contains("every weight is 0"));
    }
}
