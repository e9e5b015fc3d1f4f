//! Contract hot paths on a realistic 2048² hand: `cargo bench -p boneseg-contract --bench contract`.
//!
//! The hand is 29 bone-like polygons (4k to 76k pixels, 60 to 300 points each) built here from
//! fixed numbers, so every run and `tools/bench/bench_peer.py` (which ports [`hand`] line by line) use
//! the same masks. With `BONESEG_BENCH_EXPORT=DIR` the annotation is also written to
//! `DIR/hand.json` for the Python peer. `tools/bench/bench_compare.py` runs this and the peer and prints
//! the comparison; see BENCHMARKS.md.

use std::f64::consts::TAU;
use std::hint::black_box;

use boneseg_contract::submission::SubmissionWriter;
use boneseg_contract::{AnnotationFile, CLASSES, FillRule, Polygon, class_index, rle};
use criterion::{Criterion, criterion_group, criterion_main};

const SIZE: usize = 2048;

/// A bone's outline: a superellipse of `aspect` length/width, `points` points, scaled to
/// `area` px², rotated by `angle` degrees (0 = pointing up) and centred on (cx, cy). Long bones
/// are boxy with a narrow shaft; carpals (`long == false`) are rounded with a gentle wobble.
fn outline(class: usize, cx: f64, cy: f64, angle: f64, area: f64, aspect: f64, long: bool) -> Vec<[i32; 2]> {
    let exponent = if long { 2.0 / 3.0 } else { 2.0 / 2.2 };
    let signed_pow = |v: f64| v.signum() * v.abs().powf(exponent);
    let n = ((aspect + 1.0) * area.sqrt() / 4.0).clamp(60.0, 300.0) as usize;
    let unit: Vec<[f64; 2]> = (0..n)
        .map(|k| {
            let phi = TAU * k as f64 / n as f64;
            let (u, v) = (signed_pow(phi.cos()) * aspect, signed_pow(phi.sin()));
            if long {
                [u, v * (0.65 + 0.35 * (u / aspect) * (u / aspect))]
            } else {
                let wobble = 1.0 + 0.06 * (3.0 * phi + class as f64).cos();
                [u * wobble, v * wobble]
            }
        })
        .collect();
    let shoelace: f64 =
        (0..n).map(|k| unit[k][0] * unit[(k + 1) % n][1] - unit[(k + 1) % n][0] * unit[k][1]).sum();
    let scale = (area / (shoelace.abs() / 2.0)).sqrt();
    let (sin, cos) = angle.to_radians().sin_cos();
    let round = |v: f64| (v + 0.5).floor() as i32;
    // `u` runs along the bone, which points up (-y) when angle is 0.
    unit.iter()
        .map(|[u, v]| [round(cx + scale * (u * sin + v * cos)), round(cy + scale * (v * sin - u * cos))])
        .collect()
}

