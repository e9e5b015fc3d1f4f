//! The seeded generator behind every random choice: xoshiro256++ seeded through SplitMix64
//! ([`boneseg_contract::rng`]), so a seed gives the same augmentation on every platform and
//! release, whatever crates change around it, and one stream per sample lets samples be augmented
//! in any order or in parallel.

pub use boneseg_contract::rng::Random;
use boneseg_contract::rng::SplitMix64;

#[derive(Clone, Debug)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut seeder = SplitMix64::new(seed);
        Rng { state: [seeder.next_u64(), seeder.next_u64(), seeder.next_u64(), seeder.next_u64()] }
    }
}

impl Random for Rng {
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

impl Rng {
    /// Integer uniform in `low..=high`.
    pub fn int(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        low + (self.next_u64() % (high - low + 1) as u64) as i64
    }

    /// Two independent standard normal values (Marsaglia's polar method: no trigonometry,
    /// which dominated the elastic transform's time with Box-Muller).
    pub fn normal_pair(&mut self) -> (f32, f32) {
        loop {
            let bits = self.next_u64();
            let to_unit = |b: u64| (b as u32 >> 8) as f32 * (2.0 / (1u32 << 24) as f32) - 1.0;
            let (u, v) = (to_unit(bits), to_unit(bits >> 32));
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * s.ln() / s).sqrt();
                return (u * factor, v * factor);
            }
        }
    }

    /// `n` standard normal values.
    pub fn normals(&mut self, n: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let (a, b) = self.normal_pair();
            out.push(a);
            out.push(b);
        }
        out.truncate(n);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_well_spread() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let values = Rng::new(1).normals(20_000);
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / values.len() as f32;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean}, variance {var}");
        assert_eq!(Rng::new(3).uniform(30.0, 30.0), 30.0);
    }
}
