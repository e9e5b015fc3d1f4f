//! The data path on small phantom datasets: selection, the cache (hits, misses, stale
//! rebuilds, spilling), area-majority masks, and the loader's determinism, resume and flips.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use boneseg_augment::Pipeline;
use boneseg_contract::{ClassMasks, FillRule, NUM_CLASSES};
use boneseg_data::split::{group_k_fold, write_folds};
use boneseg_data::{Dataset, ImageEntry, ReadOptions};
use boneseg_models::Normalization;
use boneseg_models::normalization::IMAGENET;
use boneseg_phantom::{SynthConfig, generate};
use boneseg_train::data::sample::downscale_masks;
use boneseg_train::data::{
    Batch, CacheOptions, CropFocus, DataSplit, DeviceBatches, Focus, FoldSource, Loader, LoaderOptions,
    SampleCache, Selection, SelectionOptions, StepBatch, augment_pipeline, batch_count,
};

/// A phantom dataset of `people` people (two images each) at `size`².
fn phantom(people: usize, size: usize) -> (tempfile::TempDir, Vec<ImageEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let config = SynthConfig { people, test_people: 0, size, seed: 11, ..SynthConfig::default() };
    generate(&root, &config, false, &|_, _| {}).unwrap();
    let entries = Dataset::open(&root, ReadOptions::default()).unwrap().train;
    (dir, entries)
}

fn options(size: usize, dir: Option<&Path>) -> CacheOptions {
    CacheOptions { dir: dir.map(Path::to_path_buf), ..CacheOptions::new(size, FillRule::default()) }
}

fn build(entries: &[ImageEntry], options: &CacheOptions) -> (SampleCache, boneseg_train::data::CacheStats) {
    SampleCache::build(entries.to_vec(), options, &|_, _| {}).unwrap()
}

fn selection(fold: usize, source: FoldSource, exclude: &[&str], from_validation: bool) -> SelectionOptions {
    SelectionOptions {
        fold,
        source,
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        exclude_from_validation: from_validation,
    }
}

#[test]
fn a_fold_is_selected_and_the_exclusion_list_applies_to_training() {
    let (dir, entries) = phantom(5, 64);
    let computed = FoldSource::Computed { folds: 5, seed: None };
    let plain = Selection::resolve(&entries, &selection(1, computed.clone(), &[], false)).unwrap();
    assert_eq!((plain.train.len(), plain.val.len()), (8, 2));
    assert_eq!(plain.val[0].person, plain.val[1].person, "both hands of a person validate together");

    let split = dir.path().join("split");
    write_folds(&split, &entries, &group_k_fold(&entries, 5, None), 5).unwrap();
    let from_files =
        Selection::resolve(&entries, &selection(1, FoldSource::SplitDir(split), &[], false)).unwrap();
    assert_eq!(from_files, plain, "fold files give the computed fold");

    // A person, an image by name and one by relative path; one of them is in validation.
    let person = plain.train[0].person.to_string();
    let (name, rel) = (plain.train[2].name().to_string(), plain.train[4].rel.clone());
    let val_name = plain.val[0].name().to_string();
    let exclude = [person.as_str(), name.as_str(), rel.as_str(), val_name.as_str()];
    let chosen = Selection::resolve(&entries, &selection(1, computed.clone(), &exclude, false)).unwrap();
    assert_eq!(chosen.train.len(), 8 - 4);
    assert_eq!(chosen.excluded.len(), 5);
    assert!(chosen.train.iter().all(|e| e.person.to_string() != person && e.name() != name && e.rel != rel));
    assert_eq!(chosen.val, plain.val, "validation keeps its images by default");
    let both = Selection::resolve(&entries, &selection(1, computed.clone(), &exclude, true)).unwrap();
    assert_eq!(both.val.len(), 1);

    let err =
        Selection::resolve(&entries, &selection(1, computed, &["ID999"], false)).unwrap_err().to_string();
    assert!(err.contains("`ID999` names no labelled image"), "{err}");
}

