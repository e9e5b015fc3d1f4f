//! The plain U-Net's training step and forward, on boneseg and on PyTorch
//! (`tools/bench/bench_engine.py`), measured the same way so that their ratio means something.

use std::path::{Path, PathBuf};
use std::process::Command;

use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::{Device, Distribution, Tensor};

use super::median_ms;
use super::unet::PlainUNet;
use crate::loss::LossFn;
use crate::optim::{Optim, OptimConfig, OptimKind};

/// What is timed: batch, square input size, classes, and timed repetitions after one warm-up.
#[derive(Clone, Copy, Debug)]
pub struct EngineShape {
    pub batch: usize,
    pub size: usize,
    pub classes: usize,
    pub iters: usize,
}

/// Median milliseconds of one training step (BCE-with-logits, Adam) and of one forward.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    pub train: f64,
    pub forward: f64,
}

/// PyTorch's side, as the peer script reports it.
#[derive(Clone, Copy, Debug)]
pub struct PeerTimes {
    pub times: Times,
    pub threads: u64,
    pub train_gflop: f64,
    pub forward_gflop: f64,
    pub parameters: u64,
}

/// Why the peer script gave no times.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("running {python} {script}; pass --python none to time boneseg alone")]
    Start { python: String, script: PathBuf, source: std::io::Error },
    #[error("{script} failed: {stderr}")]
    Failed { script: PathBuf, stderr: String },
    #[error("{script} printed `{output}`: {problem}")]
    Output { script: PathBuf, output: String, problem: String },
}

/// boneseg's training step and forward of the plain U-Net on `device` (whichever kernels
/// `boneseg_kernels::use_burn_kernels` selected).
pub fn time_boneseg(shape: EngineShape, device: &Device) -> Times {
    let input = [shape.batch, 3, shape.size, shape.size];
    let train_device = device.clone().autodiff();
    let x = Tensor::<4>::random(input, Distribution::Default, &train_device);
    let target_shape = [shape.batch, shape.classes, shape.size, shape.size];
    let target = Tensor::<4>::random(target_shape, Distribution::Bernoulli(0.5), &train_device);
    let loss = LossFn::Bce { pos_weight: None };
    let mut optim = Optim::new(&OptimConfig::new(OptimKind::Adam, 1e-3)).expect("Adam's defaults are valid");
    let mut model = Some(PlainUNet::new(shape.classes, &train_device));
    let train = median_ms(shape.iters, || {
        let current = model.take().expect("the model is put back after each step");
        let grads = loss.forward(current.forward(x.clone()), target.clone()).backward();
        let grads = GradientsParams::from_grads(grads, &current);
        model = Some(optim.step(1e-3, current, grads));
    });
    let model = PlainUNet::new(shape.classes, device);
    let x = Tensor::<4>::random(input, Distribution::Default, device);
    let forward = median_ms(shape.iters, || {
        model.forward(x.clone()).into_data();
    });
    Times { train, forward }
}

/// Runs the peer script with `python` on `threads` threads and reads its one JSON line.
pub fn time_pytorch(
    python: &str,
    script: &Path,
    shape: EngineShape,
    threads: usize,
) -> Result<PeerTimes, PeerError> {
    let output = Command::new(python)
        .arg(script)
        .args(["--size", &shape.size.to_string(), "--batch", &shape.batch.to_string()])
        .args(["--classes", &shape.classes.to_string(), "--iters", &shape.iters.to_string()])
        .args(["--threads", &threads.to_string()])
        .output()
        .map_err(|source| PeerError::Start {
            python: python.to_string(),
            script: script.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        return Err(PeerError::Failed { script: script.to_path_buf(), stderr });
    }
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let problem =
        |problem: String| PeerError::Output { script: script.to_path_buf(), output: text.clone(), problem };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| problem(format!("not one JSON line ({e})")))?;
    let number = |key: &str| json[key].as_f64().ok_or_else(|| problem(format!("{key} is missing")));
    Ok(PeerTimes {
        times: Times { train: number("train_ms")?, forward: number("forward_ms")? },
        threads: number("threads")? as u64,
        train_gflop: number("train_gflop")?,
        forward_gflop: number("forward_gflop")?,
        parameters: number("parameters")? as u64,
    })
}
