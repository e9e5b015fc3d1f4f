//! Parity with the competition's Python reference: OpenCV's `fillPoly` (per OpenCV release),
//! the numpy RLE and the baseline's dice, on fixtures written by
//! `tools/reference/make_contract_fixtures.py`.
//!
//! `BONESEG_CONTRACT_FIXTURES=DIR` points the tests at another set of fixtures (for instance new
//! cases made with another `--seed`).

use std::path::PathBuf;

use boneseg_contract::metric::dice;
use boneseg_contract::{BitMask, FillRule, fill_poly, rle};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    std::env::var_os("BONESEG_CONTRACT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

fn load(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn size(case: &Value) -> (usize, usize) {
    (case["height"].as_u64().unwrap() as usize, case["width"].as_u64().unwrap() as usize)
}

/// A mask from `np.packbits` hex (MSB first), independent of the RLE code under test.
fn mask_from_hex(hex: &str, height: usize, width: usize) -> BitMask {
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let pixels: Vec<u8> = (0..height * width).map(|i| bytes[i / 8] >> (7 - i % 8) & 1).collect();
    BitMask::from_bytes(height, width, &pixels)
}

#[test]
fn fill_poly_matches_every_opencv_release_fixture() {
    let mut files: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("fill_poly_opencv-"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected fillPoly fixtures for three OpenCV releases, found {files:?}");
    for file in files {
        let fixture = load(&file);
        let version = fixture["opencv"].as_str().unwrap();
        let rule = FillRule::for_opencv_version(version).unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert!(cases.len() >= 200, "{}: only {} polygons", file.display(), cases.len());
        let mut failures = Vec::new();
        for case in cases {
            let (h, w) = size(case);
            let points: Vec<[i32; 2]> = case["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| [p[0].as_i64().unwrap() as i32, p[1].as_i64().unwrap() as i32])
                .collect();
            let mut mask = BitMask::new(h, w);
            fill_poly(&mut mask, &points, rule);
            if rle::encode(&mask) != case["rle"].as_str().unwrap() {
                failures.push(case["name"].as_str().unwrap().to_string());
            }
        }
        assert!(
            failures.is_empty(),
            "OpenCV {version} ({rule}): {} of {} polygons differ: {failures:?}",
            failures.len(),
            cases.len()
        );
    }
}

#[test]
fn rle_is_bit_identical_to_numpy() {
    let fixture = load(&fixture_dir().join("contract.json"));
    for case in fixture["rle"].as_array().unwrap() {
        let (h, w) = size(case);
        let name = case["name"].as_str().unwrap();
        let mask = mask_from_hex(case["bits"].as_str().unwrap(), h, w);
        let expected = case["rle"].as_str().unwrap();
        assert_eq!(rle::encode(&mask), expected, "encode {name}");
        assert_eq!(rle::decode(expected, h, w).unwrap(), mask, "decode {name}");
    }
}

#[test]
fn dice_matches_the_baseline_formula() {
    let fixture = load(&fixture_dir().join("contract.json"));
    for case in fixture["dice"].as_array().unwrap() {
        let (h, w) = size(case);
        let name = case["name"].as_str().unwrap();
        let pred = mask_from_hex(case["pred"].as_str().unwrap(), h, w);
        let truth = mask_from_hex(case["truth"].as_str().unwrap(), h, w);
        let ours = dice(&pred, &truth);
        let f64_ref = case["dice_f64"].as_f64().unwrap();
        let f32_ref = case["dice_f32"].as_f64().unwrap();
        assert!((ours - f64_ref).abs() <= 1e-15, "{name}: {ours} vs numpy f64 {f64_ref}");
        assert!((ours - f32_ref).abs() <= 1e-6, "{name}: {ours} vs numpy f32 {f32_ref}");
    }
}