/// A ray of long bones from the palm outwards: base (x, y), angle, the finger number N of its
/// metacarpal, then (area, length / width) of each bone from the metacarpal (finger-N) to the tip.
type Ray = (f64, f64, f64, usize, &'static [(f64, f64)]);

/// The 29 bones of a left hand in a 2048² radiograph.
fn hand() -> AnnotationFile {
    let mut polygons = Vec::new();
    let mut bone = |label: &str, cx: f64, cy: f64, angle: f64, area: f64, aspect: f64, long: bool| {
        let class = class_index(label).unwrap();
        let points = outline(class, cx, cy, angle, area, aspect, long);
        polygons.push(Polygon { id: format!("bone-{class}"), class, points });
    };
    let rays: [Ray; 5] = [
        (700.0, 1350.0, -40.0, 3, &[(24e3, 4.0), (14e3, 3.0), (8e3, 2.0)]),
        (870.0, 1250.0, -12.0, 7, &[(30e3, 5.5), (18e3, 4.0), (10e3, 3.0), (5e3, 2.0)]),
        (1000.0, 1250.0, -2.0, 11, &[(33e3, 5.5), (21e3, 4.0), (12e3, 3.0), (5.5e3, 2.0)]),
        (1120.0, 1260.0, 8.0, 15, &[(28e3, 5.5), (19e3, 4.0), (11e3, 3.0), (5e3, 2.0)]),
        (1230.0, 1290.0, 20.0, 19, &[(22e3, 5.0), (13e3, 4.0), (8e3, 3.0), (4e3, 2.0)]),
    ];
    for (x, y, angle, metacarpal, bones) in rays {
        let (sin, cos) = angle.to_radians().sin_cos();
        let mut along = 0.0;
        for (i, &(area, aspect)) in bones.iter().enumerate() {
            let length = (area * aspect / 0.8).sqrt();
            let mid = along + length / 2.0;
            let label = format!("finger-{}", metacarpal - i);
            bone(&label, x + mid * sin, y - mid * cos, angle, area, aspect, true);
            along += length + 12.0;
        }
    }
    let carpals = [
        ("Trapezium", 820.0, 1380.0, 9e3),
        ("Trapezoid", 900.0, 1330.0, 6e3),
        ("Capitate", 1010.0, 1370.0, 14e3),
        ("Hamate", 1130.0, 1380.0, 12e3),
        ("Scaphoid", 880.0, 1460.0, 11e3),
        ("Lunate", 1000.0, 1480.0, 9e3),
        ("Triquetrum", 1110.0, 1470.0, 7e3),
        ("Pisiform", 1190.0, 1440.0, 4e3),
    ];
    for (label, x, y, area) in carpals {
        bone(label, x, y, 30.0, area, 1.3, false);
    }
    bone("Radius", 920.0, 1740.0, 5.0, 76e3, 3.0, true);
    bone("Ulna", 1190.0, 1790.0, -3.0, 45e3, 3.5, true);
    AnnotationFile { filename: Some("image1661130828152.png".to_string()), polygons }
}

fn contract(c: &mut Criterion) {
    let annotation = hand();
    let json = annotation.to_json();
    if let Some(dir) = std::env::var_os("BONESEG_BENCH_EXPORT") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join("hand.json"), &json).unwrap();
    }
    let masks = annotation.rasterize(SIZE, SIZE, FillRule::default());
    let one = masks.class(class_index("finger-7").unwrap()).clone();
    let counts: Vec<u64> = masks.iter().map(|m| m.count()).collect();
    eprintln!(
        "hand: one mask {} px ({} runs); 29 masks {}..{} px, {} px in all",
        one.count(),
        one.runs().count(),
        counts.iter().min().unwrap(),
        counts.iter().max().unwrap(),
        counts.iter().sum::<u64>()
    );
    let one_rle = rle::encode(&one);
    let image_rles: Vec<String> = masks.iter().map(rle::encode).collect();

    let mut group = c.benchmark_group("rle");
    group.bench_function("encode_one_2048", |b| b.iter(|| rle::encode(black_box(&one))));
    group.bench_function("encode_image_29x2048", |b| {
        b.iter(|| black_box(&masks).iter().map(rle::encode).collect::<Vec<_>>())
    });
    group.bench_function("decode_one_2048", |b| {
        b.iter(|| rle::decode(black_box(&one_rle), SIZE, SIZE).unwrap())
    });
    group.bench_function("decode_image_29x2048", |b| {
        b.iter(|| {
            black_box(&image_rles).iter().map(|r| rle::decode(r, SIZE, SIZE).unwrap()).collect::<Vec<_>>()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("raster");
    group.bench_function("annotation_file_2048", |b| {
        b.iter(|| AnnotationFile::parse(black_box(&json)).unwrap().rasterize(SIZE, SIZE, FillRule::default()))
    });
    group.bench_function("fill_only_2048", |b| {
        b.iter(|| black_box(&annotation).rasterize(SIZE, SIZE, FillRule::default()))
    });
    group.finish();

    // 300 test images of 29 rows each: with the RLE encoding (`write_image`, what inference
    // does) and from ready strings (`write_row`, what pandas' `to_csv` does).
    let names: Vec<String> = (0..300u64).map(|i| format!("image{}.png", 1661130828152 + 7919 * i)).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("submission.csv");
    let mut group = c.benchmark_group("submission");
    group.sample_size(10);
    group.bench_function("write_300_images", |b| {
        b.iter(|| {
            let mut writer = SubmissionWriter::create(&path).unwrap();
            for name in &names {
                writer.write_image(name, black_box(&masks)).unwrap();
            }
            writer.finish().unwrap();
        })
    });
    group.bench_function("write_rows_300_images", |b| {
        b.iter(|| {
            let mut writer = SubmissionWriter::create(&path).unwrap();
            for name in &names {
                for (class, text) in CLASSES.iter().zip(&image_rles) {
                    writer.write_row(name, class, black_box(text)).unwrap();
                }
            }
            writer.finish().unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, contract);
criterion_main!(benches);
