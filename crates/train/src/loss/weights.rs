//! Per-class weights of a loss term (`loss[].class_weights`): one value per class, or a named
//! preset that up-weights the smallest bones.
//!
//! ```toml
//! loss = [
//!     { kind = "focal", weight = 0.5, class_weights = "small_bones" },
//!     { kind = "dice", weight = 0.5, class_weights = [1.0, 1.0, ...] },  # 29 values
//! ]
//! ```
//!
//! Every kind weights the classes as SMP 0.6's `class_weights` do (Dice, Jaccard, Tversky,
//! Focal): the mean over classes becomes `Σ w_c L_c / Σ w_c`, so the loss keeps its scale
//! whatever the weights' sum and all-equal weights change nothing. For BCE that is PyTorch's
//! `weight=` scaled to a mean of 1; for the per-image variants each image's classes are
//! weighted alike; for Lovasz it needs `per_class = true` (SMP's pooled hinge has no classes).

use std::fmt;

use boneseg_contract::{CLASSES, NUM_CLASSES};
use serde::de::{self, Deserializer, SeqAccess};
use serde::{Deserialize, Serialize, Serializer};

/// Median area of each class in pixels of a 1024² image, measured on the phantom:
/// `boneseg synth --people 40 --test-people 0 --size 1024 --seed 7`, then `boneseg eda` (the
/// `median` column of its `class_areas.csv`, 80 images). The smallest are finger-16 (the little
/// finger's distal phalanx), Pisiform, the other distal phalanges and Trapezoid, the classes the
/// competition's write-ups name as the smallest and hardest on the real data.
pub const PHANTOM_MEDIAN_AREA: [f64; NUM_CLASSES] = [
    1723.0,  // finger-1
    4474.5,  // finger-2
    7148.5,  // finger-3
    1201.0,  // finger-4
    2316.0,  // finger-5
    5188.5,  // finger-6
    9862.5,  // finger-7
    1320.0,  // finger-8
    2840.0,  // finger-9
    6035.5,  // finger-10
    9742.5,  // finger-11
    1242.0,  // finger-12
    2526.5,  // finger-13
    5115.0,  // finger-14
    7925.5,  // finger-15
    1024.5,  // finger-16
    1604.0,  // finger-17
    3698.5,  // finger-18
    6765.5,  // finger-19
    2359.0,  // Trapezium
    1492.0,  // Trapezoid
    3850.5,  // Capitate
    2739.0,  // Hamate
    2656.5,  // Scaphoid
    2024.0,  // Lunate
    1781.5,  // Triquetrum
    1056.5,  // Pisiform
    18886.0, // Radius
    9972.0,  // Ulna
];

/// The largest weight a preset gives (the smallest class's, before normalising).
const PRESET_CEILING: f64 = 3.0;

/// Named weightings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightPreset {
    /// `w_c = clamp(median area / area_c, 1, 3)` on [`PHANTOM_MEDIAN_AREA`], written scaled to
    /// a mean of 1: the classes at or above the median area (Hamate's) share one weight, the
    /// smaller ones get up to three times it (finger-16 2.7x, Pisiform 2.6x, Trapezoid 1.8x):
    /// roughly the inverse of their pixel count.
    SmallBones,
}

impl WeightPreset {
    pub const ALL: [WeightPreset; 1] = [WeightPreset::SmallBones];

    pub fn name(self) -> &'static str {
        match self {
            WeightPreset::SmallBones => "small_bones",
        }
    }

    /// The 29 weights, in class order.
    pub fn weights(self) -> Vec<f64> {
        match self {
            WeightPreset::SmallBones => inverse_area(&PHANTOM_MEDIAN_AREA, PRESET_CEILING),
        }
    }
}

impl std::str::FromStr for WeightPreset {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        WeightPreset::ALL.into_iter().find(|p| p.name() == text).ok_or_else(|| {
            let known: Vec<&str> = WeightPreset::ALL.iter().map(|p| p.name()).collect();
            format!(
                "unknown class_weights preset `{text}`: use one of {} or a list of {NUM_CLASSES} numbers",
                known.join(", ")
            )
        })
    }
}

