//! Past one machine: sharded inference merged back into the unsharded bytes, SIGTERM stopping a
//! run at a step boundary, a k-fold sweep emitted as Slurm jobs and finished by its tasks'
//! commands, data parallel training. (The real Slurm runs in `.ci/slurm.sh`.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::write_config;
use crate::support::{boneseg, boneseg_with_env, boneseg_with_ledger, corpus, s};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sharded_inference_merges_into_the_unsharded_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    boneseg(&["train", "--config", s(&write_config(dir.path(), 1)), "--out", s(&run)]).expect(0);
    let images = corpus().join("test/DCM");
    let out = |name: &str| dir.path().join(name);
    let infer = |extra: &[&str]| {
        let args =
            [&["infer", "--run", s(&run), "--images", s(&images), "--floor", "0.1"][..], extra].concat();
        boneseg(&args).expect(0)
    };
    infer(&["--out", s(&out("whole.csv")), "--probs", s(&out("whole"))]);
    // Three parts of four images: one, one and two; written in reverse order.
    let parts: Vec<PathBuf> = (0..3).rev().map(|k| out(&format!("part{k}.csv"))).collect();
    for (k, part) in (0..3).rev().zip(&parts) {
        infer(&["--shard", &format!("{k}/3"), "--out", s(part), "--probs", s(&out("sharded"))])
            .says(&[&format!("shard {k}/3")]);
    }

    // A folder of store parts is a store: an ensemble over it is the one over the whole store.
    for (inputs, name) in [(out("whole"), "mean-whole.csv"), (out("sharded"), "mean-sharded.csv")] {
        boneseg(&[
            "ensemble",
            "--method",
            "mean",
            "--inputs",
            s(&inputs),
            s(&out("whole")),
            "--out",
            s(&out(name)),
        ])
        .expect(0);
    }
    assert_eq!(read(&out("mean-sharded.csv")), read(&out("mean-whole.csv")));

    // Parts missing one shard are refused, by the merge and by the store reader.
    boneseg(&[
        "submission",
        "merge",
        "--images",
        s(&images),
        "--out",
        s(&out("merged.csv")),
        s(&parts[0]),
        s(&parts[2]),
    ])
    .expect(2)
    .says(&["in no part"]);
    let lone = out("lone");
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::copy(out("sharded/probs.part-0-of-3.parquet"), lone.join("probs.part-0-of-3.parquet")).unwrap();
    boneseg(&["ensemble", "--method", "mean", "--inputs", s(&lone), "--out", s(&out("lone.csv"))])
        .expect(2)
        .says(&["parts 1/3, 2/3 are missing"]);

    let (merged_csv, sharded) = (out("merged.csv"), out("sharded"));
    let merged = [
        &["submission", "merge", "--images", s(&images), "--out", s(&merged_csv), "--probs", s(&sharded)][..],
        &parts.iter().map(|p| s(p)).collect::<Vec<_>>()[..],
    ]
    .concat();
    boneseg(&merged).expect(0).says(&["4 images from 3 parts"]);
    assert_eq!(read(&out("merged.csv")), read(&out("whole.csv")), "the submission, byte for byte");
    assert_eq!(
        read(&out("sharded/probs.parquet")),
        read(&out("whole/probs.parquet")),
        "the probability store, byte for byte"
    );
    assert!(!out("sharded/probs.part-0-of-3.parquet").exists(), "merged parts are removed");
}

