//! Contrast-limited adaptive histogram equalisation, a line-by-line port of OpenCV's
//! `createCLAHE(clipLimit, tileGridSize).apply` for 8-bit images (imgproc/src/clahe.cpp), so
//! the output matches OpenCV bit for bit: per-tile histograms (on an image padded with
//! `REFLECT_101` when the tiles do not divide it), clipping with the excess spread evenly and its
//! residual in steps, `f32` lookup tables, and bilinear blending of the four nearest tiles'
//! tables in `f32`.

use boneseg_contract::rng::Random;
use serde::Deserialize;

use crate::border::BorderMode;
use crate::limit::Limit;
use crate::rng::Rng;
use crate::round::rint;
use boneseg_data::plane::Plane;

const HIST: usize = 256;

/// `clip_limit` as OpenCV takes it (0 disables clipping); `tiles` = `(tiles_x, tiles_y)`.
pub fn clahe(src: &Plane<u8>, clip_limit: f64, tiles: (usize, usize)) -> Plane<u8> {
    let (tiles_x, tiles_y) = tiles;
    let (w, h) = (src.width, src.height);
    // OpenCV pads by `tiles - size % tiles` on both axes as soon as either does not divide.
    let padded;
    let lut_src = if w % tiles_x == 0 && h % tiles_y == 0 {
        src
    } else {
        let (pw, ph) = (w + tiles_x - w % tiles_x, h + tiles_y - h % tiles_y);
        let reflect = |v: usize, n: usize| BorderMode::Reflect101.index(v as isize, n).unwrap();
        padded = Plane::from_fn(pw, ph, |x, y| src.at(reflect(x, w), reflect(y, h)));
        &padded
    };
    let (tile_w, tile_h) = (lut_src.width / tiles_x, lut_src.height / tiles_y);
    let tile_area = tile_w * tile_h;
    let lut_scale = (HIST - 1) as f32 / tile_area as f32;
    let clip =
        if clip_limit > 0.0 { ((clip_limit * tile_area as f64 / HIST as f64) as i64).max(1) } else { 0 };

    let mut luts = vec![0u8; tiles_x * tiles_y * HIST];
    for ty in 0..tiles_y {
        for tx in 0..tiles_x {
            let mut hist = [0i64; HIST];
            for y in ty * tile_h..(ty + 1) * tile_h {
                for &v in &lut_src.row(y)[tx * tile_w..(tx + 1) * tile_w] {
                    hist[v as usize] += 1;
                }
            }
            if clip > 0 {
                clip_histogram(&mut hist, clip);
            }
            let lut = &mut luts[(ty * tiles_x + tx) * HIST..][..HIST];
            let mut sum = 0i64;
            for (entry, &count) in lut.iter_mut().zip(&hist) {
                sum += count;
                *entry = saturate((sum as f32) * lut_scale);
            }
        }
    }

    let inv_tw = 1.0f32 / tile_w as f32;
    let inv_th = 1.0f32 / tile_h as f32;
    let columns: Vec<(usize, usize, f32, f32)> = (0..w)
        .map(|x| {
            let txf = x as f32 * inv_tw - 0.5;
            let tx1 = txf.floor() as isize;
            let xa = txf - tx1 as f32;
            let tx2 = (tx1 + 1).min(tiles_x as isize - 1) as usize;
            (tx1.max(0) as usize * HIST, tx2 * HIST, xa, 1.0 - xa)
        })
        .collect();
    let mut out = Plane::new(w, h);
    for y in 0..h {
        let tyf = y as f32 * inv_th - 0.5;
        let ty1 = tyf.floor() as isize;
        let ya = tyf - ty1 as f32;
        let ya1 = 1.0 - ya;
        let ty2 = (ty1 + 1).min(tiles_y as isize - 1) as usize;
        let plane1 = &luts[ty1.max(0) as usize * tiles_x * HIST..];
        let plane2 = &luts[ty2 * tiles_x * HIST..];
        for (x, &(ind1, ind2, xa, xa1)) in columns.iter().enumerate() {
            let v = src.data[y * w + x] as usize;
            let res = (f32::from(plane1[ind1 + v]) * xa1 + f32::from(plane1[ind2 + v]) * xa) * ya1
                + (f32::from(plane2[ind1 + v]) * xa1 + f32::from(plane2[ind2 + v]) * xa) * ya;
            out.data[y * w + x] = saturate(res);
        }
    }
    out
}

/// OpenCV's `saturate_cast<uchar>(float)`: round half to even, clamp.
fn saturate(v: f32) -> u8 {
    rint(v).clamp(0.0, 255.0) as u8
}

/// Cuts every bin at `clip` and spreads the excess: evenly, then the residual one count per
/// `HIST / residual` bins from the first.
fn clip_histogram(hist: &mut [i64; HIST], clip: i64) {
    let mut clipped = 0;
    for bin in hist.iter_mut() {
        if *bin > clip {
            clipped += *bin - clip;
            *bin = clip;
        }
    }
    let batch = clipped / HIST as i64;
    let mut residual = clipped - batch * HIST as i64;
    hist.iter_mut().for_each(|bin| *bin += batch);
    if residual != 0 {
        let step = (HIST as i64 / residual).max(1) as usize;
        let mut i = 0;
        while i < HIST && residual > 0 {
            hist[i] += 1;
            i += step;
            residual -= 1;
        }
    }
}

/// `A.CLAHE`: the clip limit drawn from `clip_limit` (a number `c` means `[1, c]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clahe {
    #[serde(default = "Clahe::default_clip")]
    pub clip_limit: Limit,
    /// `[tiles_x, tiles_y]`, as OpenCV's `tileGridSize`.
    #[serde(default = "Clahe::default_tiles")]
    pub tile_grid_size: [usize; 2],
}

impl Clahe {
    fn default_clip() -> Limit {
        Limit::One(4.0)
    }
    fn default_tiles() -> [usize; 2] {
        [8, 8]
    }

    pub fn apply(&self, rng: &mut Rng, image: &Plane<u8>) -> Plane<u8> {
        let (low, high) = self.clip_limit.from(1.0);
        let [tx, ty] = self.tile_grid_size;
        clahe(image, rng.uniform(low, high), (tx.max(1), ty.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_image_stays_flat_and_a_ramp_is_spread() {
        let flat = Plane::from_vec(16, 16, vec![100u8; 256]);
        let out = clahe(&flat, 2.0, (2, 2));
        assert!(out.data.iter().all(|&v| v == out.data[0]));
        let ramp = Plane::from_fn(64, 64, |x, _| (100 + x / 4) as u8);
        let out = clahe(&ramp, 40.0, (1, 1));
        assert_eq!((out.data[0], out.data[63]), (16, 255), "global equalisation of a ramp");
    }

    #[test]
    fn residual_counts_are_spread_from_the_first_bin() {
        let mut hist = [0i64; HIST];
        hist[5] = 1000 + 3;
        clip_histogram(&mut hist, 1000);
        assert_eq!((hist[0], hist[85], hist[170], hist[1]), (1, 1, 1, 0));
    }
}
