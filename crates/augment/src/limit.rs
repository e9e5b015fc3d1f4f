//! A parameter range as albumentations users write it: one number or a `[low, high]` pair.
//! What a single number means depends on the parameter (`limit = 30` is `[-30, 30]`,
//! `clip_limit = 4` is `[1, 4]`), so each transform resolves its ranges with the matching method.

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Limit {
    One(f64),
    Two([f64; 2]),
}

impl Limit {
    /// `a` → `[-a, a]`.
    pub fn symmetric(self) -> (f64, f64) {
        match self {
            Limit::One(a) => (-a.abs(), a.abs()),
            Limit::Two([low, high]) => (low, high),
        }
    }

    /// `a` → `[low, a]`.
    pub fn from(self, low: f64) -> (f64, f64) {
        match self {
            Limit::One(a) => (low, a),
            Limit::Two([low, high]) => (low, high),
        }
    }

    /// `a` → `[a, a]`.
    pub fn exact(self) -> (f64, f64) {
        self.from(match self {
            Limit::One(a) => a,
            Limit::Two([low, _]) => low,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_numbers_resolve_per_parameter() {
        assert_eq!(Limit::One(30.0).symmetric(), (-30.0, 30.0));
        assert_eq!(Limit::One(4.0).from(1.0), (1.0, 4.0));
        assert_eq!(Limit::One(0.5).exact(), (0.5, 0.5));
        assert_eq!(Limit::Two([2.0, 3.0]).symmetric(), (2.0, 3.0));
    }
}
