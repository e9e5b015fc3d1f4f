//! `boneseg infer`, `thresholds tune` and `ensemble` on a tiny trained run.

use crate::support::write_config;
use crate::support::{boneseg, corpus, s};

#[test]
fn infer_tune_and_ensemble_write_valid_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    boneseg(&["train", "--config", s(&write_config(dir.path(), 1)), "--out", s(&run)]).expect(0);
    let images = corpus().join("test/DCM");
    let out = |name: &str| dir.path().join(name);
    let check = |file: &std::path::Path| {
        boneseg(&["submission", "check", s(file), "--images", s(&images)]).expect(0);
    };

    // The plain path of infer is predict's, byte for byte.
    boneseg(&["predict", "--run", s(&run), "--images", s(&images), "--out", s(&out("predict.csv"))])
        .expect(0);
    boneseg(&["infer", "--run", s(&run), "--images", s(&images), "--out", s(&out("plain.csv"))])
        .expect(0)
        .says(&["1 views per image", "train.threshold 0.5"]);
    let read = |name: &str| std::fs::read_to_string(out(name)).unwrap();
    assert_eq!(read("plain.csv"), read("predict.csv"));

    // Everything at once: sliding windows, all TTA views, post-processing, a probability store.
    let store = out("probs");
    boneseg(&[
        "infer",
        "--run",
        s(&run),
        "--images",
        s(&images),
        "--out",
        s(&out("full.csv")),
        "--mode",
        "sliding",
        "--window",
        "64",
        "--stride",
        "48",
        "--hflip",
        "--scales",
        "0.5,1.0",
        "--brightness",
        "0.9,1.0",
        "--merge",
        "probs",
        "--min-size",
        "4",
        "--fill-holes",
        "--probs",
        s(&store),
    ])
    .expect(0)
    .says(&["8 views per image", "probability store written", "recorded in the ledger"]);
    check(&out("full.csv"));
    assert!(store.join("probs.parquet").is_file());

    // Tuned thresholds land in the run and infer picks them up.
    boneseg(&["thresholds", "tune", "--run", s(&run), "--low", "0.3", "--high", "0.7", "--step", "0.2"])
        .expect(0)
        .says(&["validation mean dice", "thresholds.toml"]);
    let tuned = std::fs::read_to_string(run.join("thresholds.toml")).unwrap();
    assert!(tuned.contains("finger-1 = ") && tuned.contains("Ulna = "), "{tuned}");
    boneseg(&["infer", "--run", s(&run), "--images", s(&images), "--out", s(&out("tuned.csv"))])
        .expect(0)
        .says(&["thresholds.toml"]);
    check(&out("tuned.csv"));

    // Ensembles: a majority of two identical submissions is that submission.
    let (plain, full) = (out("plain.csv"), out("full.csv"));
    boneseg(&[
        "ensemble",
        "--method",
        "vote",
        "--inputs",
        s(&plain),
        s(&full),
        s(&plain),
        "--images",
        s(&images),
        "--out",
        s(&out("vote.csv")),
    ])
    .expect(0)
    .says(&["images ensembled", "recorded in the ledger"]);
    assert_eq!(read("vote.csv"), read("plain.csv"));
    boneseg(&[
        "ensemble",
        "--method",
        "mean",
        "--inputs",
        s(&store),
        s(&store),
        "--weights",
        "1,3",
        "--keep-largest",
        "--out",
        s(&out("mean.csv")),
    ])
    .expect(0);
    check(&out("mean.csv"));
    boneseg(&[
        "ensemble",
        "--method",
        "vote",
        "--inputs",
        s(&plain),
        s(&out("mean.csv")),
        "--more-than",
        "2",
        "--out",
        "x.csv",
    ])
    .expect(2)
    .says(&["can never be met"]);
}

