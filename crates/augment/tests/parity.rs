//! Parity with albumentations 2.x / OpenCV on pinned parameters. The expected outputs were
//! written by `tools/reference/make_augment_fixtures.py` (see tools/README.md); CI needs no Python.
//!
//! Checks: `exact` (every grey level equal), `pm1` (every pixel within ±1), `geometric` (≥ 99.5%
//! of pixels within ±1 and the packed mask equal on ≥ 99.5% of pixels), `jpeg` (a JPEG-like
//! round trip, not libjpeg: mean difference ≤ 1 level), `noise` (the added noise has the asked
//! spread). `cargo test -p boneseg-augment --test parity -- --nocapture` prints the figures.

use std::path::{Path, PathBuf};

use boneseg_augment::geometric::distortion::{GridDistortion, RemapMap, remap};
use boneseg_augment::geometric::warp::Border;
use boneseg_augment::rng::Rng;
use boneseg_augment::{Plane, Sample, Transform};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    case: String,
    #[serde(default)]
    transform: Option<serde_json::Value>,
    #[serde(default)]
    core: Option<String>,
    check: String,
    #[serde(default)]
    mask: bool,
    #[serde(default)]
    steps_x: Vec<f64>,
    #[serde(default)]
    steps_y: Vec<f64>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity")
}

fn read(name: &str) -> Plane<u8> {
    let image = image::open(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}")).into_luma8();
    Plane::from_vec(image.width() as usize, image.height() as usize, image.into_raw())
}

fn input() -> Sample {
    let mask = read("input_mask.png");
    let labels = Plane::from_vec(mask.width, mask.height, mask.data.iter().map(|&v| u32::from(v)).collect());
    Sample::new(read("input.png"), labels)
}

/// The `remap` case's displacement field (same formula as the fixture script).
fn remap_map(w: usize, h: usize) -> RemapMap {
    let tau = std::f64::consts::TAU;
    let mut map_x = Vec::with_capacity(w * h);
    let mut map_y = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f64, y as f64);
            map_x.push((xf + 2.5 * (tau * yf / 23.0).sin() * (tau * xf / 31.0).cos()) as f32);
            map_y.push((yf + 2.0 * (tau * xf / 17.0).cos() + 0.7) as f32);
        }
    }
    RemapMap { width: w, map_x, map_y }
}

fn run(case: &Case, sample: Sample) -> Sample {
    match case.core.as_deref() {
        Some("remap") => remap(&sample, &remap_map(sample.width(), sample.height()), &Border::constant()),
        Some("grid") => {
            let grid: GridDistortion = serde_json::from_value(serde_json::json!({"num_steps": 5})).unwrap();
            let map = grid.map(sample.width(), sample.height(), case.steps_x.clone(), case.steps_y.clone());
            remap(&sample, &map, &Border::constant())
        }
        _ => {
            let spec = case.transform.clone().expect("a case without a core has a transform");
            let transform: Transform = serde_json::from_value(spec).unwrap();
            transform.apply(&mut Rng::new(0), sample)
        }
    }
}

struct Figures {
    max_diff: u8,
    within_one: f64,
    mean_diff: f64,
    mask_mismatch: f64,
}

fn compare(got: &Sample, case: &Case) -> Figures {
    let expected = read(&format!("{}.png", case.case));
    assert_eq!((got.width(), got.height()), (expected.width, expected.height), "{}: size", case.case);
    let diffs: Vec<u8> = got.image.data.iter().zip(&expected.data).map(|(a, b)| a.abs_diff(*b)).collect();
    let n = diffs.len() as f64;
    let mask_mismatch = if case.mask {
        let mask = read(&format!("{}_mask.png", case.case));
        got.labels.data.iter().zip(&mask.data).filter(|&(a, b)| *a != u32::from(*b)).count() as f64 / n
    } else {
        assert_eq!(got.labels, input().labels, "{}: an intensity transform keeps the labels", case.case);
        0.0
    };
    Figures {
        max_diff: diffs.iter().copied().max().unwrap_or(0),
        within_one: diffs.iter().filter(|&&d| d <= 1).count() as f64 / n,
        mean_diff: diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / n,
        mask_mismatch,
    }
}

/// Spread of the added noise on pixels far from the clipping bounds.
fn noise_spread(got: &Sample) -> f64 {
    let before = input().image;
    let added: Vec<f64> = got
        .image
        .data
        .iter()
        .zip(&before.data)
        .filter(|&(_, &b)| (70..=185).contains(&b))
        .map(|(&a, &b)| f64::from(a) - f64::from(b))
        .collect();
    let mean = added.iter().sum::<f64>() / added.len() as f64;
    (added.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / added.len() as f64).sqrt()
}

#[test]
fn transforms_match_albumentations_and_opencv() {
    let text = std::fs::read_to_string(dir().join("cases.json")).unwrap();
    let manifest: Manifest = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    eprintln!("{:<30} {:>5} {:>9} {:>9} {:>9}  check", "case", "max", "within1", "mean", "mask≠");
    for case in &manifest.cases {
        let got = run(case, input());
        let f = compare(&got, case);
        eprintln!(
            "{:<30} {:>5} {:>8.3}% {:>9.4} {:>8.3}%  {}",
            case.case,
            f.max_diff,
            100.0 * f.within_one,
            f.mean_diff,
            100.0 * f.mask_mismatch,
            case.check
        );
        let ok = match case.check.as_str() {
            "exact" => f.max_diff == 0 && f.mask_mismatch == 0.0,
            "pm1" => f.max_diff <= 1,
            "geometric" => f.within_one >= 0.995 && f.mask_mismatch <= 0.005,
            "jpeg" => f.mean_diff <= 1.0,
            "noise" => {
                let spread = noise_spread(&got);
                let expected = noise_spread(&Sample::new(read("gauss_noise.png"), input().labels));
                eprintln!("{:<30} noise sd {spread:.2} (albumentations {expected:.2}, asked 25.5)", "");
                (spread - 25.5).abs() < 1.5 && (spread - expected).abs() < 1.5
            }
            other => panic!("unknown check {other}"),
        };
        if !ok {
            failures.push(case.case.clone());
        }
    }
    assert!(failures.is_empty(), "outside tolerance: {failures:?}");
}
