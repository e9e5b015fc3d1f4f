//! `boneseg infer`, `thresholds tune` and `ensemble` on a tiny trained run.

use crate::support::{boneseg, corpus, s};
use crate::train::write_config;

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
