//! Resizing grey planes and label planes like `cv2.resize`: `INTER_LINEAR` for the image (11-bit
//! fixed-point weights and the rounding of OpenCV's SIMD 8-bit path; a few upscaled pixels still
//! differ by one grey level) and `INTER_NEAREST` for the labels. Training resizes its inputs
//! with these, and inference its test images, so both see the same pixels.

use crate::plane::Plane;

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

/// Per output index: the first source index and the two fixed-point weights.
fn linear_taps(src_len: usize, dst_len: usize) -> Vec<(usize, i32, i32)> {
    let scale = src_len as f64 / dst_len as f64;
    (0..dst_len)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as isize;
            f -= s as f32;
            if s < 0 {
                f = 0.0;
                s = 0;
            }
            if s >= src_len as isize - 1 {
                f = 0.0;
                s = src_len as isize - 1;
            }
            let a1 = (f * COEF_SCALE).round_ties_even() as i32;
            let a0 = ((1.0 - f) * COEF_SCALE).round_ties_even() as i32;
            (s as usize, a0, a1)
        })
        .collect()
}

/// Bilinear resize of a grey plane (`cv2.INTER_LINEAR`).
pub fn resize_linear(src: &Plane<u8>, width: usize, height: usize) -> Plane<u8> {
    let xs = linear_taps(src.width, width);
    let ys = linear_taps(src.height, height);
    let horizontal = |row: &[u8]| -> Vec<i32> {
        xs.iter()
            .map(|&(s, a0, a1)| {
                let next = row[(s + 1).min(row.len() - 1)];
                i32::from(row[s]) * a0 + i32::from(next) * a1
            })
            .collect()
    };
    let rows: Vec<Vec<i32>> = (0..src.height).map(|y| horizontal(src.row(y))).collect();
    let mut out = Plane::new(width, height);
    for (y, &(s, b0, b1)) in ys.iter().enumerate() {
        let (r0, r1) = (&rows[s], &rows[(s + 1).min(src.height - 1)]);
        for x in 0..width {
            // OpenCV's SIMD vertical pass (`VResizeLinearVec_32s8u`): drops 4 bits, keeps 16.
            let v = (((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2;
            out.data[y * width + x] = v.clamp(0, 255) as u8;
        }
    }
    out
}

/// Nearest resize (`cv2.INTER_NEAREST`: source index `floor(d * src / dst)`).
pub fn resize_nearest<T: Copy + Default>(src: &Plane<T>, width: usize, height: usize) -> Plane<T> {
    let index = |d: usize, src_len: usize, dst_len: usize| {
        ((d as f64 * (src_len as f64 / dst_len as f64)).floor() as usize).min(src_len - 1)
    };
    let xs: Vec<usize> = (0..width).map(|x| index(x, src.width, width)).collect();
    Plane::from_fn(width, height, |x, y| src.at(xs[x], index(y, src.height, height)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscaling_interpolates_and_nearest_repeats() {
        let src = Plane::from_vec(2, 1, vec![0u8, 200]);
        assert_eq!(resize_linear(&src, 4, 1).data, [0, 50, 150, 200]);
        let labels = Plane::from_vec(2, 1, vec![1u32, 2]);
        assert_eq!(resize_nearest(&labels, 4, 2).data, [1, 1, 2, 2, 1, 1, 2, 2]);
    }
}
