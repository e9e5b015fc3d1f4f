//! Compact binary masks: one bit per pixel, row-major, so a 2048² class is 512 KiB and a whole
//! 29-class image 14.5 MiB (an f32 tensor of the same would be 464 MiB).
//!
//! Bits are stored in the competition's flattening order (index = row * width + col), LSB first in
//! each `u64` word. Run-length encoding, areas and intersections then become word scans and
//! popcounts, with no per-pixel loop.

use crate::classes::NUM_CLASSES;

/// One binary mask of `height x width` pixels.
#[derive(Clone, PartialEq, Eq)]
pub struct BitMask {
    height: usize,
    width: usize,
    /// Invariant: bits past `height * width` in the last word are zero.
    words: Vec<u64>,
}

impl std::fmt::Debug for BitMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitMask({}x{}, {} px set)", self.height, self.width, self.count())
    }
}

impl BitMask {
    /// An empty mask.
    pub fn new(height: usize, width: usize) -> Self {
        let len = height * width;
        BitMask { height, width, words: vec![0; len.div_ceil(64)] }
    }

    /// A mask from one byte per pixel, row-major; any non-zero byte is foreground.
    pub fn from_bytes(height: usize, width: usize, bytes: &[u8]) -> Self {
        assert_eq!(bytes.len(), height * width, "byte mask has the wrong number of pixels");
        let mut mask = BitMask::new(height, width);
        for (word, chunk) in mask.words.iter_mut().zip(bytes.chunks(64)) {
            *word = chunk.iter().enumerate().fold(0u64, |w, (bit, &b)| w | (u64::from(b != 0) << bit));
        }
        mask
    }

    /// One byte per pixel (0 or 1), row-major: for drawing and for interop with image code.
    pub fn to_bytes(&self) -> Vec<u8> {
        (0..self.len()).map(|i| u8::from(self.get_flat(i))).collect()
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of pixels (`height * width`).
    pub fn len(&self) -> usize {
        self.height * self.width
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The pixel at (row, col).
    pub fn get(&self, row: usize, col: usize) -> bool {
        debug_assert!(row < self.height && col < self.width);
        self.get_flat(row * self.width + col)
    }

    /// The pixel at a flat row-major index.
    pub fn get_flat(&self, index: usize) -> bool {
        self.words[index / 64] >> (index % 64) & 1 == 1
    }

    /// Sets the pixel at (row, col).
    pub fn set(&mut self, row: usize, col: usize) {
        debug_assert!(row < self.height && col < self.width);
        let i = row * self.width + col;
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Sets columns `first..=last` of one row.
    pub fn set_span(&mut self, row: usize, first: usize, last: usize) {
        debug_assert!(row < self.height && first <= last && last < self.width);
        let start = row * self.width;
        self.set_range(start + first, start + last + 1);
    }

    /// Sets the flat row-major range `start..end` (which may cross rows).
    pub fn set_range(&mut self, start: usize, end: usize) {
        assert!(start <= end && end <= self.len(), "range {start}..{end} outside the mask");
        if start == end {
            return;
        }
        let (first_word, last_word) = (start / 64, (end - 1) / 64);
        let head = u64::MAX << (start % 64);
        let tail = u64::MAX >> (63 - (end - 1) % 64);
        if first_word == last_word {
            self.words[first_word] |= head & tail;
        } else {
            self.words[first_word] |= head;
            self.words[first_word + 1..last_word].fill(u64::MAX);
            self.words[last_word] |= tail;
        }
    }

    /// The packed bits, 64 pixels a word in row-major order, LSB first: for word-wise analyses
    /// that combine many masks (error maps) without a per-pixel loop.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Number of foreground pixels.
    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Number of pixels set in both masks.
    pub fn intersection_count(&self, other: &BitMask) -> u64 {
        self.assert_same_shape(other);
        self.words.iter().zip(&other.words).map(|(a, b)| u64::from((a & b).count_ones())).sum()
    }

    /// Adds every pixel of `other` to this mask.
    pub fn union_with(&mut self, other: &BitMask) {
        self.assert_same_shape(other);
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Runs of foreground pixels in row-major order, as 0-based `(start, length)`.
    ///
    /// A run continues from the end of one row into the next, exactly like the reference code,
    /// which flattens the mask before encoding.
    pub fn runs(&self) -> Runs<'_> {
        Runs { mask: self, position: 0 }
    }

    /// First set bit at or after `from`, if any.
    fn next_one(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        if w >= self.words.len() {
            return None;
        }
        let mut word = self.words[w] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            w += 1;
            // Most of a class mask is background: skip empty words eight at a time (one
            // vectorised OR per eight).
            while let Some(chunk) = self.words.get(w..w + 8) {
                if chunk.iter().fold(0, |any, &x| any | x) != 0 {
                    break;
                }
                w += 8;
            }
            word = *self.words.get(w)?;
        }
    }

    /// First clear bit at or after `from`, or `len()` when the mask is set to its end.
    fn next_zero(&self, from: usize) -> usize {
        let mut w = from / 64;
        let mut word = !self.words[w] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return (w * 64 + word.trailing_zeros() as usize).min(self.len());
            }
            w += 1;
            match self.words.get(w) {
                Some(&next) => word = !next,
                None => return self.len(),
            }
        }
    }

