//! `boneseg ensemble tune`: the ensemble's weights, then per-class thresholds of the weighted
//! mean, then per-class post-processing, all chosen on validation probability stores against
//! the labels, by the leaderboard's dice (per image and class, mean over images, then classes).
//!
//! The stores are whatever `boneseg infer --probs` wrote for the validation images (any mode,
//! TTA or set of runs), so the search sees exactly the probabilities that inference produces.
//! Every step streams the stores image by image ([`Stores`]) and loads one image's labels at a
//! time: memory is one row per store plus one image's masks, whatever the number of images.
//!
//! - **Weights**: a coordinate search on the simplex from equal weights: each round moves `step`
//!   of weight from one model to another for every ordered pair, keeps the best move when it
//!   raises the validation dice, and halves the step when none does. A weighting is judged with
//!   each class at its own best threshold, so weights and thresholds do not fight.
//! - **Thresholds**: one pass per round gives every candidate threshold's dice at once: each
//!   pixel's weighted mean ([`for_each_mean`], the very arithmetic of [`mean_vote`]) goes into a
//!   histogram over the threshold grid, whose suffix sums are the masks' pixel counts.
//! - **Post-processing**: the final masks of each class go through every candidate rule; a class
//!   keeps the rule with the best mean dice only when it beats doing nothing.

use std::path::PathBuf;

use boneseg_contract::metric::dice;
use boneseg_contract::{BitMask, CLASSES, ClassMasks, NUM_CLASSES};

use crate::mean::{MeanOptions, for_each_mean, mean_vote};
use crate::postprocess::{ClassRule, PostProcess, apply_rule};
use crate::runs;
use crate::store::SparseProbs;
use crate::stream::{EnsembleError, Result, Stores};
use crate::thresholds::{ClassThresholds, ThresholdSearch};

/// What to search.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// Candidate thresholds; the baseline threshold is added when missing.
    pub grid: Vec<f64>,
    /// The threshold the gains are measured from (0.5, as `ensemble` uses without thresholds).
    pub baseline_threshold: f64,
    /// Average over every model, also those that stored nothing for an image and class.
    pub keep_empty: bool,
    /// The first weight step of the search (weights sum to 1).
    pub step: f64,
    /// The search stops when the step falls below this.
    pub min_step: f64,
    /// Component sizes tried for `min_size`; empty: 1e-5, 1e-4 and 1e-3 of the image's pixels.
    pub min_sizes: Vec<u64>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            grid: ThresholdSearch::grid(0.05, 0.95, 0.05),
            baseline_threshold: 0.5,
            keep_empty: false,
            step: 0.25,
            min_step: 0.03,
            min_sizes: Vec::new(),
        }
    }
}

/// The labels of a validation image: `truth(image_name, height, width)`.
pub type TruthOf<'a> = dyn FnMut(&str, usize, usize) -> std::result::Result<ClassMasks, String> + 'a;

/// Mean validation dice per class at each stage of the search.
#[derive(Clone, Debug, PartialEq)]
pub struct StageScores {
    /// Equal weights, every class at the baseline threshold.
    pub plain: [f64; NUM_CLASSES],
    /// Equal weights, tuned thresholds.
    pub thresholds: [f64; NUM_CLASSES],
    /// Tuned weights and thresholds.
    pub weights: [f64; NUM_CLASSES],
    /// Tuned weights, thresholds and post-processing.
    pub postprocess: [f64; NUM_CLASSES],
}

/// The search's outcome.
#[derive(Clone, Debug)]
pub struct Tuned {
    pub weights: Vec<f64>,
    pub keep_empty: bool,
    pub thresholds: ClassThresholds,
    pub post: PostProcess,
    pub images: usize,
    pub scores: StageScores,
}

/// The leaderboard's mean over classes.
pub fn mean(per_class: &[f64; NUM_CLASSES]) -> f64 {
    per_class.iter().sum::<f64>() / NUM_CLASSES as f64
}

