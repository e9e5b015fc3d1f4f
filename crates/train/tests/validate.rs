//! Validation as the leaderboard scores: the align_corners = false upsampling against a hand
//! computation and burn's own, perfect logits scoring 1, and a model run over a cached set.

use boneseg_contract::metric::DiceTable;
use boneseg_contract::{BitMask, FillRule, NUM_CLASSES};
use boneseg_data::{Dataset, ImageEntry, ReadOptions};
use boneseg_infer::upsample::{Frame, logit, logits_to_masks, upsample_threshold};
use boneseg_models::burn::tensor::module::interpolate;
use boneseg_models::burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use boneseg_models::{ModelSpec, SegmentationModel};
use boneseg_phantom::style::Style;
use boneseg_phantom::{SynthConfig, generate};
use boneseg_train::data::{CacheOptions, SampleCache, Truth};
use boneseg_train::validate::{ScoreTable, ValidateOptions, score_logits, validate};

/// The classic phantom: the ceilings below are measured on its images.
fn phantom(people: usize, size: usize) -> (tempfile::TempDir, Vec<ImageEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let config = SynthConfig {
        people,
        test_people: 0,
        size,
        seed: 3,
        style: Style::classic(),
        ..SynthConfig::default()
    };
    generate(&root, &config, false, &|_, _| {}).unwrap();
    (dir, Dataset::open(&root, ReadOptions::default()).unwrap().train)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The pixels of `values` (row-major, `width` wide) above `cut`.
fn above(values: &[f32], height: usize, width: usize, cut: f32) -> BitMask {
    let bytes: Vec<u8> = values.iter().map(|&v| u8::from(v > cut)).collect();
    BitMask::from_bytes(height, width, &bytes)
}

#[test]
fn upsampling_matches_a_hand_computed_align_corners_false_case() {
    // F.interpolate([[0, 1], [2, 3]], size=(4, 4), mode="bilinear", align_corners=False):
    // source positions (d + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (edge).
    let expected: [f32; 16] =
        [0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0];
    let logits = [0.0, 1.0, 2.0, 3.0];
    for step in 0..13 {
        let cut = step as f32 * 0.25 - 0.125;
        let mask = upsample_threshold(&logits, (2, 2), Frame::whole(4, 4), sigmoid(f64::from(cut)));
        assert_eq!(mask, above(&expected, 4, 4, cut), "threshold at logit {cut}");
    }
}

#[test]
fn upsampling_agrees_with_burns_interpolate_without_corner_alignment() {
    let (height, width, out_height, out_width) = (5, 7, 13, 17);
    let logits: Vec<f32> = (0..height * width).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.7).collect();
    let device = Device::flex();
    let input = Tensor::<4>::from_data(TensorData::new(logits.clone(), [1, 1, height, width]), &device);
    let options = InterpolateOptions::new(InterpolateMode::Bilinear)
        .with_align_corners(false)
        .with_output_size([out_height, out_width]);
    let reference = interpolate(input, options).into_data().try_to_vec::<f32>().unwrap();
    for threshold in [0.2, 0.5, 0.9] {
        let cut = logit(threshold);
        let ours =
            upsample_threshold(&logits, (height, width), Frame::whole(out_height, out_width), threshold)
                .to_bytes();
        for (i, (&value, &bit)) in reference.iter().zip(&ours).enumerate() {
            if (value - cut).abs() > 1e-5 {
                assert_eq!(bit == 1, value > cut, "pixel {i}: burn gives {value}, threshold {threshold}");
            }
        }
    }
}

/// Logits of +10 inside and -10 outside each class mask.
fn perfect_logits(masks: &boneseg_contract::ClassMasks) -> Vec<f32> {
    masks.iter().flat_map(|m| m.to_bytes()).map(|b| if b == 1 { 10.0 } else { -10.0 }).collect()
}

#[test]
fn perfect_logits_at_the_original_size_score_exactly_one() {
    let (_dir, entries) = phantom(2, 128);
    let mut table = DiceTable::default();
    for entry in &entries {
        let masks = boneseg_data::labels::load(entry, FillRule::default()).unwrap().masks;
        let logits = perfect_logits(&masks);
        assert_eq!(logits_to_masks(&logits, (128, 128), Frame::whole(128, 128), &[0.5; 29]), masks);
        table.push(entry.name(), score_logits(&logits, 128, 128, &Truth::from_masks(&masks), 0.5));
    }
    assert!(table.rows.iter().all(|(_, row)| row.iter().all(|&d| d == 1.0)));
    assert_eq!(table.mean(), 1.0);
}

