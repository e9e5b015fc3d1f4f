//! The offline operations on one labelled image: mirror, rotate (by an angle, or straightened
//! from the hand axis the labels give), and a 4-tile mosaic. Image and polygons are transformed
//! by the same map, so the rasterised polygons match the transformed masks (up to the rounding
//! of polygon points: within a pixel of the boundaries, checked by a test).

use boneseg_contract::{AnnotationFile, CLASSES, Polygon};
use image::GrayImage;

use super::polygon::{Rect, map_polygons};
use crate::geometric::affine::{affine_matrix, center, warp_affine};
use crate::geometric::flip::hflip;
use crate::geometric::resize::resize;
use crate::geometric::warp::Border;
use boneseg_data::plane::{Plane, Sample, gray_to_plane, plane_to_gray};

/// An image with its polygons.
#[derive(Clone, Debug)]
pub struct Labeled {
    pub image: GrayImage,
    pub labels: AnnotationFile,
}

impl Labeled {
    fn size(&self) -> (usize, usize) {
        (self.image.width() as usize, self.image.height() as usize)
    }
}

fn with_image(plane: &Plane<u8>, polygons: Vec<Polygon>) -> Labeled {
    Labeled { image: plane_to_gray(plane), labels: AnnotationFile { filename: None, polygons } }
}

/// An image-only sample (the polygons are transformed separately).
fn image_sample(image: &GrayImage) -> Sample {
    let plane = gray_to_plane(image);
    let labels = Plane::new(plane.width, plane.height);
    Sample::new(plane, labels)
}

/// Mirror left-right: column `x` goes to `width - 1 - x`, in the image and the polygons.
pub fn flip(source: &Labeled) -> Labeled {
    let (w, h) = source.size();
    let image = hflip(&image_sample(&source.image)).image;
    let last = w as f64 - 1.0;
    with_image(&image, map_polygons(&source.labels, |[x, y]| [last - x, y], &Rect::image(w, h), "-flip"))
}

/// Rotates by `angle` degrees (counter-clockwise on screen) about the image centre; what leaves
/// the image is cut off, what enters is black.
pub fn rotate(source: &Labeled, angle: f64) -> Labeled {
    let (w, h) = source.size();
    let m = affine_matrix(center(w, h), angle, (1.0, 1.0), (0.0, 0.0));
    let image = warp_affine(&image_sample(&source.image), &m, &Border::constant()).image;
    let map = |[x, y]: [f64; 2]| [m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2]];
    with_image(&image, map_polygons(&source.labels, map, &Rect::image(w, h), "-rot"))
}

/// Mean of all points of the polygons of some classes.
fn centroid(labels: &AnnotationFile, classes: &[usize]) -> Option<[f64; 2]> {
    let points: Vec<[i32; 2]> = labels
        .polygons
        .iter()
        .filter(|p| classes.contains(&p.class))
        .flat_map(|p| p.points.iter().copied())
        .collect();
    let n = points.len() as f64;
    (!points.is_empty()).then(|| {
        let sum = points.iter().fold([0.0, 0.0], |s, p| [s[0] + f64::from(p[0]), s[1] + f64::from(p[1])]);
        [sum[0] / n, sum[1] / n]
    })
}

/// The hand's tilt in degrees: the angle from "fingers up" of the axis from the wrist (radius,
/// ulna and carpals) to the metacarpals, positive when the fingers lean clockwise (to the right).
/// Rotating by this angle straightens the hand. `None` without those bones in the labels.
pub fn hand_tilt(labels: &AnnotationFile) -> Option<f64> {
    let metacarpals: Vec<usize> = ["finger-3", "finger-7", "finger-11", "finger-15", "finger-19"]
        .iter()
        .map(|name| CLASSES.iter().position(|c| c == name).expect("a class name"))
        .collect();
    let wrist: Vec<usize> = (19..CLASSES.len()).collect();
    let [mx, my] = centroid(labels, &metacarpals)?;
    let [wx, wy] = centroid(labels, &wrist)?;
    let (dx, dy) = (mx - wx, my - wy);
    (dx != 0.0 || dy != 0.0).then(|| dx.atan2(-dy).to_degrees())
}

/// Four images, each scaled to a quarter and placed in a quadrant (in the given order: top
/// left, top right, bottom left, bottom right), with their polygons scaled and clipped to it.
/// The result has the first tile's size; a class may have up to four polygons.
pub fn mosaic(tiles: [&Labeled; 4]) -> Labeled {
    let (w, h) = tiles[0].size();
    let (qw, qh) = (w / 2, h / 2);
    let mut out = Plane::<u8>::new(w, h);
    let mut polygons = Vec::new();
    for (k, tile) in tiles.iter().enumerate() {
        let (ox, oy) = if k % 2 == 0 { (0, 0) } else { (qw, 0) };
        let oy = if k >= 2 { qh } else { oy };
        let (cw, ch) = (if ox == 0 { qw } else { w - qw }, if oy == 0 { qh } else { h - qh });
        let (tw, th) = tile.size();
        let scaled = resize(&image_sample(&tile.image), cw, ch).image;
        for y in 0..ch {
            out.data[(oy + y) * w + ox..][..cw].copy_from_slice(scaled.row(y));
        }
        // Pixel centres map as in the resize: x' = (x + 0.5) * cw / tw - 0.5.
        let (sx, sy) = (cw as f64 / tw as f64, ch as f64 / th as f64);
        let map = |[x, y]: [f64; 2]| [(x + 0.5) * sx - 0.5 + ox as f64, (y + 0.5) * sy - 0.5 + oy as f64];
        let rect =
            Rect { x0: ox as f64, y0: oy as f64, x1: (ox + cw) as f64 - 1.0, y1: (oy + ch) as f64 - 1.0 };
        polygons.extend(map_polygons(&tile.labels, map, &rect, &format!("-m{k}")));
    }
    with_image(&out, polygons)
}
