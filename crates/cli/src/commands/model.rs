//! `boneseg model list|forward|summary`: the model zoo from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use boneseg_contract::atomic::write_atomic;
use boneseg_hub::Hub;
use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use boneseg_models::device::Backend;
use boneseg_models::pretrained::{load_encoder_weights, tags};
use boneseg_models::registry::{Architecture, EncoderName};
use boneseg_models::summary::summarize;
use boneseg_models::weights::load_start_weights;
use boneseg_models::{ModelSpec, SegmentationModel};
use safetensors::tensor::{Dtype, TensorView};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Every architecture x encoder combination boneseg can build.
    List,
    /// Run a model with PyTorch weights on a tensor: IN.safetensors `input` (N,3,H,W f32) ->
    /// OUT.safetensors `logits` (N,classes,H,W f32), in inference mode.
    Forward(ForwardArgs),
    /// Parameters per block and the shapes through the model for one input size.
    Summary(SummaryArgs),
}

/// `--arch A --encoder E --classes C`, as SMP names them.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// unet, unetplusplus, fpn, deeplabv3, deeplabv3plus, segformer, upernet, hrnet or fcn
    /// (`boneseg model list` shows which encoders each takes).
    #[arg(long)]
    pub arch: Architecture,
    /// resnet18/34/50/101, resnext50_32x4d, resnext101_32x4d/32x8d, efficientnet-b0..b7,
    /// efficientnet-lite0, mit_b0..b5, tu-hrnet_w18/w32/w48/w64, tu-convnext_tiny/small/base.
    #[arg(long)]
    pub encoder: EncoderName,
    #[arg(long, default_value_t = 29)]
    pub classes: usize,
    /// cpu (burn's flex), or vulkan/wgpu/cuda in a binary built with that feature.
    #[arg(long, default_value = "cpu")]
    pub device: Backend,
    /// Start the encoder from public pretrained weights (imagenet, advprop, ssl, swsl, instagram), as SMP's
    /// `encoder_weights`: downloaded once into the cache.
    #[arg(long, value_name = "TAG")]
    pub encoder_weights: Option<String>,
    /// unet and unetplusplus: the five decoder blocks' widths, deepest first, as SMP's
    /// `decoder_channels` (default 256,128,64,32,16).
    #[arg(long, value_delimiter = ',', value_name = "C,C,C,C,C")]
    pub decoder_channels: Option<Vec<usize>>,
}

impl ModelArgs {
    /// The architecture, encoder, classes and decoder widths asked for, checked.
    pub fn spec(&self) -> anyhow::Result<ModelSpec> {
        let spec = ModelSpec::new(self.arch, self.encoder, self.classes).map_err(anyhow::Error::msg)?;
        match &self.decoder_channels {
            Some(channels) => spec.with_decoder_channels(channels).map_err(anyhow::Error::msg),
            None => Ok(spec),
        }
    }

    /// The model, its encoder pretrained when `--encoder-weights` asks, and its device.
    pub fn build(&self) -> anyhow::Result<(SegmentationModel, Device)> {
        let spec = self.spec()?;
        let device = self.device.device().map_err(anyhow::Error::msg)?;
        let mut model = SegmentationModel::new(spec, &device);
        if let Some(tag) = &self.encoder_weights {
            let (report, input) =
                load_encoder_weights(&mut model, self.encoder, tag, &Hub::from_env(), false)?;
            eprintln!(
                "{} {tag} weights: {}; they expect input (grey / 255 - {:?}) / {:?}",
                self.encoder,
                report.describe(),
                input.mean,
                input.std
            );
        }
        Ok((model, device))
    }
}

#[derive(clap::Args)]
pub struct ForwardArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// PyTorch weights (.safetensors or .pth; a plain state dict or one under state_dict/model).
    #[arg(long)]
    pub weights: PathBuf,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Run even when the weights lack some of the model's parameters.
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(clap::Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input height and width.
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List => list(),
        Command::Forward(args) => forward(args),
        Command::Summary(args) => summary(args),
    }
}

fn list() -> anyhow::Result<ExitCode> {
    println!("{:<14} {:<20} {:<30} {:<28} encoder_weights", "arch", "encoder", "PyTorch", "encoder channels");
    for (arch, encoder) in ModelSpec::combinations() {
        println!(
            "{:<14} {:<20} {:<30} {:<28} {}",
            arch.name(),
            encoder.name(),
            arch.origin(),
            format!("{:?}", encoder.out_channels()),
            tags(encoder).join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn forward(args: ForwardArgs) -> anyhow::Result<ExitCode> {
    let (mut model, device) = args.model.build()?;
    let report = load_start_weights(&mut model, &args.weights, args.allow_partial).with_context(|| {
        format!(
            "{}: is this a {} {} checkpoint?",
            args.weights.display(),
            args.model.arch,
            args.model.encoder
        )
    })?;
    if !report.is_complete() {
        eprintln!("warning: {}: {}", args.weights.display(), report.describe());
    }
    let input = read_input(&args.input, &device)?;
    let logits = model.forward(input);
    let dims = logits.dims();
    let values: Vec<f32> = logits.into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    write_logits(&args.out, &values, dims)?;
    println!("logits {dims:?} written to {} ({} tensors loaded)", args.out.display(), report.applied);
    Ok(ExitCode::SUCCESS)
}

fn read_input(path: &Path, device: &Device) -> anyhow::Result<Tensor<4>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{} is not a safetensors file", path.display()))?;
    let view = file
        .tensor("input")
        .with_context(|| format!("{}: no tensor named `input` (N,3,H,W float32)", path.display()))?;
    let shape: [usize; 4] = view.shape().try_into().map_err(|_| {
        anyhow::anyhow!("{}: `input` has shape {:?}, not (N,3,H,W)", path.display(), view.shape())
    })?;
    anyhow::ensure!(
        view.dtype() == Dtype::F32,
        "{}: `input` is {:?}, not float32",
        path.display(),
        view.dtype()
    );
    anyhow::ensure!(
        shape[1] == 3,
        "{}: `input` has {} channels, the models take 3",
        path.display(),
        shape[1]
    );
    let values: Vec<f32> =
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok(Tensor::from_data(TensorData::new(values, shape), device))
}

fn write_logits(path: &Path, values: &[f32], dims: [usize; 4]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, dims.to_vec(), &bytes)?;
    let serialized = safetensors::serialize([("logits", view)], None)?;
    write_atomic(path, &serialized).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn summary(args: SummaryArgs) -> anyhow::Result<ExitCode> {
    let (model, device) = args.model.build()?;
    let summary = summarize(&model, [args.batch, 3, args.size, args.size], &device);
    println!("{} {} with {} classes", args.model.arch, args.model.encoder, args.model.classes);
    println!("{:<40} {:>12}", "block", "parameters");
    for block in &summary.blocks {
        println!("{:<40} {:>12}", block.name, block.parameters);
    }
    println!("{:<40} {:>12}", "total", summary.parameters);
    println!();
    for (name, shape) in &summary.shapes {
        println!("{name:<40} {shape:?}");
    }
    Ok(ExitCode::SUCCESS)
}
