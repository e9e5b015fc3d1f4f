//! Per-class probability thresholds: stored in a run as `thresholds.toml` by `boneseg thresholds
//! tune`, read by `infer` and the ensembles.
//!
//! ```toml
//! default = 0.5        # classes not listed
//! [class]
//! finger-16 = 0.35
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use boneseg_contract::metric::dice_from_counts;
use boneseg_contract::{CLASSES, NUM_CLASSES, class_index};
use serde::{Deserialize, Serialize};

/// One threshold per class, in class order: a pixel belongs to the class when `p > t`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassThresholds(pub [f64; NUM_CLASSES]);

/// The TOML form, also a table of the tuned file (`crate::tuned`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThresholdsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<f64>,
    #[serde(default)]
    class: BTreeMap<String, f64>,
}

impl ClassThresholds {
    /// The same threshold for every class.
    pub fn uniform(threshold: f64) -> ClassThresholds {
        ClassThresholds([threshold; NUM_CLASSES])
    }

    /// Parses the TOML text; `what` names the source in errors.
    pub fn parse(text: &str, what: &str) -> Result<ClassThresholds, String> {
        let file: ThresholdsFile = toml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        ClassThresholds::from_file(file, what)
    }

    /// Checks the parsed form; `what` names the source (and table) in errors.
    pub(crate) fn from_file(file: ThresholdsFile, what: &str) -> Result<ClassThresholds, String> {
        let mut thresholds = ClassThresholds::uniform(file.default.unwrap_or(0.5));
        for (name, &t) in &file.class {
            let class =
                class_index(name).ok_or_else(|| format!("{what}: [class] `{name}` is not a class name"))?;
            thresholds.0[class] = t;
        }
        for (class, &t) in thresholds.0.iter().enumerate() {
            if !(0.0..1.0).contains(&t) {
                return Err(format!(
                    "{what}: the threshold of {} is {t}; use a value in [0, 1)",
                    CLASSES[class]
                ));
            }
        }
        Ok(thresholds)
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<ClassThresholds, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ClassThresholds::parse(&text, &path.display().to_string())
    }

    /// The TOML text, every class listed.
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.to_file()).expect("thresholds serialise")
    }

    /// The serialisable form, every class listed.
    pub(crate) fn to_file(&self) -> ThresholdsFile {
        let class = CLASSES.iter().zip(self.0).map(|(name, t)| (name.to_string(), t)).collect();
        ThresholdsFile { default: None, class }
    }
}

/// The search behind `thresholds tune`: mean dice of each class at each candidate threshold,
/// accumulated image by image; the best candidate per class wins (the lowest one on ties).
#[derive(Clone, Debug)]
pub struct ThresholdSearch {
    pub grid: Vec<f64>,
    /// `sums[class][candidate]`: sum of dice over the images seen.
    sums: Vec<Vec<f64>>,
    images: usize,
}

impl ThresholdSearch {
    pub fn new(grid: Vec<f64>) -> ThresholdSearch {
        let sums = vec![vec![0.0; grid.len()]; NUM_CLASSES];
        ThresholdSearch { grid, sums, images: 0 }
    }

    /// `low, low + step, ..., high`.
    pub fn grid(low: f64, high: f64, step: f64) -> Vec<f64> {
        let count = ((high - low) / step + 1e-9).floor() as usize + 1;
        (0..count).map(|i| ((low + i as f64 * step) * 1e6).round() / 1e6).collect()
    }

    /// Adds one image and class: `counts[candidate] = (intersection, predicted, truth)`.
    pub fn add(&mut self, class: usize, counts: &[(u64, u64, u64)]) {
        assert_eq!(counts.len(), self.grid.len(), "one count per candidate");
        for (sum, &(i, p, t)) in self.sums[class].iter_mut().zip(counts) {
            *sum += dice_from_counts(i, p, t);
        }
    }

    /// Marks one image as added (for the means).
    pub fn image_done(&mut self) {
        self.images += 1;
    }

    /// Mean dice of `class` at each candidate.
    pub fn means(&self, class: usize) -> Vec<f64> {
        self.sums[class].iter().map(|s| s / self.images.max(1) as f64).collect()
    }

    /// The mean dice of each class at its best candidate.
    pub fn best_means(&self) -> [f64; NUM_CLASSES] {
        std::array::from_fn(|class| self.means(class).into_iter().fold(f64::NEG_INFINITY, f64::max))
    }

    /// The best threshold per class.
    pub fn best(&self) -> ClassThresholds {
        let mut best = [0.0; NUM_CLASSES];
        for (class, slot) in best.iter_mut().enumerate() {
            let means = self.means(class);
            let mut winner = 0;
            for (i, &m) in means.iter().enumerate() {
                if m > means[winner] {
                    winner = i;
                }
            }
            *slot = self.grid[winner];
        }
        ClassThresholds(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trips_and_names_bad_values() {
        let mut t = ClassThresholds::uniform(0.5);
        t.0[15] = 0.35;
        assert_eq!(ClassThresholds::parse(&t.to_toml(), "t").unwrap(), t);
        let partial = ClassThresholds::parse("default = 0.4\n[class]\nPisiform = 0.3\n", "t").unwrap();
        assert_eq!(partial.0[0], 0.4);
        assert_eq!(partial.0[26], 0.3);
        let err = ClassThresholds::parse("[class]\nthumb = 0.3\n", "run/thresholds.toml").unwrap_err();
        assert!(err.contains("run/thresholds.toml: [class] `thumb` is not a class name"), "{err}");
        assert!(ClassThresholds::parse("default = 1.5\n", "t").unwrap_err().contains("[0, 1)"));
    }

    #[test]
    fn search_picks_the_best_candidate_per_class() {
        let grid = ThresholdSearch::grid(0.3, 0.7, 0.1);
        assert_eq!(grid, vec![0.3, 0.4, 0.5, 0.6, 0.7]);
        let mut search = ThresholdSearch::new(grid);
        // Class 0: best at 0.6 (perfect); class 1: nothing differs, the lowest wins.
        search.add(0, &[(5, 20, 10), (8, 15, 10), (9, 12, 10), (10, 10, 10), (6, 6, 10)]);
        search.add(1, &[(1, 2, 2); 5]);
        search.image_done();
        let best = search.best();
        assert_eq!(best.0[0], 0.6);
        assert_eq!(best.0[1], 0.3);
        assert!((search.means(0)[3] - 1.0).abs() < 1e-12);
    }
}
