//! `boneseg evaluate`: a submission against labelled images — the leaderboard's dice (computed
//! by the same code as `boneseg score`), IoU, precision, recall, Hausdorff-95 and surface dice,
//! per class and per image, the worst images, the team's error map, and dice by meta-data bins
//! and by hand.
//! The metrics themselves are `boneseg_contract::metric`'s; class values are means over images,
//! as the leaderboard averages dice.

use std::fmt::Write as _;
use std::path::Path;

use boneseg_contract::metric::{DiceTable, overlap, surface};
use boneseg_contract::submission::Submission;
use boneseg_contract::{CLASSES, FillRule, NUM_CLASSES};
use boneseg_data::DataError;
use boneseg_data::image_io::read_gray;
use boneseg_data::layout::ImageEntry;
use boneseg_data::meta::MetaTable;
use boneseg_data::score::{self, ImagePair, ScoreOutcome};
use rayon::prelude::*;
use serde::Serialize;

use crate::bins::VARIABLES;
use crate::chart;
use crate::error_map::{self, ErrorCounts};
use crate::hand::{Side, hand_pose};
use crate::html::{Page, png_bytes};

#[derive(Clone, Copy, Debug)]
pub struct EvalOptions {
    pub rule: FillRule,
    /// Surface-dice tolerance, pixels.
    pub tolerance_px: f64,
    /// Images drawn with their error map, worst mean dice first.
    pub worst: usize,
}

