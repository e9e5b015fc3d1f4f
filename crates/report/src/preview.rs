//! A grid of augmented samples of one image, each with its masks drawn over it: how a team
//! judges a pipeline by eye before training with it.

use boneseg_augment::{Donors, Pipeline};
use boneseg_contract::ClassMasks;
use image::{GrayImage, RgbImage};

use crate::overlay::{OverlayOptions, overlay};

/// `n` samples (seeds `seed`, `seed + 1`, ...) in a grid of `ceil(sqrt(n))` columns, each tile
/// at most `tile` pixels on its longest side, separated by 4-pixel white gutters; copy-paste
/// steps take their bones from `donors`.
pub fn preview_grid(
    pipeline: &Pipeline,
    image: &GrayImage,
    masks: Option<&ClassMasks>,
    donors: &Donors,
    n: usize,
    seed: u64,
    tile: u32,
) -> RgbImage {
    let empty = ClassMasks::new(image.height() as usize, image.width() as usize);
    let masks_in = masks.unwrap_or(&empty);
    let tiles: Vec<RgbImage> = (0..n as u64)
        .map(|i| {
            let (out, out_masks) = pipeline.augment_with(seed + i, image, masks_in, donors);
            let options = OverlayOptions { fill: 0.3, max_side: Some(tile) };
            overlay(&out, masks.map(|_| &out_masks), options)
        })
        .collect();
    let columns = (n as f64).sqrt().ceil().max(1.0) as u32;
    let rows = (n as u32).div_ceil(columns);
    let cell_w = tiles.iter().map(|t| t.width()).max().unwrap_or(1);
    let cell_h = tiles.iter().map(|t| t.height()).max().unwrap_or(1);
    let gutter = 4;
    let mut grid = RgbImage::from_pixel(
        columns * (cell_w + gutter) + gutter,
        rows * (cell_h + gutter) + gutter,
        image::Rgb([255, 255, 255]),
    );
    for (i, tile) in tiles.iter().enumerate() {
        let (col, row) = (i as u32 % columns, i as u32 / columns);
        let (x0, y0) = (gutter + col * (cell_w + gutter), gutter + row * (cell_h + gutter));
        for (x, y, pixel) in tile.enumerate_pixels() {
            grid.put_pixel(x0 + x, y0 + y, *pixel);
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_holds_every_sample() {
        let pipeline = Pipeline::parse("[[augment]]\nname = \"invert_img\"\np = 0.5").unwrap();
        let image = GrayImage::from_pixel(10, 6, image::Luma([0]));
        let grid = preview_grid(&pipeline, &image, None, &Donors::none(), 5, 0, 64);
        assert_eq!(grid.dimensions(), (3 * 14 + 4, 2 * 10 + 4));
        let corners: Vec<u8> =
            (0..5).map(|i| grid.get_pixel(4 + (i % 3) * 14, 4 + (i / 3) * 10)[0]).collect();
        assert!(
            corners.contains(&0) && corners.contains(&255),
            "some samples inverted, some not: {corners:?}"
        );
    }
}
