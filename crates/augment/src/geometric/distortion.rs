//! Non-rigid warps through per-pixel source maps, applied like `cv2.remap` with float maps:
//! `A.ElasticTransform` (smoothed random displacements) and `A.GridDistortion` (a grid of
//! stretched and squeezed cells).

use boneseg_contract::rng::Random;
use serde::Deserialize;

use super::warp::{Border, SourceMap, resample};
use crate::border::BorderMode;
use crate::limit::Limit;
use crate::rng::Rng;
use boneseg_data::plane::Sample;

/// Absolute source coordinates per output pixel, `f32` as OpenCV's `CV_32FC2` maps.
pub struct RemapMap {
    pub width: usize,
    pub map_x: Vec<f32>,
    pub map_y: Vec<f32>,
}

impl SourceMap for RemapMap {
    #[inline]
    fn source(&self, x: usize, y: usize) -> (f32, f32) {
        let i = y * self.width + x;
        (self.map_x[i], self.map_y[i])
    }
}

/// `cv2.remap` of a sample: bilinear image, nearest labels.
pub fn remap(sample: &Sample, map: &RemapMap, border: &Border) -> Sample {
    let height = map.map_x.len() / map.width.max(1);
    resample(sample, map, map.width, height, border)
}

/// The map `(x + dx, y + dy)` of displacement fields.
pub fn displacement_map(width: usize, dx: &[f32], dy: &[f32]) -> RemapMap {
    let map_x = dx.chunks(width).flat_map(|row| row.iter().enumerate().map(|(x, d)| x as f32 + d)).collect();
    let map_y =
        dy.chunks(width).enumerate().flat_map(|(y, row)| row.iter().map(move |d| y as f32 + d)).collect();
    RemapMap { width, map_x, map_y }
}

/// Box widths whose three passes approximate a Gaussian of `sigma` (Kovesi's construction).
fn box_radii(sigma: f64) -> [usize; 3] {
    let n = 3.0;
    let ideal = (12.0 * sigma * sigma / n + 1.0).sqrt();
    let mut lower = ideal.floor() as i64;
    if lower % 2 == 0 {
        lower -= 1;
    }
    let lower = lower.max(1);
    let upper = lower + 2;
    let m = ((12.0 * sigma * sigma - n * (lower * lower) as f64 - 4.0 * n * lower as f64 - 3.0 * n)
        / (-4.0 * lower as f64 - 4.0))
        .round() as i64;
    std::array::from_fn(|i| (if (i as i64) < m { lower } else { upper } as usize - 1) / 2)
}

/// Running mean of `radius` along each row, replicated edge.
fn box_rows(data: &mut [f32], width: usize, radius: usize) {
    let norm = 1.0 / (2 * radius + 1) as f32;
    let mut padded = vec![0f32; width + 2 * radius + 1];
    for row in data.chunks_mut(width) {
        padded[..radius].fill(row[0]);
        padded[radius..radius + width].copy_from_slice(row);
        padded[radius + width..].fill(row[width - 1]);
        let mut sum: f32 = padded[..2 * radius + 1].iter().sum();
        for (x, out) in row.iter_mut().enumerate() {
            *out = sum * norm;
            sum += padded[x + 2 * radius + 1] - padded[x];
        }
    }
}

/// Running mean of `radius` along each column, replicated edge: whole rows at a time, so the
/// memory is read in order.
fn box_columns(data: &mut [f32], width: usize, height: usize, radius: usize) {
    let norm = 1.0 / (2 * radius + 1) as f32;
    let source = data.to_vec();
    let row = |y: isize| {
        let y = y.clamp(0, height as isize - 1) as usize;
        &source[y * width..(y + 1) * width]
    };
    let r = radius as isize;
    let mut sum = vec![0f32; width];
    for dy in -r..=r {
        sum.iter_mut().zip(row(dy)).for_each(|(s, v)| *s += v);
    }
    for (y, out) in data.chunks_mut(width).enumerate() {
        out.iter_mut().zip(&sum).for_each(|(o, s)| *o = s * norm);
        let (add, remove) = (row(y as isize + r + 1), row(y as isize - r));
        sum.iter_mut().zip(add.iter().zip(remove)).for_each(|(s, (a, b))| *s += a - b);
    }
}

