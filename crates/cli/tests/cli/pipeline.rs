//! The main paths: synth, split, from-labels, check, score, show, data check, demo.

use crate::support::{
    boneseg, boneseg_with_env, copy_corpus, corpus, file_names, s, submission_from_labels, train_pairs,
};

#[test]
fn synth_writes_the_competition_layout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    boneseg(&["synth", "--out", s(&data), "--people", "4", "--test-people", "2", "--size", "512"])
        .expect(0)
        .says(&["8 training and 4 test images, 512x512"]);
    assert_eq!(file_names(&data), ["meta_data.xlsx", "synth_truth.csv", "test", "test_labels", "train"]);
    assert_eq!(file_names(&data.join("train")), ["DCM", "outputs_json"]);
    let count = |dir: &str, ext: &str| {
        std::fs::read_dir(data.join(dir))
            .unwrap()
            .flat_map(|p| std::fs::read_dir(p.unwrap().path()).unwrap())
            .filter(|f| f.as_ref().unwrap().path().extension().is_some_and(|e| e == ext))
            .count()
    };
    assert_eq!(count("train/DCM", "png"), 8);
    assert_eq!(count("train/outputs_json", "json"), 8);
    assert_eq!(count("test/DCM", "png"), 4);
    boneseg(&["data", "check", "--data", s(&data)]).expect(0).says(&["0 problem(s)"]);
}

#[test]
fn a_submission_made_from_labels_scores_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus();
    let csv = dir.path().join("sub.csv");
    let (labels, images) = (data.join("test_labels"), data.join("test/DCM"));
    submission_from_labels(&labels, &images, &csv).expect(0).says(&["4 images, 116 rows"]);
    boneseg(&["submission", "check", s(&csv), "--images", s(&images)])
        .expect(0)
        .says(&["ok: 116 rows for 4 images"]);
    let score = |extra: &[&str]| {
        let mut args = vec!["score", "--pred", s(&csv), "--labels", s(&labels), "--images", s(&images)];
        args.extend_from_slice(extra);
        let run = boneseg(&args).expect(0);
        let last = run.stdout.trim_end().lines().last().unwrap_or_default().to_string();
        last.strip_prefix("mean_dice=").expect("the last line gives the mean").to_string()
    };
    let per_image = dir.path().join("per_image.csv");
    assert_eq!(score(&["--per-image", s(&per_image)]), "1");
    let table = std::fs::read_to_string(&per_image).unwrap();
    assert!(table.starts_with("image_name,finger-1,"));
    assert_eq!(table.lines().count(), 5);

    // The same masks against labels filled as OpenCV 4.8-4.10 did are not a perfect match.
    let mean: f64 = score(&["--fill-rule", "opencv-4.8"]).parse().unwrap();
    assert!(mean < 1.0 && mean > 0.99, "{mean}");
}

#[test]
fn folds_keep_people_together_and_score_a_subset() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus();
    let splits = dir.path().join("splits");
    boneseg(&["split", "--data", s(data), "--folds", "3", "--out", s(&splits)]).expect(0);
    let mut seen = Vec::new();
    for k in 0..3 {
        let val = std::fs::read_to_string(splits.join(format!("fold{k}_val.csv"))).unwrap();
        let train = std::fs::read_to_string(splits.join(format!("fold{k}_train.csv"))).unwrap();
        let rows: Vec<&str> = val.lines().skip(1).collect();
        assert_eq!(rows.len(), 2, "fold {k}: one person, both hands");
        let person = rows[0].split(',').nth(1).unwrap();
        assert!(rows.iter().all(|r| r.ends_with(person)));
        assert!(!train.contains(person), "fold {k}: {person} is not also in training");
        seen.extend(rows.iter().map(|r| r.to_string()));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "every image validates once");

    let csv = dir.path().join("train.csv");
    let (labels, images) = (data.join("train/outputs_json"), data.join("train/DCM"));
    submission_from_labels(&labels, &images, &csv).expect(0);
    let fold = splits.join("fold0_val.csv");
    boneseg(&[
        "score",
        "--pred",
        s(&csv),
        "--labels",
        s(&labels),
        "--images",
        s(&images),
        "--subset",
        s(&fold),
    ])
    .expect(0)
    .says(&["images=2\nmean_dice=1"]);
}

#[test]
fn submission_check_reports_seeded_defects_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus();
    let (labels, images) = (data.join("test_labels"), data.join("test/DCM"));
    let good = dir.path().join("good.csv");
    submission_from_labels(&labels, &images, &good).expect(0);
    let text = std::fs::read_to_string(&good).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let image = lines[1].split(',').next().unwrap().to_string();
    lines[2] = format!("{image},finger-2,5 3 1");
    lines[3] = format!("{image},finger-3,0 4");
    lines[4] = format!("{image},finger-4,10 2 11 5");
    lines[5] = format!("{image},finger-5,65530 10");
    lines.swap(10, 11);
    lines[20] = lines[19].clone();
    lines.remove(40);
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let run = boneseg(&["submission", "check", s(&bad), "--images", s(&images)]).expect(1);
    let out = &run.stdout;
    for fragment in [
        "line 3: ",
        "finger-2: malformed RLE: odd number of values (3)",
        "line 4: ",
        "run 1 starts at 0",
        "line 5: ",
        "inside the previous run",
        "line 6: ",
        "ends past the last pixel (65536)",
        "line 12: ",
        "out of order",
        "line 21: ",
        "duplicate row (first at line 20)",
        "missing rows for Trapezium",
        "missing rows for finger-11",
    ] {
        assert!(out.contains(fragment), "{fragment:?} not in:\n{out}");
    }
}

