//! `boneseg demo`: the main job on the built-in defaults, end to end on a fresh phantom —
//! generate a dataset, split it, write a submission from the test labels, check and score it,
//! and draw a few overlays. Later stages (train, infer) join as they land.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_contract::FillRule;
use boneseg_data::Dataset;

use super::{FillArgs, score, show, split, submission, synth};

#[derive(clap::Args)]
pub struct Args {
    /// Working folder for everything the demo writes.
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
    #[command(flatten)]
    pub phantom: synth::PhantomArgs,
    /// How many overlays to draw.
    #[arg(long, default_value_t = 3)]
    pub overlays: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data = args.out.join("data");
    let fill_rule = FillArgs { fill_rule: Default::default() };
    let step = |title: &str| println!("\n== {title}");

    step("1. generate a phantom dataset (boneseg synth)");
    synth::run(synth::Args { out: data.clone(), phantom: args.phantom.clone(), force: true })?;

    step("2. person-grouped folds (boneseg split)");
    let folds = args.phantom.people.clamp(2, 5);
    split::run(split::Args {
        data: data.clone(),
        folds,
        out: args.out.join("splits"),
        seed: None,
        skip_bad: false,
    })?;

    step("3. a submission made from the hidden test labels (boneseg submission from-labels)");
    let csv = args.out.join("submission.csv");
    submission::run(submission::Command::FromLabels(submission::FromLabelsArgs {
        labels: data.join("test_labels"),
        images: Dataset::test_images(&data),
        out: csv.clone(),
        skip_bad: false,
        fill_rule,
    }))?;

    step("4. check it (boneseg submission check)");
    let checked = submission::run(submission::Command::Check(submission::CheckArgs {
        file: csv.clone(),
        images: Dataset::test_images(&data),
    }))?;
    anyhow::ensure!(checked == ExitCode::SUCCESS, "the demo's own submission failed its check");

    step("5. score it as the leaderboard would (boneseg score): a perfect submission scores 1");
    let score_args = score::Args {
        pred: csv,
        labels: data.join("test_labels"),
        images: Dataset::test_images(&data),
        subset: None,
        per_image: None,
        skip_bad: false,
        fill_rule,
    };
    score::run(score::Args { ..score_args.clone() })?;
    println!(
        "\nThe same submission against labels filled the way OpenCV 4.8-4.10 did (--fill-rule opencv-4.8):"
    );
    let legacy = FillArgs { fill_rule: FillRule::OpenCv4_8 };
    let outcome = score::evaluate(&score::Args { fill_rule: legacy, ..score_args })?;
    let mean = outcome.table.mean();
    println!(
        "mean_dice={mean:.6} (1 - {:.6}): which OpenCV release drew the ground truth moves the score",
        1.0 - mean
    );

    step("6. overlays of a few training images (boneseg show)");
    let dataset = Dataset::open(&data, Default::default())?;
    for entry in dataset.train.iter().take(args.overlays) {
        let out = args.out.join("overlays").join(entry.name());
        std::fs::create_dir_all(out.parent().expect("has a parent"))?;
        show::run(show::Args {
            image: entry.image.clone(),
            labels: entry.label.clone(),
            out,
            max_size: 1024,
            fill: 0.35,
            fill_rule,
        })?;
    }
    println!("\ndone: everything is under {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
