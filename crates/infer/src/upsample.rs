//! Logits at model resolution to masks at the original resolution, as the leaderboard makes
//! them: bilinear upsampling with `align_corners = false` (PyTorch's `F.interpolate` default,
//! with its source-index arithmetic), then `sigmoid > threshold`.
//!
//! Fused and row by row: `sigmoid(x) > t` is `x > logit(t)`, so no sigmoid is computed; each
//! output row is the blend of two source rows already interpolated across, and a row whose two
//! source rows lie clearly below the cut is skipped without computing it (most rows of most
//! bones). No upsampled plane is ever stored: one class of a 2048² image costs its 512 KiB
//! bit mask and two rows of floats.

use boneseg_contract::{BitMask, ClassMasks, NUM_CLASSES};
use boneseg_ensemble::SparseProbs;
use rayon::prelude::*;

/// The logit of a probability threshold: `sigmoid(x) > t` exactly when `x > logit(t)`.
pub fn logit(threshold: f64) -> f32 {
    (threshold / (1.0 - threshold)).ln() as f32
}

/// Where an upsampling's output lies: the logits cover `canvas` (the image as the model saw it:
/// padded to a square when it was letterboxed) and the output is the window of `size` at
/// `offset` (the image's own pixels), each output pixel exactly the canvas pixel it is. Without
/// padding the window is the whole canvas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Height and width.
    pub canvas: (usize, usize),
    /// Row and column of the window's top-left pixel on the canvas.
    pub offset: (usize, usize),
    /// Height and width of the window.
    pub size: (usize, usize),
}

impl Frame {
    /// The whole of a `height x width` canvas.
    pub fn whole(height: usize, width: usize) -> Frame {
        Frame { canvas: (height, width), offset: (0, 0), size: (height, width) }
    }

    /// A `height x width` image centred on the square of its longer side, and that square.
    pub fn letterbox(height: usize, width: usize) -> Frame {
        let side = height.max(width);
        Frame {
            canvas: (side, side),
            offset: ((side - height) / 2, (side - width) / 2),
            size: (height, width),
        }
    }
}

/// Source indices and weights of each output index along one axis.
struct Axis {
    taps: Vec<(usize, usize, f32, f32)>,
}

impl Axis {
    /// The taps of outputs `offset..offset + len` of an upsampling from `src` to `dst`:
    /// PyTorch's `area_pixel_compute_source_index` (align_corners = false) and
    /// `guard_index_and_lambda`: scale in float, index arithmetic in double, weights in float.
    fn new(src: usize, dst: usize, offset: usize, len: usize) -> Axis {
        assert!(offset + len <= dst, "window {offset}+{len} outside {dst}");
        let scale = src as f32 / dst as f32;
        let taps = (offset..offset + len)
            .map(|d| {
                let real = ((f64::from(scale) * (d as f64 + 0.5) - 0.5) as f32).max(0.0);
                let i0 = (real.floor() as usize).min(src - 1);
                let l1 = (real - i0 as f32).clamp(0.0, 1.0);
                let i1 = i0 + usize::from(i0 < src - 1);
                (i0, i1, 1.0 - l1, l1)
            })
            .collect();
        Axis { taps }
    }
}

/// One source row interpolated across to the output width.
struct Row {
    source: Option<usize>,
    values: Vec<f32>,
}

impl Row {
    fn fill(&mut self, source: usize, row: &[f32], cols: &Axis) {
        for (value, &(i0, i1, w0, w1)) in self.values.iter_mut().zip(&cols.taps) {
            *value = row[i0] * w0 + row[i1] * w1;
        }
        self.source = Some(source);
    }
}

/// Visits the output rows of the bilinear upsampling of a `height x width` plane (one class,
/// row-major) into `frame`: `visit(y, top, bottom, h0, h1)` where output row `y` (of the
/// frame's window) is `top * h0 + bottom * h1` (two source rows already interpolated across).
/// Rows whose two source rows lie clearly below `skip_below` are not visited.
fn for_each_row(
    logits: &[f32],
    (height, width): (usize, usize),
    frame: Frame,
    skip_below: Option<f32>,
    mut visit: impl FnMut(usize, &[f32], &[f32], f32, f32),
) {
    assert_eq!(logits.len(), height * width, "logits are not {height}x{width}");
    let rows = Axis::new(height, frame.canvas.0, frame.offset.0, frame.size.0);
    let cols = Axis::new(width, frame.canvas.1, frame.offset.1, frame.size.1);
    let out_width = frame.size.1;
    let row_max: Vec<f32> =
        logits.chunks_exact(width).map(|r| r.iter().copied().fold(f32::NEG_INFINITY, f32::max)).collect();
    // A blend of values below `m` stays below `m` up to rounding; the margin covers rounding.
    let clearly_below = |m: f32| skip_below.is_some_and(|cut| m < cut - 1e-4 * (1.0 + m.abs() + cut.abs()));
    let mut a = Row { source: None, values: vec![0.0; out_width] };
    let mut b = Row { source: None, values: vec![0.0; out_width] };
    for (y, &(i0, i1, h0, h1)) in rows.taps.iter().enumerate() {
        if clearly_below(row_max[i0].max(row_max[i1])) {
            continue;
        }
        if a.source != Some(i0) {
            if b.source == Some(i0) {
                std::mem::swap(&mut a, &mut b);
            } else {
                a.fill(i0, &logits[i0 * width..(i0 + 1) * width], &cols);
            }
        }
        if b.source != Some(i1) {
            b.fill(i1, &logits[i1 * width..(i1 + 1) * width], &cols);
        }
        visit(y, &a.values, &b.values, h0, h1);
    }
}

