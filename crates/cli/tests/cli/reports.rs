//! `boneseg eda`, `evaluate`, `runs` and the reports in a real browser, on a phantom with seeded
//! outliers and a submission degraded in known ways.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use boneseg_contract::submission::SubmissionWriter;
use boneseg_contract::{AnnotationFile, BitMask, ClassMasks, FillRule, NUM_CLASSES, class_index};
use serde_json::Value;

use crate::support::{boneseg, boneseg_with_ledger, corpus, s, submission_from_labels};

/// A phantom (6 training and 2 test people, 256²) with many rotated arms and outlier people, plus
/// two label outliers seeded by hand: one image loses its Pisiform, another gets a middle
/// metacarpal (finger-11) twice its size. Returns the dataset, the EDA report folder and the two seeded images.
pub fn seeded() -> &'static (tempfile::TempDir, PathBuf, PathBuf, [String; 2]) {
    static SEEDED: OnceLock<(tempfile::TempDir, PathBuf, PathBuf, [String; 2])> = OnceLock::new();
    SEEDED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // The classic phantom: the report is checked against its known outliers and overlaps.
        let args =
            ["--people", "6", "--test-people", "2", "--size", "256", "--seed", "11", "--style", "classic"];
        let rates = ["--outlier-rate", "0.5", "--rotated-rate", "0.4"];
        boneseg(&[&["synth", "--out", s(&data)][..], &args[..], &rates[..]].concat()).expect(0);
        let labels = data.join("train/outputs_json");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&labels)
            .unwrap()
            .flat_map(|p| std::fs::read_dir(p.unwrap().path()).unwrap().map(|f| f.unwrap().path()))
            .collect();
        files.sort();
        edit_polygons(&files[1], |label, points| {
            if label == "Pisiform" {
                points.clear();
            }
        });
        edit_polygons(&files[4], |label, points| {
            if label == "finger-11" {
                let n = points.len() as f64;
                let (cx, cy) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0] / n, y + p[1] / n));
                for p in points.iter_mut() {
                    let grow = |v: f64, c: f64| (c + (v - c) * 1.45).clamp(0.0, 255.0);
                    *p = [grow(p[0], cx), grow(p[1], cy)];
                }
            }
        });
        let rel =
            |f: &Path| f.strip_prefix(&labels).unwrap().with_extension("png").to_string_lossy().into_owned();
        let seeded = [rel(&files[1]), rel(&files[4])];
        let report = dir.path().join("eda");
        boneseg(&["eda", "--data", s(&data), "--out", s(&report)]).expect(0).says(&["outlier candidates"]);
        (dir, data, report, seeded)
    })
}

/// Rewrites the polygons of a label file; a polygon left without points is removed.
fn edit_polygons(path: &Path, edit: impl Fn(&str, &mut Vec<[f64; 2]>)) {
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let annotations = json["annotations"].as_array_mut().unwrap();
    annotations.retain_mut(|a| {
        let label = a["label"].as_str().unwrap().to_string();
        let mut points: Vec<[f64; 2]> = a["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()])
            .collect();
        edit(&label, &mut points);
        a["points"] = serde_json::json!(
            points.iter().map(|p| [p[0].round() as i64, p[1].round() as i64]).collect::<Vec<_>>()
        );
        !points.is_empty()
    });
    std::fs::write(path, serde_json::to_string(&json).unwrap()).unwrap();
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn eda_shows_the_seeded_overlaps_and_outliers() {
    let (_, data, report, seeded) = seeded();
    let eda = read_json(&report.join("eda.json"));
    assert_eq!(eda["train_images"], 12);
    assert_eq!(eda["test_images"], 4);

    // The phantom's overlapping carpals are the pairs the report names.
    let pairs: Vec<String> = eda["overlap_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}/{}", p["a"].as_str().unwrap(), p["b"].as_str().unwrap()))
        .collect();
    for pair in ["Trapezium/Trapezoid", "Triquetrum/Pisiform"] {
        assert!(pairs.iter().take(6).any(|p| p == pair), "{pair} among the biggest overlaps: {pairs:?}");
    }

    let outliers: Vec<(String, String)> = eda["outliers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["image"].as_str().unwrap().to_string(), o["reasons"].to_string()))
        .collect();
    let reasons =
        |image: &str| outliers.iter().find(|(i, _)| i == image).map(|(_, r)| r.clone()).unwrap_or_default();
    assert!(reasons(&seeded[0]).contains("missing Pisiform"), "{outliers:?}");
    assert!(reasons(&seeded[1]).contains("finger-11 area"), "{outliers:?}");

    // Against the phantom's own record: arms rotated by 20° or more (the phantom rotates by 15-35°
    // and deviates wrists by a few degrees), outlier people and each image's hand.
    let truth = std::fs::read_to_string(data.join("synth_truth.csv")).unwrap();
    let images = eda["images"].as_array().unwrap();
    let mut rotated = 0;
    for row in truth.lines().skip(1).filter(|r| r.contains(",train,")) {
        let f: Vec<&str> = row.split(',').collect();
        let (image, hand, rotation) = (f[0], f[3], f[4].parse::<f64>().unwrap());
        if rotation.abs() >= 20.0 {
            rotated += 1;
            assert!(
                reasons(image).contains("hand axis"),
                "{image} is rotated by {rotation}°: {}",
                reasons(image)
            );
        }
        if !f[7].is_empty() || f[8] == "1" || !f[9].is_empty() {
            assert!(reasons(image).contains("meta remark"), "{image}: {row}");
        }
        let facts = images.iter().find(|i| i["image"] == image).unwrap();
        assert_eq!(facts["hand"]["side"], hand, "{image}");
    }
    assert!(rotated >= 2, "the seed gives rotated arms to find ({rotated})");

    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    for section in [
        "Class areas",
        "Overlaps between classes",
        "Left and right hands",
        "Meta data, train and test",
        "Outlier candidates",
        "Intensity histograms",
    ] {
        assert!(html.contains(section), "{section}");
    }
    assert!(html.contains("data:image/png;base64,"), "outlier thumbnails are embedded");
    for table in ["class_areas.csv", "overlaps.csv", "images.csv", "outliers.csv"] {
        assert!(std::fs::read_to_string(report.join(table)).unwrap().lines().count() > 1, "{table}");
    }
}

/// Masks of every test image of the corpus, by image name, in sorted order.
fn test_masks() -> Vec<(String, ClassMasks)> {
    let labels = corpus().join("test_labels");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&labels)
        .unwrap()
        .flat_map(|p| std::fs::read_dir(p.unwrap().path()).unwrap().map(|f| f.unwrap().path()))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let name = f.with_extension("png").file_name().unwrap().to_string_lossy().into_owned();
            (name, AnnotationFile::read(f).unwrap().rasterize(256, 256, FillRule::OpenCv4_11))
        })
        .collect()
}