/// One image's metrics, 29 values each in class order.
#[derive(Clone, Debug, Serialize)]
pub struct ImageMetrics {
    pub image: String,
    pub person: String,
    pub hand: Option<Side>,
    pub mean_dice: f64,
    pub dice: Vec<f64>,
    pub iou: Vec<f64>,
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    /// `None` where exactly one of prediction and truth is empty.
    pub hd95: Vec<Option<f64>>,
    pub surface_dice: Vec<f64>,
    pub errors: ErrorCounts,
    pub overlap_errors: ErrorCounts,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClassMetrics {
    pub class: &'static str,
    pub dice: f64,
    pub iou: f64,
    pub precision: f64,
    pub recall: f64,
    /// Mean over the images where it is defined.
    pub hd95: Option<f64>,
    /// Images where Hausdorff-95 is undefined (one mask empty).
    pub hd95_undefined: usize,
    pub surface_dice: f64,
    /// The lowest-dice images, worst first.
    pub worst: Vec<(String, f64)>,
}

/// Mean image dice of the images in one bin.
#[derive(Clone, Debug, Serialize)]
pub struct BinDice {
    pub variable: &'static str,
    pub bin: String,
    pub images: usize,
    pub mean_dice: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// The leaderboard score, identical to `boneseg score`.
    pub mean_dice: f64,
    pub tolerance_px: f64,
    pub classes: Vec<ClassMetrics>,
    pub images: Vec<ImageMetrics>,
    pub errors: ErrorCounts,
    pub overlap_errors: ErrorCounts,
    /// RED, YELLOW, GREEN shares among error pixels, overall and in the overlap regions.
    pub error_shares: [f64; 3],
    pub overlap_error_shares: [f64; 3],
    pub by_meta: Vec<BinDice>,
    pub seconds: f64,
}

/// Everything about one image.
fn measure(pair: &ImagePair, entry: &ImageEntry, tolerance: f64) -> ImageMetrics {
    let (truth, predicted) = (&pair.truth.masks, &pair.predicted);
    let dice = pair.dice_row();
    let mut m = ImageMetrics {
        image: entry.name().to_string(),
        person: entry.person.to_string(),
        hand: hand_pose(truth).map(|h| h.side),
        mean_dice: dice.iter().sum::<f64>() / NUM_CLASSES as f64,
        dice: dice.to_vec(),
        iou: Vec::new(),
        precision: Vec::new(),
        recall: Vec::new(),
        hd95: Vec::new(),
        surface_dice: Vec::new(),
        errors: ErrorCounts::default(),
        overlap_errors: ErrorCounts::default(),
    };
    for c in 0..NUM_CLASSES {
        let (p, g) = (predicted.class(c), truth.class(c));
        let o = overlap(p, g);
        m.iou.push(o.iou);
        m.precision.push(o.precision);
        m.recall.push(o.recall);
        let s = surface(p, g, tolerance);
        m.hd95.push(s.hd95);
        m.surface_dice.push(s.surface_dice);
    }
    (m.errors, m.overlap_errors) = error_map::count(truth, predicted);
    m
}

/// Evaluates `submission` on `entries` and writes `index.html`, `evaluation.json` and
/// `per_image.csv` into `out`. Also returns the scoring outcome (the same dice table, missing
/// rows and warnings `boneseg score` reports).
pub fn run(
    submission: &Submission,
    entries: &[ImageEntry],
    meta: Option<&MetaTable>,
    out: &Path,
    options: EvalOptions,
) -> Result<(Evaluation, ScoreOutcome), DataError> {
    let start = std::time::Instant::now();
    let measured: Vec<_> = entries
        .par_iter()
        .map(|entry| {
            let pair = score::pair(submission, entry, options.rule)?;
            let metrics = measure(&pair, entry, options.tolerance_px);
            Ok((pair.dice_row(), pair.missing, pair.truth.warnings, metrics))
        })
        .collect::<Result<_, DataError>>()?;
    let mut outcome = ScoreOutcome::default();
    let mut images = Vec::with_capacity(measured.len());
    for (entry, (row, missing, warnings, metrics)) in entries.iter().zip(measured) {
        outcome.record(entry, row, missing, warnings);
        images.push(metrics);
    }
    outcome.extra_images = score::extra_images(submission, entries);
    let evaluation = summarise(&outcome.table, images, entries, meta, options, start);

    std::fs::create_dir_all(out).map_err(|e| DataError::io(out, e))?;
    let pictures = worst_pictures(&evaluation, submission, entries, options)?;
    write_outputs(&evaluation, out, &pictures)?;
    Ok((evaluation, outcome))
}

fn summarise(
    table: &DiceTable,
    images: Vec<ImageMetrics>,
    entries: &[ImageEntry],
    meta: Option<&MetaTable>,
    options: EvalOptions,
    start: std::time::Instant,
) -> Evaluation {
    let n = images.len().max(1) as f64;
    let means = table.class_means();
    let classes = (0..NUM_CLASSES)
        .map(|c| {
            let mean = |f: fn(&ImageMetrics) -> &Vec<f64>| images.iter().map(|m| f(m)[c]).sum::<f64>() / n;
            let defined: Vec<f64> = images.iter().filter_map(|m| m.hd95[c]).collect();
            let mut worst: Vec<(String, f64)> = images.iter().map(|m| (m.image.clone(), m.dice[c])).collect();
            worst.sort_by(|a, b| a.1.total_cmp(&b.1));
            worst.truncate(3);
            ClassMetrics {
                class: CLASSES[c],
                dice: means[c],
                iou: mean(|m| &m.iou),
                precision: mean(|m| &m.precision),
                recall: mean(|m| &m.recall),
                hd95: (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64),
                hd95_undefined: images.len() - defined.len(),
                surface_dice: mean(|m| &m.surface_dice),
                worst,
            }
        })
        .collect();
    let (mut errors, mut overlap_errors) = (ErrorCounts::default(), ErrorCounts::default());
    for m in &images {
        errors.add(&m.errors);
        overlap_errors.add(&m.overlap_errors);
    }
    let mut by_meta = Vec::new();
    if let Some(meta) = meta {
        for variable in &VARIABLES {
            let mut sums = vec![(0usize, 0.0); variable.bins.len()];
            for (m, entry) in images.iter().zip(entries) {
                if let Some(person) = meta.get(entry.person) {
                    let bin = &mut sums[(variable.bin_of)(person)];
                    bin.0 += 1;
                    bin.1 += m.mean_dice;
                }
            }
            by_meta.extend(variable.bins.iter().zip(sums).map(|(bin, (count, sum))| BinDice {
                variable: variable.name,
                bin: bin.to_string(),
                images: count,
                mean_dice: if count > 0 { sum / count as f64 } else { f64::NAN },
            }));
        }
    }
    for side in [Side::Right, Side::Left] {
        let dice: Vec<f64> = images.iter().filter(|m| m.hand == Some(side)).map(|m| m.mean_dice).collect();
        by_meta.push(BinDice {
            variable: "hand",
            bin: side.name().to_string(),
            images: dice.len(),
            mean_dice: if dice.is_empty() { f64::NAN } else { dice.iter().sum::<f64>() / dice.len() as f64 },
        });
    }
    Evaluation {
        mean_dice: table.mean(),
        tolerance_px: options.tolerance_px,
        classes,
        error_shares: errors.error_shares(),
        overlap_error_shares: overlap_errors.error_shares(),
        errors,
        overlap_errors,
        images,
        by_meta,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Error maps of the `options.worst` images with the lowest mean dice.
fn worst_pictures(
    evaluation: &Evaluation,
    submission: &Submission,
    entries: &[ImageEntry],
    options: EvalOptions,
) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    let mut order: Vec<usize> = (0..evaluation.images.len()).collect();
    order.sort_by(|&a, &b| evaluation.images[a].mean_dice.total_cmp(&evaluation.images[b].mean_dice));
    order
        .par_iter()
        .take(options.worst)
        .map(|&i| {
            let pair = score::pair(submission, &entries[i], options.rule)?;
            let image = read_gray(&entries[i].image)?;
            let picture = error_map::draw(&image, &pair.truth.masks, &pair.predicted, 512);
            let m = &evaluation.images[i];
            let [red, yellow, green] = m.errors.error_shares().map(|s| s * 100.0);
            let caption = format!(
                "{}: mean dice {:.4}; errors RED {red:.0}% YELLOW {yellow:.0}% GREEN {green:.0}%",
                m.image, m.mean_dice
            );
            Ok((caption, png_bytes(&picture)))
        })
        .collect()
}

fn json_number(value: f64) -> String {
    if value.is_finite() { format!("{value:.6}") } else { String::new() }
}

fn write_outputs(
    evaluation: &Evaluation,
    out: &Path,
    pictures: &[(String, Vec<u8>)],
) -> Result<(), DataError> {
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        boneseg_contract::atomic::write_atomic(&path, text.as_bytes()).map_err(|e| DataError::io(&path, e))
    };
    write("evaluation.json", &serde_json::to_string_pretty(evaluation).expect("serialisable"))?;
    let mut csv = String::from("image,person,hand,mean_dice,blue,red,yellow,green");
    for metric in ["dice", "hd95"] {
        for class in CLASSES {
            let _ = write!(csv, ",{metric}:{class}");
        }
    }
    csv.push('\n');
    for m in &evaluation.images {
        let hand = m.hand.map_or("", Side::name);
        let e = &m.errors;
        let _ = write!(
            csv,
            "{},{},{hand},{},{},{},{},{}",
            m.image, m.person, m.mean_dice, e.blue, e.red, e.yellow, e.green
        );
        for d in &m.dice {
            let _ = write!(csv, ",{d}");
        }
        for h in &m.hd95 {
            let _ = write!(csv, ",{}", h.map_or(String::new(), json_number));
        }
        csv.push('\n');
    }
    write("per_image.csv", &csv)?;
    write("index.html", &page(evaluation, pictures))
}

fn page(e: &Evaluation, pictures: &[(String, Vec<u8>)]) -> String {
    let mut page = Page::new(
        "boneseg evaluation",
        &format!(
            "{} images, mean dice {:.6} (the leaderboard's metric, as boneseg score). Surface dice tolerance {} px. Made in {:.1} s.",
            e.images.len(),
            e.mean_dice,
            e.tolerance_px,
            e.seconds
        ),
    );
    page.section("classes", "Per class");
    let labels: Vec<String> = CLASSES.iter().map(|c| c.to_string()).collect();
    let series = |f: fn(&ClassMetrics) -> f64| e.classes.iter().map(f).collect::<Vec<f64>>();
    page.plot(&chart::bars(
        "class-dice",
        "Dice, IoU and surface dice per class",
        &labels,
        &[
            ("dice", series(|c| c.dice)),
            ("IoU", series(|c| c.iou)),
            ("surface dice", series(|c| c.surface_dice)),
        ],
        "score",
    ));
    page.plot(&chart::bars(
        "class-hd95",
        "Hausdorff-95 per class (pixels, mean over images where defined)",
        &labels,
        &[("HD95", series(|c| c.hd95.unwrap_or(f64::NAN)))],
        "pixels",
    ));
    let rows: Vec<Vec<String>> = e
        .classes
        .iter()
        .map(|c| {
            let worst =
                c.worst.iter().map(|(image, d)| format!("{image} ({d:.3})")).collect::<Vec<_>>().join(", ");
            vec![
                c.class.to_string(),
                format!("{:.4}", c.dice),
                format!("{:.4}", c.iou),
                format!("{:.4}", c.precision),
                format!("{:.4}", c.recall),
                c.hd95.map_or("—".into(), |h| format!("{h:.1}")),
                c.hd95_undefined.to_string(),
                format!("{:.4}", c.surface_dice),
                worst,
            ]
        })
        .collect();
    page.table(
        &[
            "class",
            "dice",
            "IoU",
            "precision",
            "recall",
            "HD95 px",
            "HD95 undefined",
            "surface dice",
            "worst images",
        ],
        &rows,
    );

    page.section("images", "Per image");
    let groups: Vec<(String, Vec<f64>)> =
        vec![("mean dice per image".into(), e.images.iter().map(|m| m.mean_dice).collect())];
    page.plot(&chart::boxes("image-dice", "Mean dice per image", &groups, "dice"));
    let mut worst: Vec<&ImageMetrics> = e.images.iter().collect();
    worst.sort_by(|a, b| a.mean_dice.total_cmp(&b.mean_dice));
    let rows: Vec<Vec<String>> = worst
        .iter()
        .take(20)
        .map(|m| {
            let (c, d) = m
                .dice
                .iter()
                .enumerate()
                .fold((0, f64::INFINITY), |b, (c, &d)| if d < b.1 { (c, d) } else { b });
            vec![
                m.image.clone(),
                m.person.clone(),
                format!("{:.4}", m.mean_dice),
                format!("{} ({d:.3})", CLASSES[c]),
            ]
        })
        .collect();
    page.table(&["image (worst first)", "person", "mean dice", "worst class"], &rows);

    page.section("error-map", "Error map");
    page.paragraph(
        "Per pixel, with T the truth's classes and P the prediction's: BLUE T = P (all right), RED both non-empty but different (class-label error), YELLOW T only (under-prediction), GREEN P only (over-prediction). Shares of RED/YELLOW/GREEN are among error pixels; the overlap region is where the truth has two or more classes.",
    );
    let shares = |c: &ErrorCounts| {
        let [r, y, g] = c.error_shares();
        vec![r * 100.0, y * 100.0, g * 100.0, c.blue_share() * 100.0]
    };
    page.plot(&chart::bars(
        "error-shares",
        "Error colours (% of error pixels; BLUE: % of all coloured pixels)",
        &["RED".into(), "YELLOW".into(), "GREEN".into(), "BLUE".into()],
        &[("all pixels", shares(&e.errors)), ("overlap regions", shares(&e.overlap_errors))],
        "%",
    ));
    let count_row = |name: &str, c: &ErrorCounts| {
        let s = shares(c);
        vec![
            name.to_string(),
            format!("{} ({:.1}%)", c.red, s[0]),
            format!("{} ({:.1}%)", c.yellow, s[1]),
            format!("{} ({:.1}%)", c.green, s[2]),
            format!("{} ({:.1}%)", c.blue, s[3]),
        ]
    };
    page.table(
        &["region", "RED", "YELLOW", "GREEN", "BLUE"],
        &[count_row("all pixels", &e.errors), count_row("overlap regions", &e.overlap_errors)],
    );
    page.paragraph("The worst images, coloured:");
    page.thumbnails(pictures);

    page.section("meta", "Dice by meta data and hand");
    let mut variables: Vec<&str> = e.by_meta.iter().map(|b| b.variable).collect();
    variables.dedup();
    for variable in variables {
        let bins: Vec<&BinDice> = e.by_meta.iter().filter(|b| b.variable == variable).collect();
        page.plot(&chart::bars(
            &format!("dice-by-{variable}"),
            &format!("Mean image dice by {variable}"),
            &bins.iter().map(|b| format!("{} (n={})", b.bin, b.images)).collect::<Vec<_>>(),
            &[("mean dice", bins.iter().map(|b| b.mean_dice).collect())],
            "dice",
        ));
    }
    let rows: Vec<Vec<String>> = e
        .by_meta
        .iter()
        .map(|b| vec![b.variable.to_string(), b.bin.clone(), b.images.to_string(), json_number(b.mean_dice)])
        .collect();
    page.table(&["variable", "bin", "images", "mean dice"], &rows);
    page.finish()
}