/// Runs the whole search over the validation stores `inputs` (same images, same order).
pub fn tune(
    inputs: &[PathBuf],
    truth: &mut TruthOf<'_>,
    options: &TuneOptions,
    report: &mut dyn FnMut(&str),
) -> Result<Tuned> {
    if inputs.is_empty() {
        return Err(EnsembleError::Input("tuning needs at least one validation store".into()));
    }
    let mut grid = options.grid.clone();
    if !grid.contains(&options.baseline_threshold) {
        grid.push(options.baseline_threshold);
    }
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    check_floors(inputs, grid[0])?;
    let baseline = grid.iter().position(|&t| t == options.baseline_threshold).expect("added above");

    let equal = vec![1.0 / inputs.len() as f64; inputs.len()];
    let (images, mut searches) =
        threshold_pass(inputs, truth, &grid, std::slice::from_ref(&equal), options.keep_empty)?;
    let equal_search = searches.pop().expect("one candidate");
    let plain = std::array::from_fn(|class| equal_search.means(class)[baseline]);
    report(&format!(
        "{images} validation images; equal weights: {:.4} at {}, {:.4} with tuned thresholds",
        mean(&plain),
        options.baseline_threshold,
        mean(&equal_search.best_means())
    ));
    let (weights, search) =
        search_weights(inputs, truth, &grid, equal, equal_search.clone(), options, report)?;
    let thresholds = search.best();
    let mean_options = MeanOptions { weights: weights.clone(), skip_empty: !options.keep_empty };
    let min_sizes = &options.min_sizes;
    let (post, before, after) = search_post(inputs, truth, &mean_options, &thresholds, min_sizes)?;
    debug_assert!(before.iter().zip(search.best_means()).all(|(a, b)| (a - b).abs() < 1e-9));
    report(&format!(
        "post-processing: {:.4} -> {:.4} ({} classes changed)",
        mean(&before),
        mean(&after),
        post.rules.iter().filter(|r| !r.is_noop()).count()
    ));
    Ok(Tuned {
        weights,
        keep_empty: options.keep_empty,
        thresholds,
        post,
        images,
        scores: StageScores {
            plain,
            thresholds: equal_search.best_means(),
            weights: before,
            postprocess: after,
        },
    })
}

/// Refuses stores whose floor hides probabilities the lowest candidate threshold would keep.
fn check_floors(inputs: &[PathBuf], lowest: f64) -> Result<()> {
    let stores = Stores::open(inputs)?;
    for reader in stores.readers() {
        let floor = f64::from(reader.floor());
        if floor > lowest + 1e-6 {
            return Err(EnsembleError::Input(format!(
                "{}: stored with floor {floor:.3}, above the lowest candidate threshold {lowest}: \
                 write the validation store with `infer --floor {lowest}` (or lower), or raise the lowest threshold",
                reader.path().display()
            )));
        }
    }
    Ok(())
}

/// One pass over the stores: `visit(models, class, truth, height, width)` for every image and
/// class, the image's labels loaded once. Returns the number of images.
fn pass(
    inputs: &[PathBuf],
    truth_of: &mut TruthOf<'_>,
    mut visit: impl FnMut(&[&SparseProbs], usize, &BitMask),
) -> Result<usize> {
    let mut stores = Stores::open(inputs)?;
    let mut truth: Option<(String, ClassMasks)> = None;
    let mut images = 0;
    let mut expected = 0;
    while let Some(rows) = stores.next()? {
        let row = &rows[0];
        if row.class != expected {
            return Err(EnsembleError::Input(format!(
                "{}: {} has {} where {} was due: tuning needs all {NUM_CLASSES} classes of every image in class order, as `infer --probs` writes them",
                inputs[0].display(),
                row.image_name,
                CLASSES[row.class],
                CLASSES[expected]
            )));
        }
        expected = (expected + 1) % NUM_CLASSES;
        if row.class == 0 {
            let masks = truth_of(&row.image_name, row.height, row.width).map_err(EnsembleError::Input)?;
            if (masks.height(), masks.width()) != (row.height, row.width) {
                return Err(EnsembleError::Input(format!(
                    "{}: the labels of {} are {}x{}, the store's rows {}x{}",
                    inputs[0].display(),
                    row.image_name,
                    masks.height(),
                    masks.width(),
                    row.height,
                    row.width
                )));
            }
            truth = Some((row.image_name.clone(), masks));
            images += 1;
        }
        let (_, masks) = truth.as_ref().expect("class 0 comes first");
        let probs: Vec<&SparseProbs> = rows.iter().map(|r| &r.probs).collect();
        visit(&probs, row.class, masks.class(row.class));
    }
    if expected != 0 {
        return Err(EnsembleError::Input(format!("{}: the last image lacks classes", inputs[0].display())));
    }
    if images == 0 {
        return Err(EnsembleError::Input(format!("{}: the store has no rows", inputs[0].display())));
    }
    Ok(images)
}

