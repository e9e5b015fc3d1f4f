//! What age does to a hand's skeleton, as a radiologist sees it.
//!
//! - **Children**: the carpals ossify one after another (capitate and hamate in the first year,
//!   the pisiform around ten) and start as small round nuclei; the epiphyses of the phalanges,
//!   the metacarpals and the distal radius and ulna are separate ossification centres beyond a
//!   radiolucent growth plate until they fuse in the mid-teens; joint spaces are wider (more
//!   cartilage). A carpal that has not ossified is invisible and unlabelled; a bone's label
//!   takes in its epiphysis and growth plate, as a radiologist outlines the whole bone.
//! - **Old adults**: osteopenia thins the cortex and lowers the density, and the remaining
//!   trabeculae stand out coarser.
//!
//! Ages of appearance and fusion follow the usual atlas values (Greulich and Pyle), girls about
//! a fifth earlier than boys.

use crate::rng::Rng;

/// Typical age (years, boys) at which each carpal starts to ossify, in the order of
/// [`crate::anatomy`]'s carpals: trapezium, trapezoid, capitate, hamate, scaphoid, lunate,
/// triquetrum, pisiform.
const CARPAL_ONSET: [f64; 8] = [5.0, 5.5, 0.25, 0.4, 5.5, 3.5, 2.5, 10.0];
/// Years from a carpal's first nucleus to its adult size.
const CARPAL_GROWTH_YEARS: f64 = 8.0;
/// Age (boys) at which the phalangeal and metacarpal epiphyses appear, and at which the
/// growth plates fuse.
const EPIPHYSIS_ONSET: f64 = 1.5;
const FUSION: f64 = 16.5;
/// The distal ulna's epiphysis appears years after the radius'.
const ULNA_EPIPHYSIS_ONSET: f64 = 6.5;
/// Girls mature this much faster.
const GIRLS: f64 = 0.82;

/// The growth state of one skeleton.
#[derive(Clone, Debug, PartialEq)]
pub struct Growth {
    /// Per carpal: `None` before it ossifies, else its size relative to an adult's.
    pub carpals: [Option<f64>; 8],
    /// Open growth plates (children), `None` once fused.
    pub epiphyses: Option<Epiphyses>,
    /// Joint spaces relative to an adult's.
    pub joint_space: f64,
    /// Bone mineral density relative to a young adult's (children and old adults are lower).
    pub mineral: f64,
    /// Cortical thickness relative to a young adult's.
    pub cortex: f64,
    /// Extra coarseness of the trabecular texture (osteopenia), 0 for the young.
    pub coarse_trabeculae: f64,
}

/// Open growth plates: each long bone's epiphysis is a separate ossification centre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epiphyses {
    /// Width of an ossified epiphysis as a share of its bone's end (grows toward 1).
    pub nucleus: f64,
    /// The cartilage gap of the growth plate, in units of the middle metacarpal's length.
    pub plate: f64,
    /// Whether the distal ulna's epiphysis has ossified yet.
    pub ulna: bool,
}

impl Growth {
    /// A grown adult's skeleton: every carpal at full size, plates fused, full density.
    pub fn adult() -> Growth {
        Growth {
            carpals: [Some(1.0); 8],
            epiphyses: None,
            joint_space: 1.0,
            mineral: 1.0,
            cortex: 1.0,
            coarse_trabeculae: 0.0,
        }
    }

    /// The skeleton at `age` years; each person's timing varies around the atlas.
    pub fn at_age(age: f64, female: bool, rng: &mut Rng) -> Growth {
        let pace = if female { GIRLS } else { 1.0 } * rng.normal(1.0, 0.1).clamp(0.75, 1.25);
        let carpals = CARPAL_ONSET.map(|onset| {
            let onset = onset * pace * rng.normal(1.0, 0.12).clamp(0.7, 1.3);
            (age >= onset).then(|| {
                let grown = ((age - onset) / CARPAL_GROWTH_YEARS).clamp(0.0, 1.0);
                0.3 + 0.7 * grown.sqrt()
            })
        });
        let fusion = FUSION * pace;
        let maturity = (age / fusion).clamp(0.0, 1.0);
        let epiphyses = (age < fusion).then(|| Epiphyses {
            nucleus: (0.25 + 0.75 * ((age - EPIPHYSIS_ONSET * pace) / (fusion * 0.75)).clamp(0.0, 1.0))
                .min(0.97),
            plate: 0.012 + 0.028 * (1.0 - maturity),
            ulna: age >= ULNA_EPIPHYSIS_ONSET * pace,
        });
        // Osteopenia from the late forties, faster in women.
        let loss = ((age - 45.0) / 45.0).clamp(0.0, 1.0)
            * if female { 0.35 } else { 0.22 }
            * rng.normal(1.0, 0.25).clamp(0.3, 1.7);
        Growth {
            carpals,
            epiphyses,
            joint_space: 1.0 + 1.2 * (1.0 - maturity),
            mineral: (0.8 + 0.2 * maturity) * (1.0 - loss),
            cortex: (0.75 + 0.25 * maturity) * (1.0 - 1.3 * loss).max(0.4),
            coarse_trabeculae: 2.0 * loss,
        }
    }

    /// How many carpals are ossified.
    pub fn ossified_carpals(&self) -> usize {
        self.carpals.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carpals_appear_in_order_and_plates_fuse() {
        let mut rng = Rng::new(1);
        let baby = Growth::at_age(0.8, false, &mut rng);
        assert!(baby.ossified_carpals() <= 3, "{baby:?}");
        assert!(baby.carpals[7].is_none(), "no pisiform in a baby");
        assert!(baby.epiphyses.is_some());
        let child = Growth::at_age(7.0, true, &mut rng);
        assert!(child.ossified_carpals() >= 5 && child.carpals[7].is_none(), "{child:?}");
        assert!(child.carpals.iter().flatten().all(|&s| s < 1.0), "a child's carpals are small");
        let adult = Growth::at_age(30.0, false, &mut rng);
        assert_eq!(adult.ossified_carpals(), 8);
        assert!(adult.epiphyses.is_none() && adult.carpals.iter().flatten().all(|&s| s == 1.0));
        assert_eq!((adult.mineral, adult.cortex), (1.0, 1.0));
        let old = Growth::at_age(85.0, true, &mut rng);
        assert!(old.mineral < 0.9 && old.cortex < 0.85 && old.coarse_trabeculae > 0.1, "{old:?}");
    }
}
