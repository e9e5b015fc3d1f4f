//! `boneseg bench`: speed against the PyTorch peers under tools/bench/. `bench model` times one model
//! of the zoo (forward and forward+backward, peak memory) to compare with `tools/bench/bench_models.py`;
//! `bench engine` runs the plain U-Net on boneseg and `tools/bench/bench_engine.py` in one session.

use std::process::ExitCode;

use boneseg_models::SegmentationModel;
use boneseg_models::burn::tensor::{Device, Distribution, Tensor};
use boneseg_train::bench::median_ms;

use super::model::ModelArgs;
use super::peak_rss_mib;

mod engine;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Time a model's forward (inference) and forward+backward (training, loss = mean logit).
    Model(ModelBenchArgs),
    /// Time the plain U-Net's training step and forward on boneseg and on PyTorch
    /// (tools/bench/bench_engine.py) in one session, with the ratios; `--profile` adds a per-op table.
    Engine(engine::EngineBenchArgs),
}

#[derive(clap::Args)]
pub struct ModelBenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    #[arg(long, default_value_t = 2)]
    pub batch: usize,
    /// Timed repetitions after one warm-up; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// forward, train, or both.
    #[arg(long, default_value = "both")]
    pub mode: String,
    /// Run convolutions, batch norms and max-pools on burn's own kernels instead of boneseg's
    /// (the figures before them).
    #[arg(long)]
    pub burn_kernels: bool,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Model(args) => model(args),
        Command::Engine(args) => engine::run(args),
    }
}

fn model(args: ModelBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        ["forward", "train", "both"].contains(&args.mode.as_str()),
        "--mode is forward, train or both"
    );
    boneseg_kernels::use_burn_kernels(args.burn_kernels);
    let (_, device) = args.model.build()?;
    let shape = [args.batch, 3, args.size, args.size];
    let name = format!(
        "{} {} batch {} {}x{}",
        args.model.arch, args.model.encoder, args.batch, args.size, args.size
    );
    if args.mode != "train" {
        let (model, _) = args.model.build()?;
        let ms = median_ms(args.iters, || {
            let x = Tensor::<4>::random(shape, Distribution::Default, &device);
            model.forward(x).into_data();
        });
        println!("{name}: forward {ms:.1} ms");
    }
    if args.mode != "forward" {
        let train_device = device.clone().autodiff();
        let spec = boneseg_models::ModelSpec::new(args.model.arch, args.model.encoder, args.model.classes)
            .map_err(anyhow::Error::msg)?;
        let model = SegmentationModel::new(spec, &train_device);
        let ms = median_ms(args.iters, || train_step(&model, shape, &train_device));
        println!("{name}: forward+backward {ms:.1} ms");
    }
    match peak_rss_mib() {
        Some(mib) => println!("{name}: peak memory {mib:.0} MiB"),
        None => println!("{name}: peak memory not measurable on this system"),
    }
    Ok(ExitCode::SUCCESS)
}

fn train_step(model: &SegmentationModel, shape: [usize; 4], device: &Device) {
    let x = Tensor::<4>::random(shape, Distribution::Default, device);
    let loss = model.forward(x).mean();
    let grads = loss.backward();
    drop(grads);
}