/// Every candidate weighting's dice at every threshold, in one pass.
fn threshold_pass(
    inputs: &[PathBuf],
    truth: &mut TruthOf<'_>,
    grid: &[f64],
    weightings: &[Vec<f64>],
    keep_empty: bool,
) -> Result<(usize, Vec<ThresholdSearch>)> {
    let mut searches = vec![ThresholdSearch::new(grid.to_vec()); weightings.len()];
    let options: Vec<MeanOptions> =
        weightings.iter().map(|w| MeanOptions { weights: w.clone(), skip_empty: !keep_empty }).collect();
    let images = pass(inputs, truth, |probs, class, truth| {
        for (search, options) in searches.iter_mut().zip(&options) {
            search.add(class, &threshold_counts(probs, options, truth, grid));
            if class + 1 == NUM_CLASSES {
                search.image_done();
            }
        }
    })?;
    Ok((images, searches))
}

/// `(intersection, predicted, truth)` pixel counts of the mean thresholded at each of `grid`
/// (ascending): a pixel whose mean is above `k` candidates counts for the first `k`.
pub fn threshold_counts(
    probs: &[&SparseProbs],
    options: &MeanOptions,
    truth: &BitMask,
    grid: &[f64],
) -> Vec<(u64, u64, u64)> {
    let mut predicted = vec![0u64; grid.len() + 1];
    let mut hits = vec![0u64; grid.len() + 1];
    for_each_mean(probs, options, |pixel, mean| {
        let above = grid.partition_point(|&t| t < mean);
        predicted[above] += 1;
        hits[above] += u64::from(truth.get_flat(pixel));
    });
    let truth_count = truth.count();
    let (mut p, mut i) = (0, 0);
    let mut counts: Vec<(u64, u64, u64)> = (0..grid.len())
        .rev()
        .map(|k| {
            p += predicted[k + 1];
            i += hits[k + 1];
            (i, p, truth_count)
        })
        .collect();
    counts.reverse();
    counts
}

/// The coordinate search over weights; returns the winner and its threshold search.
fn search_weights(
    inputs: &[PathBuf],
    truth: &mut TruthOf<'_>,
    grid: &[f64],
    start: Vec<f64>,
    start_search: ThresholdSearch,
    options: &TuneOptions,
    report: &mut dyn FnMut(&str),
) -> Result<(Vec<f64>, ThresholdSearch)> {
    let (mut weights, mut search) = (start, start_search);
    let mut score = mean(&search.best_means());
    let mut step = options.step;
    while weights.len() > 1 && step >= options.min_step {
        let candidates = moves(&weights, step);
        let (_, searches) = threshold_pass(inputs, truth, grid, &candidates, options.keep_empty)?;
        let (best, best_score) = searches
            .iter()
            .map(|s| mean(&s.best_means()))
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |a, (i, s)| if s > a.1 { (i, s) } else { a });
        if best_score > score + 1e-12 {
            weights = candidates[best].clone();
            search = searches.into_iter().nth(best).expect("a candidate");
            score = best_score;
            report(&format!("weights {weights:?}: {score:.4}"));
        } else {
            step /= 2.0;
        }
    }
    Ok((weights, search))
}

/// Every weighting that moves up to `step` of weight from one model to another.
fn moves(weights: &[f64], step: f64) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    for to in 0..weights.len() {
        for from in 0..weights.len() {
            let amount = step.min(weights[from]);
            if to == from || amount <= 0.0 {
                continue;
            }
            let mut moved = weights.to_vec();
            moved[to] += amount;
            moved[from] -= amount;
            let moved: Vec<f64> = moved.iter().map(|w| (w * 1e9).round() / 1e9).collect();
            if !out.contains(&moved) {
                out.push(moved);
            }
        }
    }
    out
}

/// The post-processing rules tried on a class: small components out (each size, with and
/// without filling holes), the largest kept (with and without), holes filled alone.
pub fn candidate_rules(min_sizes: &[u64]) -> Vec<ClassRule> {
    let mut rules = Vec::new();
    for &min_size in min_sizes.iter().filter(|&&s| s > 1) {
        for fill_holes in [false, true] {
            rules.push(ClassRule { min_size, fill_holes, ..ClassRule::default() });
        }
    }
    for fill_holes in [false, true] {
        rules.push(ClassRule { keep_largest: true, fill_holes, ..ClassRule::default() });
    }
    rules.push(ClassRule { fill_holes: true, ..ClassRule::default() });
    rules
}