#[test]
fn show_draws_images_with_and_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (image, label) = train_pairs(corpus(), 1).remove(0);
    let out = dir.path().join("overlay.png");
    boneseg(&["show", s(&image), "--labels", s(&label), "--out", s(&out), "--max-size", "128"]).expect(0);
    let drawn = image_size(&out);
    assert_eq!(drawn, (128, 128));
    let plain = dir.path().join("plain.png");
    boneseg(&["show", s(&image), "--out", s(&plain), "--max-size", "0"]).expect(0);
    assert_eq!(image_size(&plain), (256, 256));
}

/// `show --pred` draws what a submission holds for the image (here the image's own labels turned
/// into a submission, so it must draw exactly what `--labels` draws), and says so when the
/// submission has nothing for it.
#[test]
fn show_draws_a_submissions_masks_for_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let (image, label) = train_pairs(corpus(), 1).remove(0);
    let submission_of = |labels: &str, images: &str, name: &str| {
        let (labels, images, csv) = (corpus().join(labels), corpus().join(images), dir.path().join(name));
        submission_from_labels(&labels, &images, &csv).expect(0);
        csv
    };
    let train = submission_of("train/outputs_json", "train/DCM", "train.csv");
    let draw = |source: &[&str], name: &str| {
        let out = dir.path().join(name);
        boneseg(&[&["show", s(&image), "--out", s(&out)][..], source].concat()).expect(0);
        std::fs::read(out).unwrap()
    };
    let from_labels = draw(&["--labels", s(&label)], "labels.png");
    assert_eq!(draw(&["--pred", s(&train)], "pred.png"), from_labels);
    assert_ne!(draw(&[], "plain.png"), from_labels);

    let test = submission_of("test_labels", "test/DCM", "test.csv");
    let name = image.file_name().unwrap().to_str().unwrap();
    let out = dir.path().join("none.png");
    boneseg(&["show", s(&image), "--pred", s(&test), "--out", s(&out)])
        .expect(2)
        .says(&[&format!("has no rows for {name}"), "4 image(s)"]);
    assert!(!out.exists());
}

fn image_size(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

#[test]
fn data_check_passes_on_the_phantom() {
    let dir = tempfile::tempdir().unwrap();
    let data = copy_corpus(dir.path());
    boneseg(&["data", "check", "--data", s(&data)])
        .expect(0)
        .says(&["6 training and 4 test images", "0 problem(s)"]);
}

#[test]
fn the_demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let args = ["--people", "3", "--test-people", "1", "--size", "256", "--train-minutes", "1"];
    // Without a network and with nothing cached the demo trains from scratch and says why
    // (crates/cli/tests/cli/pretrained.rs starts it from served weights).
    let cache = dir.path().join("cache");
    let offline = [("BONESEG_OFFLINE", "1"), ("BONESEG_CACHE", s(&cache))];
    let run = boneseg_with_env(&[&["demo", "--out", s(&out)][..], &args[..]].concat(), &offline).expect(0);
    assert!(run.stdout.contains("mean_dice=1\n"), "{}", run.stdout);
    for line in [
        "efficientnet-lite0's imagenet weights are not available (offline",
        "resnet18's imagenet weights are not available (offline",
        "training starts from scratch: resnet18 with random weights",
    ] {
        assert!(run.stdout.contains(line), "{line} not in {}", run.stdout);
    }
    // Off a terminal the log stays short: one line per validation, no per-image cache lines.
    let validations = run.stderr.lines().filter(|l| l.contains("validation mean dice")).count();
    assert!(validations >= 1, "{}", run.stderr);
    assert!(!run.stderr.contains("caching"), "{}", run.stderr);
    assert!(run.stderr.lines().count() < 40, "{}", run.stderr);
    assert_eq!(file_names(&out.join("overlays")).len(), 3);
    // The run trains configs/phantom-transfer.toml (Dice alone, lr 3e-3, a validation every 10
    // epochs) with the demo's budget overrides (a 128² input, `last` once a minute) and, offline,
    // ResNet-18 from scratch; its resolved config says so.
    let resolved = std::fs::read_to_string(out.join("run").join("config.toml")).unwrap();
    let losses: Vec<&str> = resolved.lines().filter(|l| l.starts_with("kind = ")).collect();
    assert!(losses.contains(&"kind = \"dice\""), "{resolved}");
    assert!(!losses.contains(&"kind = \"bce\""), "{resolved}");
    assert!(resolved.contains("lr = 0.003\n"), "{resolved}");
    assert!(resolved.contains("last_every_minutes = 1.0\n"), "{resolved}");
    assert!(resolved.contains("\nsize = 128\n"), "{resolved}");
    assert!(resolved.contains("\nval_every = 10\n"), "{resolved}");
    assert!(resolved.contains("encoder = \"resnet18\"\n"), "{resolved}");
    assert!(!resolved.contains("encoder_weights"), "{resolved}");
}
