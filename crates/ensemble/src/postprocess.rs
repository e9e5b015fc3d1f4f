//! Post-processing of one class's mask, as the winners did: remove connected components below a
//! size, optionally keep only the largest, fill holes. Switched on per class from a small TOML:
//!
//! ```toml
//! [default]
//! min_size = 200          # pixels at the mask's resolution; 0 = off
//! [class.Pisiform]
//! keep_largest = true
//! fill_holes = true
//! ```
//!
//! Works on row segments (runs cut at row ends) with a union-find over segments, so a bone of a
//! few thousand pixels costs a few dozen segments, never a per-pixel label image. Foreground is
//! 8-connected (OpenCV's `connectedComponents` default); holes are 4-connected background
//! components that do not touch the image border.

use std::collections::BTreeMap;
use std::path::Path;

use boneseg_contract::{BitMask, CLASSES, NUM_CLASSES, class_index};
use serde::{Deserialize, Serialize};

/// What to do to one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassRule {
    /// Components smaller than this many pixels are removed (0: none).
    #[serde(default)]
    pub min_size: u64,
    /// Keep only the largest component.
    #[serde(default)]
    pub keep_largest: bool,
    /// Fill background enclosed by the mask.
    #[serde(default)]
    pub fill_holes: bool,
}

impl ClassRule {
    pub fn is_noop(&self) -> bool {
        *self == ClassRule::default()
    }
}

/// One rule per class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostProcess {
    pub rules: [ClassRule; NUM_CLASSES],
}

/// The TOML form, also a table of the tuned file (`crate::tuned`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostProcessFile {
    #[serde(default, skip_serializing_if = "ClassRule::is_noop")]
    default: ClassRule,
    #[serde(default)]
    class: BTreeMap<String, ClassRule>,
}

impl PostProcess {
    /// The same rule for every class.
    pub fn uniform(rule: ClassRule) -> PostProcess {
        PostProcess { rules: [rule; NUM_CLASSES] }
    }

    pub fn parse(text: &str, what: &str) -> Result<PostProcess, String> {
        let file: PostProcessFile = toml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        PostProcess::from_file(file, what)
    }

    /// Checks the parsed form; `what` names the source (and table) in errors.
    pub(crate) fn from_file(file: PostProcessFile, what: &str) -> Result<PostProcess, String> {
        let mut rules = [file.default; NUM_CLASSES];
        for (name, rule) in file.class {
            let class =
                class_index(&name).ok_or_else(|| format!("{what}: [class.{name}] is not a class name"))?;
            rules[class] = rule;
        }
        Ok(PostProcess { rules })
    }

    pub fn load(path: &Path) -> Result<PostProcess, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        PostProcess::parse(&text, &path.display().to_string())
    }

    pub fn is_noop(&self) -> bool {
        self.rules.iter().all(ClassRule::is_noop)
    }

    /// The serialisable form: the classes that do something, each in its own table.
    pub(crate) fn to_file(&self) -> PostProcessFile {
        let class = CLASSES
            .iter()
            .zip(&self.rules)
            .filter(|(_, rule)| !rule.is_noop())
            .map(|(name, rule)| (name.to_string(), *rule))
            .collect();
        PostProcessFile { default: ClassRule::default(), class }
    }

    /// Applies the rule of `class` to `mask`.
    pub fn apply(&self, class: usize, mask: &mut BitMask) {
        apply_rule(&self.rules[class], mask);
    }
}

/// Applies one rule: small components out, then the largest kept, then holes filled.
pub fn apply_rule(rule: &ClassRule, mask: &mut BitMask) {
    if rule.is_noop() || mask.is_empty() {
        return;
    }
    let (height, width) = (mask.height(), mask.width());
    let mut rows = row_segments(mask);
    if rule.min_size > 0 || rule.keep_largest {
        let components = Components::label(&rows, true);
        let largest = components.sizes.iter().copied().max().unwrap_or(0);
        let keep = |size: u64| size >= rule.min_size && (!rule.keep_largest || size == largest);
        let mut kept = components.sizes.iter().map(|&s| keep(s)).collect::<Vec<_>>();
        if rule.keep_largest {
            // Equal largest components: keep the first in row-major order.
            let first = kept.iter().position(|&k| k);
            kept.iter_mut().enumerate().for_each(|(i, k)| *k = Some(i) == first);
        }
        for (row, labels) in rows.iter_mut().zip(&components.labels) {
            let mut label = labels.iter();
            row.retain(|_| kept[*label.next().expect("one label per segment")]);
        }
    }
    if rule.fill_holes {
        let background = complement(&rows, width);
        let components = Components::label(&background, false);
        let mut border = vec![false; components.sizes.len()];
        for (y, (row, labels)) in background.iter().zip(&components.labels).enumerate() {
            for (&(start, end), &label) in row.iter().zip(labels) {
                if y == 0 || y + 1 == height || start == 0 || end == width {
                    border[label] = true;
                }
            }
        }
        for ((row, gaps), labels) in rows.iter_mut().zip(&background).zip(&components.labels) {
            row.extend(gaps.iter().zip(labels).filter(|(_, label)| !border[**label]).map(|(&gap, _)| gap));
        }
    }
    let mut out = BitMask::new(height, width);
    for (y, row) in rows.iter().enumerate() {
        for &(start, end) in row {
            out.set_span(y, start, end - 1);
        }
    }
    *mask = out;
}

