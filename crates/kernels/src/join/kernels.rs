//! The U-Net decoder's join, `cat([nearest_upsample_2x(low), skip], dim=1)`, as one pass over
//! f32 NCHW slices, and its gradient: each output plane is either a low-resolution plane with
//! every value written into a 2x2 block, or a copy of a skip plane.
//!
//! flex runs the upsampling and the concatenation as two operations (the second copying the
//! first's output again), ~4x slower than the memory traffic they need.

use rayon::prelude::*;

/// `low` is `[batch, low_channels, height, width]`, `skip` `[batch, skip_channels, 2 height,
/// 2 width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinShape {
    pub batch: usize,
    pub low_channels: usize,
    pub skip_channels: usize,
    pub low: [usize; 2],
}

impl JoinShape {
    pub fn channels(&self) -> usize {
        self.low_channels + self.skip_channels
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.channels(), 2 * self.low[0], 2 * self.low[1]]
    }

    fn low_plane(&self) -> usize {
        self.low[0] * self.low[1]
    }

    fn plane(&self) -> usize {
        4 * self.low_plane()
    }
}

/// The joined tensor.
pub fn forward(low: &[f32], skip: &[f32], shape: &JoinShape) -> Vec<f32> {
    let (low_plane, plane) = (shape.low_plane(), shape.plane());
    assert_eq!(low.len(), shape.batch * shape.low_channels * low_plane, "join: low-resolution input length");
    assert_eq!(skip.len(), shape.batch * shape.skip_channels * plane, "join: skip length");
    let mut out = vec![0.0; shape.batch * shape.channels() * plane];
    out.par_chunks_mut(plane).enumerate().for_each(|(index, out)| {
        let (image, channel) = (index / shape.channels(), index % shape.channels());
        if channel < shape.low_channels {
            let source = &low[(image * shape.low_channels + channel) * low_plane..][..low_plane];
            upsample_plane(source, shape.low[1], out);
        } else {
            let skip_channel = image * shape.skip_channels + channel - shape.low_channels;
            out.copy_from_slice(&skip[skip_channel * plane..][..plane]);
        }
    });
    out
}

/// Writes each value of `source` (rows of `width`) into a 2x2 block of `out`.
fn upsample_plane(source: &[f32], width: usize, out: &mut [f32]) {
    for (source, rows) in source.chunks_exact(width).zip(out.chunks_exact_mut(4 * width)) {
        let (even, odd) = rows.split_at_mut(2 * width);
        even.chunks_exact_mut(2).zip(source).for_each(|(pair, &v)| pair.fill(v));
        odd.copy_from_slice(even);
    }
}

/// The gradients of `low` (each 2x2 block of the output gradient summed) and of `skip` (its
/// planes copied out).
pub fn backward(d_out: &[f32], shape: &JoinShape) -> (Vec<f32>, Vec<f32>) {
    let (low_plane, plane, width) = (shape.low_plane(), shape.plane(), shape.low[1]);
    assert_eq!(d_out.len(), shape.batch * shape.channels() * plane, "join: output gradient length");
    let out_plane =
        |image: usize, channel: usize| &d_out[(image * shape.channels() + channel) * plane..][..plane];
    let mut d_low = vec![0.0; shape.batch * shape.low_channels * low_plane];
    d_low.par_chunks_mut(low_plane).enumerate().for_each(|(index, d_low)| {
        let d_out = out_plane(index / shape.low_channels, index % shape.low_channels);
        for (d_low, rows) in d_low.chunks_exact_mut(width).zip(d_out.chunks_exact(4 * width)) {
            let (even, odd) = rows.split_at(2 * width);
            let pairs = even.chunks_exact(2).zip(odd.chunks_exact(2));
            d_low.iter_mut().zip(pairs).for_each(|(d, (e, o))| *d = e[0] + e[1] + o[0] + o[1]);
        }
    });
    let mut d_skip = vec![0.0; shape.batch * shape.skip_channels * plane];
    d_skip.par_chunks_mut(plane).enumerate().for_each(|(index, d_skip)| {
        let (image, channel) = (index / shape.skip_channels, index % shape.skip_channels);
        d_skip.copy_from_slice(out_plane(image, shape.low_channels + channel));
    });
    (d_low, d_skip)
}
