//! Run-length encoding of masks, bit-identical to the competition's numpy reference:
//!
//! ```python
//! def encode_mask_to_rle(mask):
//!     pixels = mask.flatten()
//!     pixels = np.concatenate([[0], pixels, [0]])
//!     runs = np.where(pixels[1:] != pixels[:-1])[0] + 1
//!     runs[1::2] -= runs[::2]
//!     return ' '.join(str(x) for x in runs)
//! ```
//!
//! The mask is flattened row-major; the text is `start length start length ...`, starts counted
//! from 1; an empty mask is the empty string.

use std::fmt;

use crate::mask::BitMask;

/// Appends the RLE of `mask` to `out` (nothing for an empty mask).
pub fn encode_into(mask: &BitMask, out: &mut String) {
    let mut numbers = itoa::Buffer::new();
    for (start, length) in mask.runs() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(numbers.format(start + 1));
        out.push(' ');
        out.push_str(numbers.format(length));
    }
}

/// The RLE of `mask`.
pub fn encode(mask: &BitMask) -> String {
    let mut out = String::new();
    encode_into(mask, &mut out);
    out
}

/// Decodes an RLE into a `height x width` mask, rejecting anything the reference encoder would
/// never write (see [`RleError`]).
pub fn decode(rle: &str, height: usize, width: usize) -> Result<BitMask, RleError> {
    let mut mask = BitMask::new(height, width);
    if decode_plain(rle.as_bytes(), &mut mask).is_none() {
        // Something is off: start again with the validating parser, which says what.
        mask = BitMask::new(height, width);
        for run in RunParser::new(rle, mask.len() as u64) {
            let run = run?;
            mask.set_range(run.start as usize - 1, (run.start + run.length - 1) as usize);
        }
    }
    Ok(mask)
}

/// The common case in one pass over the bytes: decimal pairs separated by ASCII whitespace,
/// sorted, not overlapping, inside the mask. `None` at the first thing that is not, leaving the
/// explanation to [`RunParser`].
fn decode_plain(text: &[u8], mask: &mut BitMask) -> Option<()> {
    let pixels = mask.len() as u64;
    let mut at = 0;
    let mut previous_end = 0; // exclusive, 0-based
    loop {
        while at < text.len() && text[at].is_ascii_whitespace() {
            at += 1;
        }
        if at == text.len() {
            return Some(());
        }
        let start = plain_number(text, &mut at)?.checked_sub(1)?;
        while at < text.len() && text[at].is_ascii_whitespace() {
            at += 1;
        }
        let length = plain_number(text, &mut at)?;
        let end = start.checked_add(length)?;
        if length == 0 || start < previous_end || end > pixels {
            return None;
        }
        mask.set_range(start as usize, end as usize);
        previous_end = end;
    }
}

/// The number at `text[*at..]`, which must end at whitespace or at the end of the text.
fn plain_number(text: &[u8], at: &mut usize) -> Option<u64> {
    let first = *at;
    let mut value: u64 = 0;
    while let Some(&byte) = text.get(*at).filter(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
        *at += 1;
    }
    let ends_well = text.get(*at).is_none_or(u8::is_ascii_whitespace);
    (*at > first && ends_well).then_some(value)
}

/// Every problem in an RLE, in text order; empty when the RLE is valid.
pub fn problems(rle: &str, pixels: u64) -> Vec<RleError> {
    RunParser::new(rle, pixels).filter_map(Result::err).collect()
}

/// One run as written: `start` counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub start: u64,
    pub length: u64,
}

/// What can be wrong in an RLE. Runs are numbered from 1 in text order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RleError {
    #[error("token {position} (`{token}`) is not a non-negative integer")]
    NotANumber { position: usize, token: String },
    #[error("odd number of values ({count}): every run needs a start and a length")]
    OddCount { count: usize },
    #[error("run {run} starts at 0, but starts are counted from 1")]
    ZeroStart { run: usize },
    #[error("run {run} (start {start}) has length 0")]
    ZeroLength { run: usize, start: u64 },
    #[error("run {run} ({start} {length}) ends past the last pixel ({pixels})")]
    OutOfRange { run: usize, start: u64, length: u64, pixels: u64 },
    #[error(
        "run {run} starts at {start}, before the previous run's start {previous_start}: runs must be sorted"
    )]
    Unsorted { run: usize, start: u64, previous_start: u64 },
    #[error("run {run} starts at {start}, inside the previous run, which ends at {previous_end}")]
    Overlapping { run: usize, start: u64, previous_end: u64 },
}

/// Parses and validates runs one by one, yielding each valid run or the problem found with it.
///
/// After a problem it goes on with the next run, so a checker can report them all; decoding
/// stops at the first.
pub struct RunParser<'a> {
    tokens: std::str::SplitAsciiWhitespace<'a>,
    pixels: u64,
    position: usize,
    run: usize,
    previous: Option<Run>,
    counted: bool,
}

impl<'a> RunParser<'a> {
    /// A parser for `rle` against a mask of `pixels` pixels.
    pub fn new(rle: &'a str, pixels: u64) -> Self {
        RunParser {
            tokens: rle.split_ascii_whitespace(),
            pixels,
            position: 0,
            run: 0,
            previous: None,
            counted: false,
        }
    }

    fn number(&mut self, token: &str) -> Result<u64, RleError> {
        self.position += 1;
        parse_decimal(token)
            .ok_or_else(|| RleError::NotANumber { position: self.position, token: token.to_string() })
    }

