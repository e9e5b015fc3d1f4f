//! Offline operations: polygons transformed and rasterised give the masks that transforming the
//! rasterised masks gives, except within a pixel of the boundaries (polygon points are rounded
//! to integers, masks are sampled at pixel centres).

use boneseg_augment::geometric::affine::{affine_matrix, center, warp_affine};
use boneseg_augment::geometric::flip::hflip;
use boneseg_augment::geometric::resize::resize_nearest;
use boneseg_augment::geometric::warp::Border;
use boneseg_augment::offline::ops::{Labeled, flip, hand_tilt, mosaic, rotate};
use boneseg_contract::{ClassMasks, FillRule};
use boneseg_data::plane::{Plane, Sample, pack, unpack};
use boneseg_phantom::person::{ImagePlan, Person, Rates};
use boneseg_phantom::rng::Rng;
use boneseg_phantom::style::Style;
use boneseg_phantom::synth_image;

const SIZE: usize = 256;

fn phantom(seed: u64) -> Labeled {
    let rates = Rates { outlier: 0.0, rotated: 0.0, bent: 0.0 };
    let person =
        Person::draw(boneseg_contract::PersonId(seed as u32), rates, Style::classic(), &mut Rng::new(seed));
    let plan = ImagePlan::draw(&person, 0, rates, Style::classic(), &mut Rng::new(seed + 1));
    let synth = synth_image(&person, &plan, SIZE, seed, "a.png");
    Labeled { image: synth.image, labels: synth.labels }
}

fn masks(labeled: &Labeled) -> ClassMasks {
    let (w, h) = (labeled.image.width() as usize, labeled.image.height() as usize);
    labeled.labels.rasterize(h, w, FillRule::default())
}

fn labels_sample(masks: &ClassMasks) -> Sample {
    Sample::new(Plane::new(masks.width(), masks.height()), pack(masks))
}

/// Share of mismatched pixels; panics if one lies more than a pixel away from a boundary of the
/// reference (its 3x3 neighbourhood in the reference is all one value).
fn mismatch_near_boundaries(from_polygons: &ClassMasks, reference: &ClassMasks, what: &str) -> f64 {
    let (w, h) = (reference.width(), reference.height());
    let mut mismatched = 0usize;
    let mut foreground = 0usize;
    for class in 0..29 {
        let (a, b) = (from_polygons.class(class), reference.class(class));
        foreground += b.count() as usize;
        for y in 0..h {
            for x in 0..w {
                if a.get(y, x) == b.get(y, x) {
                    continue;
                }
                mismatched += 1;
                let neighbours = (y.saturating_sub(1)..=(y + 1).min(h - 1))
                    .flat_map(|yy| (x.saturating_sub(1)..=(x + 1).min(w - 1)).map(move |xx| (yy, xx)));
                let values: Vec<bool> = neighbours.map(|(yy, xx)| b.get(yy, xx)).collect();
                assert!(
                    values.contains(&true) && values.contains(&false),
                    "{what}: class {class} differs at ({x}, {y}), more than a pixel from a boundary"
                );
            }
        }
    }
    let share = mismatched as f64 / foreground.max(1) as f64;
    eprintln!("{what}: {mismatched} boundary pixels differ ({:.2}% of the foreground)", 100.0 * share);
    share
}

#[test]
fn flipped_polygons_match_the_flipped_masks() {
    let source = phantom(3);
    let expected = unpack(&hflip(&labels_sample(&masks(&source))).labels);
    let share = mismatch_near_boundaries(&masks(&flip(&source)), &expected, "flip");
    assert!(share < 0.03);
}

#[test]
fn rotated_polygons_match_the_rotated_masks() {
    let source = phantom(4);
    for angle in [17.0, -40.0, 90.0] {
        let m = affine_matrix(center(SIZE, SIZE), angle, (1.0, 1.0), (0.0, 0.0));
        let expected = unpack(&warp_affine(&labels_sample(&masks(&source)), &m, &Border::constant()).labels);
        let share =
            mismatch_near_boundaries(&masks(&rotate(&source, angle)), &expected, &format!("rotate {angle}"));
        assert!(share < 0.08, "{share}");
    }
}

#[test]
fn mosaic_polygons_match_the_mosaic_of_masks() {
    let tiles = [phantom(5), phantom(6), flip(&phantom(5)), phantom(7)];
    let made = mosaic([&tiles[0], &tiles[1], &tiles[2], &tiles[3]]);
    assert_eq!(made.image.dimensions(), (SIZE as u32, SIZE as u32));
    let half = SIZE / 2;
    let mut expected = Plane::<u32>::new(SIZE, SIZE);
    for (k, tile) in tiles.iter().enumerate() {
        let small = resize_nearest(&pack(&masks(tile)), half, half);
        let (ox, oy) = ((k % 2) * half, (k / 2) * half);
        for y in 0..half {
            expected.data[(oy + y) * SIZE + ox..][..half].copy_from_slice(small.row(y));
        }
    }
    let share = mismatch_near_boundaries(&masks(&made), &unpack(&expected), "mosaic");
    // Half-size bones on a 256² image are mostly boundary; every difference is still on one.
    assert!(share < 0.2, "{share}");
    assert!(made.labels.polygons.len() > 29 * 3, "each quadrant keeps its bones");
}

#[test]
fn rotating_a_hand_changes_its_tilt_by_the_angle() {
    let source = phantom(8);
    let tilt = hand_tilt(&source.labels).expect("the phantom has wrist and metacarpals");
    let turned = hand_tilt(&rotate(&source, 20.0).labels).unwrap();
    assert!((turned - (tilt - 20.0)).abs() < 1.5, "tilt {tilt:.1} turned {turned:.1}");
    let straightened = hand_tilt(&rotate(&source, tilt).labels).unwrap();
    assert!(straightened.abs() < 1.5, "straightened to {straightened:.1}");
}