/// The mask, of the frame's window, where the bilinearly upsampled `height x width` logits (one
/// class, row-major) exceed `logit(threshold)`.
pub fn upsample_threshold(
    logits: &[f32],
    (height, width): (usize, usize),
    frame: Frame,
    threshold: f64,
) -> BitMask {
    let cut = logit(threshold);
    let (out_height, out_width) = frame.size;
    let mut mask = BitMask::new(out_height, out_width);
    for_each_row(logits, (height, width), frame, Some(cut), |y, top, bottom, h0, h1| {
        let mut start = None;
        for (x, (&top, &bottom)) in top.iter().zip(bottom).enumerate() {
            let on = top * h0 + bottom * h1 > cut;
            match (on, start) {
                (true, None) => start = Some(x),
                (false, Some(first)) => {
                    mask.set_span(y, first, x - 1);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(first) = start {
            mask.set_span(y, first, out_width - 1);
        }
    });
    mask
}

/// The probabilities at or above `floor` of the bilinearly upsampled logits (one class), for
/// the probability store; rows entirely below the floor are never computed.
pub fn upsample_probs(
    logits: &[f32],
    (height, width): (usize, usize),
    frame: Frame,
    floor: f32,
) -> SparseProbs {
    let mut probs = SparseProbs::default();
    let cut = logit(f64::from(floor));
    let out_width = frame.size.1;
    for_each_row(logits, (height, width), frame, Some(cut), |y, top, bottom, h0, h1| {
        for (x, (&top, &bottom)) in top.iter().zip(bottom).enumerate() {
            let value = top * h0 + bottom * h1;
            probs.push(y * out_width + x, 1.0 / (1.0 + (-value).exp()), floor);
        }
    });
    probs
}

/// A plane resized bilinearly (`align_corners = false`, as the leaderboard's upsampling): how
/// test-time-augmentation views at other scales come back to a common grid.
pub fn resize_bilinear(
    plane: &[f32],
    (height, width): (usize, usize),
    (out_height, out_width): (usize, usize),
) -> Vec<f32> {
    let mut out = vec![0.0; out_height * out_width];
    let frame = Frame::whole(out_height, out_width);
    for_each_row(plane, (height, width), frame, None, |y, top, bottom, h0, h1| {
        for ((value, &top), &bottom) in
            out[y * out_width..(y + 1) * out_width].iter_mut().zip(top).zip(bottom)
        {
            *value = top * h0 + bottom * h1;
        }
    });
    out
}

/// All classes of one image's logits (`[29, height, width]`, row-major) as masks of the
/// frame's window (the original image), each class at its own threshold, in parallel over
/// classes: what inference encodes as RLE.
pub fn logits_to_masks(
    logits: &[f32],
    (height, width): (usize, usize),
    frame: Frame,
    thresholds: &[f64],
) -> ClassMasks {
    assert_eq!(
        logits.len(),
        NUM_CLASSES * height * width,
        "logits are not [{NUM_CLASSES}, {height}, {width}]"
    );
    assert_eq!(thresholds.len(), NUM_CLASSES, "one threshold per class");
    let classes: Vec<BitMask> = logits
        .par_chunks_exact(height * width)
        .zip(thresholds)
        .map(|(class, &threshold)| upsample_threshold(class, (height, width), frame, threshold))
        .collect();
    let mut masks = ClassMasks::new(frame.size.0, frame.size.1);
    for (class, mask) in classes.into_iter().enumerate() {
        *masks.class_mut(class) = mask;
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits of a smooth bump, so that thresholds cut through the upsampled plane.
    fn bump(height: usize, width: usize) -> Vec<f32> {
        (0..height * width)
            .map(|i| {
                let (y, x) =
                    ((i / width) as f32 / height as f32 - 0.5, (i % width) as f32 / width as f32 - 0.4);
                3.0 - 20.0 * (x * x + y * y)
            })
            .collect()
    }

    #[test]
    fn a_letterboxed_window_is_exactly_that_part_of_the_whole_canvas() {
        let logits = bump(8, 8);
        let frame = Frame::letterbox(30, 41);
        assert_eq!(frame, Frame { canvas: (41, 41), offset: (5, 0), size: (30, 41) });
        let whole = upsample_threshold(&logits, (8, 8), Frame::whole(41, 41), 0.5).to_bytes();
        let window = upsample_threshold(&logits, (8, 8), frame, 0.5).to_bytes();
        let crop: Vec<u8> = whole[5 * 41..35 * 41].to_vec();
        assert_eq!(window, crop);
        assert!(window.contains(&1) && window.contains(&0), "the cut runs through the window");

        let tall = Frame::letterbox(41, 30);
        assert_eq!(tall.offset, (0, 5));
        let window = upsample_threshold(&logits, (8, 8), tall, 0.5).to_bytes();
        let crop: Vec<u8> = whole.chunks_exact(41).flat_map(|row| row[5..35].to_vec()).collect();
        assert_eq!(window, crop);

        let window = pixels(&upsample_probs(&logits, (8, 8), frame, 0.1));
        let whole = pixels(&upsample_probs(&logits, (8, 8), Frame::whole(41, 41), 0.1));
        let crop: Vec<(usize, u8)> = whole
            .into_iter()
            .filter(|(i, _)| (5 * 41..35 * 41).contains(i))
            .map(|(i, p)| (i - 5 * 41, p))
            .collect();
        assert_eq!(window, crop);
    }

    /// Each stored pixel's index and quantised probability.
    fn pixels(probs: &SparseProbs) -> Vec<(usize, u8)> {
        probs
            .runs
            .iter()
            .flat_map(|&(start, len)| start..start + len)
            .zip(probs.values.iter().copied())
            .collect()
    }
}