#[test]
fn a_data_split_selects_caches_and_reports() {
    let (dir, entries) = phantom(5, 64);
    let person = entries[0].person;
    let (name, exclude) = (person.to_string(), [person.to_string()]);
    let exclude: Vec<&str> = exclude.iter().map(String::as_str).collect();
    let selection = selection(0, FoldSource::Computed { folds: 5, seed: None }, &exclude, false);
    let mut messages = Vec::new();
    let mut report = |m: &str| messages.push(m.to_string());
    let split = DataSplit::open(
        &dir.path().join("data"),
        &selection,
        &options(32, None),
        Pipeline::default(),
        &mut report,
    )
    .unwrap();
    let (train, val) = (split.train.len(), split.validation.len());
    assert_eq!(split.train.entries(), split.selection.train);
    assert_eq!(split.validation.entries(), split.selection.val);
    assert!(split.train.entries().iter().all(|e| e.person != person), "{name} left out of training");
    assert_eq!(split.selection.excluded.len(), 2);
    assert!(
        messages[0]
            .starts_with(&format!("data: {train} training and {val} validation images (fold 0), 2 excluded"))
    );
    assert!(
        messages.iter().any(|m| m.starts_with(&format!("training cache: {train} images"))),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with(&format!("validation cache: {val} images"))),
        "{messages:?}"
    );
}

#[test]
fn the_cache_hits_rebuilds_stale_files_and_spills_past_its_budget() {
    let (dir, entries) = phantom(2, 128);
    let cache_dir = dir.path().join("cache");
    let persisted = options(32, Some(&cache_dir));
    let (first, stats) = build(&entries, &persisted);
    assert_eq!((stats.built, stats.hits, stats.rebuilt, stats.in_memory), (4, 0, 0, 4), "{stats}");

    let (second, stats) = build(&entries, &persisted);
    assert_eq!((stats.built, stats.hits, stats.rebuilt), (0, 4, 0), "{stats}");
    for i in 0..4 {
        assert_eq!(*first.get(i), *second.get(i), "a cache file gives back the sample it stored");
    }

    // A changed label file makes its entry stale; a truncated cache file is rebuilt too.
    let label = entries[1].label.clone().unwrap();
    let mut text = std::fs::read_to_string(&label).unwrap();
    text.push('\n');
    std::fs::write(&label, text).unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(&cache_dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 4);
    let victim = files
        .iter()
        .find(|p| p.to_string_lossy().contains(entries[3].name().trim_end_matches(".png")))
        .unwrap();
    let bytes = std::fs::read(victim).unwrap();
    std::fs::write(victim, &bytes[..bytes.len() / 2]).unwrap();
    let (third, stats) = build(&entries, &persisted);
    assert_eq!((stats.built, stats.hits, stats.rebuilt), (0, 2, 2), "{stats}");
    assert_eq!(*third.get(3), *first.get(3));

    // Another training size is another key.
    assert_eq!(build(&entries, &options(16, Some(&cache_dir))).1.built, 4);

    // No budget: every sample is read from its file on use, and a deleted file is rebuilt.
    let disk = CacheOptions { memory_budget: 0, ..persisted };
    let (spilled, stats) = build(&entries, &disk);
    assert_eq!((stats.in_memory, stats.on_disk, stats.memory_bytes), (0, 4, 0), "{stats}");
    for file in std::fs::read_dir(&cache_dir).unwrap() {
        std::fs::remove_file(file.unwrap().path()).unwrap();
    }
    for i in 0..4 {
        assert_eq!(*spilled.get(i), *third.get(i));
    }
}

#[test]
fn cached_samples_hold_the_resized_image_and_both_mask_sizes() {
    let (_dir, entries) = phantom(1, 128);
    let (cache, _) = build(&entries, &options(32, None));
    let sample = cache.get(0);
    let labels = boneseg_data::labels::load(&entries[0], FillRule::default()).unwrap();
    assert_eq!(sample.truth.masks(), labels.masks, "the full-size truth is exact");
    assert_eq!(sample.image.len(), 32 * 32);
    assert_eq!(sample.masks(), unpack_plane(&downscale_masks(&labels.masks, 32)));
    assert!(sample.masks().iter().filter(|m| !m.is_empty()).count() >= 20, "most bones survive at 32²");
}

fn unpack_plane(plane: &boneseg_augment::Plane<u32>) -> ClassMasks {
    boneseg_data::plane::unpack(plane)
}

#[test]
fn masks_are_reduced_by_area_majority() {
    let mut masks = ClassMasks::new(8, 8);
    // Class 0: 8 of the 16 pixels of the top-left block (half: in), 7 of the top-right (out).
    for row in 0..2 {
        masks.class_mut(0).set_span(row, 0, 3);
    }
    masks.class_mut(0).set_span(0, 4, 7);
    masks.class_mut(0).set_span(1, 5, 7);
    // Class 28 overlaps class 0 and fills the bottom-right block.
    for row in 1..8 {
        masks.class_mut(28).set_span(row, 3, 7);
    }
    let plane = downscale_masks(&masks, 2);
    assert_eq!(plane.data, vec![1, 1 << 28, 0, 1 << 28]);
    // A non-integer scale keeps full and empty masks as they are.
    let mut full = ClassMasks::new(6, 6);
    full.class_mut(5).set_range(0, 36);
    assert!(downscale_masks(&full, 4).data.iter().all(|&w| w == 1 << 5));
}

