//! Training batches for one epoch, made ahead by worker threads.
//!
//! Everything random is a function of the run's seed, the epoch and the sample: the order is a
//! shuffle seeded by `(seed, epoch)`, and each sample is augmented with
//! `sample_seed(seed, epoch, index)` (its index in the training set). So a loader started at
//! batch `b` of an epoch produces exactly the batches an uninterrupted run produced from `b` on,
//! whatever the number of workers.
//!
//! Worker `w` of `W` makes batches `start + w`, `start + w + W`, ... and hands them over through
//! its own bounded channel, so batches arrive in order with no reordering buffer and at most
//! `prefetch` (rounded up to a multiple of `W`) wait in memory, plus one being made per worker.
//! A 512² batch of 8 is 270 MB of `f32` (images and 29 target planes).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use boneseg_augment::rng::Rng;
use boneseg_augment::{Donors, Pipeline, sample_seed};
use boneseg_contract::NUM_CLASSES;
use boneseg_models::Normalization;
use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use boneseg_models::normalization::fill_input;

use crate::config::TrainConfig;
use crate::data::DataSplit;
use crate::data::cache::SampleCache;
use crate::data::window::{Focus, training_window};

/// A training batch, laid out as the model takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// `[batch_size, 3, size, size]`: grey / 255 in three channels, normalised per channel.
    pub images: Vec<f32>,
    /// `[batch_size, 29, size, size]`: 0 or 1 per class (multi-label: classes overlap).
    pub targets: Vec<f32>,
    /// Base names of the images, in batch order.
    pub names: Vec<String>,
    pub batch_size: usize,
    pub size: usize,
    /// Position of the batch in its epoch.
    pub index: usize,
}

impl Batch {
    /// Images and targets as tensors on `device` (moved, not copied).
    pub fn into_tensors(self, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let (b, s) = (self.batch_size, self.size);
        let images = Tensor::from_data(TensorData::new(self.images, [b, 3, s, s]), device);
        let targets = Tensor::from_data(TensorData::new(self.targets, [b, NUM_CLASSES, s, s]), device);
        (images, targets)
    }
}

fn fill_targets(words: &[u32], out: &mut [f32]) {
    for (class, plane) in out.chunks_exact_mut(words.len()).enumerate() {
        for (value, &word) in plane.iter_mut().zip(words) {
            *value = (word >> class & 1) as f32;
        }
    }
}

/// The order of the training set in `epoch`: a Fisher-Yates shuffle seeded by `(seed, epoch)`.
pub fn epoch_order(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    // `sample_seed` with an index no sample has: a stream of its own for the order.
    let mut rng = Rng::new(sample_seed(seed, epoch as u64, u64::MAX));
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        order.swap(i, rng.int(0, i as i64) as usize);
    }
    order
}

/// Batches in an epoch: every image once; the last batch may be smaller.
pub fn batch_count(len: usize, batch_size: usize) -> usize {
    len.div_ceil(batch_size)
}

/// How to load one epoch.
#[derive(Clone, Debug)]
pub struct LoaderOptions {
    pub batch_size: usize,
    pub seed: u64,
    pub epoch: usize,
    /// The first batch to make (a resumed run's position in the epoch).
    pub start_batch: usize,
    pub workers: usize,
    /// Batches made ahead of the consumer.
    pub prefetch: usize,
    /// Applied to every sample; see [`crate::data::augment_pipeline`] for the default flip.
    pub augment: Arc<Pipeline>,
    /// Side of the random window each sample is cut to before augmentation (`data.crop`).
    pub crop: Option<usize>,
    /// Share of those windows centred on chosen bones (`data.crop_focus`).
    pub focus: Option<Focus>,
    /// The model's input normalisation (`model.input`).
    pub input: Normalization,
}

/// What each worker needs, shared.
struct Job {
    cache: SampleCache,
    order: Vec<usize>,
    options: LoaderOptions,
}

