//! Soft voting: the (weighted) mean of the models' stored probabilities, thresholded.
//!
//! As the team did, a pixel below a model's floor counts as probability 0 for that model, and a
//! model that stored nothing for an image and class can be left out of the mean (`skip_empty`),
//! so a model that missed a bone does not halve the others' votes. The arithmetic is the
//! reference's, in f64 and in model order: `acc += w * (q / 255)`, then `acc / sum(w) > t`, so
//! the masks are bit-identical to `tools/reference/ensemble_reference.py`. Only pixels inside some model's
//! support are visited (outside, the mean is 0 and never above a threshold).

use crate::runs::{self, Runs};
use crate::store::{SparseProbs, dequantise};

/// How to average.
#[derive(Clone, Debug, PartialEq)]
pub struct MeanOptions {
    /// One weight per model (all 1 for the plain mean).
    pub weights: Vec<f64>,
    /// Leave models with an empty support out of the mean.
    pub skip_empty: bool,
}

impl MeanOptions {
    /// The plain mean of `models` models.
    pub fn plain(models: usize, skip_empty: bool) -> MeanOptions {
        MeanOptions { weights: vec![1.0; models], skip_empty }
    }
}

/// The pixels whose mean probability over `models` is above `threshold`.
pub fn mean_vote(models: &[&SparseProbs], options: &MeanOptions, threshold: f64) -> Runs {
    let mut out = Runs::new();
    for_each_mean(models, options, |pixel, mean| {
        if mean > threshold {
            runs::push(&mut out, pixel, 1);
        }
    });
    out
}

/// Calls `visit(pixel, mean)` for every pixel inside some model's support, in pixel order, with
/// the mean that [`mean_vote`] thresholds (so a search over thresholds sees exactly the masks the
/// ensemble will write). Pixels outside every support have mean 0 and are not visited.
pub fn for_each_mean(models: &[&SparseProbs], options: &MeanOptions, mut visit: impl FnMut(usize, f64)) {
    assert_eq!(models.len(), options.weights.len(), "one weight per model");
    let denominator: f64 = models
        .iter()
        .zip(&options.weights)
        .filter(|(m, _)| !options.skip_empty || !m.is_empty())
        .map(|(_, &w)| w)
        .sum();
    if denominator == 0.0 {
        return;
    }
    let mut bounds: Vec<usize> =
        models.iter().flat_map(|m| m.runs.iter().flat_map(|&(s, l)| [s, s + l])).collect();
    bounds.sort_unstable();
    bounds.dedup();
    // Per model: index of its current run and the offset of that run's first value.
    let mut cursors = vec![(0usize, 0usize); models.len()];
    let mut active: Vec<(usize, usize, usize)> = Vec::with_capacity(models.len());
    for pair in bounds.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        active.clear();
        for (model, (probs, cursor)) in models.iter().zip(cursors.iter_mut()).enumerate() {
            while let Some(&(start, length)) = probs.runs.get(cursor.0) {
                if start + length > from {
                    if start <= from {
                        active.push((model, start, cursor.1));
                    }
                    break;
                }
                cursor.1 += length;
                cursor.0 += 1;
            }
        }
        if active.is_empty() {
            continue;
        }
        for pixel in from..to {
            let mut acc = 0.0f64;
            for &(model, start, offset) in &active {
                acc += options.weights[model] * dequantise(models[model].values[offset + pixel - start]);
            }
            visit(pixel, acc / denominator);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(probs: &SparseProbs, pixels: usize) -> Vec<u8> {
        let mut out = vec![0; pixels];
        let mut values = probs.values.iter();
        for &(start, length) in &probs.runs {
            for slot in &mut out[start..start + length] {
                *slot = *values.next().unwrap();
            }
        }
        out
    }

    fn sparse(bytes: &[u8]) -> SparseProbs {
        let mut probs = SparseProbs::default();
        for (i, &q) in bytes.iter().enumerate() {
            if q > 0 {
                runs::push(&mut probs.runs, i, 1);
                probs.values.push(q);
            }
        }
        probs
    }

    #[test]
    fn matches_a_dense_mean() {
        let a = sparse(&[0, 200, 200, 90, 0, 0, 255, 255, 0, 100]);
        let b = sparse(&[100, 100, 0, 0, 0, 130, 130, 0, 0, 100]);
        let empty = SparseProbs::default();
        let models = [&a, &b, &empty];
        for skip_empty in [false, true] {
            for weights in [vec![1.0, 1.0, 1.0], vec![0.5, 2.0, 1.0]] {
                let options = MeanOptions { weights: weights.clone(), skip_empty };
                let denominator: f64 =
                    if skip_empty { weights[0] + weights[1] } else { weights.iter().sum() };
                for threshold in [0.2, 0.4, 0.5] {
                    let mut expected = Runs::new();
                    for pixel in 0..10 {
                        let mut acc = 0.0;
                        for (m, w) in models.iter().zip(&weights) {
                            acc += w * dequantise(dense(m, 10)[pixel]);
                        }
                        if acc / denominator > threshold {
                            runs::push(&mut expected, pixel, 1);
                        }
                    }
                    assert_eq!(mean_vote(&models, &options, threshold), expected, "{options:?} {threshold}");
                }
            }
        }
        assert!(mean_vote(&[&empty], &MeanOptions::plain(1, true), 0.5).is_empty());
    }
}
