//! The tuned file that `boneseg ensemble tune` writes and `ensemble --method mean --tuned` and
//! `infer --tuned` read: one place for everything chosen on validation, so a submission is made
//! with exactly the settings that were measured.
//!
//! ```toml
//! inputs = ["val/a", "val/b"]    # the validation stores it was tuned on, in weight order
//! weights = [0.75, 0.25]
//! keep_empty = false
//!
//! [validation]                   # mean dice on them at each stage (for the record)
//! images = 16
//! plain = 0.9512
//! thresholds = 0.9530
//! weights = 0.9541
//! postprocess = 0.9550
//!
//! [thresholds.class]
//! finger-1 = 0.45
//!
//! [postprocess.class.Pisiform]
//! keep_largest = true
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::postprocess::{PostProcess, PostProcessFile};
use crate::thresholds::{ClassThresholds, ThresholdsFile};
use crate::tune::{Tuned, mean};

/// Mean validation dice at each stage of the search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationScores {
    pub images: usize,
    /// Equal weights at the baseline threshold.
    pub plain: f64,
    /// Equal weights, tuned thresholds.
    pub thresholds: f64,
    /// Tuned weights and thresholds.
    pub weights: f64,
    /// Everything tuned.
    pub postprocess: f64,
}

/// Weights, thresholds and post-processing chosen on validation.
#[derive(Clone, Debug, PartialEq)]
pub struct TunedSettings {
    /// The stores it was tuned on, in weight order.
    pub inputs: Vec<String>,
    pub weights: Vec<f64>,
    pub keep_empty: bool,
    pub thresholds: ClassThresholds,
    pub post: PostProcess,
    pub validation: Option<ValidationScores>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TunedFile {
    #[serde(default)]
    inputs: Vec<String>,
    weights: Vec<f64>,
    #[serde(default)]
    keep_empty: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validation: Option<ValidationScores>,
    thresholds: ThresholdsFile,
    #[serde(default)]
    postprocess: PostProcessFile,
}

impl TunedSettings {
    /// The outcome of a search over `inputs`.
    pub fn from_search(inputs: Vec<String>, tuned: &Tuned) -> TunedSettings {
        let scores = &tuned.scores;
        TunedSettings {
            inputs,
            weights: tuned.weights.clone(),
            keep_empty: tuned.keep_empty,
            thresholds: tuned.thresholds.clone(),
            post: tuned.post.clone(),
            validation: Some(ValidationScores {
                images: tuned.images,
                plain: mean(&scores.plain),
                thresholds: mean(&scores.thresholds),
                weights: mean(&scores.weights),
                postprocess: mean(&scores.postprocess),
            }),
        }
    }

    /// Parses the TOML text; `what` names the source in errors.
    pub fn parse(text: &str, what: &str) -> Result<TunedSettings, String> {
        let file: TunedFile = toml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        if file.weights.is_empty() || file.weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(format!("{what}: `weights` must list one weight >= 0 per store"));
        }
        if file.weights.iter().sum::<f64>() <= 0.0 {
            return Err(format!("{what}: the weights sum to 0"));
        }
        Ok(TunedSettings {
            inputs: file.inputs,
            weights: file.weights,
            keep_empty: file.keep_empty,
            thresholds: ClassThresholds::from_file(file.thresholds, &format!("{what}: [thresholds]"))?,
            post: PostProcess::from_file(file.postprocess, &format!("{what}: [postprocess]"))?,
            validation: file.validation,
        })
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<TunedSettings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        TunedSettings::parse(&text, &path.display().to_string())
    }

    /// The TOML text, every threshold and every class's non-trivial rule listed.
    pub fn to_toml(&self) -> String {
        let file = TunedFile {
            inputs: self.inputs.clone(),
            weights: self.weights.clone(),
            keep_empty: self.keep_empty,
            validation: self.validation.clone(),
            thresholds: self.thresholds.to_file(),
            postprocess: self.post.to_file(),
        };
        toml::to_string(&file).expect("tuned settings serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::ClassRule;

    #[test]
    fn round_trips_and_names_problems() {
        let mut thresholds = ClassThresholds::uniform(0.5);
        thresholds.0[3] = 0.35;
        let mut post = PostProcess::default();
        post.rules[26] = ClassRule { keep_largest: true, fill_holes: true, ..ClassRule::default() };
        post.rules[2] = ClassRule { min_size: 42, ..ClassRule::default() };
        let settings = TunedSettings {
            inputs: vec!["val/a".into(), "val/b".into()],
            weights: vec![0.75, 0.25],
            keep_empty: false,
            thresholds,
            post,
            validation: Some(ValidationScores {
                images: 16,
                plain: 0.9,
                thresholds: 0.91,
                weights: 0.92,
                postprocess: 0.93,
            }),
        };
        let text = settings.to_toml();
        assert_eq!(TunedSettings::parse(&text, "t.toml").unwrap(), settings, "{text}");
        assert!(text.contains("[postprocess.class.Pisiform]") && !text.contains("[postprocess.class.Ulna]"));

        let err =
            TunedSettings::parse("weights = [1.0]\n[thresholds.class]\nthumb = 0.3\n", "t.toml").unwrap_err();
        assert!(err.contains("t.toml: [thresholds]: [class] `thumb` is not a class name"), "{err}");
        let err = TunedSettings::parse("weights = []\n[thresholds]\n", "t.toml").unwrap_err();
        assert!(err.contains("t.toml: `weights`"), "{err}");
    }
}
