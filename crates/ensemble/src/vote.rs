//! Hard voting: a pixel is kept when more than `more_than` of the models have it. Computed as a
//! sweep over run boundaries, so its cost is the number of runs, not of pixels.

use crate::runs::{self, Runs};

/// The default `more_than` for `models` inputs: a strict majority (2 of 3, 3 of 4).
pub fn majority(models: usize) -> usize {
    models / 2
}

/// Pixels covered by more than `more_than` of `inputs`.
pub fn hard_vote(inputs: &[&[(usize, usize)]], more_than: usize) -> Runs {
    let mut events: Vec<(usize, i32)> = inputs
        .iter()
        .flat_map(|runs| runs.iter().flat_map(|&(start, length)| [(start, 1), (start + length, -1)]))
        .collect();
    events.sort_unstable();
    let mut out = Runs::new();
    let mut count = 0i32;
    let mut on_since = None;
    let mut i = 0;
    while i < events.len() {
        let at = events[i].0;
        while i < events.len() && events[i].0 == at {
            count += events[i].1;
            i += 1;
        }
        let on = count > more_than as i32;
        match (on, on_since) {
            (true, None) => on_since = Some(at),
            (false, Some(start)) => {
                runs::push(&mut out, start, at - start);
                on_since = None;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same vote pixel by pixel.
    fn naive(inputs: &[&[(usize, usize)]], more_than: usize, pixels: usize) -> Runs {
        let mut counts = vec![0usize; pixels];
        for runs in inputs {
            for &(start, length) in *runs {
                counts[start..start + length].iter_mut().for_each(|c| *c += 1);
            }
        }
        let mut out = Runs::new();
        for (i, &c) in counts.iter().enumerate() {
            if c > more_than {
                runs::push(&mut out, i, 1);
            }
        }
        out
    }

    #[test]
    fn matches_a_pixel_count() {
        let a: Runs = vec![(0, 5), (10, 3), (20, 10)];
        let b: Runs = vec![(3, 9), (25, 1), (29, 2)];
        let c: Runs = vec![(4, 1), (12, 14)];
        let inputs = [a.as_slice(), b.as_slice(), c.as_slice()];
        for more_than in 0..3 {
            assert_eq!(hard_vote(&inputs, more_than), naive(&inputs, more_than, 40), "more than {more_than}");
        }
        assert_eq!(majority(3), 1);
        assert_eq!(hard_vote(&inputs, 3), Runs::new());
    }
}
