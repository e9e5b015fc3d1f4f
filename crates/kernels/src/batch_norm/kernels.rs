//! Batch normalisation with the batch's own statistics, and its gradient, on f32 NCHW slices.
//!
//! burn's generic `batch_norm_train` and its backward are built from a dozen whole-tensor
//! operations (swaps, reshapes, means, broadcasts), each a pass over the activation and a fresh
//! buffer. Here the forward is two reads and one write of the activation, the backward two reads
//! and one write, and the ReLU that follows almost every batch norm is folded in. Sums run in
//! f64, as PyTorch's CPU kernel does, so batch statistics of large planes lose nothing to
//! rounding.

use rayon::prelude::*;

use crate::affine::{Activation, Affine};

/// `[batch, channels, plane]` of an NCHW tensor, `plane = height x width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl Layout {
    pub fn new([batch, channels, height, width]: [usize; 4]) -> Self {
        Self { batch, channels, plane: height * width }
    }

    fn len(&self) -> usize {
        self.batch * self.channels * self.plane
    }

    /// Values per channel: the count the statistics divide by.
    pub fn count(&self) -> usize {
        self.batch * self.plane
    }

    /// The planes of `channel`, one per image.
    fn planes<'a>(&self, values: &'a [f32], channel: usize) -> impl Iterator<Item = &'a [f32]> {
        let layout = *self;
        (0..layout.batch)
            .map(move |image| &values[(image * layout.channels + channel) * layout.plane..][..layout.plane])
    }
}

/// Mean and biased variance per channel, over the batch and the plane: the mean first, then
/// the squared deviations from it (the planes of one channel stay in cache between the two).
pub fn statistics(x: &[f32], layout: &Layout) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(
        x.len(),
        layout.len(),
        "batch norm: input has {} values, its shape says {}",
        x.len(),
        layout.len()
    );
    let count = layout.count() as f64;
    (0..layout.channels)
        .into_par_iter()
        .map(|channel| {
            let planes = || layout.planes(x, channel);
            let sum: f64 = planes().map(|p| lane_sums(p, p, |v, _| (v, 0.0))[0]).sum();
            let mean = (sum / count) as f32;
            let squares: f64 =
                planes().map(|p| lane_sums(p, p, |v, _| ((v - mean) * (v - mean), 0.0))[0]).sum();
            let variance = squares / count;
            (mean, variance as f32)
        })
        .unzip()
}

/// The map applied to every value of each channel.
pub fn normalise(x: &[f32], layout: &Layout, affine: &Affine) -> Vec<f32> {
    let mut out = x.to_vec();
    out.par_chunks_mut(layout.plane)
        .enumerate()
        .for_each(|(index, plane)| affine.apply_to(index % layout.channels, plane));
    out
}

/// Gradients of a training batch norm (with its activation) given the output's gradient.
pub struct Gradients {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// The forward's inputs and statistics, as the backward needs them.
pub struct Saved<'a> {
    pub x: &'a [f32],
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub mean: &'a [f32],
    pub variance: &'a [f32],
    pub epsilon: f64,
    pub activation: Activation,
}