/// A Gaussian-like blur of a field with a replicated border: three box passes per axis.
pub fn smooth(field: &mut [f32], width: usize, height: usize, sigma: f64) {
    for radius in box_radii(sigma).into_iter().filter(|&r| r > 0) {
        box_rows(field, width, radius);
        box_columns(field, width, height, radius);
    }
}

fn default_border_mode() -> BorderMode {
    BorderMode::Constant
}

/// `A.ElasticTransform`: Gaussian noise normalised to `[-1, 1]`, smoothed with `sigma`, scaled
/// by `alpha` pixels.
///
/// Intended difference: the smoothing is three box blurs instead of OpenCV's
/// `GaussianBlur` with an `8 sigma + 1` kernel (same variance, within a few per cent in shape,
/// and O(1) per pixel instead of O(sigma)); the noise comes from boneseg's generator, so only the
/// remapping itself can be compared exactly with albumentations.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticTransform {
    #[serde(default = "ElasticTransform::default_alpha")]
    pub alpha: f64,
    #[serde(default = "ElasticTransform::default_sigma")]
    pub sigma: f64,
    #[serde(default)]
    pub same_dxdy: bool,
    #[serde(default = "default_border_mode")]
    pub border_mode: BorderMode,
    #[serde(default)]
    pub fill: u8,
    #[serde(default)]
    pub fill_mask: u32,
}

impl ElasticTransform {
    fn default_alpha() -> f64 {
        1.0
    }
    fn default_sigma() -> f64 {
        50.0
    }

    /// The displacement fields `(dx, dy)`.
    pub fn fields(&self, rng: &mut Rng, width: usize, height: usize) -> (Vec<f32>, Vec<f32>) {
        let n = width * height;
        let mut dx = rng.normals(n);
        let mut dy = if self.same_dxdy { Vec::new() } else { rng.normals(n) };
        let max = dx.iter().chain(&dy).fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 1e-6 { 1.0 / max } else { 1.0 };
        for field in [&mut dx, &mut dy] {
            if field.is_empty() {
                continue;
            }
            field.iter_mut().for_each(|v| *v *= scale);
            smooth(field, width, height, self.sigma);
            field.iter_mut().for_each(|v| *v *= self.alpha as f32);
        }
        if self.same_dxdy {
            dy = dx.clone();
        }
        (dx, dy)
    }

    pub fn apply(&self, rng: &mut Rng, sample: &Sample) -> Sample {
        let (w, h) = (sample.width(), sample.height());
        let (dx, dy) = self.fields(rng, w, h);
        let border = Border { mode: self.border_mode, fill: self.fill, fill_mask: self.fill_mask };
        remap(sample, &displacement_map(w, &dx, &dy), &border)
    }
}

/// `A.GridDistortion`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridDistortion {
    #[serde(default = "GridDistortion::default_steps")]
    pub num_steps: usize,
    /// A number `d` means `[-d, d]`; each cell's size is multiplied by `1 + u(limit)`.
    #[serde(default = "GridDistortion::default_limit")]
    pub distort_limit: Limit,
    /// Rescale the steps so the grid never leaves the image (albumentations' default).
    #[serde(default = "GridDistortion::default_normalized")]
    pub normalized: bool,
    #[serde(default = "default_border_mode")]
    pub border_mode: BorderMode,
    #[serde(default)]
    pub fill: u8,
    #[serde(default)]
    pub fill_mask: u32,
}

/// `np.linspace(a, b, n)` in `f64`.
fn linspace(a: f64, b: f64, n: usize) -> impl Iterator<Item = f64> {
    let step = if n > 1 { (b - a) / (n - 1) as f64 } else { 0.0 };
    (0..n).map(move |i| if i + 1 == n && n > 1 { b } else { a + i as f64 * step })
}

/// albumentations' `generate_grid` along one axis.
fn grid_axis(len: usize, steps: &[f64], num_steps: usize) -> Vec<f32> {
    let step = len / num_steps;
    let mut out = vec![0f32; len];
    let mut prev = 0.0;
    for (i, &s) in steps.iter().enumerate() {
        let start = (i * step).min(len);
        let end = (i * step + step).min(len);
        let cur = prev + step as f64 * s;
        for (o, v) in out[start..end].iter_mut().zip(linspace(prev, cur, end - start)) {
            *o = v as f32;
        }
        prev = cur;
    }
    out
}

