//! The `boneseg` binary on the Vulkan backend, driven as a user would: training with
//! `--set train.device=vulkan` in float32 and in mixed precision, resuming after `kill -9`, and
//! `infer --device vulkan` to a valid submission.
//!
//! Built and run only with `--features vulkan`: `cargo test -p boneseg --features vulkan --test gpu`
//! builds the binary with the same features, and `CARGO_BIN_EXE_boneseg` names that build, so
//! the suite needs no second binary. `.ci/gpu.sh` runs it on Mesa's lavapipe (a software Vulkan
//! device). Mixed precision depends on what the device computes in: a precision the adapter does
//! not offer must be refused up front (lavapipe has no bf16 arithmetic), one it offers must train.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use boneseg_models::burn::store::{BurnpackStore, ModuleStore};
use boneseg_models::device::{Backend, computes_in};
use boneseg_train::precision::Precision;

// Shared with the CPU suite (tests/cli), of which this one uses a part.
#[allow(dead_code)]
#[path = "cli/support.rs"]
mod support;

use support::{boneseg, corpus, s, write_config};

fn train(config: &Path, run: &Path, sets: &[&str]) -> support::Run {
    let mut args = vec!["train", "--config", s(config), "--out", s(run), "--set", "train.device=vulkan"];
    for set in sets {
        args.extend(["--set", set]);
    }
    boneseg(&args)
}

/// The last checkpoint's parameters, by name, as float32 values.
fn weights(run: &Path) -> Vec<(String, Vec<f32>)> {
    let mut store = BurnpackStore::from_file(run.join("checkpoints/last/model.bpk"));
    let tensors = store.get_all_tensors().unwrap();
    tensors
        .iter()
        .map(|(name, tensor)| {
            let bytes = tensor.to_bytes().unwrap();
            (
                name.clone(),
                bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            )
        })
        .collect()
}

fn state(run: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("checkpoints/last/state.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// `steps.csv`'s rows as columns by name.
fn steps(run: &Path) -> Vec<std::collections::BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(run.join("steps.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            header.iter().map(|h| h.to_string()).zip(line.split(',').map(|v| v.parse().unwrap())).collect()
        })
        .collect()
}

/// A float32 run on the device trains, logs its data wait, is killed and resumed to the same
/// end as an uninterrupted run, and its model infers a valid submission on the device.
#[test]
fn vulkan_trains_resumes_after_kill_9_and_infers_a_valid_submission() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 2);
    let straight = dir.path().join("straight");
    train(&config, &straight, &[]).expect(0).says(&["finished after 4 steps"]);
    let rows = steps(&straight);
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert!(row["loss"].is_finite() && row["loss"] > 0.0, "{row:?}");
        assert!((0.0..=1.0).contains(&row["data_wait_share"]), "{row:?}");
    }
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(straight.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["device"], "vulkan", "{info}");

    let killed = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_boneseg"))
        .args(["train", "--config", s(&config), "--out", s(&killed), "--set", "train.device=vulkan"])
        .env("BONESEG_LEDGER", dir.path().join("ledger.jsonl"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while state(&killed).and_then(|s| s["position"]["step"].as_u64()).unwrap_or(0) < 2 {
        assert!(started.elapsed() < Duration::from_secs(600), "the run never reached step 2");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    boneseg(&["train", "--resume", s(&killed)]).expect(0).says(&["resuming at", "finished after 4 steps"]);
    let (a, b) = (weights(&straight), weights(&killed));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name}: the resumed run's weights differ from the uninterrupted run's");
    }

    let submission = dir.path().join("submission.csv");
    let images = corpus().join("test/DCM");
    boneseg(&[
        "infer",
        "--run",
        s(&straight),
        "--images",
        s(&images),
        "--out",
        s(&submission),
        "--device",
        "vulkan",
    ])
    .expect(0);
    boneseg(&["submission", "check", s(&submission), "--images", s(&images)]).expect(0);
}