impl Job {
    fn batch(&self, index: usize) -> Batch {
        let batch_size = self.options.batch_size;
        let size = self.options.crop.unwrap_or(self.cache.size());
        let members = &self.order[index * batch_size..((index + 1) * batch_size).min(self.order.len())];
        let plane = size * size;
        let mut images = vec![0f32; members.len() * 3 * plane];
        let mut targets = vec![0f32; members.len() * NUM_CLASSES * plane];
        let mut names = Vec::with_capacity(members.len());
        let table = self.options.input.table();
        for (k, &sample_index) in members.iter().enumerate() {
            let seed = sample_seed(self.options.seed, self.options.epoch as u64, sample_index as u64);
            let sample = self.cache.get(sample_index).to_sample();
            let sample = match self.options.crop {
                Some(side) => training_window(&sample, side, seed, self.options.focus.as_ref()),
                None => sample,
            };
            // Copy-paste takes its bones from the other training images, at training size.
            let donors = Donors::new(&self.cache, Some(sample_index));
            let sample = self.options.augment.apply_with(seed, sample, &donors);
            assert_eq!(
                (sample.width(), sample.height()),
                (size, size),
                "augmentation changed the sample size; transforms that resize must keep the training size"
            );
            fill_input(&sample.image.data, &table, &mut images[k * 3 * plane..(k + 1) * 3 * plane]);
            fill_targets(
                &sample.labels.data,
                &mut targets[k * NUM_CLASSES * plane..(k + 1) * NUM_CLASSES * plane],
            );
            names.push(self.cache.entries()[sample_index].name().to_string());
        }
        Batch { images, targets, names, batch_size: members.len(), size, index }
    }
}

/// One epoch's batches, in order, from `start_batch` on.
pub struct Loader {
    receivers: Vec<Receiver<Batch>>,
    workers: Vec<Option<JoinHandle<()>>>,
    start: usize,
    next: usize,
    batches: usize,
    wait: Duration,
}

impl Loader {
    /// Starts the workers for `options.epoch` of `cache`.
    pub fn start(cache: SampleCache, options: LoaderOptions) -> Loader {
        assert!(options.batch_size > 0, "batch size must be at least 1");
        let batches = batch_count(cache.len(), options.batch_size);
        let start = options.start_batch;
        assert!(start <= batches, "batch {start} is past the epoch's {batches} batches");
        let workers = options.workers.max(1).min((batches - start).max(1));
        let capacity = options.prefetch.div_ceil(workers).max(1);
        let job =
            Arc::new(Job { order: epoch_order(cache.len(), options.seed, options.epoch), cache, options });
        let (mut receivers, mut handles) = (Vec::new(), Vec::new());
        for w in 0..workers {
            let (sender, receiver) = sync_channel(capacity);
            let job = Arc::clone(&job);
            let handle = std::thread::Builder::new()
                .name(format!("loader-{w}"))
                .spawn(move || work(&job, (start + w..batches).step_by(workers), &sender))
                .expect("can spawn a loader thread");
            receivers.push(receiver);
            handles.push(Some(handle));
        }
        Loader { receivers, workers: handles, start, next: start, batches, wait: Duration::ZERO }
    }

    /// The loader for `epoch` of a run's training set, from batch `start_batch`.
    pub fn new(data: &DataSplit, config: &TrainConfig, epoch: usize, start_batch: usize) -> Loader {
        Loader::start(
            data.train.clone(),
            LoaderOptions {
                batch_size: config.train.batch_size,
                seed: config.train.seed,
                epoch,
                start_batch,
                workers: config.data.workers,
                prefetch: config.data.prefetch,
                augment: Arc::clone(&data.augment),
                crop: config.data.crop,
                focus: config.data.crop_focus.as_ref().map(|focus| focus.resolve().expect("checked at load")),
                input: config.model.normalization(),
            },
        )
    }

    /// Batches in the whole epoch (not only those left).
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// The index of the next batch.
    pub fn position(&self) -> usize {
        self.next
    }

    /// The next batch, or `None` at the end of the epoch. A worker's panic is re-raised here.
    pub fn next_batch(&mut self) -> Option<Batch> {
        if self.next >= self.batches {
            return None;
        }
        let w = (self.next - self.start) % self.receivers.len();
        let waiting = Instant::now();
        let received = self.receivers[w].recv();
        self.wait += waiting.elapsed();
        match received {
            Ok(batch) => {
                self.next += 1;
                Some(batch)
            }
            Err(_) => match self.workers[w].take().map(JoinHandle::join) {
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                _ => panic!("loader worker {w} stopped before batch {}", self.next),
            },
        }
    }

    /// Time the consumer spent blocked waiting for batches.
    pub fn wait_time(&self) -> Duration {
        self.wait
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channels first makes blocked workers return.
        self.receivers.clear();
        for handle in self.workers.iter_mut().filter_map(Option::take) {
            let _ = handle.join();
        }
    }
}

fn work(job: &Job, batches: impl Iterator<Item = usize>, sender: &SyncSender<Batch>) {
    for index in batches {
        if sender.send(job.batch(index)).is_err() {
            return;
        }
    }
}
