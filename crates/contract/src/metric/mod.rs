//! The metrics: the leaderboard's mean Dice, and the error analysis' IoU, precision, recall
//! ([`overlap`]) and boundary metrics ([`surface`]), all of one class in one image.
//!
//! The leaderboard metric: mean Dice.
//!
//! Per image and class, `dice = (2|P∩G| + 1e-4) / (|P| + |G| + 1e-4)` — so an empty prediction of
//! an empty truth scores 1 — then the mean over images for each class, then the mean over the 29
//! classes. Counts are exact integers and the arithmetic is f64 (the baseline used f32 tensors,
//! which differ by up to ~1e-7).

use crate::classes::{CLASSES, NUM_CLASSES};
use crate::mask::BitMask;

pub mod surface;
pub use surface::{Surface, quantile, surface};

/// The smoothing term of the competition's dice.
pub const DICE_EPS: f64 = 1e-4;

/// Dice from pixel counts: intersection, prediction area, truth area.
pub fn dice_from_counts(intersection: u64, predicted: u64, truth: u64) -> f64 {
    (2.0 * intersection as f64 + DICE_EPS) / ((predicted + truth) as f64 + DICE_EPS)
}

/// Dice of one class in one image.
pub fn dice(predicted: &BitMask, truth: &BitMask) -> f64 {
    dice_from_counts(predicted.intersection_count(truth), predicted.count(), truth.count())
}

/// IoU, precision and recall of one class in one image, smoothed like the leaderboard's dice:
/// `(|P∩G| + 1e-4) / (|X| + 1e-4)` with X = P∪G, P and G, so an empty prediction of an empty
/// truth scores 1 on each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overlap {
    pub iou: f64,
    pub precision: f64,
    pub recall: f64,
}

pub fn overlap(predicted: &BitMask, truth: &BitMask) -> Overlap {
    let (both, p, g) = (predicted.intersection_count(truth), predicted.count(), truth.count());
    let ratio = |den: u64| (both as f64 + DICE_EPS) / (den as f64 + DICE_EPS);
    Overlap { iou: ratio(p + g - both), precision: ratio(p), recall: ratio(g) }
}

/// Per-image, per-class dice of a set of images, and the leaderboard's means over them.
#[derive(Clone, Debug, Default)]
pub struct DiceTable {
    /// One row per image: its name and its 29 dice values in class order.
    pub rows: Vec<(String, [f64; NUM_CLASSES])>,
}

impl DiceTable {
    pub fn push(&mut self, image: impl Into<String>, dice: [f64; NUM_CLASSES]) {
        self.rows.push((image.into(), dice));
    }

    /// The mean dice of each class over the images (NaN for an empty table).
    pub fn class_means(&self) -> [f64; NUM_CLASSES] {
        let mut sums = [0.0; NUM_CLASSES];
        for (_, row) in &self.rows {
            for (sum, value) in sums.iter_mut().zip(row) {
                *sum += value;
            }
        }
        sums.map(|s| s / self.rows.len() as f64)
    }

    /// The leaderboard score: mean over classes of the per-class means.
    pub fn mean(&self) -> f64 {
        self.class_means().iter().sum::<f64>() / NUM_CLASSES as f64
    }

    /// The smallest dice of each class and the image it came from.
    pub fn class_minima(&self) -> [(f64, &str); NUM_CLASSES] {
        std::array::from_fn(|c| {
            self.rows
                .iter()
                .map(|(name, row)| (row[c], name.as_str()))
                .fold((f64::INFINITY, ""), |best, x| if x.0 < best.0 { x } else { best })
        })
    }

    /// A text table, one line per class (mean, min and where), ending with `mean_dice=<value>`.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let means = self.class_means();
        let minima = self.class_minima();
        let mut out = format!("{:<12} {:>9} {:>9}  worst image\n", "class", "dice", "min");
        for c in 0..NUM_CLASSES {
            let _ =
                writeln!(out, "{:<12} {:>9.6} {:>9.6}  {}", CLASSES[c], means[c], minima[c].0, minima[c].1);
        }
        let _ = writeln!(out, "images={}", self.rows.len());
        let _ = write!(out, "mean_dice={}", self.mean());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_prediction_of_empty_truth_scores_one() {
        let empty = BitMask::new(4, 4);
        assert_eq!(dice(&empty, &empty), 1.0);
    }

    #[test]
    fn perfect_prediction_scores_exactly_one() {
        let mut mask = BitMask::new(50, 50);
        mask.set_range(7, 1999);
        assert_eq!(dice(&mask, &mask), 1.0);
        let mut table = DiceTable::default();
        table.push("a.png", [1.0; NUM_CLASSES]);
        table.push("b.png", [1.0; NUM_CLASSES]);
        assert_eq!(table.mean(), 1.0);
        assert!(table.report().ends_with("mean_dice=1"));
    }

    #[test]
    fn averages_over_images_then_classes() {
        let mut table = DiceTable::default();
        let mut a = [1.0; NUM_CLASSES];
        a[0] = 0.0;
        table.push("a.png", a);
        table.push("b.png", [1.0; NUM_CLASSES]);
        assert_eq!(table.class_means()[0], 0.5);
        assert!((table.mean() - (28.0 + 0.5) / 29.0).abs() < 1e-15);
        assert_eq!(table.class_minima()[0], (0.0, "a.png"));
    }

    #[test]
    fn disjoint_masks_score_near_zero() {
        let a = BitMask::from_bytes(1, 4, &[1, 1, 0, 0]);
        let b = BitMask::from_bytes(1, 4, &[0, 0, 1, 1]);
        assert!(dice(&a, &b) < 1e-4);
    }
}
