//! Boundary metrics of one class: Hausdorff-95 and surface dice with a tolerance, from exact
//! Euclidean distance transforms over the bounding box of both masks (every boundary pixel lies
//! inside it, so cropping changes no distance).

use crate::mask::BitMask;

/// Boundary metrics of one prediction against its truth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Surface {
    /// The larger of the two directed 95th-percentile boundary distances (MONAI's definition),
    /// pixels; `None` when exactly one mask is empty (undefined), 0 when both are.
    pub hd95: Option<f64>,
    /// Share of both boundaries within `tolerance` pixels of the other (Nikolov et al.);
    /// 1 when both masks are empty, 0 when exactly one is.
    pub surface_dice: f64,
}

/// Row and column bounds `(r0, r1, c0, c1)`, inclusive, of the set pixels of both masks.
fn bounds(masks: [&BitMask; 2]) -> Option<(usize, usize, usize, usize)> {
    let width = masks[0].width();
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for mask in masks {
        for (start, length) in mask.runs() {
            let (first, last) = (start, start + length - 1);
            let (r0, r1) = (first / width, last / width);
            let (c0, c1) = if r0 == r1 { (first % width, last % width) } else { (0, width - 1) };
            b = Some(match b {
                None => (r0, r1, c0, c1),
                Some((a0, a1, d0, d1)) => (a0.min(r0), a1.max(r1), d0.min(c0), d1.max(c1)),
            });
        }
    }
    b
}

/// Boundary pixels (set, with a 4-neighbour unset or outside the image) of `mask` inside the
/// crop, as crop-relative (row, col).
fn boundary(mask: &BitMask, (r0, r1, c0, c1): (usize, usize, usize, usize)) -> Vec<(usize, usize)> {
    let (h, w) = (mask.height(), mask.width());
    let mut points = Vec::new();
    for r in r0..=r1 {
        for c in c0..=c1 {
            if mask.get(r, c) {
                let edge = r == 0
                    || c == 0
                    || r + 1 == h
                    || c + 1 == w
                    || !mask.get(r - 1, c)
                    || !mask.get(r + 1, c)
                    || !mask.get(r, c - 1)
                    || !mask.get(r, c + 1);
                if edge {
                    points.push((r - r0, c - c0));
                }
            }
        }
    }
    points
}

/// Squared Euclidean distance to the nearest feature point, for every pixel of an
/// `h x w` grid (Felzenszwalb and Huttenlocher's separable exact transform).
fn squared_distances(features: &[(usize, usize)], h: usize, w: usize) -> Vec<f64> {
    const FAR: f64 = 1e20;
    let mut grid = vec![FAR; h * w];
    for &(r, c) in features {
        grid[r * w + c] = 0.0;
    }
    let mut line = Vec::new();
    for r in 0..h {
        line.clear();
        line.extend_from_slice(&grid[r * w..(r + 1) * w]);
        let out = transform_1d(&line);
        grid[r * w..(r + 1) * w].copy_from_slice(&out);
    }
    for c in 0..w {
        line.clear();
        line.extend((0..h).map(|r| grid[r * w + c]));
        for (r, v) in transform_1d(&line).into_iter().enumerate() {
            grid[r * w + c] = v;
        }
    }
    grid
}

/// The 1-D lower envelope of parabolas rooted at `f`.
fn transform_1d(f: &[f64]) -> Vec<f64> {
    let n = f.len();
    let mut v = vec![0usize; n];
    let mut z = vec![0.0; n + 1];
    let intersection = |q: usize, p: usize| {
        ((f[q] + (q * q) as f64) - (f[p] + (p * p) as f64)) / (2.0 * (q as f64 - p as f64))
    };
    let mut k = 0;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in 1..n {
        let mut s = intersection(q, v[k]);
        while s <= z[k] {
            k -= 1;
            s = intersection(q, v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f64::INFINITY;
    }
    k = 0;
    (0..n)
        .map(|q| {
            while z[k + 1] < q as f64 {
                k += 1;
            }
            (q as f64 - v[k] as f64).powi(2) + f[v[k]]
        })
        .collect()
}

/// The `q` quantile of ascending `sorted` values with linear interpolation between the closest
/// ranks (numpy's default, which MONAI's HD95 uses); NaN for no values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// Hausdorff-95 and surface dice of `predicted` against `truth`, with `tolerance` in pixels.
pub fn surface(predicted: &BitMask, truth: &BitMask, tolerance: f64) -> Surface {
    let Some(crop) = bounds([predicted, truth]) else {
        return Surface { hd95: Some(0.0), surface_dice: 1.0 };
    };
    if predicted.is_empty() || truth.is_empty() {
        return Surface { hd95: None, surface_dice: 0.0 };
    }
    let (h, w) = (crop.1 - crop.0 + 1, crop.3 - crop.2 + 1);
    let (p, t) = (boundary(predicted, crop), boundary(truth, crop));
    let to_truth = squared_distances(&t, h, w);
    let to_predicted = squared_distances(&p, h, w);
    let directed = |points: &[(usize, usize)], field: &[f64]| -> Vec<f64> {
        let mut d: Vec<f64> = points.iter().map(|&(r, c)| field[r * w + c].sqrt()).collect();
        d.sort_by(f64::total_cmp);
        d
    };
    let (p_to_t, t_to_p) = (directed(&p, &to_truth), directed(&t, &to_predicted));
    let hd95 = quantile(&p_to_t, 0.95).max(quantile(&t_to_p, 0.95));
    let close = p_to_t.iter().chain(&t_to_p).filter(|&&d| d <= tolerance).count();
    Surface { hd95: Some(hd95), surface_dice: close as f64 / (p_to_t.len() + t_to_p.len()) as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(size: usize, top: usize, left: usize, side: usize) -> BitMask {
        let mut mask = BitMask::new(size, size);
        for r in top..top + side {
            mask.set_span(r, left, left + side - 1);
        }
        mask
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 1.0), 4.0);
    }

    #[test]
    fn distance_transform_is_exact() {
        let d = squared_distances(&[(0, 0), (4, 6)], 5, 7);
        for r in 0..5 {
            for c in 0..7 {
                let expected =
                    ((r * r + c * c) as f64).min(((4 - r as i64).pow(2) + (6 - c as i64).pow(2)) as f64);
                assert_eq!(d[r * 7 + c], expected, "({r}, {c})");
            }
        }
    }

    #[test]
    fn a_shifted_square_is_three_pixels_off() {
        let truth = square(40, 10, 10, 12);
        let shifted = square(40, 10, 13, 12);
        let s = surface(&shifted, &truth, 3.0);
        assert_eq!(s.hd95, Some(3.0));
        assert_eq!(s.surface_dice, 1.0);
        let strict = surface(&shifted, &truth, 2.0);
        assert!(strict.surface_dice < 1.0 && strict.surface_dice > 0.3, "{strict:?}");
        assert_eq!(surface(&truth, &truth, 0.0), Surface { hd95: Some(0.0), surface_dice: 1.0 });
    }

    #[test]
    fn empty_masks() {
        let empty = BitMask::new(8, 8);
        assert_eq!(surface(&empty, &empty, 1.0), Surface { hd95: Some(0.0), surface_dice: 1.0 });
        assert_eq!(surface(&empty, &square(8, 1, 1, 3), 1.0), Surface { hd95: None, surface_dice: 0.0 });
    }
}
