//! One file per subcommand.

mod augment;
mod augment_dataset;
mod bench;
mod data;
mod demo;
mod eda;
mod ensemble;
mod evaluate;
mod infer;
mod model;
mod predict;
mod runs;
mod score;
mod show;
mod split;
mod submission;
mod sweep;
mod synth;
mod thresholds;
mod train;
mod validate;
mod weights;

use std::process::ExitCode;

use boneseg_contract::FillRule;

/// The exit status of a training command stopped by `SIGTERM` after a checkpoint: run it again
/// (or `train --resume`) to continue.
pub const RESUMABLE: u8 = boneseg_train::sweep::slurm::RESUMABLE_STATUS;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a phantom dataset in the competition's layout.
    Synth(synth::Args),
    /// Draw an image with its labels, each class in its own colour.
    Show(show::Args),
    /// Write person-grouped cross-validation folds as files.
    Split(split::Args),
    /// Score a submission against label files, exactly as the leaderboard does.
    Score(score::Args),
    /// Check a submission, or make one from label files.
    #[command(subcommand)]
    Submission(submission::Command),
    /// Check a dataset.
    #[command(subcommand)]
    Data(data::Command),
    /// The whole pipeline on a fresh phantom: generate, split, submit, check, score, show.
    Demo(demo::Args),
    /// The model zoo: list the architectures and encoders, run one on a tensor, summarise one.
    #[command(subcommand)]
    Model(model::Command),
    /// Measure speed and memory (compare with the PyTorch peers under tools/bench/).
    #[command(subcommand)]
    Bench(bench::Command),
    /// Train a model from a TOML config, or resume a run.
    Train(train::Args),
    /// A trained run's submission for a folder of images (the plain path of `infer`).
    Predict(predict::Args),
    /// Score a trained run's checkpoint on its validation fold, as training does.
    Validate(validate::Args),
    /// Runs to a submission: sliding window, TTA, per-class thresholds, post-processing, probability store.
    Infer(infer::Args),
    /// Per-class thresholds tuned on a run's validation fold.
    #[command(subcommand)]
    Thresholds(thresholds::Command),
    /// Combine submissions (hard vote) or probability stores (mean), or run a two-level recipe.
    Ensemble(ensemble::Args),
    /// Bring pretrained weights from PyTorch.
    #[command(subcommand)]
    Weights(weights::Command),
    /// Online augmentation tools.
    #[command(subcommand)]
    Augment(augment::Command),
    /// Write a dataset with augmented copies (flip, rotate/straighten, mosaic) in the competition layout.
    AugmentDataset(augment_dataset::Args),
    /// Explore a dataset: counts, class areas, overlaps, hands, meta data, outliers, intensities (HTML report).
    Eda(eda::Args),
    /// Analyse a submission's errors: per-class and per-image metrics, the error map, dice by meta data (HTML report).
    Evaluate(evaluate::Args),
    /// The experiment ledger: list, show and compare recorded runs.
    #[command(subcommand)]
    Runs(runs::Command),
    /// Train a grid of config overrides one after another (resumable), then rank them.
    Sweep(sweep::Args),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Synth(args) => synth::run(args),
        Command::Show(args) => show::run(args),
        Command::Split(args) => split::run(args),
        Command::Score(args) => score::run(args),
        Command::Submission(command) => submission::run(command),
        Command::Data(command) => data::run(command),
        Command::Demo(args) => demo::run(args),
        Command::Model(command) => model::run(command),
        Command::Weights(command) => weights::run(command),
        Command::Bench(command) => bench::run(command),
        Command::Train(args) => train::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Infer(args) => infer::run(args),
        Command::Thresholds(command) => thresholds::run(command),
        Command::Ensemble(args) => ensemble::run(args),
        Command::Augment(command) => augment::run(command),
        Command::AugmentDataset(args) => augment_dataset::run(args),
        Command::Eda(args) => eda::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Runs(command) => runs::run(command),
        Command::Sweep(args) => sweep::run(args),
    }
}

/// The polygon fill rule flag shared by every command that turns labels into masks.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct FillArgs {
    /// Which OpenCV release's fillPoly the label masks reproduce: opencv-4.11 (4.11+ and 5.x, the
    /// default), opencv-4.8 (4.8-4.10) or opencv-4.7 (4.7 and earlier).
    #[arg(long, default_value = "opencv-4.11", value_parser = parse_fill_rule)]
    pub fill_rule: FillRule,
}

fn parse_fill_rule(s: &str) -> Result<FillRule, String> {
    s.parse()
}

/// The masks of `image` from its label file: checked to lie inside the image, with a warning
/// for each class labelled twice, rasterised with `rule`.
pub fn image_masks(
    image: &boneseg_data::image_io::GrayImage,
    labels: &std::path::Path,
    rule: FillRule,
) -> anyhow::Result<boneseg_contract::ClassMasks> {
    let file = boneseg_contract::AnnotationFile::read(labels)?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    file.check_inside(h, w)
        .map_err(|problem| boneseg_contract::AnnotationError { path: labels.to_path_buf(), problem })?;
    for duplicate in file.duplicate_classes() {
        tracing::warn!("{}: {duplicate}", labels.display());
    }
    Ok(file.rasterize(h, w, rule))
}

/// The process's peak resident memory (Linux `VmHWM`).
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
