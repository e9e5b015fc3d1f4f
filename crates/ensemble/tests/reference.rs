//! Our ensembles against `tools/reference/ensemble_reference.py` (the team's hard vote and probability
//! mean in numpy): the submissions must be byte-identical. The inputs (stores written by
//! pyarrow, CSVs) and expected outputs are fixtures; regenerate them with the command in
//! tools/README.md.

use std::path::{Path, PathBuf};

use boneseg_ensemble::mean::MeanOptions;
use boneseg_ensemble::stream::{mean_stores, vote_submissions};
use boneseg_ensemble::{ClassThresholds, PostProcess};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn assert_same(ours: &Path, reference: &str) {
    let ours = std::fs::read_to_string(ours).unwrap();
    let expected = std::fs::read_to_string(fixture(reference)).unwrap();
    assert_eq!(ours, expected, "differs from {reference}");
}

fn size(_: &str) -> Result<(usize, usize), String> {
    Ok((12, 20))
}

#[test]
fn hard_vote_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = (0..3).map(|m| fixture(&format!("model{m}.csv"))).collect();
    for (more_than, reference) in [(1, "vote_majority.csv"), (0, "vote_any.csv")] {
        let out = dir.path().join(reference);
        let images = vote_submissions(&inputs, &out, more_than, &size, PostProcess::default()).unwrap();
        assert_eq!(images, 2);
        assert_same(&out, reference);
    }
}

#[test]
fn probability_means_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<PathBuf> = (0..3).map(|m| fixture(&format!("store{m}"))).collect();
    let half = ClassThresholds::uniform(0.5);
    let per_class = ClassThresholds::load(&fixture("per_class_thresholds.toml")).unwrap();
    for (options, thresholds, reference) in [
        (MeanOptions::plain(3, true), &half, "mean_skip_empty.csv"),
        (MeanOptions::plain(3, false), &half, "mean_all.csv"),
        (MeanOptions { weights: vec![1.0, 2.0, 0.5], skip_empty: true }, &per_class, "weighted.csv"),
    ] {
        let out = dir.path().join(reference);
        mean_stores(&stores, &out, &options, thresholds, PostProcess::default()).unwrap();
        assert_same(&out, reference);
    }
}

#[test]
fn mismatched_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.csv");
    let text =
        std::fs::read_to_string(fixture("model1.csv")).unwrap().replace("a.png,finger-2", "c.png,finger-2");
    std::fs::write(&other, text).unwrap();
    let out = dir.path().join("out.csv");
    let err =
        vote_submissions(&[fixture("model0.csv"), other.clone()], &out, 1, &size, PostProcess::default())
            .unwrap_err()
            .to_string();
    assert!(err.contains("other.csv: line 3: c.png / finger-2 where"), "{err}");
    assert!(!out.exists(), "no half-written output");
}

#[test]
fn the_two_level_recipe_streams_groups_into_a_hard_vote() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = fixture("");
    let group =
        |name: &str| format!("[[group]]\nname = \"{name}\"\nstores = [\"store0\", \"store1\", \"store2\"]\n");
    // Three identical groups vote like one: the recipe's output is the group's soft vote.
    let text = format!("{}{}{}", group("a"), group("b"), group("c"));
    let recipe = boneseg_ensemble::recipe::Recipe::parse(&text, &fixtures, "recipe.toml").unwrap();
    let out = dir.path().join("recipe.csv");
    boneseg_ensemble::stream::run_recipe(&recipe, &out, PostProcess::default()).unwrap();
    assert_same(&out, "mean_skip_empty.csv");
}