/// bf16 and f16 each either train (the device can train in them) or are refused before any
/// tensor with a message that says what to use instead: never a panic or a crash.
///
/// On lavapipe (Mesa 22.3.6, LLVM 15.0.6) both are refused, exit 2:
/// - bf16: `train.precision = "bf16" cannot run on this vulkan device: its adapter does not offer
///   bf16 arithmetic; leave train.precision out to train in float32`. Unchecked, it panicked in
///   the first step ("Error while reading data ... The device is poisoned ... driver
///   implementation is at fault").
/// - f16: `train.precision = "f16" cannot run on this vulkan device: its driver, Mesa's lavapipe
///   (llvmpipe (LLVM 15.0.6, 256 bits)), crashes (SIGSEGV in libvulkan_lvp.so) compiling f16
///   kernels; leave train.precision out to train in float32`. The adapter offers shaderFloat16,
///   but unchecked the process died of SIGSEGV inside libvulkan_lvp.so, in
///   `vkCreateComputePipelines` called from cubecl-wgpu's `create_pipeline` (gdb backtrace).
#[test]
fn mixed_precision_trains_or_is_refused_up_front() {
    let device = Backend::Vulkan.device().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    for precision in [Precision::Bf16, Precision::F16] {
        let run = dir.path().join(precision.to_string());
        let set = format!("train.precision={precision}");
        let outcome = train(&config, &run, &[&set]);
        if computes_in(&device, precision.dtype()).is_ok() {
            outcome.expect(0).says(&["mixed precision", "finished after 2 steps"]);
            assert!(steps(&run).iter().all(|row| row["loss"].is_finite()));
        } else {
            outcome.expect(2).says(&[
                &format!("train.precision = \"{precision}\" cannot run on this vulkan device: "),
                "float32",
            ]);
        }
    }
}

/// f16's loss scaling on the device: a starting scale of 2^40 makes the first step's f16
/// gradients overflow, so the step is skipped and the scale halves, and it halves again at every
/// step that overflows; the scale is saved with the checkpoint. (That a skipped step leaves the
/// weights alone is checked on flex, in crates/train/tests/precision.rs.)
#[test]
fn an_f16_overflow_skips_the_step_and_halves_the_loss_scale() {
    let device = Backend::Vulkan.device().unwrap();
    if let Err(reason) = computes_in(&device, Precision::F16.dtype()) {
        // Covered by the refusal in `mixed_precision_trains_or_is_refused_up_front`.
        println!("this Vulkan device cannot train in f16 ({reason}): refused up front");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let run = dir.path().join("f16");
    let scale = 2f64.powi(40);
    let out = train(&config, &run, &["train.precision=f16", &format!("train.loss_scale={scale:e}")])
        .expect(0)
        .says(&["step 1: f16 gradients overflowed; step skipped, loss scale lowered to"]);
    let skipped = out.stderr.matches("f16 gradients overflowed; step skipped").count();
    let saved = state(&run).unwrap()["loss_scale"]["scale"].as_f64().unwrap();
    assert_eq!(saved, scale / 2f64.powi(skipped as i32), "each skipped step halves the scale once");
}

/// Without a desktop session (no `XDG_RUNTIME_DIR`, as in CI and on servers) the binary opens
/// the Vulkan device without Mesa's device-select layer printing "error: XDG_RUNTIME_DIR is
/// invalid or not set in the environment." for every Vulkan instance (see src/headless.rs).
#[test]
fn no_xdg_runtime_dir_noise_without_a_desktop_session() {
    let output = Command::new(env!("CARGO_BIN_EXE_boneseg"))
        .args([
            "model",
            "summary",
            "--arch",
            "unet",
            "--encoder",
            "resnet18",
            "--size",
            "32",
            "--device",
            "vulkan",
        ])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .env_remove("MESA_VK_DEVICE_SELECT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
}
