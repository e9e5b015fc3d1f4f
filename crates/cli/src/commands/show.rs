//! `boneseg show`: an image with its labels drawn in class colours.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_data::image_io::{read_gray, write_rgb_png};
use boneseg_report::{OverlayOptions, overlay};

use super::{FillArgs, image_masks};

#[derive(clap::Args)]
pub struct Args {
    /// The radiograph (PNG).
    pub image: PathBuf,
    /// Its label file (JSON); without it the image is drawn alone.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Longest side of the output in pixels (0 keeps the image's size).
    #[arg(long, default_value_t = 1024)]
    pub max_size: u32,
    /// Opacity of the class tint (0 draws outlines only).
    #[arg(long, default_value_t = 0.35)]
    pub fill: f32,
    #[command(flatten)]
    pub fill_rule: FillArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let image = read_gray(&args.image)?;
    let masks =
        args.labels.as_ref().map(|path| image_masks(&image, path, args.fill_rule.options())).transpose()?;
    let options = OverlayOptions { fill: args.fill, max_side: (args.max_size > 0).then_some(args.max_size) };
    write_rgb_png(&args.out, &overlay(&image, masks.as_ref(), options))?;
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