/// Foreground segments `[start, end)` of each row.
fn row_segments(mask: &BitMask) -> Vec<Vec<(usize, usize)>> {
    let width = mask.width();
    let mut rows = vec![Vec::new(); mask.height()];
    for (start, length) in mask.runs() {
        let mut at = start;
        while at < start + length {
            let (y, x) = (at / width, at % width);
            let end = (x + start + length - at).min(width);
            rows[y].push((x, end));
            at += end - x;
        }
    }
    rows
}

fn background_segments(row: &[(usize, usize)], width: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut sorted = row.to_vec();
    sorted.sort_unstable();
    let mut at = 0;
    let mut gaps = Vec::new();
    for (start, end) in sorted {
        if start > at {
            gaps.push((at, start));
        }
        at = end;
    }
    if at < width {
        gaps.push((at, width));
    }
    gaps.into_iter()
}

fn complement(rows: &[Vec<(usize, usize)>], width: usize) -> Vec<Vec<(usize, usize)>> {
    rows.iter().map(|row| background_segments(row, width).collect()).collect()
}

/// Connected components of row segments.
struct Components {
    /// Component of each segment, row by row.
    labels: Vec<Vec<usize>>,
    /// Pixels per component, components numbered in row-major order of first appearance.
    sizes: Vec<u64>,
}

impl Components {
    fn label(rows: &[Vec<(usize, usize)>], eight: bool) -> Components {
        let offsets: Vec<usize> = rows
            .iter()
            .scan(0, |total, row| {
                let first = *total;
                *total += row.len();
                Some(first)
            })
            .collect();
        let count = offsets.last().map_or(0, |&o| o + rows.last().map_or(0, Vec::len));
        let mut parent: Vec<usize> = (0..count).collect();
        fn find(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let reach = usize::from(eight);
        for y in 1..rows.len() {
            let (above, here) = (&rows[y - 1], &rows[y]);
            let mut j = 0;
            for (i, &(start, end)) in here.iter().enumerate() {
                while j < above.len() && above[j].1 + reach <= start {
                    j += 1;
                }
                let mut k = j;
                while k < above.len() && above[k].0 < end + reach {
                    let (a, b) = (find(&mut parent, offsets[y - 1] + k), find(&mut parent, offsets[y] + i));
                    parent[a.max(b)] = a.min(b);
                    k += 1;
                }
            }
        }
        let mut ids = vec![usize::MAX; count];
        let mut sizes = Vec::new();
        let mut labels = Vec::with_capacity(rows.len());
        for (y, row) in rows.iter().enumerate() {
            let mut row_labels = Vec::with_capacity(row.len());
            for (i, &(start, end)) in row.iter().enumerate() {
                let root = find(&mut parent, offsets[y] + i);
                if ids[root] == usize::MAX {
                    ids[root] = sizes.len();
                    sizes.push(0);
                }
                sizes[ids[root]] += (end - start) as u64;
                row_labels.push(ids[root]);
            }
            labels.push(row_labels);
        }
        Components { labels, sizes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> BitMask {
        let bytes: Vec<u8> = rows.iter().flat_map(|r| r.bytes().map(|b| u8::from(b == b'#'))).collect();
        BitMask::from_bytes(rows.len(), rows[0].len(), &bytes)
    }

    fn apply(rule: ClassRule, rows: &[&str]) -> BitMask {
        let mut m = mask(rows);
        apply_rule(&rule, &mut m);
        m
    }

    const SCENE: [&str; 7] = [
        "#.........", //
        "..####....",
        "..#..#..#.",
        "..####...#",
        "..........",
        "......##..",
        "......##..",
    ];

    #[test]
    fn small_components_go_and_diagonals_connect() {
        let rule = ClassRule { min_size: 3, ..ClassRule::default() };
        // The two diagonal pixels at the right form one 8-connected component of 2: removed.
        let expected = mask(&[
            "..........",
            "..####....",
            "..#..#....",
            "..####....",
            "..........",
            "......##..",
            "......##..",
        ]);
        assert_eq!(apply(rule, &SCENE), expected);
    }

    #[test]
    fn keep_largest_and_fill_holes() {
        let rule = ClassRule { keep_largest: true, fill_holes: true, ..ClassRule::default() };
        let expected = mask(&[
            "..........",
            "..####....",
            "..####....",
            "..####....",
            "..........",
            "..........",
            "..........",
        ]);
        assert_eq!(apply(rule, &SCENE), expected);
    }

    #[test]
    fn background_touching_the_border_is_not_a_hole() {
        let rows = ["####", "#..#", "#...", "####"];
        let rule = ClassRule { fill_holes: true, ..ClassRule::default() };
        assert_eq!(apply(rule, &rows), mask(&rows));
        // A hole connected to the outside only diagonally is still a hole (4-connected background).
        let rows = ["....", ".##.", "#..#", ".##."];
        assert_eq!(apply(rule, &rows), mask(&["....", ".##.", "####", ".##."]));
    }

    #[test]
    fn rules_per_class_from_toml() {
        let p = PostProcess::parse(
            "[default]\nmin_size = 10\n[class.Pisiform]\nkeep_largest = true\n",
            "pp.toml",
        )
        .unwrap();
        assert_eq!(p.rules[0].min_size, 10);
        assert_eq!(p.rules[26], ClassRule { keep_largest: true, ..ClassRule::default() });
        let err = PostProcess::parse("[class.thumb]\nfill_holes = true\n", "pp.toml").unwrap_err();
        assert!(err.contains("pp.toml: [class.thumb] is not a class name"), "{err}");
    }
}