    fn validate(&mut self, run: Run) -> Result<Run, RleError> {
        let index = self.run;
        if run.start == 0 {
            return Err(RleError::ZeroStart { run: index });
        }
        if run.length == 0 {
            return Err(RleError::ZeroLength { run: index, start: run.start });
        }
        if run.start.saturating_add(run.length) - 1 > self.pixels {
            return Err(RleError::OutOfRange {
                run: index,
                start: run.start,
                length: run.length,
                pixels: self.pixels,
            });
        }
        if let Some(previous) = self.previous {
            if run.start < previous.start {
                return Err(RleError::Unsorted {
                    run: index,
                    start: run.start,
                    previous_start: previous.start,
                });
            }
            let previous_end = previous.start + previous.length - 1;
            if run.start <= previous_end {
                return Err(RleError::Overlapping { run: index, start: run.start, previous_end });
            }
        }
        self.previous = Some(run);
        Ok(run)
    }
}

impl Iterator for RunParser<'_> {
    type Item = Result<Run, RleError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start_token = match self.tokens.next() {
            Some(token) => token,
            None => {
                if !self.counted && self.position % 2 == 1 {
                    self.counted = true;
                    return Some(Err(RleError::OddCount { count: self.position }));
                }
                return None;
            }
        };
        self.run += 1;
        let start = self.number(start_token);
        let Some(length_token) = self.tokens.next() else {
            self.counted = true;
            return Some(start.and(Err(RleError::OddCount { count: self.position })));
        };
        let length = self.number(length_token);
        Some(match (start, length) {
            (Ok(start), Ok(length)) => self.validate(Run { start, length }),
            (Err(e), _) | (_, Err(e)) => Err(e),
        })
    }
}

/// A plain decimal integer: ASCII digits only (numpy's `str(int)` never writes a sign, a point
/// or an exponent).
fn parse_decimal(token: &str) -> Option<u64> {
    if token.is_empty() || token.len() > 19 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(token.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')))
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.start, self.length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_numpy() {
        // The mask [[0,1,1],[1,0,0]] flattens to 0 1 1 1 0 0: one run from pixel 2, length 3.
        let mask = BitMask::from_bytes(2, 3, &[0, 1, 1, 1, 0, 0]);
        assert_eq!(encode(&mask), "2 3");
        let mask = BitMask::from_bytes(2, 3, &[1, 0, 1, 0, 0, 1]);
        assert_eq!(encode(&mask), "1 1 3 1 6 1");
        assert_eq!(encode(&BitMask::new(4, 4)), "");
    }

    #[test]
    fn decode_inverts_encode() {
        let mask = BitMask::from_bytes(3, 4, &[1, 1, 0, 0, 1, 0, 1, 1, 1, 1, 0, 1]);
        assert_eq!(decode(&encode(&mask), 3, 4).unwrap(), mask);
        assert_eq!(decode("", 3, 4).unwrap(), BitMask::new(3, 4));
        assert_eq!(decode("  1 2\n 5 1 ", 3, 4).unwrap().count(), 3, "any ASCII whitespace separates");
    }

    #[test]
    fn rejects_malformed_runs() {
        let cases: [(&str, RleError); 7] = [
            ("1 2 3", RleError::OddCount { count: 3 }),
            ("1 x", RleError::NotANumber { position: 2, token: "x".into() }),
            ("0 2", RleError::ZeroStart { run: 1 }),
            ("3 0", RleError::ZeroLength { run: 1, start: 3 }),
            ("11 3", RleError::OutOfRange { run: 1, start: 11, length: 3, pixels: 12 }),
            ("5 1 2 1", RleError::Unsorted { run: 2, start: 2, previous_start: 5 }),
            ("2 3 4 1", RleError::Overlapping { run: 2, start: 4, previous_end: 4 }),
        ];
        for (rle, expected) in cases {
            assert_eq!(decode(rle, 3, 4), Err(expected.clone()), "{rle:?}");
            assert_eq!(problems(rle, 12), vec![expected], "{rle:?}");
        }
        for token in ["-1", "+1", "1.0", "1e3", "99999999999999999999"] {
            assert!(matches!(
                decode(&format!("{token} 1"), 3, 4),
                Err(RleError::NotANumber { position: 1, .. })
            ));
        }
    }

    #[test]
    fn reports_every_problem() {
        let found = problems("0 1 3 0 5 2 x 1 9", 12);
        assert_eq!(
            found,
            vec![
                RleError::ZeroStart { run: 1 },
                RleError::ZeroLength { run: 2, start: 3 },
                RleError::NotANumber { position: 7, token: "x".into() },
                RleError::OddCount { count: 9 },
            ]
        );
    }

    #[test]
    fn the_fast_path_and_the_validating_parser_agree() {
        let cases = [
            "",
            "  ",
            "1 1",
            "3 2 6 1\n",
            "\t2 3  7 1 ",
            "1 12",
            "12 1",
            "5 1 6 1",
            "1 2 3",
            "1",
            "0 1",
            "13 1",
            "2 0",
            "4 1 2 1",
            "2 3 3 1",
            "1 x",
            "1 1x",
            "+1 1",
            "99999999999999999999 1",
            "18446744073709551615 2",
        ];
        for text in cases {
            let slow: Result<BitMask, RleError> = (|| {
                let mut mask = BitMask::new(3, 4);
                for run in RunParser::new(text, 12) {
                    let run = run?;
                    mask.set_range(run.start as usize - 1, (run.start + run.length - 1) as usize);
                }
                Ok(mask)
            })();
            assert_eq!(decode(text, 3, 4), slow, "{text:?}");
        }
    }

    #[test]
    fn adjacent_runs_are_accepted() {
        assert_eq!(decode("1 2 3 2", 2, 2).unwrap().count(), 4);
    }
}