/// Validation stores from `infer --validation-of`, `ensemble tune` on them, and the tuned file
/// used by `ensemble --method mean --tuned` and `infer --tuned`: each output equals the one made
/// with the file's settings spelt out as flags, so the file is what decides.
#[test]
fn tuned_on_validation_stores_drives_ensemble_and_infer() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    boneseg(&["train", "--config", s(&write_config(dir.path(), 1)), "--out", s(&run)]).expect(0);
    let out = |name: &str| dir.path().join(name);
    let test_images = corpus().join("test/DCM");
    let infer_into = |store: &str, images: &[&str], hflip: bool| {
        let (csv, probs) = (out(&format!("{store}.csv")), out(store));
        let mut args =
            vec!["infer", "--run", s(&run), "--out", s(&csv), "--probs", s(&probs), "--floor", "0.05"];
        args.extend_from_slice(images);
        if hflip {
            args.push("--hflip");
        }
        boneseg(&args).expect(0);
    };
    // Two "models": the plain view and the flip-merged views.
    for (name, hflip) in [("a", false), ("b", true)] {
        infer_into(&format!("val-{name}"), &["--validation-of", s(&run)], hflip);
        infer_into(&format!("test-{name}"), &["--images", s(&test_images)], hflip);
    }
    let tune = |inputs: &[&str], file: &str| {
        let mut args = vec!["ensemble", "tune", "--inputs"];
        let stores: Vec<std::path::PathBuf> = inputs.iter().map(|i| out(i)).collect();
        args.extend(stores.iter().map(|p| s(p)));
        let labels = corpus().join("train/outputs_json");
        let images = corpus().join("train/DCM");
        let tuned = out(file);
        args.extend(["--images", s(&images), "--labels", s(&labels), "--out", s(&tuned)]);
        args.extend(["--low", "0.1", "--high", "0.9", "--step", "0.2", "--min-sizes", "4,40"]);
        boneseg(&args).expect(0).says(&["validation mean dice", "tuned settings written", "finger-16"]);
        std::fs::read_to_string(&tuned).unwrap().parse::<toml::Table>().unwrap()
    };
    let check = |file: &std::path::Path| {
        boneseg(&["submission", "check", s(file), "--images", s(&test_images)]).expect(0);
    };
    // The tuned file's tables as the standalone files the flags take.
    let spell_out = |tuned: &toml::Table, name: &str| {
        let thresholds = out(&format!("{name}-thresholds.toml"));
        let post = out(&format!("{name}-post.toml"));
        std::fs::write(&thresholds, toml::to_string(&tuned["thresholds"]).unwrap()).unwrap();
        let nothing = toml::Value::Table(toml::Table::new());
        std::fs::write(&post, toml::to_string(tuned.get("postprocess").unwrap_or(&nothing)).unwrap())
            .unwrap();
        let weights: Vec<String> =
            tuned["weights"].as_array().unwrap().iter().map(|w| w.as_float().unwrap().to_string()).collect();
        (thresholds, post, weights.join(","))
    };
    let read = |name: &str| std::fs::read_to_string(out(name)).unwrap();

    // Two stores: weights, thresholds and post-processing for the weighted mean.
    let pair = tune(&["val-a", "val-b"], "pair.toml");
    assert_eq!(pair["weights"].as_array().unwrap().len(), 2);
    let (thresholds, post, weights) = spell_out(&pair, "pair");
    let (test_a, test_b) = (out("test-a"), out("test-b"));
    let tuned = out("pair.toml");
    boneseg(&[
        "ensemble",
        "--method",
        "mean",
        "--inputs",
        s(&test_a),
        s(&test_b),
        "--tuned",
        s(&tuned),
        "--out",
        s(&out("tuned-mean.csv")),
    ])
    .expect(0)
    .says(&["pair.toml"]);
    check(&out("tuned-mean.csv"));
    boneseg(&[
        "ensemble",
        "--method",
        "mean",
        "--inputs",
        s(&test_a),
        s(&test_b),
        "--weights",
        &weights,
        "--thresholds",
        s(&thresholds),
        "--postprocess",
        s(&post),
        "--out",
        s(&out("flags-mean.csv")),
    ])
    .expect(0);
    assert_eq!(read("tuned-mean.csv"), read("flags-mean.csv"));
    // Its thresholds belong to the mean of two stores, not to one inference.
    boneseg(&[
        "infer",
        "--run",
        s(&run),
        "--images",
        s(&test_images),
        "--out",
        "x.csv",
        "--tuned",
        s(&tuned),
    ])
    .expect(2)
    .says(&["weighted mean"]);

    // One store: thresholds and post-processing for infer with the same views.
    let single = tune(&["val-b"], "single.toml");
    let (thresholds, post, _) = spell_out(&single, "single");
    boneseg(&[
        "infer",
        "--run",
        s(&run),
        "--images",
        s(&test_images),
        "--hflip",
        "--tuned",
        s(&out("single.toml")),
        "--out",
        s(&out("tuned-infer.csv")),
    ])
    .expect(0)
    .says(&["single.toml"]);
    check(&out("tuned-infer.csv"));
    let copy = out("run-copy");
    crate::support::copy_dir(&run, &copy);
    std::fs::copy(&thresholds, copy.join("thresholds.toml")).unwrap();
    boneseg(&[
        "infer",
        "--run",
        s(&copy),
        "--images",
        s(&test_images),
        "--hflip",
        "--postprocess",
        s(&post),
        "--out",
        s(&out("flags-infer.csv")),
    ])
    .expect(0);
    assert_eq!(read("tuned-infer.csv"), read("flags-infer.csv"));

    // Several runs never borrow the first run's own thresholds.
    boneseg(&[
        "infer",
        "--run",
        s(&copy),
        "--run",
        s(&run),
        "--images",
        s(&test_images),
        "--out",
        s(&out("two.csv")),
    ])
    .expect(0)
    .says(&["train.threshold 0.5"]);
}