/// The masks `cv2.resize(..., INTER_NEAREST)` makes: the top-left pixel of each block.
fn nearest(truth: &boneseg_contract::ClassMasks, size: usize) -> boneseg_contract::ClassMasks {
    let factor = truth.height() / size;
    let mut masks = boneseg_contract::ClassMasks::new(size, size);
    for class in 0..NUM_CLASSES {
        for (y, x) in (0..size).flat_map(|y| (0..size).map(move |x| (y, x))) {
            if truth.class(class).get(y * factor, x * factor) {
                masks.class_mut(class).set(y, x);
            }
        }
    }
    masks
}

#[test]
fn perfect_logits_at_training_size_score_close_to_one() {
    // The ceiling of a 4x reduction depends on how many training pixels a bone spans: on the
    // phantom it is 0.87 at 64², 0.93 at 128², 0.96 at 256².
    let (_dir, entries) = phantom(2, 512);
    let (cache, _) =
        SampleCache::build(entries, &CacheOptions::new(128, FillRule::default()), &|_, _| {}).unwrap();
    let (mut majority, mut top_left) = (DiceTable::default(), DiceTable::default());
    for i in 0..cache.len() {
        let sample = cache.get(i);
        let name = cache.entries()[i].name();
        majority.push(name, score_logits(&perfect_logits(&sample.masks()), 128, 128, &sample.truth, 0.5));
        let shifted = perfect_logits(&nearest(&sample.truth.masks(), 128));
        top_left.push(name, score_logits(&shifted, 128, 128, &sample.truth, 0.5));
    }
    let (mean, reference) = (majority.mean(), top_left.mean());
    assert!(mean > 0.93, "128² logits of the area-majority masks upsampled to 512²: mean dice {mean}");
    assert!(mean < 1.0, "a 4x reduction loses boundary detail");
    assert!(
        mean > reference + 0.03,
        "area majority {mean} against the reference's INTER_NEAREST {reference}"
    );
}

#[test]
fn validation_runs_a_model_over_the_cached_set() {
    let (_dir, entries) = phantom(2, 128);
    let names: Vec<String> = entries.iter().map(|e| e.name().to_string()).collect();
    let (set, _) =
        SampleCache::build(entries, &CacheOptions::new(64, FillRule::default()), &|_, _| {}).unwrap();
    let device = Device::flex();
    let spec = ModelSpec::new("unet".parse().unwrap(), "resnet18".parse().unwrap(), NUM_CLASSES).unwrap();
    let model = SegmentationModel::new(spec, &device);
    let mut calls = Vec::new();
    let options = ValidateOptions { threshold: 0.5, batch_size: 3, ..ValidateOptions::default() };
    let scores = validate(&model, &set, &options, &device, |done, total| calls.push((done, total)));
    assert_eq!(calls, [(3, 4), (4, 4)]);
    assert_eq!(scores.table.rows.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), names);
    assert!(scores.table.rows.iter().flat_map(|(_, r)| r).all(|d| (0.0..=1.0).contains(d)));
}

#[test]
fn the_report_marks_the_three_worst_classes() {
    let mut table = DiceTable::default();
    let mut row = [0.99; NUM_CLASSES];
    row[15] = 0.5;
    row[20] = 0.6;
    row[26] = 0.7;
    row[3] = 0.8;
    table.push("a.png", row);
    table.push("b.png", [1.0; NUM_CLASSES]);
    let scores = ScoreTable { table };
    assert_eq!(scores.worst_classes(3), [15, 20, 26]);
    let report = scores.report_marking_worst(3);
    let marked: Vec<&str> = report.lines().filter(|l| l.contains("<- worst")).collect();
    assert_eq!(marked.len(), 3, "{report}");
    assert!(marked[0].starts_with("finger-16") && marked[0].ends_with("a.png  <- worst 1"), "{report}");
    assert!(marked[1].starts_with("Trapezoid") && marked[2].starts_with("Pisiform"), "{report}");
    assert!(report.ends_with(&format!("mean_dice={}", scores.mean())));
    assert_eq!(scores.to_csv().lines().count(), 1 + NUM_CLASSES + 1);
    assert!(scores.to_csv().contains("finger-16,0.750000,0.500000,a.png"));
    assert_eq!(scores.images_csv().lines().nth(2).unwrap().split(',').count(), 1 + NUM_CLASSES);
}
