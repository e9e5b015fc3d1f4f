//! `boneseg eda`: what a dataset holds, as one HTML page and tables for scripts.
//!
//! Areas and overlaps are counted on the label masks at full resolution (bit masks filled with
//! the contract's OpenCV-exact rasteriser, never downsampled); intensity histograms on the PNGs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use boneseg_contract::atomic::write_atomic;
use boneseg_contract::metric::quantile;
use boneseg_contract::{CLASSES, FillRule, NUM_CLASSES, PersonId};
use boneseg_data::image_io::read_gray;
use boneseg_data::layout::{ImageEntry, list_images};
use boneseg_data::meta::{self, MetaTable};
use boneseg_data::{DataError, ReadOptions, labels};
use rayon::prelude::*;
use serde::Serialize;

use crate::bins::VARIABLES;
use crate::chart;
use crate::hand::{HandPose, hand_pose};
use crate::html::{Page, png_bytes};
use crate::overlay::{OverlayOptions, overlay};

/// How far from the class norm an area must be to make an image an outlier candidate: a robust
/// z-score (median and 1.4826 x MAD) above this.
pub const AREA_Z: f64 = 3.5;
/// How far an image's hand axis may lean from the dataset's median before it is listed, degrees.
pub const ANGLE_LIMIT_DEG: f64 = 12.0;

#[derive(Clone, Copy, Debug)]
pub struct EdaOptions {
    pub rule: FillRule,
    /// Most outlier candidates drawn as thumbnails.
    pub thumbnails: usize,
}

