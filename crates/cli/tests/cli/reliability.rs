//! Runs that repeat bit for bit and cannot be corrupted: determinism from the seed, one process
//! per run folder, resumes that keep every record right, and failed starts, full disks and
//! unwritable ledgers that leave a run folder usable (issue 19).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use boneseg_models::burn::store::{BurnpackStore, ModuleStore};
use std::time::{Duration, Instant};

use crate::support::write_config;
use crate::support::{boneseg, boneseg_with_env, boneseg_with_ledger, copy_corpus, s};
use crate::train::{epoch_rows, step_of, tensors};

/// `steps.csv` without its timing columns: step, epoch, loss, learning rate.
fn step_rows(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("steps.csv")).unwrap();
    text.lines().map(|line| line.split(',').take(4).collect::<Vec<_>>().join(",")).collect()
}

/// The optimiser state of a checkpoint by parameter name: `optim.bpk` keys its tensors by
/// parameter ids, which are drawn afresh in every process; `model.bpk` says whose they are.
fn optimiser_state(checkpoint: &Path) -> Vec<(String, Vec<u8>)> {
    let mut model = BurnpackStore::from_file(checkpoint.join("model.bpk"));
    let names: BTreeMap<String, String> = model
        .get_all_tensors()
        .unwrap()
        .iter()
        .filter_map(|(name, tensor)| Some((tensor.param_id?.to_string(), name.clone())))
        .collect();
    let mut state: Vec<(String, Vec<u8>)> = tensors(&checkpoint.join("optim.bpk"))
        .into_iter()
        .map(|(key, bytes)| {
            let (id, field) = key.split_once('.').unwrap_or((&key, ""));
            let name = names.get(id).unwrap_or_else(|| panic!("{key}: no parameter has id {id}"));
            (format!("{name}.{field}"), bytes)
        })
        .collect();
    state.sort();
    state
}

/// Asserts that two `.bpk` files hold the same tensors, byte for byte.
fn same_tensors(a: &Path, b: &Path) {
    same_values(a, b, tensors(a), tensors(b));
}

fn same_values(a: &Path, b: &Path, x: Vec<(String, Vec<u8>)>, y: Vec<(String, Vec<u8>)>) {
    assert!(!x.is_empty(), "{} holds tensors", a.display());
    assert_eq!(x.len(), y.len(), "{} and {} hold as many tensors", a.display(), b.display());
    for ((name, x), (other, y)) in x.iter().zip(&y) {
        assert_eq!(name, other);
        assert!(x == y, "{name} differs between {} and {}", a.display(), b.display());
    }
}

/// A training run in the background; its standard error kept when `keep_stderr` (a short run:
/// nobody reads the pipe until it ends).
fn spawn_train(args: &[&str], ledger: &Path, keep_stderr: bool) -> Child {
    Command::new(env!("CARGO_BIN_EXE_boneseg"))
        .args(args)
        .env("BONESEG_LEDGER", ledger)
        .stdout(Stdio::null())
        .stderr(if keep_stderr { Stdio::piped() } else { Stdio::null() })
        .spawn()
        .unwrap()
}