/// albumentations' `normalize_grid_distortion_steps` along one axis.
fn normalize_steps(len: usize, num_steps: usize, steps: &mut [f64]) {
    let step = len / num_steps;
    let last = len.min((num_steps + 1) * step) - num_steps * step;
    *steps.last_mut().expect("num_steps + 1 steps") *= last as f64 / step as f64;
    let target = len as f64 / (len as f64 / num_steps as f64).floor();
    let sum: f64 = steps.iter().sum();
    steps.iter_mut().for_each(|s| *s *= target / sum);
}

impl GridDistortion {
    fn default_steps() -> usize {
        5
    }
    fn default_limit() -> Limit {
        Limit::One(0.3)
    }
    fn default_normalized() -> bool {
        true
    }

    /// The source map for given relative cell sizes (`num_steps + 1` per axis).
    pub fn map(&self, width: usize, height: usize, mut xs: Vec<f64>, mut ys: Vec<f64>) -> RemapMap {
        if self.normalized {
            normalize_steps(width, self.num_steps, &mut xs);
            normalize_steps(height, self.num_steps, &mut ys);
        }
        let gx = grid_axis(width, &xs, self.num_steps);
        let gy = grid_axis(height, &ys, self.num_steps);
        let map_x = (0..height).flat_map(|_| gx.iter().copied()).collect();
        let map_y = gy.iter().flat_map(|&y| std::iter::repeat_n(y, width)).collect();
        RemapMap { width, map_x, map_y }
    }

    pub fn apply(&self, rng: &mut Rng, sample: &Sample) -> Sample {
        let (low, high) = self.distort_limit.symmetric();
        let mut steps = || (0..=self.num_steps).map(|_| 1.0 + rng.uniform(low, high)).collect::<Vec<_>>();
        let (xs, ys) = (steps(), steps());
        let map = self.map(sample.width(), sample.height(), xs, ys);
        remap(sample, &map, &Border { mode: self.border_mode, fill: self.fill, fill_mask: self.fill_mask })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_keeps_the_mean_and_spreads_a_spike() {
        let (w, h) = (41, 41);
        let mut field = vec![0f32; w * h];
        field[20 * w + 20] = 1.0;
        smooth(&mut field, w, h, 3.0);
        let total: f32 = field.iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "mass kept: {total}");
        let var: f32 = field.iter().enumerate().map(|(i, v)| v * ((i % w) as f32 - 20.0).powi(2)).sum();
        // Integer box widths can only approach sigma² = 9: three boxes give 8 here.
        assert!((var - 9.0).abs() < 1.5, "variance about sigma²: {var}");
    }

    #[test]
    fn elastic_fields_are_smooth_and_scaled_by_alpha() {
        let elastic = ElasticTransform {
            alpha: 40.0,
            sigma: 4.0,
            same_dxdy: false,
            border_mode: BorderMode::Constant,
            fill: 0,
            fill_mask: 0,
        };
        let (w, h) = (96, 80);
        let (dx, dy) = elastic.fields(&mut Rng::new(9), w, h);
        assert!(dx.iter().chain(&dy).all(|v| v.abs() <= 40.0), "normalised noise times alpha");
        assert_ne!(dx, dy);
        let mean_sq = |f: &[f32]| f.iter().map(|v| v * v).sum::<f32>() / f.len() as f32;
        let steps: Vec<f32> = (0..w * h).filter(|i| i % w + 1 < w).map(|i| dx[i + 1] - dx[i]).collect();
        assert!(mean_sq(&steps) < 0.1 * mean_sq(&dx), "neighbours move together");
        let twice = ElasticTransform { alpha: 80.0, ..elastic };
        let (dx2, _) = twice.fields(&mut Rng::new(9), w, h);
        assert!(dx.iter().zip(&dx2).all(|(a, b)| (2.0 * a - b).abs() < 1e-3));
    }

    #[test]
    fn an_undistorted_grid_repeats_albumentations_cell_ends() {
        let grid = GridDistortion {
            num_steps: 4,
            distort_limit: Limit::One(0.0),
            normalized: false,
            border_mode: BorderMode::Constant,
            fill: 0,
            fill_mask: 0,
        };
        let map = grid.map(8, 8, vec![1.0; 5], vec![1.0; 5]);
        // `np.linspace` includes each cell's end, so even unit steps are not the identity.
        assert_eq!(map.map_x[..8], [0.0, 2.0, 2.0, 4.0, 4.0, 6.0, 6.0, 8.0]);
        assert_eq!(map.map_y[8 * 5], 6.0);
    }
}
