//! One of `N` parts of a job over a sorted list (`--shard K/N`, `K` from 0): part `K` is the
//! contiguous slice `[K * len / N, (K + 1) * len / N)`. Contiguous slices of one sorted list,
//! put back in part order, are the list itself, so parts merge by concatenation into exactly
//! what the unsharded job writes.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    /// 0-based part number (Slurm's `$SLURM_ARRAY_TASK_ID`, Kubernetes' `$JOB_COMPLETION_INDEX`).
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole list as one part.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The indices of this part of a list of `len` items.
    pub fn range(self, len: usize) -> Range<usize> {
        self.index * len / self.count..(self.index + 1) * len / self.count
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("`{text}` is not a shard: write K/N with 0 <= K < N, e.g. 0/4 for the first of four");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (index.trim().parse().map_err(|_| bad())?, count.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_tile_the_list_in_order() {
        for len in [0, 1, 5, 7, 300] {
            for count in 1..=6 {
                let ranges: Vec<Range<usize>> =
                    (0..count).map(|index| Shard { index, count }.range(len)).collect();
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[count - 1].end, len);
                assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
                let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
            }
        }
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        assert_eq!(Shard { index: 2, count: 4 }.to_string(), "2/4");
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("is not a shard"), "{bad}");
        }
    }
}
