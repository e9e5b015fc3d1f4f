//! Running the binary and making small datasets to run it on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code and that nothing panicked; returns self for more checks.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "a panic is never an answer:\n{}", self.stderr);
        self
    }

    /// Asserts that standard error contains every fragment.
    pub fn says(self, fragments: &[&str]) -> Run {
        for fragment in fragments {
            assert!(
                self.stderr.contains(fragment) || self.stdout.contains(fragment),
                "expected {fragment:?} in the output\nstdout:\n{}\nstderr:\n{}",
                self.stdout,
                self.stderr
            );
        }
        self
    }
}

pub fn boneseg(args: &[&str]) -> Run {
    boneseg_with_ledger(args, &scratch_ledger())
}

/// The ledger every test run writes to unless it names its own: never the project's.
fn scratch_ledger() -> PathBuf {
    static LEDGER: OnceLock<tempfile::TempDir> = OnceLock::new();
    LEDGER.get_or_init(|| tempfile::tempdir().unwrap()).path().join("ledger.jsonl")
}

/// Runs the binary with its experiment ledger at `ledger`.
pub fn boneseg_with_ledger(args: &[&str], ledger: &Path) -> Run {
    boneseg_with_env(args, &[("BONESEG_LEDGER", s(ledger))])
}

/// Runs the binary with these environment variables set (the scratch ledger unless one is
/// among them).
pub fn boneseg_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_boneseg"));
    command.args(args).env("BONESEG_LEDGER", scratch_ledger());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `boneseg submission from-labels`: the submission of `labels` for `images`, written to `out`
/// (it scores exactly one).
pub fn submission_from_labels(labels: &Path, images: &Path, out: &Path) -> Run {
    boneseg(&["submission", "from-labels", "--labels", s(labels), "--images", s(images), "--out", s(out)])
}

pub fn s(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A phantom dataset made once (3 training and 2 test people, 256²); tests copy it before
/// changing anything.
pub fn corpus() -> &'static Path {
    static CORPUS: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        boneseg(&[
            "synth",
            "--out",
            s(&data),
            "--people",
            "3",
            "--test-people",
            "2",
            "--size",
            "256",
            "--seed",
            "4",
        ])
        .expect(0);
        (dir, data)
    });
    path
}

/// A private copy of the corpus.
pub fn copy_corpus(into: &Path) -> PathBuf {
    let target = into.join("data");
    copy_dir(corpus(), &target);
    target
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// The first `n` training (image, label) pairs of a dataset, by sorted path.
pub fn train_pairs(data: &Path, n: usize) -> Vec<(PathBuf, PathBuf)> {
    let mut images: Vec<PathBuf> = Vec::new();
    for person in std::fs::read_dir(data.join("train/DCM")).unwrap() {
        for image in std::fs::read_dir(person.unwrap().path()).unwrap() {
            images.push(image.unwrap().path());
        }
    }
    images.sort();
    images
        .into_iter()
        .take(n)
        .map(|image| {
            let rel = image.strip_prefix(data.join("train/DCM")).unwrap().with_extension("json");
            let label = data.join("train/outputs_json").join(rel);
            (image, label)
        })
        .collect()
}

/// Names of the files in a folder (to check that nothing half-written is left behind).
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A run small enough for a test: U-Net/ResNet-18 at 64x64 on the 3-person corpus (4 training
/// images in fold 0 of 3), batch 2, a checkpoint after every step.
pub fn write_config(dir: &Path, epochs: usize) -> PathBuf {
    let config = dir.join("tiny.toml");
    std::fs::write(
        &config,
        format!(
            r#"loss = [{{ kind = "bce", weight = 0.5 }}, {{ kind = "dice", weight = 0.5 }}]

[model]
arch = "unet"
encoder = "resnet18"

[data]
root = "{}"
size = 64
folds = 3

[train]
epochs = {epochs}
batch_size = 2
seed = 5
checkpoint_every = 1
log_every = 1

[optim]
kind = "adamw"
lr = 1e-3

[schedule]
kind = "warmup_cosine"
warmup_steps = 2
"#,
            s(corpus())
        ),
    )
    .unwrap();
    config
}