/// The last checkpoint's step.
fn step_of(run: &Path) -> u64 {
    let state = std::fs::read_to_string(run.join("checkpoints/last/state.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&state)
        .map_or(0, |v| v["position"]["step"].as_u64().unwrap_or(0))
}

/// SIGTERM stops training at the next step boundary with a checkpoint and exit status 3; the
/// resumed run ends with the uninterrupted run's weights.
#[test]
fn sigterm_checkpoints_at_a_step_and_the_resumed_run_matches() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 3);
    let straight = dir.path().join("straight");
    boneseg(&["train", "--config", s(&config), "--out", s(&straight)]).expect(0);

    let stopped = dir.path().join("stopped");
    let mut child = Command::new(env!("CARGO_BIN_EXE_boneseg"))
        .args(["train", "--config", s(&config), "--out", s(&stopped)])
        .env("BONESEG_LEDGER", dir.path().join("ledger.jsonl"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while step_of(&stopped) < 2 {
        assert!(started.elapsed() < Duration::from_secs(300), "the run never reached step 2");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("stopped by request at step"), "{stderr}");
    let at = step_of(&stopped);
    assert!((2..6).contains(&at), "checkpointed at step {at} of 6");
    boneseg(&["train", "--resume", s(&stopped)]).expect(0).says(&[&format!("(step {at})")]);
    boneseg(&[
        "weights",
        "compare",
        s(&straight.join("checkpoints/last")),
        s(&stopped.join("checkpoints/last")),
    ])
    .expect(0)
    .says(&["same weights"]);
}

#[test]
fn a_kfold_sweep_as_slurm_jobs_ends_in_one_tuned_submission() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let grid = dir.path().join("kfold.toml");
    std::fs::write(&grid, "[data]\nfold = [0, 1]\n").unwrap();
    let (out, ledger) = (dir.path().join("kfold"), dir.path().join("ledger.jsonl"));
    let images = corpus().join("test/DCM");
    let sweep = ["sweep", "--config", s(&config), "--grid", s(&grid), "--out", s(&out), "--emit", "slurm"];
    boneseg(&sweep).expect(2).says(&["needs the test images"]);
    let flags =
        ["--test-images", s(&images), "--partition", "gpu", "--time", "01:00:00", "--gpus-per-task", "1"];
    boneseg(&[&sweep[..], &flags[..], &["--sbatch=--qos=long"]].concat()).expect(0).says(&["2 points"]);
    let script = std::fs::read_to_string(out.join("train.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:TERM@120",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=01:00:00",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --qos=long",
        "sweep point --sweep",
        "scontrol requeue",
    ] {
        assert!(script.contains(line), "{line} missing from\n{script}");
    }
    let submit = std::fs::read_to_string(out.join("submit.sh")).unwrap();
    assert!(submit.contains("--dependency=afterok:") && submit.contains("finish.sbatch"), "{submit}");
    assert!(std::fs::read_to_string(out.join("finish.sbatch")).unwrap().contains("sweep finish --sweep"));

    // What the array's tasks and the dependent job run, by hand.
    let sweep_dir = s(&out);
    boneseg_with_ledger(&["sweep", "point", "--sweep", sweep_dir, "--index", "0"], &ledger)
        .expect(0)
        .says(&["p000 finished"]);
    boneseg_with_env(
        &["sweep", "point", "--sweep", sweep_dir],
        &[("SLURM_ARRAY_TASK_ID", "1"), ("BONESEG_LEDGER", s(&ledger))],
    )
    .expect(0)
    .says(&["p001 (2 of 2): data.fold=1"]);
    boneseg_with_ledger(&["sweep", "point", "--sweep", sweep_dir, "--index", "1"], &ledger)
        .expect(0)
        .says(&["p001 already finished"]);
    boneseg_with_ledger(&["sweep", "finish", "--sweep", sweep_dir], &ledger).expect(0).says(&[
        "f00  weight 1.0000  points p000,p001",
        "ensemble: validation mean dice",
        "rank",
    ]);
    let submission = out.join("submission.csv");
    boneseg(&["submission", "check", s(&submission), "--images", s(&images)]).expect(0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("finish.json")).unwrap()).unwrap();
    assert_eq!(summary["validation_images"], 4, "the out-of-fold store covers both folds: {summary}");
    // The tuned file reproduces the submission from the test stores.
    let again = dir.path().join("again.csv");
    let stores = [out.join("ensemble/p000/test"), out.join("ensemble/p001/test")];
    let tuned = out.join("ensemble/tuned.toml");
    boneseg(&[
        "ensemble",
        "--method",
        "mean",
        "--tuned",
        s(&tuned),
        "--inputs",
        s(&stores[0]),
        s(&stores[1]),
        "--out",
        s(&again),
    ])
    .expect(0);
    assert_eq!(read(&again), read(&submission));

    let list = boneseg_with_ledger(&["runs", "list"], &ledger).expect(0).stdout;
    for point in ["p000", "p001"] {
        assert!(list.contains(s(&out.join(point))), "runs list shows {point}:\n{list}");
    }
    assert!(list.contains("sweep"), "{list}");
}

/// Two devices at batch 4 take the steps that one device takes at batch 2 accumulating two
/// micro-batches: each part is normalised by its own batch statistics and updates the running
/// statistics in turn either way, so the weights agree (bit for bit here; the tolerance allows
/// for the order of a sum on other machines).
#[test]
fn two_devices_train_as_one_device_accumulating_their_parts() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 2);
    let (two, one) = (dir.path().join("two"), dir.path().join("one"));
    let common = [
        "train",
        "--config",
        s(&config),
        "--set",
        "loss=[{ kind = \"bce\", weight = 1.0 }]",
        "--set",
        "optim.kind=\"sgd\"",
        "--set",
        "optim.lr=0.05",
    ];
    boneseg(
        &[&common[..], &["--set", "train.batch_size=4", "--set", "train.devices=[0, 1]", "--out", s(&two)]]
            .concat(),
    )
    .expect(0)
    .says(&["data parallel on 2 devices of cpu"]);
    boneseg(
        &[&common[..], &["--set", "train.batch_size=2", "--set", "optim.accumulate=2", "--out", s(&one)]]
            .concat(),
    )
    .expect(0);
    let last = |run: &Path| run.join("checkpoints/last");
    boneseg(&["weights", "compare", s(&last(&two)), s(&last(&one)), "--tolerance", "1e-6"])
        .expect(0)
        .says(&["same weights"]);
    assert_eq!(step_of(&two), 2);
    assert_eq!(step_of(&one), 4, "two micro-batches per update");
}
