//! `boneseg bench engine`: the plain U-Net's training step and forward on boneseg and on PyTorch
//! (tools/bench/bench_engine.py) in one session, with the ratios.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::Context;
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::{Device, Distribution, Tensor};
use boneseg_models::device::Backend;
use boneseg_train::loss::LossFn;
use boneseg_train::optim::{Optim, OptimConfig, OptimKind};

use super::median_ms;
use super::profile;
use super::unet::PlainUNet;

#[derive(clap::Args)]
pub struct EngineBenchArgs {
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    #[arg(long, default_value_t = 2)]
    pub batch: usize,
    #[arg(long, default_value_t = 29)]
    pub classes: usize,
    /// Timed repetitions after one warm-up; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// The Python with PyTorch that runs the peer script; `none` times boneseg alone.
    #[arg(long, default_value = "/work/venv/torch/bin/python")]
    pub python: String,
    #[arg(long, default_value = "tools/bench/bench_engine.py")]
    pub script: PathBuf,
    /// Whose convolution, batch-norm and max-pool kernels boneseg runs: boneseg, burn, or both
    /// one after the other.
    #[arg(long, default_value = "both")]
    pub kernels: String,
    /// Also time each kind of operation of the training step on its own.
    #[arg(long)]
    pub profile: bool,
}

/// Median milliseconds of one training step and one forward.
#[derive(Clone, Copy)]
struct Times {
    train: f64,
    forward: f64,
}

pub fn run(args: EngineBenchArgs) -> anyhow::Result<ExitCode> {
    let kernels: &[(&str, bool)] = match args.kernels.as_str() {
        "boneseg" => &[("boneseg", false)],
        "burn" => &[("burn", true)],
        "both" => &[("boneseg", false), ("burn", true)],
        other => anyhow::bail!("--kernels is boneseg, burn or both, not `{other}`"),
    };
    let device = Backend::Cpu.device().map_err(anyhow::Error::msg)?;
    println!(
        "plain U-Net (channels 32..512), batch {}, {}x{}, {} classes, BCE-with-logits, Adam; rayon threads: {}",
        args.batch,
        args.size,
        args.size,
        args.classes,
        rayon::current_num_threads()
    );
    let peer = (args.python != "none").then(|| pytorch(&args)).transpose()?;
    let mut rows = vec![];
    if let Some((times, threads)) = &peer {
        rows.push((format!("PyTorch, threads: {threads}"), *times));
    }
    for &(name, burn) in kernels {
        boneseg_kernels::use_burn_kernels(burn);
        rows.push((format!("boneseg on flex, {name}'s kernels"), boneseg(&args, &device)));
    }
    boneseg_kernels::use_burn_kernels(false);
    println!("| engine | train step | forward |\n|---|---|---|");
    for (name, times) in &rows {
        let ratio = |ms: f64, peer: f64| format!("{ms:.0} ms ({:.2}x)", ms / peer);
        match &peer {
            Some((peer, _)) => {
                println!(
                    "| {name} | {} | {} |",
                    ratio(times.train, peer.train),
                    ratio(times.forward, peer.forward)
                )
            }
            None => println!("| {name} | {:.0} ms | {:.0} ms |", times.train, times.forward),
        }
    }
    if args.profile {
        profile::run(args.batch, args.size, args.classes, args.iters, &device);
    }
    Ok(ExitCode::SUCCESS)
}

fn boneseg(args: &EngineBenchArgs, device: &Device) -> Times {
    let shape = [args.batch, 3, args.size, args.size];
    let train_device = device.clone().autodiff();
    let x = Tensor::<4>::random(shape, Distribution::Default, &train_device);
    let target_shape = [args.batch, args.classes, args.size, args.size];
    let target = Tensor::<4>::random(target_shape, Distribution::Bernoulli(0.5), &train_device);
    let loss = LossFn::Bce { pos_weight: None };
    let mut optim = Optim::new(&OptimConfig::new(OptimKind::Adam, 1e-3)).expect("Adam's defaults are valid");
    let mut model = Some(PlainUNet::new(args.classes, &train_device));
    let train = median_ms(args.iters, || {
        let current = model.take().expect("the model is put back after each step");
        let grads = loss.forward(current.forward(x.clone()), target.clone()).backward();
        let grads = GradientsParams::from_grads(grads, &current);
        model = Some(optim.step(1e-3, current, grads));
    });
    let model = PlainUNet::new(args.classes, device);
    let x = Tensor::<4>::random(shape, Distribution::Default, device);
    let forward = median_ms(args.iters, || {
        model.forward(x.clone()).into_data();
    });
    Times { train, forward }
}

/// Runs tools/bench/bench_engine.py and reads its JSON line: the times and PyTorch's thread count.
fn pytorch(args: &EngineBenchArgs) -> anyhow::Result<(Times, u64)> {
    let output = Command::new(&args.python)
        .arg(&args.script)
        .args(["--size", &args.size.to_string(), "--batch", &args.batch.to_string()])
        .args(["--classes", &args.classes.to_string(), "--iters", &args.iters.to_string()])
        .args(["--threads", &rayon::current_num_threads().to_string()])
        .output()
        .with_context(|| {
            format!(
                "running {} {}; pass --python none to time boneseg alone",
                args.python,
                args.script.display()
            )
        })?;
    anyhow::ensure!(
        output.status.success(),
        "{} failed: {}",
        args.script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).context("the peer's output is not UTF-8")?;
    let json: serde_json::Value = serde_json::from_str(text.trim())
        .with_context(|| format!("{} printed `{}`, not one JSON line", args.script.display(), text.trim()))?;
    let number =
        |key: &str| json[key].as_f64().with_context(|| format!("{key} missing from `{}`", text.trim()));
    println!(
        "PyTorch counts {:.0} GFLOP per training step and {:.1} per forward, {} parameters",
        number("train_gflop")?,
        number("forward_gflop")?,
        number("parameters")?
    );
    Ok((Times { train: number("train_ms")?, forward: number("forward_ms")? }, number("threads")? as u64))
}
