//! Sliding-window inference over the full-resolution image, as the winners did: square windows
//! at a stride, each window's logits weighted by a Gaussian importance map (centre pixels trusted
//! more than border ones, whose context is cut) and blended by weighted mean. Holds one image's
//! `[29, height, width]` accumulator and one batch of windows.

use boneseg_contract::NUM_CLASSES;
use boneseg_data::plane::Plane;
use boneseg_models::burn::tensor::{Device, Tensor};
use boneseg_models::normalization::images_tensor;
use boneseg_models::{Normalization, SegmentationModel};

use crate::upsample::resize_bilinear;

/// Window geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Window side in pixels (default: the run's `data.crop`, else its training size).
    pub size: Option<usize>,
    /// Step between windows (default: half the window).
    pub stride: Option<usize>,
    /// Gaussian sigma as a fraction of the window side (nnU-Net's 1/8).
    pub sigma: f64,
    /// Windows per forward pass.
    pub batch: usize,
}

impl Default for Window {
    fn default() -> Self {
        Window { size: None, stride: None, sigma: 0.125, batch: 4 }
    }
}

/// The importance map of a `size x size` window, peak 1, never 0 (so every pixel is covered).
pub fn gaussian(size: usize, sigma: f64) -> Vec<f32> {
    let centre = (size as f64 - 1.0) / 2.0;
    let s = (sigma * size as f64).max(1e-6);
    let line: Vec<f64> = (0..size).map(|i| (-(i as f64 - centre).powi(2) / (2.0 * s * s)).exp()).collect();
    let mut map: Vec<f32> = line.iter().flat_map(|&y| line.iter().map(move |&x| (y * x) as f32)).collect();
    let smallest = map.iter().copied().filter(|&v| v > 0.0).fold(f32::INFINITY, f32::min);
    map.iter_mut().for_each(|v| *v = v.max(smallest));
    map
}

/// Window starts along one axis: every `stride`, the last one flush with the end.
pub fn starts(len: usize, window: usize, stride: usize) -> Vec<usize> {
    if len <= window {
        return vec![0];
    }
    let mut out: Vec<usize> = (0..len - window).step_by(stride.max(1)).collect();
    out.push(len - window);
    out
}

/// A model with what it is fed: its input normalisation and its device.
pub struct Net<'a> {
    pub model: &'a SegmentationModel,
    pub input: &'a Normalization,
    pub device: &'a Device,
}

impl Net<'_> {
    /// Logits of grey `size x size` images.
    pub fn logits(&self, images: &[&[u8]], size: usize) -> Tensor<4> {
        self.model.forward(images_tensor(images, size, self.input, self.device))
    }
}

/// The blended logits `[29, height, width]` of `image` (row-major).
pub fn sliding_logits(
    net: &Net,
    image: &Plane<u8>,
    window: usize,
    stride: usize,
    sigma: f64,
    batch: usize,
) -> Vec<f32> {
    let (height, width) = (image.height, image.width);
    let weights = gaussian(window, sigma);
    let mut sum = vec![0f32; NUM_CLASSES * height * width];
    let mut total = vec![0f32; height * width];
    let origins: Vec<(usize, usize)> = starts(height, window, stride)
        .into_iter()
        .flat_map(|y| starts(width, window, stride).into_iter().map(move |x| (y, x)))
        .collect();
    for chunk in origins.chunks(batch.max(1)) {
        let tiles: Vec<Vec<u8>> = chunk.iter().map(|&(y, x)| tile(image, y, x, window)).collect();
        let inputs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
        let logits = net.logits(&inputs, window);
        let [_, classes, lh, lw] = logits.dims();
        let values = logits.into_data_as::<f32>().try_into_vec::<f32>().expect("logits read back as f32");
        for (&(y0, x0), one) in chunk.iter().zip(values.chunks_exact(classes * lh * lw)) {
            for (class, plane) in one.chunks_exact(lh * lw).enumerate() {
                let resized;
                let plane = if (lh, lw) == (window, window) {
                    plane
                } else {
                    resized = resize_bilinear(plane, (lh, lw), (window, window));
                    resized.as_slice()
                };
                let out = &mut sum[class * height * width..(class + 1) * height * width];
                for ty in 0..window.min(height - y0) {
                    let row = (y0 + ty) * width + x0;
                    let span = window.min(width - x0);
                    let (w_row, p_row) = (&weights[ty * window..][..span], &plane[ty * window..][..span]);
                    for ((o, &w), &p) in out[row..row + span].iter_mut().zip(w_row).zip(p_row) {
                        *o += w * p;
                    }
                }
            }
            for ty in 0..window.min(height - y0) {
                let row = (y0 + ty) * width + x0;
                let span = window.min(width - x0);
                total[row..row + span]
                    .iter_mut()
                    .zip(&weights[ty * window..][..span])
                    .for_each(|(t, &w)| *t += w);
            }
        }
    }
    for plane in sum.chunks_exact_mut(height * width) {
        plane.iter_mut().zip(&total).for_each(|(s, &t)| *s /= t);
    }
    sum
}

/// The `window x window` crop at `(y, x)`, zero past the image's edges.
fn tile(image: &Plane<u8>, y: usize, x: usize, window: usize) -> Vec<u8> {
    let mut out = vec![0u8; window * window];
    for ty in 0..window.min(image.height - y) {
        let span = window.min(image.width - x);
        out[ty * window..ty * window + span].copy_from_slice(&image.row(y + ty)[x..x + span]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_image_and_end_flush() {
        assert_eq!(starts(512, 256, 128), vec![0, 128, 256]);
        assert_eq!(starts(500, 256, 128), vec![0, 128, 244]);
        assert_eq!(starts(200, 256, 128), vec![0]);
        assert_eq!(starts(256, 256, 128), vec![0]);
    }

    #[test]
    fn the_gaussian_peaks_in_the_centre_and_is_never_zero() {
        let map = gaussian(9, 0.125);
        assert_eq!(map[4 * 9 + 4], 1.0);
        assert!(map.iter().all(|&v| v > 0.0));
        assert!(map[0] < map[4 * 9 + 1] && map[4 * 9 + 1] < map[4 * 9 + 3]);
        assert_eq!(map[1], map[9], "symmetric");
    }

    #[test]
    fn tiles_pad_with_zeros() {
        let image = Plane::from_vec(3, 2, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(tile(&image, 1, 1, 2), vec![5, 6, 0, 0]);
    }
}
