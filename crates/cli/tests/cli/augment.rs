//! `boneseg augment-dataset` and `boneseg augment preview`.

use crate::support::{boneseg, corpus, s, submission_from_labels};

#[test]
fn an_augmented_dataset_is_read_by_check_split_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("aug");
    boneseg(&[
        "augment-dataset",
        "--data",
        s(corpus()),
        "--out",
        s(&out),
        "--ops",
        "flip,rotate,mosaic",
        "--rotate",
        "straighten",
        "--upright-angle",
        "12",
    ])
    .expect(0)
    .says(&["wrote 21 images", "6 flip", "3 mosaic", "6 original", "6 rotate"]);

    let provenance = std::fs::read_to_string(out.join("augment_provenance.csv")).unwrap();
    assert!(provenance.starts_with("output,op,sources,params\n"));
    assert_eq!(provenance.lines().count(), 22);
    let mosaic = provenance.lines().find(|l| l.contains(",mosaic,")).unwrap();
    let person = &mosaic["train/DCM/".len().."train/DCM/".len() + 5];
    assert!(mosaic.split(',').nth(2).unwrap().split(';').all(|src| src.starts_with(person)), "{mosaic}");

    boneseg(&["data", "check", "--data", s(&out)]).expect(0).says(&["21 training", "0 problem(s)"]);
    let splits = dir.path().join("splits");
    boneseg(&["split", "--data", s(&out), "--folds", "3", "--out", s(&splits)]).expect(0);
    for k in 0..3 {
        let val = std::fs::read_to_string(splits.join(format!("fold{k}_val.csv"))).unwrap();
        let people: std::collections::BTreeSet<&str> =
            val.lines().skip(1).map(|r| r.split(',').nth(1).unwrap()).collect();
        assert_eq!(people.len(), 1, "fold {k}: one person with all their copies");
        assert_eq!(val.lines().count() - 1, 7, "fold {k}: 2 originals, 2 flips, 2 rotations, 1 mosaic");
    }

    let csv = dir.path().join("sub.csv");
    let (labels, images) = (out.join("train/outputs_json"), out.join("train/DCM"));
    submission_from_labels(&labels, &images, &csv).expect(0);
    boneseg(&["score", "--pred", s(&csv), "--labels", s(&labels), "--images", s(&images)])
        .expect(0)
        .says(&["images=21\nmean_dice=1"]);
}

#[test]
fn augment_dataset_refuses_bad_operations_and_a_used_output() {
    boneseg(&["augment-dataset", "--data", s(corpus()), "--out", "/tmp/never", "--ops", "flip,shear"])
        .expect(2)
        .says(&["unknown operation `shear`; the operations are flip, rotate, mosaic"]);
    boneseg(&["augment-dataset", "--data", s(corpus()), "--out", s(corpus()), "--ops", "flip"])
        .expect(2)
        .says(&["the output folder must differ from the dataset and be empty or new"]);
}

#[test]
fn preview_draws_a_grid_and_names_config_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aug.toml");
    std::fs::write(
        &config,
        "[[augment]]\nname = \"horizontal_flip\"\n[[augment]]\nname = \"shift_scale_rotate\"\np = 1\n\
         [[augment]]\nname = \"clahe\"\nclip_limit = 2.0\n",
    )
    .unwrap();
    let (image, label) = crate::support::train_pairs(corpus(), 1).remove(0);
    let out = dir.path().join("grid.png");
    let args = ["augment", "preview", "--config", s(&config), "--image", s(&image), "--labels", s(&label)];
    let mut with_out = args.to_vec();
    with_out.extend(["--n", "5", "--tile", "64", "--out", s(&out)]);
    boneseg(&with_out).expect(0).says(&["5 samples, 3 steps"]);
    let grid = image::open(&out).unwrap();
    assert_eq!((grid.width(), grid.height()), (3 * 68 + 4, 2 * 68 + 4));

    std::fs::write(&config, "[[augment]]\nname = \"clahe\"\nclip_limt = 2.0\n").unwrap();
    let mut bad = args.to_vec();
    bad.extend(["--out", s(&out)]);
    boneseg(&bad).expect(2).says(&["aug.toml", "unknown field `clip_limt`"]);
}

/// Copy-paste in the preview: donors come from `--donors` (the previewed image left out), and
/// without them the command says what to pass.
#[test]
fn preview_pastes_bones_from_the_donor_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paste.toml");
    let (image, label) = crate::support::train_pairs(corpus(), 1).remove(0);
    let grid = |p: f64, name: &str| {
        std::fs::write(
            &config,
            format!("[[augment]]\nname = \"copy_paste\"\np = {p}\nclasses = [\"carpals\"]\nbones = 8\n"),
        )
        .unwrap();
        let out = dir.path().join(name);
        let args =
            ["augment", "preview", "--config", s(&config), "--image", s(&image), "--labels", s(&label)];
        let mut args = args.to_vec();
        args.extend(["--donors", s(corpus()), "--n", "2", "--tile", "128", "--out", s(&out)]);
        boneseg(&args).expect(0).says(&["2 samples, 1 steps"]);
        image::open(&out).unwrap().to_rgb8()
    };
    assert_ne!(grid(1.0, "pasted.png"), grid(0.0, "plain.png"), "the carpals of other images were pasted");

    let out = dir.path().join("x.png");
    let args =
        ["augment", "preview", "--config", s(&config), "--image", s(&image), "--labels", s(&label), "--out"];
    let mut args = args.to_vec();
    args.push(s(&out));
    boneseg(&args).expect(2).says(&["paste.toml", "copy_paste takes bones from other images: pass --donors"]);
}
