//! `boneseg train` and `boneseg predict`: runs, their records, resuming after kill -9.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use boneseg_models::burn::store::{BurnpackStore, ModuleStore};

use crate::support::{boneseg, boneseg_with_ledger, corpus, s, write_config};

/// The last checkpoint's parameters, by name, as raw bytes (files also hold random parameter ids).
pub fn weights(run: &Path) -> Vec<(String, Vec<u8>)> {
    tensors(&run.join("checkpoints/last/model.bpk"))
}

/// The tensors of a `.bpk` file, by name, as raw bytes.
pub fn tensors(file: &Path) -> Vec<(String, Vec<u8>)> {
    let mut store = BurnpackStore::from_file(file);
    let tensors = store.get_all_tensors().unwrap();
    tensors.iter().map(|(name, tensor)| (name.clone(), tensor.to_bytes().unwrap().to_vec())).collect()
}

pub fn step_of(run: &Path) -> Option<u64> {
    let state = std::fs::read_to_string(run.join("checkpoints/last/state.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&state).ok()?;
    value["position"]["step"].as_u64()
}

#[test]
fn a_run_records_everything_and_predicts_a_valid_submission() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let run = dir.path().join("run");
    boneseg(&["train", "--config", s(&config), "--set", "optim.lr=2e-3", "--out", s(&run)])
        .expect(0)
        .says(&["finished after", "best validation mean dice"]);
    for file in ["config.toml", "run.json", "steps.csv", "epochs.csv", "validation/epoch001.csv"] {
        assert!(run.join(file).is_file(), "{file} is missing");
    }
    let resolved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(resolved.contains("lr = 0.002"), "the override is part of the resolved config:\n{resolved}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["seed"], 5);
    assert!(
        run.join("checkpoints/best/model.bpk").is_file() && run.join("checkpoints/last/optim.bpk").is_file()
    );

    let out = dir.path().join("predicted.csv");
    let test_images = corpus().join("test/DCM");
    boneseg(&["predict", "--run", s(&run), "--images", s(&test_images), "--out", s(&out)]).expect(0);
    boneseg(&["submission", "check", s(&out), "--images", s(&test_images)]).expect(0);

    // Re-scoring the best checkpoint reproduces the trainer's own validation table exactly.
    let table = dir.path().join("table.csv");
    boneseg(&["validate", "--run", s(&run), "--out", s(&table)])
        .expect(0)
        .says(&["mean_dice=", "peak memory"]);
    assert_eq!(
        std::fs::read_to_string(&table).unwrap(),
        std::fs::read_to_string(run.join("validation/epoch001.csv")).unwrap()
    );

    boneseg(&["train", "--config", s(&config), "--out", s(&run)])
        .expect(2)
        .says(&["already holds a run", "--resume"]);
    boneseg(&[
        "train",
        "--config",
        s(&config),
        "--set",
        "optim.kind=adamq",
        "--out",
        s(&dir.path().join("r2")),
    ])
    .expect(2)
    .says(&["adamq"]);
}

/// A run killed with SIGKILL and resumed ends with the same weights, bit for bit, as one that
/// was never interrupted.
#[test]
fn resume_after_kill_9_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 2);
    let straight = dir.path().join("straight");
    boneseg(&["train", "--config", s(&config), "--out", s(&straight)]).expect(0);

    let killed = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_boneseg"))
        .args(["train", "--config", s(&config), "--out", s(&killed)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while step_of(&killed).unwrap_or(0) < 3 {
        assert!(started.elapsed() < Duration::from_secs(300), "the run never reached step 3");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    boneseg(&["train", "--resume", s(&killed)]).expect(0).says(&["resuming at"]);

    let (a, b) = (weights(&straight), weights(&killed));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name}: the resumed run's weights differ from the uninterrupted run's");
    }
    // The logged losses and learning rates too (throughput columns are timings).
    let losses = |run: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(run.join("steps.csv")).unwrap();
        text.lines().map(|line| line.split(',').take(4).collect::<Vec<_>>().join(",")).collect()
    };
    assert_eq!(losses(&straight), losses(&killed));
    // And each epoch's training loss averages all its steps, those before the kill included.
    assert_eq!(epoch_rows(&straight), epoch_rows(&killed));
}