/// One labelled training image.
#[derive(Clone, Debug, Serialize)]
pub struct ImageFacts {
    pub image: String,
    pub person: String,
    pub areas: [u64; NUM_CLASSES],
    pub hand: Option<HandPose>,
    pub mean_intensity: f64,
    pub duplicate_classes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClassAreas {
    pub class: &'static str,
    pub images_with_class: usize,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
    /// Median over the images with the class of its share of the image's labelled bone area: a
    /// bone's size relative to its hand, the same whether the hand fills the frame or half of it.
    pub median_share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OverlapPair {
    pub a: &'static str,
    pub b: &'static str,
    /// Pixels in both classes, summed over the images.
    pub pixels: u64,
    /// Images where the two classes share at least one pixel.
    pub images: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Outlier {
    pub image: String,
    pub reasons: Vec<String>,
}

/// Counts of people per bin of one meta variable, train and test.
#[derive(Clone, Debug, Serialize)]
pub struct MetaDistribution {
    pub variable: &'static str,
    pub bins: &'static [&'static str],
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// Everything the page shows.
#[derive(Clone, Debug, Serialize)]
pub struct Eda {
    pub train_images: usize,
    pub test_images: usize,
    pub train_people: usize,
    pub test_people: usize,
    pub image_size: Option<(usize, usize)>,
    pub classes: Vec<ClassAreas>,
    /// The five classes with the smallest median share of their hand's bone area, smallest first
    /// (pixel areas would rank by how large hands are in the frame as much as by the bones).
    pub smallest: Vec<&'static str>,
    /// Mean shared pixels per image for each class pair (symmetric, zero diagonal).
    pub overlap_matrix: Vec<Vec<f64>>,
    /// Pairs that overlap, most shared pixels first.
    pub overlap_pairs: Vec<OverlapPair>,
    pub right_hands: usize,
    pub left_hands: usize,
    pub hand_unknown: usize,
    pub meta: Vec<MetaDistribution>,
    /// Gender x age bin and gender x nail art counts over all people.
    pub crosstabs: Vec<Crosstab>,
    /// Remark values of the meta table and how many people carry each.
    pub remarks: BTreeMap<String, usize>,
    pub outliers: Vec<Outlier>,
    /// Share of pixels per grey level (256 bins), train and test.
    pub intensity_train: Vec<f64>,
    pub intensity_test: Vec<f64>,
    pub images: Vec<ImageFacts>,
    pub seconds: f64,
}

/// Reads the dataset under `root` and writes `index.html`, `eda.json` and CSV tables into `out`.
pub fn run(root: &Path, out: &Path, options: EdaOptions) -> Result<Eda, DataError> {
    let start = std::time::Instant::now();
    let train =
        list_images(&root.join("train/DCM"), Some(&root.join("train/outputs_json")), ReadOptions::default())?
            .entries;
    let test_dir = root.join("test/DCM");
    let test = if test_dir.is_dir() {
        list_images(&test_dir, None, ReadOptions::default())?.entries
    } else {
        Vec::new()
    };
    let meta = meta::find(root).map(|path| meta::read(&path)).transpose()?;

    let facts: Vec<(ImageFacts, [[u64; NUM_CLASSES]; NUM_CLASSES], Vec<f64>)> =
        train.par_iter().map(|entry| image_facts(entry, options.rule)).collect::<Result<_, _>>()?;
    let test_histograms: Vec<Vec<f64>> = test
        .par_iter()
        .map(|entry| read_gray(&entry.image).map(|image| histogram(&image)))
        .collect::<Result<_, _>>()?;

    let mut shared = [[0u64; NUM_CLASSES]; NUM_CLASSES];
    let mut shared_images = [[0usize; NUM_CLASSES]; NUM_CLASSES];
    for (_, pairs, _) in &facts {
        for a in 0..NUM_CLASSES {
            for b in 0..NUM_CLASSES {
                shared[a][b] += pairs[a][b];
                shared_images[a][b] += usize::from(pairs[a][b] > 0);
            }
        }
    }
    let n = facts.len().max(1) as f64;
    let overlap_matrix = shared.iter().map(|row| row.iter().map(|&v| v as f64 / n).collect()).collect();
    let mut overlap_pairs: Vec<OverlapPair> = (0..NUM_CLASSES)
        .flat_map(|a| (a + 1..NUM_CLASSES).map(move |b| (a, b)))
        .filter(|&(a, b)| shared[a][b] > 0)
        .map(|(a, b)| OverlapPair {
            a: CLASSES[a],
            b: CLASSES[b],
            pixels: shared[a][b],
            images: shared_images[a][b],
        })
        .collect();
    overlap_pairs.sort_by_key(|pair| std::cmp::Reverse(pair.pixels));

    let images: Vec<ImageFacts> = facts.iter().map(|(f, _, _)| f.clone()).collect();
    let classes = class_areas(&images);
    let mut by_share: Vec<&ClassAreas> = classes.iter().collect();
    by_share.sort_by(|a, b| a.median_share.total_cmp(&b.median_share));
    let outliers = outlier_candidates(&images, &classes, meta.as_ref(), &train);
    let person_split =
        |entries: &[ImageEntry]| entries.iter().map(|e| e.person).collect::<std::collections::BTreeSet<_>>();
    let (train_people, test_people) = (person_split(&train), person_split(&test));
    let (meta_dists, crosstabs, remarks) = meta_tables(meta.as_ref(), &train_people, &test_people);

    let eda = Eda {
        train_images: train.len(),
        test_images: test.len(),
        train_people: train_people.len(),
        test_people: test_people.len(),
        image_size: train.first().or(test.first()).map(|e| (e.width, e.height)),
        smallest: by_share.iter().take(5).map(|c| c.class).collect(),
        classes,
        overlap_matrix,
        overlap_pairs,
        right_hands: images
            .iter()
            .filter(|f| f.hand.is_some_and(|h| h.side == crate::hand::Side::Right))
            .count(),
        left_hands: images
            .iter()
            .filter(|f| f.hand.is_some_and(|h| h.side == crate::hand::Side::Left))
            .count(),
        hand_unknown: images.iter().filter(|f| f.hand.is_none()).count(),
        meta: meta_dists,
        crosstabs,
        remarks,
        outliers,
        intensity_train: mean_histogram(facts.iter().map(|(_, _, h)| h)),
        intensity_test: mean_histogram(test_histograms.iter()),
        images,
        seconds: 0.0,
    };
    std::fs::create_dir_all(out).map_err(|e| DataError::io(out, e))?;
    let thumbnails = outlier_thumbnails(&eda.outliers, &train, options)?;
    let eda = Eda { seconds: start.elapsed().as_secs_f64(), ..eda };
    write_outputs(&eda, out, &thumbnails)?;
    Ok(eda)
}

type PairCounts = [[u64; NUM_CLASSES]; NUM_CLASSES];

fn image_facts(entry: &ImageEntry, rule: FillRule) -> Result<(ImageFacts, PairCounts, Vec<f64>), DataError> {
    let labels = labels::load(entry, rule)?;
    let masks = &labels.masks;
    let mut pairs = [[0u64; NUM_CLASSES]; NUM_CLASSES];
    for (a, b) in (0..NUM_CLASSES).flat_map(|a| (a + 1..NUM_CLASSES).map(move |b| (a, b))) {
        let shared = masks.class(a).intersection_count(masks.class(b));
        pairs[a][b] = shared;
        pairs[b][a] = shared;
    }
    let image = read_gray(&entry.image)?;
    let hist = histogram(&image);
    let mean_intensity = hist.iter().enumerate().map(|(v, share)| v as f64 * share).sum();
    let duplicate_classes = labels
        .warnings
        .iter()
        .filter_map(|w| match w {
            labels::LabelWarning::DuplicateClass(d) => Some(d.to_string()),
            labels::LabelWarning::FilenameMismatch { .. } | labels::LabelWarning::PointsOutside(_) => None,
        })
        .collect();
    let facts = ImageFacts {
        image: entry.rel.clone(),
        person: entry.person.to_string(),
        areas: std::array::from_fn(|c| masks.class(c).count()),
        hand: hand_pose(masks),
        mean_intensity,
        duplicate_classes,
    };
    Ok((facts, pairs, hist))
}

/// Share of pixels at each of the 256 grey levels.
fn histogram(image: &image::GrayImage) -> Vec<f64> {
    let mut counts = vec![0u64; 256];
    for p in image.as_raw() {
        counts[usize::from(*p)] += 1;
    }
    let total = image.as_raw().len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / total).collect()
}

fn mean_histogram<'a>(histograms: impl Iterator<Item = &'a Vec<f64>>) -> Vec<f64> {
    let mut sum = vec![0.0; 256];
    let mut n = 0.0;
    for h in histograms {
        sum.iter_mut().zip(h).for_each(|(s, v)| *s += v);
        n += 1.0;
    }
    sum.into_iter().map(|s| if n > 0.0 { s / n } else { 0.0 }).collect()
}

fn class_areas(images: &[ImageFacts]) -> Vec<ClassAreas> {
    (0..NUM_CLASSES)
        .map(|c| {
            let mut areas: Vec<f64> = images.iter().map(|f| f.areas[c] as f64).filter(|&a| a > 0.0).collect();
            areas.sort_by(f64::total_cmp);
            let mut shares: Vec<f64> = images
                .iter()
                .filter(|f| f.areas[c] > 0)
                .map(|f| f.areas[c] as f64 / f.areas.iter().sum::<u64>() as f64)
                .collect();
            shares.sort_by(f64::total_cmp);
            let q = |p| quantile(&areas, p);
            ClassAreas {
                class: CLASSES[c],
                images_with_class: areas.len(),
                min: q(0.0),
                q1: q(0.25),
                median: q(0.5),
                q3: q(0.75),
                max: q(1.0),
                median_share: quantile(&shares, 0.5),
            }
        })
        .collect()
}

/// Images worth a look: missing classes, areas far from their class norm, unusual orientation,
/// classes labelled twice, and people whose meta remark notes something (nail art, rings,
/// implants).
fn outlier_candidates(
    images: &[ImageFacts],
    classes: &[ClassAreas],
    meta: Option<&MetaTable>,
    entries: &[ImageEntry],
) -> Vec<Outlier> {
    let spread: Vec<f64> = (0..NUM_CLASSES)
        .map(|c| {
            let median = classes[c].median;
            let mut deviations: Vec<f64> = images
                .iter()
                .map(|f| f.areas[c] as f64)
                .filter(|&a| a > 0.0)
                .map(|a| (a - median).abs())
                .collect();
            deviations.sort_by(f64::total_cmp);
            1.4826 * quantile(&deviations, 0.5)
        })
        .collect();
    let mut angles: Vec<f64> = images.iter().filter_map(|f| f.hand.map(|h| h.angle_deg)).collect();
    angles.sort_by(f64::total_cmp);
    let median_angle = quantile(&angles, 0.5);
    let mut outliers = Vec::new();
    for (facts, entry) in images.iter().zip(entries) {
        let mut reasons = Vec::new();
        let missing: Vec<&str> =
            (0..NUM_CLASSES).filter(|&c| facts.areas[c] == 0).map(|c| CLASSES[c]).collect();
        if !missing.is_empty() {
            reasons.push(format!("missing {}", missing.join(", ")));
        }
        for c in 0..NUM_CLASSES {
            let (area, median, scale) = (facts.areas[c] as f64, classes[c].median, spread[c]);
            if area > 0.0 && scale > 0.0 && classes[c].images_with_class >= 5 {
                let z = (area - median) / scale;
                if z.abs() > AREA_Z {
                    reasons.push(format!(
                        "{} area {area:.0} px is {z:+.1} robust SD from the median {median:.0}",
                        CLASSES[c]
                    ));
                }
            }
        }
        if let Some(hand) = facts.hand {
            let lean = hand.angle_deg - median_angle;
            if lean.abs() > ANGLE_LIMIT_DEG {
                reasons.push(format!("hand axis at {:+.1}° ({lean:+.1}° from the median)", hand.angle_deg));
            }
        }
        reasons.extend(facts.duplicate_classes.iter().cloned());
        if let Some(remark) = meta.and_then(|m| m.get(entry.person)).and_then(|p| p.remark.as_ref()) {
            reasons.push(format!("meta remark: {remark}"));
        }
        if !reasons.is_empty() {
            outliers.push(Outlier { image: facts.image.clone(), reasons });
        }
    }
    outliers.sort_by(|a, b| b.reasons.len().cmp(&a.reasons.len()).then(a.image.cmp(&b.image)));
    outliers
}

/// A cross-tab: its name, row bin names, column bin names, and counts by row then column.
pub type Crosstab = (String, Vec<String>, Vec<String>, Vec<Vec<usize>>);

fn meta_tables(
    meta: Option<&MetaTable>,
    train: &std::collections::BTreeSet<PersonId>,
    test: &std::collections::BTreeSet<PersonId>,
) -> (Vec<MetaDistribution>, Vec<Crosstab>, BTreeMap<String, usize>) {
    let Some(meta) = meta else { return (Vec::new(), Vec::new(), BTreeMap::new()) };
    let dists = VARIABLES
        .iter()
        .map(|variable| {
            let count = |people: &std::collections::BTreeSet<PersonId>| {
                let mut counts = vec![0; variable.bins.len()];
                for person in meta.people.iter().filter(|p| people.contains(&p.id)) {
                    counts[(variable.bin_of)(person)] += 1;
                }
                counts
            };
            MetaDistribution {
                variable: variable.name,
                bins: variable.bins,
                train: count(train),
                test: count(test),
            }
        })
        .collect();
    let crosstab = |row: usize, col: usize| -> Crosstab {
        let (r, c) = (&VARIABLES[row], &VARIABLES[col]);
        let mut counts = vec![vec![0; c.bins.len()]; r.bins.len()];
        for person in &meta.people {
            counts[(r.bin_of)(person)][(c.bin_of)(person)] += 1;
        }
        let names = |v: &crate::bins::Variable| v.bins.iter().map(|b| b.to_string()).collect();
        (format!("{} x {}", r.name, c.name), names(r), names(c), counts)
    };
    // gender x age, gender x weight, gender x height, gender x nail art.
    let crosstabs = vec![crosstab(1, 0), crosstab(1, 2), crosstab(1, 3), crosstab(1, 4)];
    let mut remarks = BTreeMap::new();
    for remark in meta.people.iter().filter_map(|p| p.remark.as_ref()) {
        for part in remark.split(',') {
            *remarks.entry(part.trim().to_string()).or_insert(0) += 1;
        }
    }
    (dists, crosstabs, remarks)
}

/// The first `options.thumbnails` candidates drawn with their labels.
fn outlier_thumbnails(
    outliers: &[Outlier],
    train: &[ImageEntry],
    options: EdaOptions,
) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    outliers
        .par_iter()
        .take(options.thumbnails)
        .map(|outlier| {
            let entry =
                train.iter().find(|e| e.rel == outlier.image).expect("candidates come from the listing");
            let image = read_gray(&entry.image)?;
            let masks = labels::load(entry, options.rule)?.masks;
            let picture = overlay(&image, Some(&masks), OverlayOptions { fill: 0.3, max_side: Some(220) });
            Ok((format!("{}: {}", outlier.image, outlier.reasons.join("; ")), png_bytes(&picture)))
        })
        .collect()
}