/// Pixels of any class but `except` (pass NUM_CLASSES for all).
fn any_class(masks: &ClassMasks, except: usize) -> BitMask {
    let mut union = BitMask::new(masks.height(), masks.width());
    for (_, m) in masks.iter().enumerate().filter(|(c, _)| *c != except) {
        union.union_with(m);
    }
    union
}

/// A submission with three known faults — finger-1 and finger-5 swapped in image 0, finger-16
/// left out of image 1, a square of background called Radius in image 2 — and the RED, YELLOW
/// and GREEN pixel counts those faults must give.
fn degraded_submission(path: &Path) -> [u64; 3] {
    let images = test_masks();
    let [f1, f5, f16, radius] =
        ["finger-1", "finger-5", "finger-16", "Radius"].map(|c| class_index(c).unwrap());
    let mut writer = SubmissionWriter::create(path).unwrap();
    let (mut red, mut yellow, mut green) = (0, 0, 0);
    for (i, (name, truth)) in images.iter().enumerate() {
        let mut predicted = truth.clone();
        match i {
            0 => {
                *predicted.class_mut(f1) = truth.class(f5).clone();
                *predicted.class_mut(f5) = truth.class(f1).clone();
                let both = truth.class(f1).intersection_count(truth.class(f5));
                red += truth.class(f1).count() + truth.class(f5).count() - 2 * both;
            }
            1 => {
                *predicted.class_mut(f16) = BitMask::new(256, 256);
                let shared = truth.class(f16).intersection_count(&any_class(truth, f16));
                red += shared;
                yellow += truth.class(f16).count() - shared;
            }
            2 => {
                let mut square = BitMask::new(256, 256);
                for row in 0..8 {
                    square.set_span(row, 0, 7);
                }
                assert_eq!(
                    square.intersection_count(&any_class(truth, NUM_CLASSES)),
                    0,
                    "the corner is background"
                );
                predicted.class_mut(radius).union_with(&square);
                green += 64;
            }
            _ => {}
        }
        writer.write_image(name, &predicted).unwrap();
    }
    writer.finish().unwrap();
    [red, yellow, green]
}

/// The evaluation report of the degraded submission, made once (for the browser test).
pub fn degraded_report() -> PathBuf {
    static REPORT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, report) = REPORT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pred = dir.path().join("degraded.csv");
        degraded_submission(&pred);
        let (labels, images) = (corpus().join("test_labels"), corpus().join("test/DCM"));
        let out = dir.path().join("report");
        boneseg(&[
            "evaluate",
            "--pred",
            s(&pred),
            "--labels",
            s(&labels),
            "--images",
            s(&images),
            "--out",
            s(&out),
        ])
        .expect(0);
        (dir, out)
    });
    report.clone()
}

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or_default()
}

