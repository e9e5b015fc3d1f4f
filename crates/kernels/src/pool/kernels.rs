//! 2-D max pooling of f32 NCHW slices and its gradient, one plane (image x channel) per task.
//!
//! flex's max-pool took 35 ms of the plain U-Net's 410 ms single-thread forward, for 1.4 million
//! outputs; a plain loop over each window does it in a few. Ties and NaNs follow PyTorch: the
//! first largest value of the window wins, and a NaN wins over any number.

use rayon::prelude::*;

/// Shapes and options of one max-pool (floor mode: a window must start inside the padded input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Images x channels.
    pub planes: usize,
    pub input: [usize; 2],
    pub output: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Padding before the first row and column (-inf, never chosen).
    pub padding_begin: [usize; 2],
    pub dilation: [usize; 2],
}

impl PoolGeometry {
    /// `x` is `[batch, channels, h, w]`; `padding` is `(begin, end)` per spatial dimension.
    pub fn new(
        x: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
    ) -> Self {
        let output = std::array::from_fn(|d| {
            let padded = x[2 + d] + padding[d].0 + padding[d].1;
            let span = dilation[d] * (kernel[d] - 1) + 1;
            assert!(padded >= span, "max_pool2d: window {span} is larger than the padded input {padded}");
            (padded - span) / stride[d] + 1
        });
        Self {
            planes: x[0] * x[1],
            input: [x[2], x[3]],
            output,
            kernel,
            stride,
            padding_begin: [padding[0].0, padding[1].0],
            dilation,
        }
    }

    pub fn output_shape(&self, batch: usize) -> [usize; 4] {
        [batch, self.planes / batch, self.output[0], self.output[1]]
    }

    fn input_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn output_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// The input positions along `dim` that output position `o` reads inside the input.
    fn window(&self, dim: usize, o: usize) -> Window {
        let start = (o * self.stride[dim]) as isize - self.padding_begin[dim] as isize;
        let (dilation, size) = (self.dilation[dim] as isize, self.input[dim] as isize);
        let first = if start < 0 { (-start + dilation - 1) / dilation } else { 0 };
        let end = ((size - 1 - start).div_euclid(dilation) + 1).clamp(first, self.kernel[dim] as isize);
        Window {
            first: (start + first * dilation) as usize,
            count: (end - first) as usize,
            step: self.dilation[dim],
        }
    }
}

/// Positions `first + k * step` for `k < count`: cheaper to walk than a `StepBy`.
#[derive(Debug, Clone, Copy)]
struct Window {
    first: usize,
    count: usize,
    step: usize,
}

impl Window {
    fn positions(self) -> impl Iterator<Item = usize> {
        (0..self.count).map(move |k| self.first + k * self.step)
    }
}

/// The pooled values and, per output, the index within its input plane of the value chosen.
pub fn forward(x: &[f32], geometry: &PoolGeometry) -> (Vec<f32>, Vec<u32>) {
    assert_eq!(x.len(), geometry.planes * geometry.input_plane(), "max_pool2d: input length");
    let mut out = vec![0.0; geometry.planes * geometry.output_plane()];
    let mut indices = vec![0u32; out.len()];
    // The windows, computed once: their bounds take integer divisions.
    let rows: Vec<_> = (0..geometry.output[0]).map(|o| geometry.window(0, o)).collect();
    let columns: Vec<_> = (0..geometry.output[1]).map(|o| geometry.window(1, o)).collect();
    let width = geometry.input[1];
    out.par_chunks_mut(geometry.output_plane())
        .zip(indices.par_chunks_mut(geometry.output_plane()))
        .zip(x.par_chunks(geometry.input_plane()))
        .for_each(|((out, indices), x)| {
            let outputs =
                out.chunks_exact_mut(geometry.output[1]).zip(indices.chunks_exact_mut(geometry.output[1]));
            for (window_rows, (out, indices)) in rows.iter().zip(outputs) {
                for (window_columns, (out, index)) in columns.iter().zip(out.iter_mut().zip(indices)) {
                    let (mut best, mut chosen) = (f32::NEG_INFINITY, usize::MAX);
                    for ih in window_rows.positions() {
                        let row = &x[ih * width..][..width];
                        for iw in window_columns.positions() {
                            let value = row[iw];
                            if chosen == usize::MAX || value > best || value.is_nan() && !best.is_nan() {
                                (best, chosen) = (value, ih * width + iw);
                            }
                        }
                    }
                    assert!(chosen != usize::MAX, "max_pool2d: a window holds no input value");
                    *out = best;
                    *index = chosen as u32;
                }
            }
        });
    (out, indices)
}

/// The input gradient: each output's gradient added at the input position it took its value from.
pub fn backward(d_out: &[f32], indices: &[u32], geometry: &PoolGeometry) -> Vec<f32> {
    assert_eq!(d_out.len(), indices.len(), "max_pool2d: one index per output gradient");
    let mut d_x = vec![0.0; geometry.planes * geometry.input_plane()];
    d_x.par_chunks_mut(geometry.input_plane())
        .zip(d_out.par_chunks(geometry.output_plane()).zip(indices.par_chunks(geometry.output_plane())))
        .for_each(|(d_x, (d_out, indices))| {
            for (&g, &index) in d_out.iter().zip(indices) {
                d_x[index as usize] += g;
            }
        });
    d_x
}