fn write_outputs(eda: &Eda, out: &Path, thumbnails: &[(String, Vec<u8>)]) -> Result<(), DataError> {
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| DataError::io(&path, e))
    };
    write("eda.json", &serde_json::to_string_pretty(eda).expect("serialisable"))?;
    let mut areas = String::from("class,images_with_class,min,q1,median,q3,max,median_share\n");
    for c in &eda.classes {
        let _ = writeln!(
            areas,
            "{},{},{},{},{},{},{},{:.6}",
            c.class, c.images_with_class, c.min, c.q1, c.median, c.q3, c.max, c.median_share
        );
    }
    write("class_areas.csv", &areas)?;
    let mut pairs = String::from("class_a,class_b,shared_pixels,images\n");
    for p in &eda.overlap_pairs {
        let _ = writeln!(pairs, "{},{},{},{}", p.a, p.b, p.pixels, p.images);
    }
    write("overlaps.csv", &pairs)?;
    let mut images = format!("image,person,hand,angle_deg,mean_intensity,{}\n", CLASSES.join(","));
    for f in &eda.images {
        let (hand, angle) =
            f.hand.map_or(("", String::new()), |h| (h.side.name(), format!("{:.2}", h.angle_deg)));
        let areas: Vec<String> = f.areas.iter().map(u64::to_string).collect();
        let _ = writeln!(
            images,
            "{},{},{hand},{angle},{:.2},{}",
            f.image,
            f.person,
            f.mean_intensity,
            areas.join(",")
        );
    }
    write("images.csv", &images)?;
    let mut outliers = String::from("image,reasons\n");
    for o in &eda.outliers {
        let _ = writeln!(outliers, "{},\"{}\"", o.image, o.reasons.join("; ").replace('"', "'"));
    }
    write("outliers.csv", &outliers)?;
    write("index.html", &page(eda, thumbnails))
}