/// `median / area` clamped to `[1, ceiling]`, scaled to a mean of 1.
fn inverse_area(areas: &[f64], ceiling: f64) -> Vec<f64> {
    let mut sorted = areas.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let raw: Vec<f64> = areas.iter().map(|&a| (median / a).clamp(1.0, ceiling)).collect();
    let mean = raw.iter().sum::<f64>() / raw.len() as f64;
    raw.iter().map(|w| w / mean).collect()
}

/// A term's class weights as the config gives them.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeights {
    Values(Vec<f64>),
    Preset(WeightPreset),
}

impl ClassWeights {
    /// The weights as given, a preset's 29.
    pub fn values(&self) -> Vec<f64> {
        match self {
            ClassWeights::Values(values) => values.clone(),
            ClassWeights::Preset(preset) => preset.weights(),
        }
    }

    /// The weights for `classes` channels, or why they do not fit.
    pub fn resolve(&self, classes: usize) -> Result<Vec<f64>, String> {
        if let ClassWeights::Preset(preset) = self
            && classes != NUM_CLASSES
        {
            return Err(format!(
                "class_weights = \"{}\" is made for the {NUM_CLASSES} bone classes, the model has {classes}",
                preset.name()
            ));
        }
        let values = self.values();
        if values.len() != classes {
            return Err(format!("class_weights has {} values for {classes} classes", values.len()));
        }
        check_values(&values)?;
        Ok(values)
    }
}

/// Refuses weights that are negative, not finite, or all zero, naming the first bad class.
pub fn check_values(values: &[f64]) -> Result<(), String> {
    if let Some((class, w)) = values.iter().enumerate().find(|(_, w)| !w.is_finite() || **w < 0.0) {
        let name = CLASSES.get(class).copied().unwrap_or("?");
        return Err(format!("class_weights[{class}] ({name}) = {w} must be a finite number >= 0"));
    }
    if values.iter().all(|&w| w == 0.0) {
        return Err("class_weights are all zero: the term would train nothing".into());
    }
    Ok(())
}

impl Serialize for ClassWeights {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ClassWeights::Values(values) => values.serialize(serializer),
            ClassWeights::Preset(preset) => serializer.serialize_str(preset.name()),
        }
    }
}

impl<'de> Deserialize<'de> for ClassWeights {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = ClassWeights;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a list of {NUM_CLASSES} weights or a preset name (\"small_bones\")")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<ClassWeights, E> {
                text.parse().map(ClassWeights::Preset).map_err(E::custom)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ClassWeights, A::Error> {
                let mut values = Vec::with_capacity(NUM_CLASSES);
                while let Some(value) = seq.next_element::<f64>()? {
                    values.push(value);
                }
                Ok(ClassWeights::Values(values))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preset_up_weights_the_smallest_classes_and_keeps_the_mean() {
        let weights = WeightPreset::SmallBones.weights();
        let mean = weights.iter().sum::<f64>() / weights.len() as f64;
        assert!((mean - 1.0).abs() < 1e-12, "mean {mean}");
        let area = |class: &usize| PHANTOM_MEDIAN_AREA[*class];
        let smallest = (0..NUM_CLASSES).min_by(|a, b| area(a).total_cmp(&area(b)));
        let largest = (0..NUM_CLASSES).max_by(|a, b| area(a).total_cmp(&area(b)));
        let (smallest, largest) = (weights[smallest.unwrap()], weights[largest.unwrap()]);
        assert!(smallest > 2.0 * largest, "smallest class {smallest}, largest {largest}");
        for name in ["finger-16", "Trapezoid", "Pisiform"] {
            let w = weights[boneseg_contract::class_index(name).unwrap()];
            assert!(w > 1.2, "{name}: {w}");
        }
    }

    #[test]
    fn inverse_area_clamps_and_normalises() {
        let weights = inverse_area(&[100.0, 100.0, 50.0, 1.0, 400.0], 3.0);
        // median 100: 1, 1, 2, 3 (clamped from 100), 1 (clamped from 0.25); mean 1.6
        let expected = [1.0, 1.0, 2.0, 3.0, 1.0].map(|w| w / 1.6);
        for (got, want) in weights.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{weights:?}");
        }
    }
}