/// Waits until the run in `run` has checkpointed step `step`.
fn wait_for_step(child: &mut Child, run: &Path, step: u64) {
    let started = Instant::now();
    while step_of(run).unwrap_or(0) < step {
        assert!(started.elapsed() < Duration::from_secs(600), "the run never reached step {step}");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before step {step}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A config with batches of 4 at 192²: the loss averages 4 x 29 x 192² values, past the 4M at
/// which burn's CPU backend sums on several threads, and every convolution's weight gradient
/// sums several images and row blocks.
fn wide_config(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(write_config(dir, 1)).unwrap();
    let path = dir.join("wide.toml");
    std::fs::write(
        &path,
        text.replace("size = 64", "size = 192").replace("batch_size = 2", "batch_size = 4"),
    )
    .unwrap();
    path
}

/// Same seed, same config, same machine: every byte of the weights, the optimiser state and
/// the logs is the same. Then the run's config is changed under it, and `predict` says so in
/// a few lines.
#[test]
fn two_runs_with_one_seed_end_with_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = wide_config(dir.path());
    let runs = [dir.path().join("a"), dir.path().join("b")];
    for run in &runs {
        boneseg(&["train", "--config", s(&config), "--out", s(run)]).expect(0);
    }
    for file in ["checkpoints/last/model.bpk", "checkpoints/best/model.bpk"] {
        same_tensors(&runs[0].join(file), &runs[1].join(file));
    }
    let last = |run: &Path| run.join("checkpoints/last");
    let optimiser = (optimiser_state(&last(&runs[0])), optimiser_state(&last(&runs[1])));
    same_values(&last(&runs[0]), &last(&runs[1]), optimiser.0, optimiser.1);
    let read = |run: &Path, file: &str| std::fs::read_to_string(run.join(file)).unwrap();
    assert_eq!(read(&runs[0], "checkpoints/last/state.json"), read(&runs[1], "checkpoints/last/state.json"));
    assert_eq!(read(&runs[0], "validation/epoch001.csv"), read(&runs[1], "validation/epoch001.csv"));
    assert_eq!(step_rows(&runs[0]), step_rows(&runs[1]));
    assert_eq!(epoch_rows(&runs[0]), epoch_rows(&runs[1]));

    let run = &runs[0];
    let changed = read(run, "config.toml").replace("encoder = \"resnet18\"", "encoder = \"resnet34\"");
    std::fs::write(run.join("config.toml"), changed).unwrap();
    let images = crate::support::corpus().join("test/DCM");
    let out = dir.path().join("p.csv");
    let failed = boneseg(&["predict", "--run", s(run), "--images", s(&images), "--out", s(&out)]).expect(2).says(&[
        "the config says unet on resnet34 with 29 classes, the checkpoint holds unet on resnet18 with 29 classes tensors",
        "model tensors are not in the file",
    ]);
    assert!(failed.stderr.len() < 2000, "a short message, not every key:\n{}", failed.stderr);
    assert!(!out.exists());
}

/// A second process is refused while a run trains, naming the holder; a kill -9 frees the run
/// folder, and the resumed run's log has each step once.
#[test]
fn a_run_folder_belongs_to_one_process_and_kill_9_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 6);
    let run = dir.path().join("run");
    let ledger = dir.path().join("ledger.jsonl");
    let mut child = spawn_train(&["train", "--config", s(&config), "--out", s(&run)], &ledger, false);
    wait_for_step(&mut child, &run, 1);
    let holder = format!("pid {}", child.id());
    boneseg(&["train", "--resume", s(&run)]).expect(2).says(&["in use by another boneseg process", &holder]);
    boneseg(&["train", "--config", s(&config), "--out", s(&run)])
        .expect(2)
        .says(&["in use by another boneseg process", &holder]);
    child.kill().unwrap();
    child.wait().unwrap();

    boneseg(&["train", "--resume", s(&run)]).expect(0).says(&["resuming at", "finished after 12 steps"]);
    let steps: Vec<u64> = std::fs::read_to_string(run.join("steps.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(steps, (1..=12).collect::<Vec<_>>(), "each step logged once, in order");
}

/// A run cut into one-step sessions (each stops at its time limit and the next resumes it, in
/// the middle of an epoch and on its boundary) records what an uninterrupted run records; once
/// finished, a resume has nothing to do and records nothing again.
#[test]
fn epoch_records_survive_a_resume_at_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 2);
    let straight = dir.path().join("straight");
    boneseg(&["train", "--config", s(&config), "--out", s(&straight)]).expect(0);

    let chopped = dir.path().join("chopped");
    let ledger = dir.path().join("ledger.jsonl");
    let args = ["train", "--config", s(&config), "--set", "train.max_minutes=1e-9", "--out", s(&chopped)];
    boneseg_with_ledger(&args, &ledger).expect(0).says(&["stopped at the time limit"]);
    let mut sessions = 1;
    while !boneseg_with_ledger(&["train", "--resume", s(&chopped)], &ledger)
        .expect(0)
        .stdout
        .starts_with("finished")
    {
        sessions += 1;
        assert!(sessions < 10, "a 4-step run ends within a few sessions");
    }
    assert_eq!(sessions, 4, "one step a session");
    assert_eq!(epoch_rows(&straight), epoch_rows(&chopped));
    assert_eq!(step_rows(&straight), step_rows(&chopped));
    same_tensors(&straight.join("checkpoints/last/model.bpk"), &chopped.join("checkpoints/last/model.bpk"));

    let records = || std::fs::read_dir(boneseg_ledger::records_dir(&ledger)).unwrap().count();
    let before = records();
    boneseg_with_ledger(&["train", "--resume", s(&chopped)], &ledger).expect(0).says(&["already finished"]);
    assert_eq!(records(), before, "a finished run is not recorded twice");
}