fn page(eda: &Eda, thumbnails: &[(String, Vec<u8>)]) -> String {
    let size = eda.image_size.map_or("unknown".into(), |(w, h)| format!("{w}x{h}"));
    let mut page = Page::new(
        "boneseg EDA",
        &format!(
            "{} training images ({} people), {} test images ({} people), {size}. Areas and overlaps counted at full resolution on the label masks. Made in {:.1} s.",
            eda.train_images, eda.train_people, eda.test_images, eda.test_people, eda.seconds
        ),
    );
    page.section("counts", "Images and classes");
    let rows: Vec<Vec<String>> =
        eda.classes.iter().map(|c| vec![c.class.to_string(), c.images_with_class.to_string()]).collect();
    page.table(&["class", "labelled images"], &rows);

    page.section("areas", "Class areas");
    let groups: Vec<(String, Vec<f64>)> = (0..NUM_CLASSES)
        .map(|c| {
            (
                CLASSES[c].to_string(),
                eda.images.iter().map(|f| f.areas[c] as f64).filter(|&a| a > 0.0).collect(),
            )
        })
        .collect();
    page.plot(&chart::boxes("class-areas", "Area per class (pixels)", &groups, "pixels"));
    page.paragraph(&format!(
        "Smallest classes by their median share of the hand's bone area (a size that does not depend on \
         how large the hand is in the frame): {}.",
        eda.smallest.join(", ")
    ));
    let rows: Vec<Vec<String>> = eda
        .classes
        .iter()
        .map(|c| {
            [c.class.to_string()]
                .into_iter()
                .chain([c.min, c.q1, c.median, c.q3, c.max].map(|v| format!("{v:.0}")))
                .chain([format!("{:.2}%", 100.0 * c.median_share)])
                .collect()
        })
        .collect();
    page.table(&["class", "min", "q1", "median", "q3", "max", "median share of the hand"], &rows);

    page.section("overlaps", "Overlaps between classes");
    page.plot(&chart::heatmap(
        "overlap-matrix",
        "Mean shared pixels per image",
        &CLASSES,
        &eda.overlap_matrix,
    ));
    let rows: Vec<Vec<String>> = eda
        .overlap_pairs
        .iter()
        .take(10)
        .map(|p| vec![format!("{} / {}", p.a, p.b), p.pixels.to_string(), p.images.to_string()])
        .collect();
    page.table(&["pair (biggest first)", "shared pixels", "images"], &rows);

    page.section("hands", "Left and right hands");
    page.plot(&chart::bars(
        "hands",
        "Hands in the training labels (thumb side of the forearm-to-middle-finger axis)",
        &["right".into(), "left".into(), "undetermined".into()],
        &[("images", vec![eda.right_hands as f64, eda.left_hands as f64, eda.hand_unknown as f64])],
        "images",
    ));

    page.section("meta", "Meta data, train and test");
    if eda.meta.is_empty() {
        page.paragraph("No meta_data.xlsx or meta_data.csv in the dataset root.");
    }
    for dist in &eda.meta {
        let labels: Vec<String> = dist.bins.iter().map(|b| b.to_string()).collect();
        let to_f = |v: &[usize]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        page.plot(&chart::bars(
            &format!("meta-{}", dist.variable),
            &format!("People by {} (train vs test)", dist.variable),
            &labels,
            &[("train", to_f(&dist.train)), ("test", to_f(&dist.test))],
            "people",
        ));
    }
    for (name, rows_names, cols_names, counts) in &eda.crosstabs {
        page.paragraph(&format!("Cross-tab {name} (all people):"));
        let header: Vec<&str> = std::iter::once("").chain(cols_names.iter().map(String::as_str)).collect();
        let rows: Vec<Vec<String>> = rows_names
            .iter()
            .zip(counts)
            .map(|(r, row)| std::iter::once(r.clone()).chain(row.iter().map(usize::to_string)).collect())
            .collect();
        page.table(&header, &rows);
    }
    let rows: Vec<Vec<String>> = eda.remarks.iter().map(|(r, n)| vec![r.clone(), n.to_string()]).collect();
    page.paragraph("Remarks of the meta table (네일있음 = nail art):");
    page.table(&["remark", "people"], &rows);

    page.section("outliers", "Outlier candidates");
    page.paragraph(&format!(
        "{} images: a missing class, an area more than {AREA_Z} robust SD from its class median, a hand axis more than {ANGLE_LIMIT_DEG}° from the median, a class labelled twice, or a meta remark.",
        eda.outliers.len()
    ));
    let rows: Vec<Vec<String>> =
        eda.outliers.iter().map(|o| vec![o.image.clone(), o.reasons.join("; ")]).collect();
    page.table(&["image", "why"], &rows);
    page.thumbnails(thumbnails);

    page.section("intensity", "Intensity histograms");
    page.plot(&chart::histogram(
        "intensity",
        "Grey levels (share of pixels, mean over images)",
        (0.0, 256.0),
        &[("train", eda.intensity_train.clone()), ("test", eda.intensity_test.clone())],
        "grey level",
    ));
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(areas: [u64; NUM_CLASSES]) -> ImageFacts {
        ImageFacts {
            image: String::new(),
            person: String::new(),
            areas,
            hand: None,
            mean_intensity: 0.0,
            duplicate_classes: Vec::new(),
        }
    }

    #[test]
    fn a_bones_share_of_its_hand_does_not_depend_on_the_hands_size_in_the_frame() {
        // A hand whose class c covers (c + 1) * 100 pixels, and the same hand twice as tall.
        let small: [u64; NUM_CLASSES] = std::array::from_fn(|c| (c as u64 + 1) * 100);
        let large = small.map(|a| a * 4);
        let classes = class_areas(&[facts(small), facts(large)]);
        let total: u64 = small.iter().sum();
        for (c, areas) in classes.iter().enumerate() {
            let share = (c as f64 + 1.0) * 100.0 / total as f64;
            assert!((areas.median_share - share).abs() < 1e-12, "{}: {}", areas.class, areas.median_share);
            assert_eq!(areas.median, (c as f64 + 1.0) * 250.0, "pixel medians still mix both sizes");
        }
    }

    #[test]
    fn an_image_without_the_class_does_not_count_towards_its_share() {
        let mut child = [1000u64; NUM_CLASSES];
        child[26] = 0; // no Pisiform yet
        let adult = [1000u64; NUM_CLASSES];
        let classes = class_areas(&[facts(child), facts(adult)]);
        assert_eq!(classes[26].images_with_class, 1);
        assert!((classes[26].median_share - 1.0 / NUM_CLASSES as f64).abs() < 1e-12);
    }
}
