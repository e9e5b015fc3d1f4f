//! `boneseg show`: an image with its labels, or a model's predicted masks, drawn in class colours.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use boneseg_contract::submission::Submission;
use boneseg_data::image_io::{read_gray, write_rgb_png};
use boneseg_report::{OverlayOptions, overlay};

use super::{FillArgs, image_masks};

#[derive(clap::Args)]
pub struct Args {
    /// The radiograph (PNG or JPEG).
    pub image: PathBuf,
    /// Its label file (JSON); without it (or --pred) the image is drawn alone.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// A submission (CSV, e.g. from `boneseg predict`) whose rows for this image's file name are
    /// drawn: what a model finds on an image that has no labels, such as a real radiograph.
    #[arg(long, conflicts_with = "labels")]
    pub pred: Option<PathBuf>,
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
    let masks = match (&args.labels, &args.pred) {
        (Some(labels), _) => Some(image_masks(&image, labels, args.fill_rule.options())?),
        (None, Some(pred)) => Some(predicted_masks(&args.image, &image, pred)?),
        (None, None) => None,
    };
    let options = OverlayOptions { fill: args.fill, max_side: (args.max_size > 0).then_some(args.max_size) };
    write_rgb_png(&args.out, &overlay(&image, masks.as_ref(), options))?;
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The masks `pred` holds for `image_path`'s file name, at the image's size.
fn predicted_masks(
    image_path: &std::path::Path,
    image: &boneseg_data::image_io::GrayImage,
    pred: &std::path::Path,
) -> anyhow::Result<boneseg_contract::ClassMasks> {
    let name = image_path.file_name().context("the image path has no file name")?.to_string_lossy();
    let submission = Submission::read(pred)?;
    let (h, w) = (image.height() as usize, image.width() as usize);
    submission.image_masks(&name, h, w)?.with_context(|| {
        format!(
            "{} has no rows for {name}: pass the submission predicted for this image (its image_name column holds {} image(s))",
            pred.display(),
            submission.image_names().len()
        )
    })
}
