//! The data path at the competition's sizes: `cargo bench -p boneseg-train --bench data_at_2048`.
//!
//! - `cache_2048_to_512`: decoding eight 2048² phantom images with their labels and resizing
//!   them into the training cache at 512²;
//! - `loader_epoch_512/{1,2}_workers`: one epoch of those eight images in batches of 8 with
//!   flips, with one or two loader workers and nothing consuming the batches;
//! - `score_512_to_2048/{saturated,near_zero}`: scoring one image as the leaderboard does, 512²
//!   logits of 29 classes upsampled to 2048², thresholded and compared with the truth, for
//!   saturated logits and for logits near the cut everywhere (no row can be skipped).

use std::sync::Arc;

use boneseg_contract::FillRule;
use boneseg_data::{Dataset, ImageEntry, ReadOptions};
use boneseg_models::normalization::Normalization;
use boneseg_phantom::style::Style;
use boneseg_phantom::{SynthConfig, generate};
use boneseg_train::data::{CacheOptions, Loader, LoaderOptions, SampleCache, augment_pipeline};
use boneseg_train::validate::score_logits;
use criterion::{Criterion, criterion_group, criterion_main};

/// Four people (eight images) of the classic phantom at 2048².
fn phantom() -> (tempfile::TempDir, Vec<ImageEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let config = SynthConfig {
        people: 4,
        test_people: 0,
        size: 2048,
        seed: 11,
        style: Style::classic(),
        ..SynthConfig::default()
    };
    generate(&root, &config, false, &|_, _| {}).unwrap();
    let entries = Dataset::open(&root, ReadOptions::default()).unwrap().train;
    (dir, entries)
}

fn cache(entries: &[ImageEntry]) -> SampleCache {
    SampleCache::build(entries.to_vec(), &CacheOptions::new(512, FillRule::default()), &|_, _| {}).unwrap().0
}

fn data_at_2048(c: &mut Criterion) {
    let (_dir, entries) = phantom();
    let mut group = c.benchmark_group("data_at_2048");
    group.sample_size(10);
    group.bench_function("cache_2048_to_512", |b| b.iter(|| cache(&entries)));
    let cached = cache(&entries);
    for workers in [1, 2] {
        group.bench_function(format!("loader_epoch_512/{workers}_workers"), |b| {
            b.iter(|| {
                let mut loader = Loader::start(
                    cached.clone(),
                    LoaderOptions {
                        batch_size: 8,
                        seed: 1,
                        epoch: 0,
                        start_batch: 0,
                        workers,
                        prefetch: 4,
                        augment: Arc::new(augment_pipeline(None, 512).unwrap()),
                        crop: None,
                        focus: None,
                        input: Normalization::default(),
                    },
                );
                let mut images = 0;
                while let Some(batch) = loader.next_batch() {
                    images += batch.batch_size;
                }
                images
            })
        });
    }
    let sample = cached.get(0);
    let saturated: Vec<f32> =
        sample.masks().iter().flat_map(|m| m.to_bytes()).map(|b| if b == 1 { 10.0 } else { -10.0 }).collect();
    let near_zero: Vec<f32> = (0..saturated.len()).map(|i| ((i * 7919 % 101) as f32 - 50.0) * 0.01).collect();
    for (name, logits) in [("saturated", &saturated), ("near_zero", &near_zero)] {
        group.bench_function(format!("score_512_to_2048/{name}"), |b| {
            b.iter(|| score_logits(logits, 512, 512, &sample.truth, 0.5))
        });
    }
    group.finish();
}

criterion_group!(benches, data_at_2048);
criterion_main!(benches);
