//! PNG decode and encode of a 2048² radiograph: `cargo bench -p boneseg-data --bench data`.
//!
//! The image is drawn here: smooth grey gradients, a soft hand-shaped glow, bright elliptic
//! "bones" and ±6 levels of pixel noise, so it compresses about as well as a real radiograph
//! (a flat image would flatter the decoder). It is written once as a 3-channel PNG, as in the
//! competition. With `BONESEG_BENCH_EXPORT=DIR` it is also copied to `DIR/hand.png`, so that
//! `tools/bench/bench_peer.py` decodes the very same file with OpenCV; see BENCHMARKS.md.

use std::hint::black_box;

use boneseg_data::image_io::{GrayImage, read_gray, write_gray_png};
use criterion::{Criterion, criterion_group, criterion_main};

const SIZE: u32 = 2048;

/// A hand-like grey radiograph.
fn radiograph() -> GrayImage {
    // (cx, cy, half-length, half-width, angle in degrees from vertical, brightness)
    let mut bones = vec![(920.0, 1740.0, 290.0, 90.0, 5.0, 90.0), (1190.0, 1790.0, 245.0, 65.0, -3.0, 80.0)];
    for (x, y, angle) in [
        (700.0, 1350.0, -40.0),
        (870.0, 1250.0, -12.0),
        (1000.0, 1250.0, -2.0),
        (1120.0, 1260.0, 8.0),
        (1230.0, 1290.0, 20.0),
    ] {
        let (sin, cos) = f64::to_radians(angle).sin_cos();
        for (along, half, width) in
            [(230.0, 220.0, 40.0), (620.0, 160.0, 34.0), (900.0, 105.0, 30.0), (1080.0, 60.0, 27.0)]
        {
            bones.push((x + along * sin, y - along * cos, half, width, angle, 75.0));
        }
    }
    for (i, (x, y)) in [
        (820.0, 1380.0),
        (900.0, 1330.0),
        (1010.0, 1370.0),
        (1130.0, 1380.0),
        (880.0, 1460.0),
        (1000.0, 1480.0),
        (1110.0, 1470.0),
    ]
    .into_iter()
    .enumerate()
    {
        bones.push((x, y, 60.0 + 4.0 * i as f64, 48.0, 30.0, 70.0));
    }
    GrayImage::from_fn(SIZE, SIZE, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let mut value = 20.0 + 25.0 * fx / 2048.0 + 15.0 * fy / 2048.0;
        value += 55.0 * (-((fx - 1000.0) / 480.0).powi(2) - ((fy - 1150.0) / 760.0).powi(2)).exp();
        for &(cx, cy, half, width, angle, brightness) in &bones {
            let (sin, cos) = f64::to_radians(angle).sin_cos();
            let (dx, dy) = (fx - cx, fy - cy);
            let (along, across) = ((dx * sin - dy * cos) / half, (dx * cos + dy * sin) / width);
            let t = along * along + across * across;
            if t < 1.0 {
                // Brighter rim (cortex) than middle (marrow).
                value += brightness * (0.7 + 0.3 * across.abs()) * (1.0 - t * t);
            }
        }
        let hash = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)).wrapping_mul(2_654_435_761);
        value += f64::from(hash >> 24) / 255.0 * 12.0 - 6.0;
        image::Luma([value.clamp(0.0, 255.0) as u8])
    })
}

fn data(c: &mut Criterion) {
    let image = radiograph();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.png");
    write_gray_png(&path, &image).unwrap();
    eprintln!("hand.png: {SIZE}x{SIZE}, 3 channels, {} bytes", std::fs::metadata(&path).unwrap().len());
    if let Some(export) = std::env::var_os("BONESEG_BENCH_EXPORT") {
        std::fs::create_dir_all(&export).unwrap();
        std::fs::copy(&path, std::path::Path::new(&export).join("hand.png")).unwrap();
    }

    let mut group = c.benchmark_group("png");
    group.sample_size(20);
    group.bench_function("decode_2048", |b| b.iter(|| read_gray(black_box(&path)).unwrap()));
    let out = dir.path().join("out.png");
    group.bench_function("encode_2048", |b| b.iter(|| write_gray_png(&out, black_box(&image)).unwrap()));
    group.finish();
}

criterion_group!(benches, data);
criterion_main!(benches);