/// A start that fails before its first checkpoint leaves a folder that is neither a dead end for
/// a corrected `train --out` nor for `train --resume`; a corrupt meta table does not stop
/// training (a missing one does not either).
#[test]
fn a_failed_start_leaves_a_reusable_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let run = dir.path().join("r3");
    boneseg(&["train", "--config", s(&config), "--set", "data.root=nope", "--out", s(&run)])
        .expect(2)
        .says(&["nope"]);
    // The run's recorded config is fixed by hand, and resumed: it starts from the beginning.
    let data = copy_corpus(dir.path());
    std::fs::write(data.join("meta_data.csv"), "ID,나이\n1,30\n").unwrap();
    std::fs::remove_file(data.join("meta_data.xlsx")).unwrap();
    let fixed = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .replace("\"nope\"", &format!("{:?}", s(&data)));
    std::fs::write(run.join("config.toml"), fixed).unwrap();
    boneseg(&["train", "--resume", s(&run)]).expect(0).says(&[
        "has no checkpoint yet",
        "starting it from the beginning",
        "missing column(s)",
        "training does not need the meta table",
        "finished after 2 steps",
    ]);
    boneseg(&["train", "--config", s(&config), "--out", s(&run)]).expect(2).says(&["already holds a run"]);

    let again = dir.path().join("again");
    boneseg(&["train", "--config", s(&config), "--set", "data.root=nope", "--out", s(&again)]).expect(2);
    boneseg(&["train", "--config", s(&config), "--out", s(&again)])
        .expect(0)
        .says(&["finished after 2 steps"]);
}

/// The ledger is checked before training; a ledger that fails at the end only warns.
#[test]
fn an_unwritable_ledger_stops_a_run_before_it_starts_and_only_warns_after() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let run = dir.path().join("run");
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let nowhere = dir.path().join("a-file/ledger.jsonl");
    boneseg_with_ledger(&["train", "--config", s(&config), "--out", s(&run)], &nowhere).expect(2).says(&[
        s(&nowhere),
        "is not writable",
        "BONESEG_LEDGER",
    ]);
    assert!(!run.exists(), "nothing was started");

    let folder = dir.path().join("ledger");
    std::fs::create_dir(&folder).unwrap();
    let ledger = folder.join("ledger.jsonl");
    let mut child = spawn_train(&["train", "--config", s(&config), "--out", s(&run)], &ledger, true);
    wait_for_step(&mut child, &run, 1);
    // A file where the ledger's folder was: its records folder cannot be made.
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, "").unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("could not be recorded in the experiment ledger"), "{stderr}");
}

/// A file size limit stands in for a full disk: the first checkpoint fails, the error names it,
/// no staging files stay behind, and the run resumes (from the beginning: no checkpoint is whole).
#[test]
fn a_full_disk_at_a_checkpoint_leaves_no_staging_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let run = dir.path().join("run");
    let ledger = dir.path().join("ledger.jsonl");
    // 30 MB per file: the model (57 MB) does not fit. SIGXFSZ ignored: the write fails instead.
    let script = format!(
        "trap '' XFSZ; ulimit -f 30000; exec {} train --config {} --out {}",
        env!("CARGO_BIN_EXE_boneseg"),
        s(&config),
        s(&run)
    );
    let output = Command::new("bash").args(["-c", &script]).env("BONESEG_LEDGER", &ledger).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("checkpoints/last") && stderr.contains("File too large"), "{stderr}");
    let left: Vec<_> =
        std::fs::read_dir(run.join("checkpoints")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing is left of the failed checkpoint: {left:?}");
    boneseg_with_env(&["train", "--resume", s(&run)], &[("BONESEG_LEDGER", s(&ledger))])
        .expect(0)
        .says(&["starting it from the beginning", "finished after 2 steps"]);
}

/// Mistakes on the command line are named where they are.
#[test]
fn command_line_mistakes_name_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let run = dir.path().join("run");
    let failed = boneseg(&["train", "--config", s(&config), "--set", "optim.lrr=1e-3", "--out", s(&run)])
        .expect(2)
        .says(&["--set optim.lrr=1e-3", "lrr"]);
    assert!(!failed.stderr.contains(s(&config)), "the file is not blamed:\n{}", failed.stderr);
    boneseg(&["train", "--resume", s(&run), "--out", s(&dir.path().join("x"))]).expect(2).says(&[
        "--resume",
        "--out",
        "cannot be used with",
    ]);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let inside = file.join("run");
    boneseg(&["train", "--config", s(&config), "--out", s(&inside)]).expect(2).says(&[s(&inside)]);
}
