//! Masks as their foreground runs: sorted, non-overlapping `(start, length)` with 0-based
//! starts over the row-major flattening, the same runs the competition's RLE writes (plus one).

use boneseg_contract::BitMask;
use boneseg_contract::rle::{RleError, RunParser};

/// A mask's foreground runs, 0-based, sorted, non-overlapping, never empty-length.
pub type Runs = Vec<(usize, usize)>;

/// Parses and validates an RLE text (starts counted from 1) of a mask of `pixels` pixels.
pub fn parse(rle: &str, pixels: usize) -> Result<Runs, RleError> {
    RunParser::new(rle, pixels as u64)
        .map(|run| run.map(|r| (r.start as usize - 1, r.length as usize)))
        .collect()
}

/// Appends the competition's RLE text of `runs` to `out`.
pub fn write_rle(runs: &[(usize, usize)], out: &mut String) {
    let mut numbers = itoa::Buffer::new();
    for &(start, length) in runs {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(numbers.format(start + 1));
        out.push(' ');
        out.push_str(numbers.format(length));
    }
}

/// The runs of a bit mask.
pub fn from_mask(mask: &BitMask) -> Runs {
    mask.runs().collect()
}

/// A `height x width` bit mask with `runs` set.
pub fn to_mask(runs: &[(usize, usize)], height: usize, width: usize) -> BitMask {
    let mut mask = BitMask::new(height, width);
    for &(start, length) in runs {
        mask.set_range(start, start + length);
    }
    mask
}

/// Appends `(start, length)` to `runs`, merging it with the last run when they touch.
pub fn push(runs: &mut Runs, start: usize, length: usize) {
    match runs.last_mut() {
        Some((last_start, last_length)) if *last_start + *last_length == start => *last_length += length,
        _ => runs.push((start, length)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_text_round_trips_through_runs() {
        let runs = parse("3 2 10 5", 20).unwrap();
        assert_eq!(runs, vec![(2, 2), (9, 5)]);
        let mut text = String::new();
        write_rle(&runs, &mut text);
        assert_eq!(text, "3 2 10 5");
        let mask = to_mask(&runs, 4, 5);
        assert_eq!(from_mask(&mask), runs);
        assert_eq!(boneseg_contract::rle::encode(&mask), text);
        assert!(parse("3 2 1 5", 20).is_err(), "unsorted runs are rejected");
        assert!(parse("19 5", 20).is_err(), "runs past the last pixel are rejected");
    }

    #[test]
    fn push_merges_touching_runs() {
        let mut runs = Runs::new();
        push(&mut runs, 0, 2);
        push(&mut runs, 2, 3);
        push(&mut runs, 7, 1);
        assert_eq!(runs, vec![(0, 5), (7, 1)]);
    }
}