fn loader(cache: &SampleCache, epoch: usize, start: usize, workers: usize, augment: Pipeline) -> Loader {
    cropping_loader(cache, epoch, start, workers, augment, None, None)
}

fn cropping_loader(
    cache: &SampleCache,
    epoch: usize,
    start: usize,
    workers: usize,
    augment: Pipeline,
    crop: Option<usize>,
    focus: Option<Focus>,
) -> Loader {
    Loader::start(
        cache.clone(),
        LoaderOptions {
            batch_size: 3,
            seed: 7,
            epoch,
            start_batch: start,
            workers,
            prefetch: 2,
            augment: Arc::new(augment),
            crop,
            focus,
            input: Normalization::default(),
        },
    )
}

fn drain(mut loader: Loader) -> Vec<Batch> {
    std::iter::from_fn(|| loader.next_batch()).collect()
}

#[test]
fn batches_are_deterministic_and_a_resumed_epoch_matches() {
    let (_dir, entries) = phantom(4, 64);
    let (cache, _) = build(&entries, &options(32, None));
    let default = || augment_pipeline(None, 32).unwrap();
    let full = drain(loader(&cache, 1, 0, 2, default()));
    assert_eq!(full.len(), batch_count(8, 3));
    assert_eq!(full.iter().map(|b| b.batch_size).collect::<Vec<_>>(), [3, 3, 2]);
    let mut seen: Vec<&str> = full.iter().flat_map(|b| b.names.iter().map(String::as_str)).collect();
    seen.sort_unstable();
    let mut all: Vec<&str> = entries.iter().map(ImageEntry::name).collect();
    all.sort_unstable();
    assert_eq!(seen, all, "every image once per epoch");

    assert_eq!(drain(loader(&cache, 1, 0, 1, default())), full, "the worker count changes nothing");
    assert_eq!(drain(loader(&cache, 1, 1, 3, default())), full[1..], "resuming at batch 1");
    let other = drain(loader(&cache, 2, 0, 2, default()));
    assert_ne!(
        other.iter().map(|b| &b.names).collect::<Vec<_>>(),
        full.iter().map(|b| &b.names).collect::<Vec<_>>()
    );

    let mut ended = loader(&cache, 1, 3, 2, default());
    assert_eq!(ended.batches(), 3);
    assert!(ended.next_batch().is_none(), "starting at the end gives nothing");
    let mut timed = loader(&cache, 0, 0, 2, default());
    let started = std::time::Instant::now();
    while timed.next_batch().is_some() {}
    assert!(timed.wait_time() <= started.elapsed() + std::time::Duration::from_millis(5));
}

