//! `boneseg bench`: speed against the PyTorch peers under tools/bench/. `bench model` times one model
//! of the zoo (forward and forward+backward, peak memory of the process and, on a GPU backend,
//! of the device; mixed precision and gradient checkpointing as training has them) to compare
//! with `tools/bench/bench_models.py`;
//! `bench engine` runs the plain U-Net on boneseg and `tools/bench/bench_engine.py` in one session.

use std::process::ExitCode;

use boneseg_models::SegmentationModel;
use boneseg_models::burn::tensor::{Device, Distribution, Tensor};
use boneseg_models::device::{DeviceMemory, training_device};
use boneseg_train::bench::median_ms;
use boneseg_train::precision::{MixedPrecision, Precision};

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
    /// Train in mixed precision, bf16 or f16, as `train.precision` does (GPU backends).
    #[arg(long)]
    pub precision: Option<Precision>,
    /// Train with gradient checkpointing, as `train.checkpointing` does.
    #[arg(long)]
    pub checkpointing: bool,
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
    if let Some(precision) = args.precision {
        precision.check(&device, args.model.device).map_err(anyhow::Error::msg)?;
    }
    let shape = [args.batch, 3, args.size, args.size];
    let name = format!(
        "{} {} batch {} {}x{}",
        args.model.arch, args.model.encoder, args.batch, args.size, args.size
    );
    let mut memory = DeviceMemory::default();
    if args.mode != "train" {
        let (model, _) = args.model.build()?;
        let ms = median_ms(args.iters, || {
            let x = Tensor::<4>::random(shape, Distribution::Default, &device);
            model.forward(x).into_data();
            memory.sample(&device);
        });
        println!("{name}: forward {ms:.1} ms");
    }
    if args.mode != "forward" {
        let train_device = training_device(&device, args.checkpointing);
        let spec = args.model.spec()?;
        let mut model = Some(SegmentationModel::new(spec, &train_device));
        let mut mixed = args.precision.map(|p| MixedPrecision::new(p, spec, model.as_ref().expect("built")));
        let ms = median_ms(args.iters, || {
            let trained = model.take().expect("put back after every step");
            model = Some(train_step(trained, mixed.as_mut(), shape, &train_device, &mut memory));
        });
        let how = [
            args.precision.map(|p| format!("{p} mixed precision")),
            args.checkpointing.then(|| "gradient checkpointing".to_string()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        let how = if how.is_empty() { String::new() } else { format!(" ({})", how.join(", ")) };
        println!("{name}: forward+backward {ms:.1} ms{how}");
    }
    match peak_rss_mib() {
        Some(mib) => println!("{name}: peak memory {mib:.0} MiB"),
        None => println!("{name}: peak memory not measurable on this system"),
    }
    if memory != DeviceMemory::default() {
        let mib = |bytes: u64| bytes as f64 / (1u64 << 20) as f64;
        println!(
            "{name}: peak device memory {:.0} MiB reserved by the allocator, {:.0} MiB of tensors (sampled after each forward and backward pass)",
            mib(memory.reserved),
            mib(memory.in_use)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One training step on a random batch, loss = mean logit; waits for the device to finish it.
fn train_step(
    model: SegmentationModel,
    mut mixed: Option<&mut MixedPrecision>,
    shape: [usize; 4],
    device: &Device,
    memory: &mut DeviceMemory,
) -> SegmentationModel {
    let x = Tensor::<4>::random(shape, Distribution::Default, device);
    let logits = match mixed.as_deref_mut() {
        Some(mixed) => mixed.forward(&model, x),
        None => model.forward(x),
    };
    memory.sample(device);
    let loss = logits.mean();
    let model = match mixed {
        Some(mixed) => mixed.backward(model, loss).0,
        None => {
            drop(loss.backward());
            model
        }
    };
    memory.sample(device);
    device.sync().expect("the device ran the step");
    model
}