    fn assert_same_shape(&self, other: &BitMask) {
        assert!(
            self.height == other.height && self.width == other.width,
            "masks differ in shape: {}x{} vs {}x{}",
            self.height,
            self.width,
            other.height,
            other.width
        );
    }
}

/// Iterator over a mask's foreground runs; see [`BitMask::runs`].
pub struct Runs<'a> {
    mask: &'a BitMask,
    position: usize,
}

impl Iterator for Runs<'_> {
    /// `(start, length)`, start 0-based.
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.mask.next_one(self.position)?;
        let end = self.mask.next_zero(start);
        self.position = end;
        Some((start, end - start))
    }
}

/// The 29 masks of one image, one [`BitMask`] per class in class order.
///
/// Classes overlap (a pixel may belong to two bones), so this is multi-label: there is no
/// single "class of a pixel" and nothing here takes an argmax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassMasks {
    masks: Vec<BitMask>,
}

impl ClassMasks {
    /// 29 empty masks.
    pub fn new(height: usize, width: usize) -> Self {
        // Not `vec![mask; 29]`: that clones, copying 512 KiB per 2048² class into memory that
        // must be paged in; fresh zeroed allocations are about 4 times cheaper (2048², 29 classes).
        ClassMasks { masks: (0..NUM_CLASSES).map(|_| BitMask::new(height, width)).collect() }
    }

    pub fn height(&self) -> usize {
        self.masks[0].height()
    }

    pub fn width(&self) -> usize {
        self.masks[0].width()
    }

    /// The mask of class `class` (its index in [`crate::CLASSES`]).
    pub fn class(&self, class: usize) -> &BitMask {
        &self.masks[class]
    }

    pub fn class_mut(&mut self, class: usize) -> &mut BitMask {
        &mut self.masks[class]
    }

    /// All masks in class order.
    pub fn iter(&self) -> std::slice::Iter<'_, BitMask> {
        self.masks.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_runs(bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != 0 {
                let start = i;
                while i < bytes.len() && bytes[i] != 0 {
                    i += 1;
                }
                runs.push((start, i - start));
            } else {
                i += 1;
            }
        }
        runs
    }

    /// A small deterministic pseudo-random byte pattern with long and short runs.
    fn pattern(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        let mut value = 0u8;
        let mut bytes = Vec::with_capacity(len);
        while bytes.len() < len {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let run = (state >> 33) as usize % 150 + 1;
            bytes.extend(std::iter::repeat_n(value, run.min(len - bytes.len())));
            value ^= 1;
        }
        bytes
    }

    #[test]
    fn runs_match_a_naive_scan() {
        for (h, w, seed) in [(1, 1, 1), (7, 13, 2), (64, 64, 3), (33, 97, 4), (100, 200, 5)] {
            let bytes = pattern(h * w, seed);
            let mask = BitMask::from_bytes(h, w, &bytes);
            assert_eq!(mask.runs().collect::<Vec<_>>(), naive_runs(&bytes), "{h}x{w}");
            assert_eq!(mask.to_bytes(), bytes);
            assert_eq!(mask.count(), bytes.iter().map(|&b| u64::from(b)).sum::<u64>());
        }
    }

    #[test]
    fn runs_cross_long_empty_stretches() {
        // Runs far apart, so the scan skips many empty words, and near the end of the mask.
        let (h, w) = (37, 1000);
        for ones in
            [vec![0], vec![5000, 5001, 20_000], vec![64 * 9 - 1, 64 * 9, 64 * 17 + 3], vec![h * w - 1]]
        {
            let mut bytes = vec![0u8; h * w];
            for &i in &ones {
                bytes[i] = 1;
            }
            let mask = BitMask::from_bytes(h, w, &bytes);
            assert_eq!(mask.runs().collect::<Vec<_>>(), naive_runs(&bytes), "{ones:?}");
        }
    }

    #[test]
    fn full_and_empty_masks() {
        let mut full = BitMask::new(3, 70);
        full.set_range(0, 210);
        assert_eq!(full.runs().collect::<Vec<_>>(), vec![(0, 210)]);
        assert_eq!(full.count(), 210);
        assert!(BitMask::new(3, 70).runs().next().is_none());
        assert!(BitMask::new(0, 0).runs().next().is_none());
    }

    #[test]
    fn set_range_crosses_words_and_rows() {
        for (start, end) in [(0, 1), (63, 65), (5, 200), (64, 128), (127, 128), (0, 300)] {
            let mut mask = BitMask::new(3, 100);
            mask.set_range(start, end);
            assert_eq!(mask.runs().collect::<Vec<_>>(), vec![(start, end - start)]);
        }
        let mut mask = BitMask::new(4, 10);
        mask.set_span(2, 3, 9);
        mask.set_span(3, 0, 1);
        assert_eq!(mask.runs().collect::<Vec<_>>(), vec![(23, 9)], "runs continue across rows");
    }

    #[test]
    fn intersection_and_union() {
        let a = BitMask::from_bytes(2, 3, &[1, 1, 0, 0, 1, 1]);
        let mut b = BitMask::from_bytes(2, 3, &[0, 1, 1, 0, 0, 1]);
        assert_eq!(a.intersection_count(&b), 2);
        b.union_with(&a);
        assert_eq!(b.to_bytes(), vec![1, 1, 1, 0, 1, 1]);
    }
}