/// The upload thread hands over the loader's batches as they are, in order, and reports the
/// share of time the consumer waited.
#[test]
fn device_batches_are_the_loaders_batches_on_the_device() {
    let (_dir, entries) = phantom(4, 64);
    let (cache, _) = build(&entries, &options(32, None));
    let default = || augment_pipeline(None, 32).unwrap();
    let device = boneseg_models::burn::tensor::Device::flex();
    let expected: Vec<_> =
        drain(loader(&cache, 1, 1, 2, default())).into_iter().map(|b| b.into_tensors(&device)).collect();
    let mut uploaded = DeviceBatches::start(loader(&cache, 1, 1, 2, default()), Some(&device));
    assert_eq!(uploaded.batches(), 3, "the whole epoch's count, as the loader's");
    let got: Vec<_> = std::iter::from_fn(|| uploaded.next_batch())
        .map(|batch| match batch {
            StepBatch::Device(tensors) => tensors,
            StepBatch::Host(_) => panic!("a batch left on the host although a device was given"),
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    for ((images, targets), (want_images, want_targets)) in got.into_iter().zip(expected) {
        assert_eq!(images.into_data(), want_images.into_data());
        assert_eq!(targets.into_data(), want_targets.into_data());
    }
    assert!(uploaded.next_batch().is_none());
    assert!((0.0..=1.0).contains(&uploaded.wait_share()));
}

/// Whether batch sample `k` is the cached sample as it is (`Some(false)`), mirrored
/// (`Some(true)`), or neither; image and every target plane must agree.
fn flipped(batch: &Batch, k: usize, cache: &SampleCache, entries: &[ImageEntry]) -> Option<bool> {
    let s = batch.size;
    let plane = s * s;
    let index = entries.iter().position(|e| e.name() == batch.names[k]).unwrap();
    let sample = cache.get(index);
    let masks = sample.masks().iter().flat_map(|m| m.to_bytes()).map(f32::from).collect::<Vec<f32>>();
    let image: Vec<f32> = sample.image.iter().map(|&g| f32::from(g) / 255.0).collect();
    let mirror =
        |values: &[f32]| -> Vec<f32> { values.chunks(s).flat_map(|row| row.iter().rev().copied()).collect() };
    let got_image = &batch.images[k * 3 * plane..(k + 1) * 3 * plane];
    let got_targets = &batch.targets[k * NUM_CLASSES * plane..(k + 1) * NUM_CLASSES * plane];
    assert_eq!(got_image[..plane], got_image[2 * plane..], "grey in every channel");
    match (got_image[..plane] == image, got_targets == masks) {
        (true, true) => Some(false),
        _ if got_image[..plane] == mirror(&image)[..] && got_targets == mirror(&masks) => Some(true),
        _ => None,
    }
}

#[test]
fn the_flip_moves_image_and_masks_together() {
    let (_dir, entries) = phantom(4, 64);
    let (cache, _) = build(&entries, &options(32, None));
    let mut flips = Vec::new();
    for epoch in 0..6 {
        for batch in drain(loader(&cache, epoch, 0, 2, augment_pipeline(None, 32).unwrap())) {
            for k in 0..batch.batch_size {
                flips.push(flipped(&batch, k, &cache, &entries).expect("image and masks flipped together"));
            }
        }
    }
    let share = flips.iter().filter(|&&f| f).count() as f64 / flips.len() as f64;
    assert!((0.25..=0.75).contains(&share), "p = 0.5 flips about half: {share}");

    let off: toml::Value = toml::from_str::<toml::Table>("augment = []").unwrap().remove("augment").unwrap();
    for batch in drain(loader(&cache, 0, 0, 2, augment_pipeline(Some(&off), 32).unwrap())) {
        assert!((0..batch.batch_size).all(|k| flipped(&batch, k, &cache, &entries) == Some(false)));
    }
}

/// `data.crop`: each sample is a `crop x crop` window of the cached image, its masks cut at the
/// same place, and the windows move between samples and epochs.
#[test]
fn crops_are_windows_of_the_image_and_its_masks() {
    let (_dir, entries) = phantom(4, 64);
    let (cache, _) = build(&entries, &options(32, None));
    let side = 16;
    let mut offsets = std::collections::HashSet::new();
    for epoch in 0..3 {
        for batch in drain(cropping_loader(&cache, epoch, 0, 2, Pipeline::default(), Some(side), None)) {
            assert_eq!(batch.size, side);
            let plane = side * side;
            for k in 0..batch.batch_size {
                let index = entries.iter().position(|e| e.name() == batch.names[k]).unwrap();
                let sample = cache.get(index);
                let image: Vec<f32> = sample.image.iter().map(|&g| f32::from(g) / 255.0).collect();
                let masks: Vec<Vec<u8>> = sample.masks().iter().map(|m| m.to_bytes()).collect();
                let got_image = &batch.images[k * 3 * plane..][..plane];
                let got_targets = &batch.targets[k * NUM_CLASSES * plane..][..NUM_CLASSES * plane];
                let window = |values: &dyn Fn(usize) -> f32, x: usize, y: usize| -> Vec<f32> {
                    (0..plane).map(|i| values((y + i / side) * 32 + x + i % side)).collect()
                };
                let found =
                    (0..=32 - side).flat_map(|y| (0..=32 - side).map(move |x| (x, y))).find(|&(x, y)| {
                        window(&|i| image[i], x, y) == got_image
                            && (0..NUM_CLASSES).all(|c| {
                                window(&|i| f32::from(masks[c][i]), x, y) == got_targets[c * plane..][..plane]
                            })
                    });
                offsets.insert(found.expect("the crop is a window of the cached image and its masks"));
            }
        }
    }
    assert!(offsets.len() > 3, "windows are drawn at random: {offsets:?}");
}

/// `data.crop_focus` with share 1: every window holds one of the chosen bones (Pisiform here),
/// while plain windows of the same seeds often miss it.
#[test]
fn focused_crops_hold_the_chosen_bones() {
    let (_dir, entries) = phantom(4, 128);
    let (cache, _) = build(&entries, &options(64, None));
    let pisiform = boneseg_contract::class_index("Pisiform").unwrap();
    let focus = CropFocus { share: 1.0, classes: vec!["Pisiform".into()] }.resolve().unwrap();
    let side = 16;
    let holding = |focus: Option<Focus>| -> (usize, usize) {
        let mut counts = (0, 0);
        for epoch in 0..3 {
            let loader = cropping_loader(&cache, epoch, 0, 2, Pipeline::default(), Some(side), focus);
            for batch in drain(loader) {
                let plane = side * side;
                for k in 0..batch.batch_size {
                    let target = &batch.targets[(k * NUM_CLASSES + pisiform) * plane..][..plane];
                    counts.0 += usize::from(target.contains(&1.0));
                    counts.1 += 1;
                }
            }
        }
        counts
    };
    let (focused, total) = holding(Some(focus));
    assert_eq!(focused, total, "every focused window holds the Pisiform");
    let (plain, _) = holding(None);
    assert!(plain < total / 2, "plain 16² windows of 64² images mostly miss it: {plain} of {total}");
}

/// Copy-paste in the loader: bones come from the other training images, the batches stay a
/// function of the seed (whatever the worker count), and pasted samples keep Pisiform labels.
#[test]
fn the_loader_pastes_bones_from_other_training_images() {
    let (_dir, entries) = phantom(4, 128);
    let (cache, _) = build(&entries, &options(64, None));
    let paste =
        Pipeline::parse("[[augment]]\nname = \"copy_paste\"\np = 1\nclasses = [\"carpals\"]\nbones = 3")
            .unwrap();
    let pasted = drain(loader(&cache, 0, 0, 2, paste.clone()));
    assert_eq!(drain(loader(&cache, 0, 0, 1, paste)), pasted, "deterministic");
    let plain = drain(loader(&cache, 0, 0, 2, Pipeline::default()));
    let mut changed = 0;
    for (a, b) in pasted.iter().zip(&plain) {
        assert_eq!(a.names, b.names);
        for k in 0..a.batch_size {
            let plane = 64 * 64;
            changed += usize::from(a.images[k * 3 * plane..][..plane] != b.images[k * 3 * plane..][..plane]);
        }
    }
    assert!(changed >= 6, "bones were pasted into most of the 8 samples: {changed}");
}

#[test]
fn batches_become_tensors_and_bad_augmentations_are_refused() {
    let (_dir, entries) = phantom(2, 64);
    let (cache, _) = build(&entries, &options(32, None));
    let batch = drain(loader(&cache, 0, 0, 1, Pipeline::default())).remove(0);
    let expected = (batch.images.clone(), batch.targets.clone());
    let device = boneseg_models::burn::tensor::Device::flex();
    let (images, targets) = batch.into_tensors(&device);
    assert_eq!((images.dims(), targets.dims()), ([3, 3, 32, 32], [3, NUM_CLASSES, 32, 32]));
    assert_eq!(images.into_data().try_to_vec::<f32>().unwrap(), expected.0);
    assert_eq!(targets.into_data().try_to_vec::<f32>().unwrap(), expected.1);

    let crop: toml::Value =
        toml::from_str::<toml::Table>("[[augment]]\nname = \"random_resized_crop\"\nsize = [16, 16]\n")
            .unwrap()
            .remove("augment")
            .unwrap();
    let err = augment_pipeline(Some(&crop), 32).unwrap_err().to_string();
    assert!(err.contains("must be the training size [32, 32]"), "{err}");
}

/// The model's input is `(grey / 255 - mean) / std` per channel, as the run's `model.input` says.
#[test]
fn images_are_normalised_per_channel() {
    let device = boneseg_models::burn::tensor::Device::flex();
    let grey: Vec<u8> = (0..=255).collect();
    let tensor = boneseg_models::normalization::images_tensor(&[grey.as_slice()], 16, &IMAGENET, &device);
    let values: Vec<f32> = tensor.into_data().try_to_vec::<f32>().unwrap();
    for (channel, plane) in values.chunks_exact(256).enumerate() {
        for (g, &value) in plane.iter().enumerate() {
            let expected = (g as f32 / 255.0 - IMAGENET.mean[channel]) / IMAGENET.std[channel];
            assert!((value - expected).abs() < 1e-6, "channel {channel}, grey {g}: {value} != {expected}");
        }
    }
}