/// Each stored pixel of one class of one image: index, quantised probability.
fn stored_pixels(store: &std::path::Path, image: &str, class: usize) -> (usize, usize, Vec<(usize, u8)>) {
    let row = boneseg_ensemble::store::ProbReader::open(store)
        .unwrap()
        .map(Result::unwrap)
        .find(|row| row.image_name == image && row.class == class)
        .unwrap_or_else(|| panic!("{image} class {class} not in the store"));
    let indices = row.probs.runs.iter().flat_map(|&(start, len)| start..start + len);
    (row.height, row.width, indices.zip(row.probs.values).collect())
}

#[test]
fn predict_takes_a_folder_of_radiographs_as_found() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    boneseg(&["train", "--config", s(&write_config(dir.path(), 1)), "--out", s(&run)]).expect(0);
    let first = |dir: &std::path::Path| {
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths.remove(0)
    };
    let image = image::open(first(&first(&corpus().join("test/DCM")))).unwrap().into_luma8();
    let (side, band) = (image.width(), 48);

    // An atlas: loose files and nested folders, JPEG and PNG, square and not. `cut.png` is the
    // image's middle rows; `banded.png` is the whole image with those rows alone kept, black
    // above and below: what `cut.png` letterboxed to a square is.
    let atlas = dir.path().join("atlas");
    std::fs::create_dir_all(atlas.join("boys/10y")).unwrap();
    image.save_with_format(atlas.join("photo.JPG"), image::ImageFormat::Jpeg).unwrap();
    let cut = image::imageops::crop_imm(&image, 0, band, side, side - 2 * band).to_image();
    cut.save(atlas.join("boys/10y/cut.png")).unwrap();
    let banded = image::GrayImage::from_fn(side, side, |x, y| {
        if (band..side - band).contains(&y) { *image.get_pixel(x, y) } else { image::Luma([0]) }
    });
    banded.save(atlas.join("banded.png")).unwrap();

    let submission = dir.path().join("atlas.csv");
    boneseg(&["predict", "--run", s(&run), "--images", s(&atlas), "--out", s(&submission)])
        .expect(0)
        .says(&["3 images predicted"]);
    let predicted = boneseg_contract::submission::Submission::read(&submission).unwrap();
    let (width, height) = (side as usize, (side - 2 * band) as usize);
    assert!(predicted.image_masks("cut.png", height, width).unwrap().is_some());
    assert!(predicted.image_masks("photo.JPG", side as usize, side as usize).unwrap().is_some());
    let drawn = dir.path().join("photo-pred.png");
    boneseg(&["show", s(&atlas.join("photo.JPG")), "--pred", s(&submission), "--out", s(&drawn)]).expect(0);
    assert_eq!(image::open(&drawn).unwrap().width(), side);

    // The non-square image is letterboxed, not squashed: its probabilities are exactly those
    // of the banded square's middle rows.
    let store = dir.path().join("probs");
    boneseg(&[
        "infer",
        "--run",
        s(&run),
        "--images",
        s(&atlas),
        "--out",
        s(&dir.path().join("infer.csv")),
        "--probs",
        s(&store),
        "--floor",
        "0.01",
    ])
    .expect(0);
    let mut compared = 0;
    for class in 0..29 {
        let (cut_height, cut_width, cut) = stored_pixels(&store, "cut.png", class);
        assert_eq!((cut_height, cut_width), (height, width));
        let (_, _, square) = stored_pixels(&store, "banded.png", class);
        let middle: Vec<(usize, u8)> = square
            .into_iter()
            .filter(|&(i, _)| (band as usize * width..(side - band) as usize * width).contains(&i))
            .map(|(i, p)| (i - band as usize * width, p))
            .collect();
        assert_eq!(cut, middle, "class {class}");
        compared += cut.len();
    }
    assert!(compared > 0, "some probabilities above the floor were compared");
}
