//! Resampling at source coordinates, as OpenCV's `warpAffine` and `remap` do it for an 8-bit
//! image (bilinear) and a mask (nearest).
//!
//! OpenCV 4.11 and 5.x compute these in `f32`: the source coordinate `(sx, sy)`, the bilinear
//! blend `v00 + a (v01 - v00)` along x then y, rounded half to even; the nearest pixel is
//! `round(sx)`. Doing the same reproduces `cv2.warpAffine`/`cv2.remap` to the grey level (the
//! parity fixtures). Releases before 4.11 quantised coordinates to 1/32 pixel instead, which
//! differs from this by a grey level on some pixels.

use crate::border::BorderMode;
use crate::round::{floor, rint};
use boneseg_data::plane::{Plane, Sample};

/// How the outside of the source is read, and what the constant border holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Border {
    pub mode: BorderMode,
    /// Grey value outside the image for a constant border.
    pub fill: u8,
    /// Class bits outside the image for a constant border (0: no class).
    pub fill_mask: u32,
}

impl Border {
    pub fn constant() -> Self {
        Border { mode: BorderMode::Constant, fill: 0, fill_mask: 0 }
    }
}

/// The source pixel at (x, y), through the border.
#[inline]
fn fetch<T: Copy>(src: &Plane<T>, x: isize, y: isize, mode: BorderMode, fill: T) -> T {
    match (mode.index(x, src.width), mode.index(y, src.height)) {
        (Some(x), Some(y)) => src.data[y * src.width + x],
        _ => fill,
    }
}

/// Coordinates this far outside only ever read the border; clamping keeps the casts exact.
const FAR: f32 = 1.0e6;

/// Bilinear sample at a source coordinate.
#[inline(always)]
pub fn bilinear(src: &Plane<u8>, sx: f32, sy: f32, border: &Border) -> u8 {
    let (sx, sy) = (sx.clamp(-FAR, FAR), sy.clamp(-FAR, FAR));
    let (fx, fy) = (floor(sx), floor(sy));
    let (a, b) = (sx - fx, sy - fy);
    let (ix, iy) = (fx as isize, fy as isize);
    let (w, h) = (src.width as isize, src.height as isize);
    let [v00, v01, v10, v11] = if ix >= 0 && iy >= 0 && ix + 1 < w && iy + 1 < h {
        let i = iy as usize * src.width + ix as usize;
        let d = &src.data;
        [d[i], d[i + 1], d[i + src.width], d[i + src.width + 1]]
    } else if border.mode == BorderMode::Constant && (ix < -1 || iy < -1 || ix >= w || iy >= h) {
        return border.fill;
    } else {
        let f = |dx, dy| fetch(src, ix + dx, iy + dy, border.mode, border.fill);
        [f(0, 0), f(1, 0), f(0, 1), f(1, 1)]
    };
    let [v00, v01, v10, v11] = [v00, v01, v10, v11].map(f32::from);
    let top = v00 + a * (v01 - v00);
    let bottom = v10 + a * (v11 - v10);
    rint(top + b * (bottom - top)).clamp(0.0, 255.0) as u8
}

/// Nearest sample of the labels.
#[inline(always)]
pub fn nearest(src: &Plane<u32>, sx: f32, sy: f32, border: &Border) -> u32 {
    let (x, y) = (sx.round_ties_even(), sy.round_ties_even());
    // Far-away coordinates (and NaN) read the border; the clamp keeps the cast defined.
    let limit = 1e8;
    fetch(
        src,
        x.clamp(-limit, limit) as isize,
        y.clamp(-limit, limit) as isize,
        border.mode,
        border.fill_mask,
    )
}

/// Where each output pixel reads from.
pub trait SourceMap: Sync {
    fn source(&self, x: usize, y: usize) -> (f32, f32);
}

/// Resamples a sample through `map` into a `width x height` output, rows in parallel.
pub fn resample(
    sample: &Sample,
    map: &impl SourceMap,
    width: usize,
    height: usize,
    border: &Border,
) -> Sample {
    use rayon::prelude::*;
    let mut image = Plane::<u8>::new(width, height);
    let mut labels = Plane::<u32>::new(width, height);
    let rows = image.data.par_chunks_mut(width.max(1)).zip(labels.data.par_chunks_mut(width.max(1)));
    rows.enumerate().for_each(|(y, (image_row, label_row))| {
        for x in 0..width {
            let (sx, sy) = map.source(x, y);
            image_row[x] = bilinear(&sample.image, sx, sy, border);
            label_row[x] = nearest(&sample.labels, sx, sy, border);
        }
    });
    Sample::new(image, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_blends_and_reads_the_border() {
        let src = Plane::from_vec(2, 2, vec![0u8, 100, 200, 255]);
        let b = Border::constant();
        assert_eq!(bilinear(&src, 0.0, 0.0, &b), 0);
        assert_eq!(bilinear(&src, 0.5, 0.0, &b), 50);
        assert_eq!(bilinear(&src, 0.5, 0.5, &b), 139, "(0 + 100 + 200 + 255) / 4 = 138.75");
        assert_eq!(bilinear(&src, -5.0, 0.0, &b), 0, "far outside reads the fill");
        assert_eq!(bilinear(&src, -0.5, 0.0, &b), 0, "half outside blends with the fill (0)");
        let replicate = Border { mode: BorderMode::Replicate, ..b };
        assert_eq!(bilinear(&src, 7.0, 9.0, &replicate), 255);
        let labels = Plane::from_vec(2, 1, vec![1u32, 2]);
        assert_eq!(nearest(&labels, 0.5, 0.0, &b), 1, "ties round to even");
        assert_eq!(nearest(&labels, 1.5, 0.0, &b), 0, "2 is outside");
    }
}
