//! New inputs from old ones: the byte-level mutations of AFL and libFuzzer (bit flips,
//! interesting values, insertions, deletions, splices), plus two that know the formats: numbers
//! in text are replaced by the values that break parsers (0, -1, 2^31, 2^40, 1e308, ...), and a
//! PNG's chunk checksums are recomputed, so that a mutated PNG reaches the decoder instead of
//! stopping at its first CRC.

use boneseg_contract::rng::{Random, SplitMix64};

/// Bytes that mean something to the text formats (JSON, CSV, RLE).
const TOKENS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1",
    b" ",
    b",",
    b"\n",
    b"\r\n",
    b"\"",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b".",
    b"e",
    b"-",
    b"\xef\xbb\xbf",
    b"null",
    b"true",
    b"NaN",
    b"Infinity",
    b"\"points\"",
    b"\"label\"",
    b"\"annotations\"",
    b"finger-1",
    b"Ulna",
    b"image_name,class,rle",
    b"_x0008_",
    b"\t",
    b"\\u0000",
];

/// Numbers that break parsers, written as text.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483648",
    "4294967295",
    "4294967296",
    "1099511627776",
    "9223372036854775807",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "1e-320",
    "0.5",
    "-0",
    "99999999999999999999999999",
];

/// Numbers that break binary headers, as 32-bit values.
const WORDS: &[u32] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0xffff,
    0x10000,
    100_000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

/// Input sizes stay under this.
pub const MAX_LEN: usize = 1 << 16;

/// Makes a new input from `base` (and `other`, for splices) with a few stacked mutations.
pub fn mutate(base: &[u8], other: &[u8], rng: &mut SplitMix64) -> Vec<u8> {
    let mut data = base.to_vec();
    let rounds = 1 + below(rng, 6);
    for _ in 0..rounds {
        apply(&mut data, other, rng);
    }
    data.truncate(MAX_LEN);
    if data.starts_with(&[0x89, b'P', b'N', b'G']) && rng.chance(0.9) {
        fix_png_checksums(&mut data);
    }
    data
}

fn below(rng: &mut SplitMix64, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

fn apply(data: &mut Vec<u8>, other: &[u8], rng: &mut SplitMix64) {
    let len = data.len();
    let at = below(rng, len + 1);
    match below(rng, 12) {
        0 if len > 0 => data[at.min(len - 1)] ^= 1 << below(rng, 8),
        1 if len > 0 => data[at.min(len - 1)] = rng.next_u64() as u8,
        2 => {
            let token = TOKENS[below(rng, TOKENS.len())];
            data.splice(at..at, token.iter().copied());
        }
        3 if len > 0 => {
            let end = (at + 1 + below(rng, 16)).min(len);
            data.drain(at.min(len - 1)..end);
        }
        4 if len > 0 => {
            // Duplicate a range: repeated rows, points, chunks.
            let start = below(rng, len);
            let end = (start + 1 + below(rng, 64)).min(len);
            let copy = data[start..end].to_vec();
            data.splice(at..at, copy);
        }
        5 => replace_number(data, rng),
        6 if len >= 4 => {
            let word = WORDS[below(rng, WORDS.len())];
            let bytes = if rng.chance(0.5) { word.to_be_bytes() } else { word.to_le_bytes() };
            let at = below(rng, len - 3);
            data[at..at + 4].copy_from_slice(&bytes);
        }
        7 if !other.is_empty() => {
            // Splice: this input's head, the other's tail.
            let from = below(rng, other.len());
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        8 if len > 0 => data.truncate(at),
        9 => {
            let count = 1 + below(rng, 8);
            let random: Vec<u8> = (0..count).map(|_| rng.next_u64() as u8).collect();
            data.splice(at..at, random);
        }
        10 if len > 0 => {
            // Swap two bytes: reordered tokens.
            let other_at = below(rng, len);
            data.swap(at.min(len - 1), other_at);
        }
        _ => replace_number(data, rng),
    }
}

/// Replaces one run of ASCII digits (with its sign) by an interesting number.
fn replace_number(data: &mut Vec<u8>, rng: &mut SplitMix64) {
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = starts[below(rng, starts.len())];
    let start = if start > 0 && data[start - 1] == b'-' { start - 1 } else { start };
    let mut end = start + 1;
    while end < data.len() && (data[end].is_ascii_digit() || data[end] == b'.') {
        end += 1;
    }
    let number = NUMBERS[below(rng, NUMBERS.len())];
    data.splice(start..end, number.bytes());
}

/// Recomputes the CRC of every whole chunk after the PNG signature.
pub fn fix_png_checksums(data: &mut [u8]) {
    let mut at = 8;
    while at + 12 <= data.len() {
        let length = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let Some(end) = (at + 8).checked_add(length).filter(|&end| end + 4 <= data.len()) else { break };
        let crc = crc32(&data[at + 4..end]);
        data[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320).
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ byte as u32, |c, _| if c & 1 == 1 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_seeded_and_bounded() {
        let base = b"{\"points\": [[1, 2], [30, 4]]}".to_vec();
        let run = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..200).map(|_| mutate(&base, b"other", &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3), "the same seed makes the same inputs");
        let inputs = run(3);
        assert!(inputs.iter().all(|input| input.len() <= MAX_LEN));
        assert!(inputs.iter().filter(|input| **input != base).count() > 150, "most inputs change");
        assert!(
            inputs.iter().any(|input| input.windows(10).any(|w| w == b"2147483648")),
            "numbers are swapped"
        );
    }

    #[test]
    fn png_checksums_are_the_standard_crc32() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
    }
}