/// `epochs.csv` without its timing column: epoch, step, train loss, validation dice.
pub fn epoch_rows(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("epochs.csv")).unwrap();
    text.lines().map(|line| line.split(',').take(4).collect::<Vec<_>>().join(",")).collect()
}

/// A sweep trains each grid point once, records each run in the ledger, ranks them, and skips
/// finished points when run again.
#[test]
fn a_sweep_trains_each_point_once_and_the_ledger_compares_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "[optim]\nlr = [1e-3, 2e-3]\n").unwrap();
    let (out, ledger) = (dir.path().join("sweep"), dir.path().join("ledger.jsonl"));
    let sweep = ["sweep", "--config", s(&config), "--grid", s(&grid), "--out", s(&out)];
    boneseg_with_ledger(&sweep, &ledger).expect(0).says(&[
        "p000 (1 of 2): optim.lr=0.001",
        "p001 (2 of 2): optim.lr=0.002",
        "rank",
    ]);
    let board = std::fs::read_to_string(out.join("leaderboard.csv")).unwrap();
    assert_eq!(board.lines().count(), 3, "{board}");
    boneseg_with_ledger(&sweep, &ledger).expect(0).says(&["p000 already finished", "p001 already finished"]);

    let list = boneseg_with_ledger(&["runs", "list"], &ledger).expect(0).stdout;
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "finished points are not trained or recorded again:\n{list}");
    assert!(rows.iter().all(|r| r.contains("train") && r.contains(" 5 ")), "{list}");
    let record: serde_json::Value =
        serde_json::from_str(&boneseg_with_ledger(&["runs", "show", "1"], &ledger).expect(0).stdout).unwrap();
    assert_eq!(record["config"]["optim"]["lr"], 0.001);
    assert_eq!(record["class_dice"].as_array().unwrap().len(), 29);
    assert_eq!(record["outputs"][0], s(&out.join("p000")));
    let compared = boneseg_with_ledger(&["runs", "compare", "1", "2"], &ledger).expect(0).stdout;
    assert!(
        compared.contains("config: 1 key(s) differ") && compared.contains("optim.lr: 0.001 -> 0.002"),
        "{compared}"
    );
}

/// The shipped HRNet and UPerNet-ConvNeXt configs stay valid: each, shrunk to the test corpus
/// (small sizes, a small encoder of the same family, no download), trains and validates.
#[test]
fn the_hrnet_and_upernet_configs_train_on_the_phantom() {
    let configs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let shrink = |extra: &[&str]| -> Vec<String> {
        let mut overrides: Vec<String> = [
            format!("data.root={}", s(corpus())),
            "data.size=64".into(),
            "data.folds=3".into(),
            "model.encoder_weights=none".into(),
            "train.epochs=1".into(),
            "train.batch_size=2".into(),
            "train.early_stopping=1".into(),
            "optim.accumulate=1".into(),
            "schedule.warmup_steps=1".into(),
            "schedule.total_steps=2".into(),
        ]
        .into();
        overrides.extend(extra.iter().map(|o| o.to_string()));
        overrides
    };
    let cases = [
        (
            "hrnet-w48.toml",
            shrink(&["data.crop=32", "model.encoder=tu-hrnet_w18"]),
            ["arch = \"hrnet\"", "kind = \"focal\"", "crop = 32"],
        ),
        (
            "upernet-convnext.toml",
            shrink(&[]),
            ["arch = \"upernet\"", "encoder = \"tu-convnext_tiny\"", "kind = \"dice\""],
        ),
    ];
    for (name, overrides, resolved) in cases {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let config = configs.join(name);
        let mut args = vec!["train", "--config", s(&config), "--out", s(&run)];
        for set in &overrides {
            args.extend(["--set", set.as_str()]);
        }
        boneseg(&args).expect(0).says(&["finished after", "best validation mean dice"]);
        let written = std::fs::read_to_string(run.join("config.toml")).unwrap();
        for fragment in resolved {
            assert!(written.contains(fragment), "{name}: {fragment} missing from\n{written}");
        }
        assert!(!written.contains("encoder_weights"), "{name}: trained from scratch\n{written}");
    }
}