/// With `g` the output gradient where the activation passed it, `x̂ = (x - mean) / std` and `M`
/// values per channel: `dβ = Σg`, `dγ = Σ g x̂` and `dx = γ / std (g - Σg / M - x̂ Σ g x̂ / M)`.
pub fn backward(saved: &Saved, d_out: &[f32], layout: &Layout) -> Gradients {
    assert_eq!(
        d_out.len(),
        layout.len(),
        "batch norm: output gradient has {} values, its shape says {}",
        d_out.len(),
        layout.len()
    );
    let (gamma, beta, mean, variance) = (saved.gamma, saved.beta, saved.mean, saved.variance);
    let affine = Affine::from_statistics(gamma, beta, mean, variance, saved.epsilon, saved.activation);
    let inv_std: Vec<f64> = saved.variance.iter().map(|&v| 1.0 / (v as f64 + saved.epsilon).sqrt()).collect();
    let relu = saved.activation == Activation::Relu;
    // Per channel: Σg and Σ g (x - mean); the second times 1/std is Σ g x̂.
    let (beta, dots): (Vec<f64>, Vec<f64>) = (0..layout.channels)
        .into_par_iter()
        .map(|channel| {
            let (scale, shift, mean) = (affine.scale[channel], affine.shift[channel], saved.mean[channel]);
            let planes = layout.planes(saved.x, channel).zip(layout.planes(d_out, channel));
            planes.fold((0.0, 0.0), |(sum, dot), (x, g)| {
                let [s, d] = lane_sums(x, g, |x, g| {
                    let g = gate(g, x, scale, shift, relu);
                    (g, g * (x - mean))
                });
                (sum + s, dot + d)
            })
        })
        .unzip();
    let gamma: Vec<f64> = dots.iter().zip(&inv_std).map(|(dot, inv_std)| dot * inv_std).collect();
    let count = layout.count() as f64;
    let mut d_x = vec![0.0; layout.len()];
    d_x.par_chunks_mut(layout.plane)
        .zip(saved.x.par_chunks(layout.plane).zip(d_out.par_chunks(layout.plane)))
        .enumerate()
        .for_each(|(index, (d_x, (x, g)))| {
            let channel = index % layout.channels;
            let (scale, shift, mean) = (affine.scale[channel], affine.shift[channel], saved.mean[channel]);
            let inv_std = inv_std[channel];
            let factor = (saved.gamma[channel] as f64 * inv_std) as f32;
            let mean_g = (beta[channel] / count) as f32;
            // x̂ Σ g x̂ / M = (x - mean) (Σ g x̂ / std / M)
            let slope = (gamma[channel] * inv_std / count) as f32;
            for ((d, &x), &g) in d_x.iter_mut().zip(x).zip(g) {
                let g = gate(g, x, scale, shift, relu);
                *d = factor * (g - mean_g - (x - mean) * slope);
            }
        });
    let to_f32 = |values: Vec<f64>| values.into_iter().map(|v| v as f32).collect();
    Gradients { x: d_x, gamma: to_f32(gamma), beta: to_f32(beta) }
}

/// The output gradient `g` where the activation let it through: a ReLU stops it where the
/// forward's output was zero. Branch-free, so that the loops around it vectorise.
#[inline]
fn gate(g: f32, x: f32, scale: f32, shift: f32, relu: bool) -> f32 {
    let stopped = relu && Affine::apply(scale, shift, x, Activation::Relu) <= 0.0;
    if stopped { 0.0 } else { g }
}

/// Values summed in f32 before the partial sum moves to f64.
const BLOCK: usize = 4096;

/// The two sums of `f(a, b)` over pairs: in f32 over 16 independent lanes (one AVX-512 register,
/// which the compiler vectorises) within blocks of [`BLOCK`] values, and in f64 across blocks, so
/// that rounding does not grow with the plane.
fn lane_sums(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> (f32, f32)) -> [f64; 2] {
    const LANES: usize = 16;
    let mut total = [0.0f64; 2];
    for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let mut lanes = ([0.0f32; LANES], [0.0f32; LANES]);
        let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        for (&a, &b) in chunks_a.remainder().iter().zip(chunks_b.remainder()) {
            let (x, y) = f(a, b);
            total[0] += x as f64;
            total[1] += y as f64;
        }
        for (a, b) in chunks_a.zip(chunks_b) {
            for lane in 0..LANES {
                let (x, y) = f(a[lane], b[lane]);
                lanes.0[lane] += x;
                lanes.1[lane] += y;
            }
        }
        total[0] += lanes.0.iter().map(|&v| v as f64).sum::<f64>();
        total[1] += lanes.1.iter().map(|&v| v as f64).sum::<f64>();
    }
    total
}
