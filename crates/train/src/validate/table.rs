//! A validation's scores: the leaderboard's per-image, per-class dice table, printed with the
//! worst classes marked (where to look first) and written as CSV for the run directory.

use std::fmt::Write;

use boneseg_contract::metric::DiceTable;
use boneseg_contract::{CLASSES, NUM_CLASSES};

/// The dice table of one validation.
#[derive(Clone, Debug, Default)]
pub struct ScoreTable {
    pub table: DiceTable,
}

impl ScoreTable {
    /// The leaderboard score: mean over classes of the mean over images.
    pub fn mean(&self) -> f64 {
        self.table.mean()
    }

    pub fn class_means(&self) -> [f64; NUM_CLASSES] {
        self.table.class_means()
    }

    /// The `n` classes with the lowest mean dice, worst first.
    pub fn worst_classes(&self, n: usize) -> Vec<usize> {
        let means = self.class_means();
        let mut classes: Vec<usize> = (0..NUM_CLASSES).collect();
        classes.sort_by(|&a, &b| means[a].total_cmp(&means[b]));
        classes.truncate(n);
        classes
    }

    /// One line per class (mean dice, lowest dice and its image), the `n` worst classes marked,
    /// then the image count and `mean_dice=<value>`.
    pub fn report_marking_worst(&self, n: usize) -> String {
        let (means, minima, worst) = (self.class_means(), self.table.class_minima(), self.worst_classes(n));
        let mut out = format!("{:<12} {:>9} {:>9}  worst image\n", "class", "dice", "min");
        for class in 0..NUM_CLASSES {
            let mark = worst.iter().position(|&c| c == class).map(|rank| format!("  <- worst {}", rank + 1));
            let _ = writeln!(
                out,
                "{:<12} {:>9.6} {:>9.6}  {}{}",
                CLASSES[class],
                means[class],
                minima[class].0,
                minima[class].1,
                mark.unwrap_or_default()
            );
        }
        let _ = writeln!(out, "images={}", self.table.rows.len());
        let _ = write!(out, "mean_dice={}", self.mean());
        out
    }

    /// Per class: `class,dice,min_dice,min_image`, then a `mean` row.
    pub fn to_csv(&self) -> String {
        let (means, minima) = (self.class_means(), self.table.class_minima());
        let mut out = String::from("class,dice,min_dice,min_image\n");
        for class in 0..NUM_CLASSES {
            let _ = writeln!(
                out,
                "{},{:.6},{:.6},{}",
                CLASSES[class], means[class], minima[class].0, minima[class].1
            );
        }
        let _ = writeln!(out, "mean,{:.6},,", self.mean());
        out
    }

    /// Per image: `image,<29 class dice>`, for error analysis.
    pub fn images_csv(&self) -> String {
        let mut out = format!("image,{}\n", CLASSES.join(","));
        for (image, dice) in &self.table.rows {
            let values: Vec<String> = dice.iter().map(|d| format!("{d:.6}")).collect();
            let _ = writeln!(out, "{image},{}", values.join(","));
        }
        out
    }
}