/// The default sizes for an image: 1e-5, 1e-4 and 1e-3 of its pixels (42, 419 and 4194 at 2048²).
pub fn default_min_sizes(height: usize, width: usize) -> Vec<u64> {
    [1e-5, 1e-4, 1e-3].iter().map(|f| (f * (height * width) as f64).round() as u64).collect()
}

/// The best rule per class; returns it with each class's mean dice before and after.
fn search_post(
    inputs: &[PathBuf],
    truth: &mut TruthOf<'_>,
    options: &MeanOptions,
    thresholds: &ClassThresholds,
    min_sizes: &[u64],
) -> Result<(PostProcess, [f64; NUM_CLASSES], [f64; NUM_CLASSES])> {
    let mut rules: Option<Vec<ClassRule>> = None;
    // sums[class][0] is doing nothing, sums[class][1 + r] rule r.
    let mut sums: Vec<Vec<f64>> = Vec::new();
    let images = pass(inputs, truth, |probs, class, truth| {
        let rules = rules.get_or_insert_with(|| {
            let sizes = if min_sizes.is_empty() {
                default_min_sizes(truth.height(), truth.width())
            } else {
                min_sizes.to_vec()
            };
            let rules = candidate_rules(&sizes);
            sums = vec![vec![0.0; rules.len() + 1]; NUM_CLASSES];
            rules
        });
        let mask =
            runs::to_mask(&mean_vote(probs, options, thresholds.0[class]), truth.height(), truth.width());
        sums[class][0] += dice(&mask, truth);
        for (sum, rule) in sums[class][1..].iter_mut().zip(rules.iter()) {
            let mut processed = mask.clone();
            apply_rule(rule, &mut processed);
            *sum += dice(&processed, truth);
        }
    })?;
    let rules = rules.expect("at least one image");
    let mut post = PostProcess::default();
    let mut before = [0.0; NUM_CLASSES];
    let mut after = [0.0; NUM_CLASSES];
    for class in 0..NUM_CLASSES {
        let means: Vec<f64> = sums[class].iter().map(|s| s / images as f64).collect();
        let mut winner = 0;
        for (i, &m) in means.iter().enumerate() {
            if m > means[winner] + 1e-12 {
                winner = i;
            }
        }
        if winner > 0 {
            post.rules[class] = rules[winner - 1];
        }
        before[class] = means[0];
        after[class] = means[winner];
    }
    Ok((post, before, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ProbRow, ProbWriter};
    use std::path::Path;

    const SIDE: usize = 24;

    /// A square of `size` at (`at`, `at`) in class `class`'s own spot, for every class.
    fn square(class: usize, size: usize, shift: usize) -> Vec<usize> {
        let (row, col) = (class / 6 * 4 + shift, class % 6 * 4 + shift);
        let mut pixels = Vec::new();
        for y in row..(row + size).min(SIDE) {
            for x in col..(col + size).min(SIDE) {
                pixels.push(y * SIDE + x);
            }
        }
        pixels
    }

    fn truth_masks() -> ClassMasks {
        let mut masks = ClassMasks::new(SIDE, SIDE);
        for class in 0..NUM_CLASSES {
            for p in square(class, 3, 0) {
                masks.class_mut(class).set(p / SIDE, p % SIDE);
            }
        }
        masks
    }

    /// A store of `images` images whose class `c` has probability `prob(c, pixel)`.
    fn store(dir: &Path, images: usize, prob: impl Fn(usize, usize, usize) -> f32) -> PathBuf {
        let mut writer = ProbWriter::create(dir, 0.05).unwrap();
        for image in 0..images {
            for class in 0..NUM_CLASSES {
                let mut probs = SparseProbs::default();
                for pixel in 0..SIDE * SIDE {
                    probs.push(pixel, prob(image, class, pixel), 0.05);
                }
                let image_name = format!("{image:02}.png");
                writer.write(ProbRow { image_name, class, height: SIDE, width: SIDE, probs }).unwrap();
            }
        }
        writer.finish().unwrap();
        dir.to_path_buf()
    }

    fn run(inputs: &[PathBuf], options: &TuneOptions) -> Tuned {
        let mut truth = |_: &str, _: usize, _: usize| Ok(truth_masks());
        tune(inputs, &mut truth, options, &mut |_| {}).unwrap()
    }

    #[test]
    fn weight_moves_to_the_good_model() {
        let dir = tempfile::tempdir().unwrap();
        // The good model: 0.9 on the truth. The noisy one: 0.9 on a square shifted by one pixel,
        // and a speck that differs per image, so no threshold rescues it.
        let good =
            store(
                &dir.path().join("good"),
                4,
                |_, class, pixel| {
                    if square(class, 3, 0).contains(&pixel) { 0.9 } else { 0.0 }
                },
            );
        let noisy = store(&dir.path().join("noisy"), 4, |image, class, pixel| {
            if square(class, 3, 1).contains(&pixel) || pixel == (image * 37 + class * 11) % (SIDE * SIDE) {
                0.9
            } else {
                0.0
            }
        });
        let tuned = run(&[noisy, good], &TuneOptions::default());
        assert!(tuned.weights[1] > 0.7, "{:?}", tuned.weights);
        assert!((tuned.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(mean(&tuned.scores.weights) > mean(&tuned.scores.thresholds));
        assert!((mean(&tuned.scores.weights) - 1.0).abs() < 1e-9, "the good model alone is perfect");
    }

    #[test]
    fn one_store_tunes_thresholds_and_keeps_its_weight() {
        let dir = tempfile::tempdir().unwrap();
        // Under-confident: 0.3 on the truth, 0.2 around it.
        let only = store(&dir.path().join("only"), 2, |_, class, pixel| {
            if square(class, 3, 0).contains(&pixel) {
                0.3
            } else if square(class, 4, 0).contains(&pixel) {
                0.2
            } else {
                0.0
            }
        });
        let tuned = run(&[only], &TuneOptions::default());
        assert_eq!(tuned.weights, vec![1.0]);
        assert!(tuned.thresholds.0.iter().all(|&t| (0.2..=0.3).contains(&t)), "{:?}", tuned.thresholds);
        assert!(mean(&tuned.scores.plain) < 0.01 && (mean(&tuned.scores.thresholds) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn keep_largest_goes_on_where_specks_are_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        // Class 0 has a true square of 9 pixels and a speck of 3 in the far corner; the others are clean.
        let speck = [SIDE * SIDE - 1, SIDE * SIDE - 2, SIDE * SIDE - 3];
        let inputs = [store(&dir.path().join("s"), 2, |_, class, pixel| {
            if square(class, 3, 0).contains(&pixel) || (class == 0 && speck.contains(&pixel)) {
                0.9
            } else {
                0.0
            }
        })];
        let options = TuneOptions { min_sizes: vec![2], ..TuneOptions::default() };
        let tuned = run(&inputs, &options);
        assert_eq!(tuned.post.rules[0], ClassRule { keep_largest: true, ..ClassRule::default() });
        assert!(tuned.post.rules[1..].iter().all(ClassRule::is_noop), "{:?}", tuned.post);
        assert!(tuned.scores.weights[0] < 0.9 && (tuned.scores.postprocess[0] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_floor_above_the_grid_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ProbWriter::create(dir.path(), 0.3).unwrap();
        let probs = SparseProbs::default();
        writer.write(ProbRow { image_name: "a.png".into(), class: 0, height: 2, width: 2, probs }).unwrap();
        writer.finish().unwrap();
        let mut truth = |_: &str, _: usize, _: usize| Ok(ClassMasks::new(2, 2));
        let err = tune(&[dir.path().into()], &mut truth, &TuneOptions::default(), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("infer --floor 0.05"), "{err}");
    }

    #[test]
    fn counts_match_thresholding_the_mean() {
        let a = SparseProbs { runs: vec![(0, 4)], values: vec![30, 130, 200, 255] };
        let b = SparseProbs { runs: vec![(2, 3)], values: vec![100, 20, 240] };
        let mut truth = BitMask::new(2, 4);
        truth.set(0, 1);
        truth.set(0, 3);
        let options = MeanOptions { weights: vec![0.7, 0.3], skip_empty: true };
        let grid = [0.1, 0.3, 0.5, 0.8];
        let counts = threshold_counts(&[&a, &b], &options, &truth, &grid);
        for (k, &t) in grid.iter().enumerate() {
            let mask = runs::to_mask(&mean_vote(&[&a, &b], &options, t), 2, 4);
            assert_eq!(counts[k], (mask.intersection_count(&truth), mask.count(), 2), "threshold {t}");
        }
    }
}
