//! The meta-data bins the reports group people by. The reference team looked at dice by age,
//! gender, weight and height without publishing edges, so boneseg uses round ones: decades of
//! age, 10 kg of weight and 10 cm of height, open at both ends.

use boneseg_data::meta::{Gender, PersonMeta};

/// A binned variable: its name and how a person falls into it.
pub struct Variable {
    pub name: &'static str,
    pub bins: &'static [&'static str],
    pub bin_of: fn(&PersonMeta) -> usize,
}

fn edges(value: f64, cuts: &[f64]) -> usize {
    cuts.iter().take_while(|&&cut| value >= cut).count()
}

pub const VARIABLES: [Variable; 5] = [
    Variable {
        name: "age",
        bins: &["<30", "30-39", "40-49", "50-59", "60+"],
        bin_of: |p| edges(f64::from(p.age), &[30.0, 40.0, 50.0, 60.0]),
    },
    Variable {
        name: "gender",
        bins: &["male", "female"],
        bin_of: |p| usize::from(p.gender == Gender::Female),
    },
    Variable {
        name: "weight_kg",
        bins: &["<50", "50-59", "60-69", "70-79", "80+"],
        bin_of: |p| edges(p.weight_kg, &[50.0, 60.0, 70.0, 80.0]),
    },
    Variable {
        name: "height_cm",
        bins: &["<155", "155-164", "165-174", "175+"],
        bin_of: |p| edges(p.height_cm, &[155.0, 165.0, 175.0]),
    },
    Variable { name: "nail_art", bins: &["no", "yes"], bin_of: |p| usize::from(p.nail_art()) },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_closed_below_and_open_above() {
        assert_eq!(edges(29.0, &[30.0, 40.0]), 0);
        assert_eq!(edges(30.0, &[30.0, 40.0]), 1);
        assert_eq!(edges(99.0, &[30.0, 40.0]), 2);
        for variable in &VARIABLES {
            assert!(variable.bins.len() >= 2);
        }
    }
}
