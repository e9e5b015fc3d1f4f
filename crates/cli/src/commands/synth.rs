//! `boneseg synth`: a phantom dataset.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_phantom::person::Rates;
use boneseg_phantom::style::{Factor, Style};
use boneseg_phantom::{SynthConfig, generate};

use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// Output folder (the dataset root).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub phantom: PhantomArgs,
    /// Replace the output folder if it is not empty.
    #[arg(long)]
    pub force: bool,
}

/// What phantom to make; shared with `boneseg demo`.
#[derive(clap::Args, Clone)]
pub struct PhantomArgs {
    /// Training people; each gives two images (both hands).
    #[arg(long, default_value_t = 10)]
    pub people: usize,
    /// Test people; their labels go to test_labels/, outside the competition layout.
    #[arg(long, default_value_t = 5)]
    pub test_people: usize,
    /// Image side in pixels.
    #[arg(long, default_value_t = 2048)]
    pub size: usize,
    /// The same seed gives the same dataset, byte for byte.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Share of people with rings, nail art or a wrist implant.
    #[arg(long, default_value_t = 0.1)]
    pub outlier_rate: f64,
    /// Share of images with the arm rotated by 15-35 degrees.
    #[arg(long, default_value_t = 0.1)]
    pub rotated_rate: f64,
    /// Share of images with bent fingers or a strongly deviated wrist.
    #[arg(long, default_value_t = 0.1)]
    pub bent_rate: f64,
    /// The phantom's world: `wide` randomises every factor below over realistic ranges (the
    /// values go to synth_truth.csv); `classic` is the phantom before domain randomisation, byte
    /// for byte (every hand adult, framed alike, on black).
    #[arg(long, default_value = "wide", value_parser = Style::named)]
    pub style: Style,
    /// Factors to leave at their classic values, comma-separated: framing (hand scale and
    /// position), pose (rotation, finger spread, thumb), background (level, gradient, collimator
    /// shutters), markers (side letters, dates, rulers, text), detector (exposure, tone curve,
    /// blur, noise), bone (texture, cortex, density, outlines), tissue, age (children to old adults).
    #[arg(long, value_delimiter = ',', value_parser = parse_factor)]
    pub without: Vec<Factor>,
    /// Factors to randomise on top of --style, comma-separated (e.g. --style classic --with age).
    #[arg(long, value_delimiter = ',', value_parser = parse_factor)]
    pub with: Vec<Factor>,
}

fn parse_factor(text: &str) -> Result<Factor, String> {
    text.parse()
}

impl PhantomArgs {
    /// The style with `--with` and `--without` applied.
    pub fn style(&self) -> Style {
        let style = self.with.iter().fold(self.style, |style, &f| style.with(f));
        self.without.iter().fold(style, |style, &f| style.without(f))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let p = &args.phantom;
    let config = SynthConfig {
        people: p.people,
        test_people: p.test_people,
        size: p.size,
        seed: p.seed,
        rates: Rates { outlier: p.outlier_rate, rotated: p.rotated_rate, bent: p.bent_rate },
        style: p.style(),
    };
    let bar = progress::bar(2 * (p.people + p.test_people), "images");
    let summary = generate(&args.out, &config, args.force, &|done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let images = summary.train_images + summary.test_images;
    println!(
        "wrote {} ({} training and {} test images, {}x{}, {} phantom) in {:.1} s, {:.1} images/s",
        args.out.display(),
        summary.train_images,
        summary.test_images,
        p.size,
        p.size,
        config.style,
        summary.seconds,
        images as f64 / summary.seconds
    );
    Ok(ExitCode::SUCCESS)
}