#[test]
fn evaluation_of_a_degraded_submission_gives_the_expected_error_shares() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("degraded.csv");
    let [red, yellow, green] = degraded_submission(&pred);
    assert!(red > 0 && yellow > 0, "the faults touch pixels ({red}, {yellow})");
    let (labels, images) = (corpus().join("test_labels"), corpus().join("test/DCM"));
    let out = dir.path().join("report");
    let ledger = dir.path().join("ledger.jsonl");
    let common = ["--pred", s(&pred), "--labels", s(&labels), "--images", s(&images)];
    let evaluated =
        boneseg_with_ledger(&[&["evaluate", "--out", s(&out)][..], &common[..]].concat(), &ledger).expect(0);
    let scored = boneseg(&[&["score"][..], &common[..]].concat()).expect(0);
    assert_eq!(last_line(&evaluated.stdout), last_line(&scored.stdout), "evaluate's mean dice is score's");

    let e = read_json(&out.join("evaluation.json"));
    let count = |k: &str| e["errors"][k].as_u64().unwrap();
    assert_eq!([count("red"), count("yellow"), count("green")], [red, yellow, green]);
    let total = (red + yellow + green) as f64;
    let shares: Vec<f64> =
        e["error_shares"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    for (share, expected) in shares.iter().zip([red, yellow, green]) {
        assert!((share - expected as f64 / total).abs() < 1e-12, "{shares:?}");
    }
    println!(
        "degraded submission: RED {:.1}% YELLOW {:.1}% GREEN {:.1}%",
        shares[0] * 100.0,
        shares[1] * 100.0,
        shares[2] * 100.0
    );

    let class =
        |name: &str| e["classes"].as_array().unwrap().iter().find(|c| c["class"] == name).unwrap().clone();
    assert_eq!(class("finger-2")["dice"], 1.0);
    assert_eq!(class("finger-2")["hd95"], 0.0);
    assert!(class("finger-16")["recall"].as_f64().unwrap() < 0.8);
    assert_eq!(class("finger-16")["hd95_undefined"], 1, "one image has no finger-16 prediction");
    assert!(class("Radius")["precision"].as_f64().unwrap() < 1.0);
    assert!(
        class("finger-1")["worst"][0][1].as_f64().unwrap() < 0.1,
        "the swapped image is finger-1's worst"
    );
    let by_meta = e["by_meta"].as_array().unwrap();
    for variable in ["age", "gender", "weight_kg", "height_cm", "hand"] {
        let images: u64 =
            by_meta.iter().filter(|b| b["variable"] == variable).map(|b| b["images"].as_u64().unwrap()).sum();
        assert_eq!(images, 4, "every image in one {variable} bin");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("Error map") && html.contains("data:image/png;base64,"));
    assert_eq!(std::fs::read_to_string(out.join("per_image.csv")).unwrap().lines().count(), 5);
}

#[test]
fn the_ledger_lists_and_compares_two_evaluations() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let (labels, images) = (corpus().join("test_labels"), corpus().join("test/DCM"));
    let perfect = dir.path().join("perfect.csv");
    submission_from_labels(&labels, &images, &perfect).expect(0);
    let degraded = dir.path().join("degraded.csv");
    degraded_submission(&degraded);
    for (pred, out) in [(&perfect, "a"), (&degraded, "b")] {
        let args = ["evaluate", "--pred", s(pred), "--labels", s(&labels), "--images", s(&images)];
        boneseg_with_ledger(&[&args[..], &["--out", s(&dir.path().join(out))][..]].concat(), &ledger)
            .expect(0);
    }
    let list = boneseg_with_ledger(&["runs", "list"], &ledger).expect(0);
    let rows: Vec<&str> = list.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", list.stdout);
    assert!(rows[0].contains("evaluate") && rows[0].contains("1.000000"), "{}", rows[0]);

    let shown = boneseg_with_ledger(&["runs", "show", "last"], &ledger).expect(0);
    let record: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(record["kind"], "evaluate");
    assert_eq!(record["class_dice"].as_array().unwrap().len(), 29);
    assert_eq!(record["data_fingerprint"].as_str().unwrap().len(), 16);
    assert!(record["seconds"].as_f64().unwrap() > 0.0);

    let compared = boneseg_with_ledger(&["runs", "compare", "1", "2"], &ledger).expect(0).stdout;
    let line =
        |prefix: &str| compared.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_string();
    assert!(line("finger-16 ").contains("1.000000"), "{compared}");
    assert!(line("finger-16 ").contains("-0."), "finger-16 got worse: {compared}");
    assert!(line("finger-2 ").ends_with("+0.000000"), "{compared}");
    assert!(compared.contains("config: 1 key(s) differ") && compared.contains("pred:"), "{compared}");
    boneseg_with_ledger(&["runs", "show", "3"], &ledger)
        .expect(2)
        .says(&["no record `3`: use a number from 1 to 2"]);
}
