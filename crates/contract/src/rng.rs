//! The seeded random numbers of the whole pipeline, written once: SplitMix64 (Steele, Lea and
//! Flood, 2014), so that a seed gives the same phantom, split, augmentation and initial weights on
//! every platform and release, whatever the crates around it do.
//!
//! [`SplitMix64`] is the generator of the phantom, the folds and the trainer's per-step seeds, and
//! seeds the augmentation's xoshiro256++; [`mix64`] is its output function alone, for the places
//! that hash a counter (a step, a parameter index) instead of drawing in sequence. [`Random`] gives
//! every generator the same uniform draws.

/// The golden-ratio increment of SplitMix64's state.
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective mix of all 64 bits, so consecutive inputs give
/// unrelated outputs.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: fast, statistically good enough for data generation, and trivially splittable
/// into streams.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// An independent stream for sub-object `index` (a person, a hand): objects generated in any
    /// order, or in parallel, come out the same.
    pub fn fork(&self, index: u64) -> SplitMix64 {
        let mut mixer = SplitMix64::new(self.state ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        SplitMix64::new(mixer.next_u64())
    }
}

impl Random for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }
}

/// Uniform draws from any 64-bit generator.
pub trait Random {
    fn next_u64(&mut self) -> u64;

    /// Uniform in [0, 1), from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high); exactly `low` when the range is empty, as with Python's
    /// `random.uniform`, so a range like `[30, 30]` fixes a parameter.
    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// True with probability `p`; a certainty (`p >= 1`) draws nothing, so a step that always
    /// runs leaves the stream where it was.
    fn chance(&mut self, p: f64) -> bool {
        p >= 1.0 || self.unit() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs for seed 1234567 of the authors' C reference (Vigna's splitmix64.c).
        let mut rng = SplitMix64::new(1_234_567);
        let expected = [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423];
        for value in expected {
            assert_eq!(rng.next_u64(), value);
        }
        assert_eq!(SplitMix64::new(3).uniform(30.0, 30.0), 30.0);
    }
}
