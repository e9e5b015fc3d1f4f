//! The phantom's seeded generator: SplitMix64 ([`boneseg_contract::rng`]) with independent streams
//! per person and hand, so that a seed gives the same dataset on every platform and release.

use boneseg_contract::rng::{Random, SplitMix64};

#[derive(Clone, Debug)]
pub struct Rng {
    inner: SplitMix64,
}

impl Random for Rng {
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { inner: SplitMix64::new(seed ^ 0x5EED_B0E5_E6A1_u64) }
    }

    /// An independent stream for sub-object `index`: see [`SplitMix64::fork`].
    pub fn fork(&self, index: u64) -> Rng {
        Rng { inner: self.inner.fork(index) }
    }

    /// Normal(mean, sd) by Box-Muller.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let root = Rng::new(42);
        assert_eq!(root.fork(3).next_u64(), root.fork(3).next_u64());
        assert_ne!(root.fork(3).next_u64(), root.fork(4).next_u64());
        let mut rng = Rng::new(1);
        let n = 20_000;
        let samples: Vec<f64> = (0..n).map(|_| rng.normal(2.0, 3.0)).collect();
        let mean = samples.iter().sum::<f64>() / n as f64;
        let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((mean - 2.0).abs() < 0.1 && (sd - 3.0).abs() < 0.1, "{mean} {sd}");
    }
}
