//! The sample cache: every image decoded, resized and rasterised once, in parallel, then served
//! from memory or, past a byte budget, from cache files.
//!
//! With a cache directory, every sample is also written there, keyed by source file, training
//! size and fill rule (see [`super::store`]): the next run reads ~300 KiB per image instead of
//! decoding a 2048² PNG and filling 29 polygons. Without one, samples that do not fit the memory
//! budget spill to `$TMPDIR/boneseg-cache`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use boneseg_contract::FillRule;
use boneseg_data::image_io::read_gray;
use boneseg_data::{DataError, ImageEntry, labels};
use rayon::prelude::*;

use crate::data::PrepareError;
use crate::data::sample::CachedSample;
use crate::data::store::{self, CacheKey, Fingerprint, Lookup};

/// How to build a cache.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// Side of the training square.
    pub size: usize,
    pub fill_rule: FillRule,
    /// Refuse label points outside the image instead of clipping them (`data.strict_points`).
    pub strict_points: bool,
    /// Keep cache files here between runs; `None`: memory only (spilling past the budget).
    pub dir: Option<PathBuf>,
    /// Bytes of samples kept in memory; the rest are read from their files on use.
    pub memory_budget: u64,
}

impl CacheOptions {
    /// In memory, within [`default_memory_budget`].
    pub fn new(size: usize, fill_rule: FillRule) -> CacheOptions {
        CacheOptions {
            size,
            fill_rule,
            strict_points: false,
            dir: None,
            memory_budget: default_memory_budget(),
        }
    }
}

/// Half of the memory available now (Linux `MemAvailable`), else 4 GiB: the model, its
/// activations and the batch queue need the rest.
pub fn default_memory_budget() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    });
    available.map_or(4 << 30, |kib| kib * 1024 / 2)
}

/// Where samples go that fit neither the budget nor a configured cache directory.
fn spill_dir() -> PathBuf {
    std::env::temp_dir().join("boneseg-cache")
}

/// What building a cache did.
#[derive(Clone, Debug, Default)]
pub struct CacheStats {
    pub images: usize,
    /// Read from valid cache files.
    pub hits: usize,
    /// Decoded because no cache file existed.
    pub built: usize,
    /// Decoded because the cache file was stale (sources changed, other format version) or damaged.
    pub rebuilt: usize,
    pub in_memory: usize,
    pub on_disk: usize,
    pub memory_bytes: u64,
    pub seconds: f64,
    /// Label-file warnings of the images decoded (duplicate polygons of a class, ...).
    pub warnings: Vec<String>,
}

impl std::fmt::Display for CacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} images in {:.1} s: {} from cache files, {} decoded, {} stale rebuilt; {} in memory ({:.0} MiB), {} read from disk on use",
            self.images,
            self.seconds,
            self.hits,
            self.built,
            self.rebuilt,
            self.in_memory,
            self.memory_bytes as f64 / (1 << 20) as f64,
            self.on_disk
        )
    }
}

/// Where one sample lives.
enum Slot {
    Memory(Arc<CachedSample>),
    Disk { path: PathBuf, key: CacheKey },
}

struct Inner {
    entries: Vec<ImageEntry>,
    slots: Vec<Slot>,
    options: CacheOptions,
}

/// Decoded samples of a list of images, shared cheaply between loader threads.
#[derive(Clone)]
pub struct SampleCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SampleCache {
    /// A summary: the samples themselves are megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let in_memory = self.inner.slots.iter().filter(|s| matches!(s, Slot::Memory(_))).count();
        f.debug_struct("SampleCache")
            .field("images", &self.len())
            .field("size", &self.size())
            .field("in_memory", &in_memory)
            .field("dir", &self.inner.options.dir)
            .finish()
    }
}

enum Outcome {
    Hit,
    Built,
    Rebuilt,
}

impl SampleCache {
    /// Builds (or reads) the samples of `entries`, in parallel; `progress(done, total)` is
    /// called from the worker threads as images finish.
    pub fn build(
        entries: Vec<ImageEntry>,
        options: &CacheOptions,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<(SampleCache, CacheStats), PrepareError> {
        let started = Instant::now();
        let used = AtomicU64::new(0);
        let done = AtomicUsize::new(0);
        let results: Vec<(Slot, Outcome, Vec<String>)> = entries
            .par_iter()
            .map(|entry| {
                let result = build_one(entry, options, &used);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, entries.len());
                result
            })
            .collect::<Result<_, _>>()?;
        let mut stats = CacheStats { images: entries.len(), ..CacheStats::default() };
        let mut slots = Vec::with_capacity(results.len());
        for (slot, outcome, warnings) in results {
            match outcome {
                Outcome::Hit => stats.hits += 1,
                Outcome::Built => stats.built += 1,
                Outcome::Rebuilt => stats.rebuilt += 1,
            }
            match &slot {
                Slot::Memory(sample) => {
                    stats.in_memory += 1;
                    stats.memory_bytes += sample.bytes();
                }
                Slot::Disk { .. } => stats.on_disk += 1,
            }
            stats.warnings.extend(warnings);
            slots.push(slot);
        }
        stats.seconds = started.elapsed().as_secs_f64();
        Ok((SampleCache { inner: Arc::new(Inner { entries, slots, options: options.clone() }) }, stats))
    }

    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    /// The images, in the order samples are indexed.
    pub fn entries(&self) -> &[ImageEntry] {
        &self.inner.entries
    }

    /// Side of the training square.
    pub fn size(&self) -> usize {
        self.inner.options.size
    }

    /// Sample `index`. A cache file that went missing or bad since the build is rebuilt from its
    /// sources; only if those are gone too does this panic, naming the file.
    pub fn get(&self, index: usize) -> Arc<CachedSample> {
        match &self.inner.slots[index] {
            Slot::Memory(sample) => Arc::clone(sample),
            Slot::Disk { path, key } => {
                let entry = &self.inner.entries[index];
                let found = Fingerprint::of(entry)
                    .map(|fingerprint| (store::read(path, key, fingerprint), fingerprint));
                match found {
                    Ok((Lookup::Hit(sample), _)) => Arc::from(sample),
                    Ok((_, fingerprint)) => {
                        let (sample, _) = decode(entry, &self.inner.options).unwrap_or_else(|e| {
                            panic!(
                                "{}: the cache file went missing or bad and rebuilding it failed: {e}",
                                path.display()
                            )
                        });
                        // Best effort: a failed write only means decoding again next time.
                        let _ = store::write(path, key, fingerprint, &sample);
                        Arc::new(sample)
                    }
                    Err(e) => panic!("{}: {e}; the dataset changed during training", entry.image.display()),
                }
            }
        }
    }
}

/// The training images lend their bones to copy-paste ([`boneseg_augment::paste`]): donors are
/// at training size, as the samples they are pasted onto.
impl boneseg_augment::DonorSource for SampleCache {
    fn donor_count(&self) -> usize {
        self.len()
    }

    fn donor(&self, index: usize) -> Arc<boneseg_augment::Sample> {
        Arc::new(self.get(index).to_sample())
    }
}

/// One entry: from its cache file when valid, else decoded (and written when persisted), then
/// kept in memory when the budget allows.
fn build_one(
    entry: &ImageEntry,
    options: &CacheOptions,
    used: &AtomicU64,
) -> Result<(Slot, Outcome, Vec<String>), PrepareError> {
    let key = CacheKey::new(entry, options.size, options.fill_rule);
    let fingerprint =
        Fingerprint::of(entry).map_err(|source| DataError::Io { path: entry.image.clone(), source })?;
    let persisted = options.dir.as_ref().map(|dir| key.path(dir));
    let lookup = persisted.as_ref().map_or(Lookup::Missing, |path| store::read(path, &key, fingerprint));
    let (sample, outcome, warnings) = match lookup {
        Lookup::Hit(sample) => (*sample, Outcome::Hit, Vec::new()),
        Lookup::Missing | Lookup::Stale(_) => {
            let outcome = if matches!(lookup, Lookup::Stale(_)) { Outcome::Rebuilt } else { Outcome::Built };
            if let Lookup::Stale(why) = &lookup {
                tracing::debug!("{}: rebuilding the cache file: {why}", entry.rel);
            }
            let (sample, warnings) = decode(entry, options)?;
            if let Some(path) = &persisted {
                store::write(path, &key, fingerprint, &sample).map_err(|e| cache_error(path, e))?;
            }
            (sample, outcome, warnings)
        }
    };
    let bytes = sample.bytes();
    let fits = used
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
            (u + bytes <= options.memory_budget).then_some(u + bytes)
        })
        .is_ok();
    let slot = if fits {
        Slot::Memory(Arc::new(sample))
    } else {
        let path = match persisted {
            Some(path) => path,
            None => {
                let path = key.path(&spill_dir());
                store::write(&path, &key, fingerprint, &sample).map_err(|e| cache_error(&path, e))?;
                path
            }
        };
        Slot::Disk { path, key }
    };
    Ok((slot, outcome, warnings))
}

fn cache_error(path: &std::path::Path, error: std::io::Error) -> PrepareError {
    PrepareError::Cache {
        path: path.to_path_buf(),
        problem: format!("cannot write the cache file ({error}); set data.cache_dir to a writable folder"),
    }
}

/// Decodes an image and its labels and builds the sample; returns the label warnings too.
fn decode(entry: &ImageEntry, options: &CacheOptions) -> Result<(CachedSample, Vec<String>), DataError> {
    let image = read_gray(&entry.image)?;
    let labels = labels::load(
        entry,
        labels::LabelOptions { rule: options.fill_rule, strict_points: options.strict_points },
    )?;
    let (width, height) = (image.width() as usize, image.height() as usize);
    if (height, width) != (labels.masks.height(), labels.masks.width()) {
        return Err(DataError::Image {
            path: entry.image.clone(),
            problem: format!(
                "decodes to {width}x{height} but its header said {}x{}; the file changed while it was read",
                entry.width, entry.height
            ),
        });
    }
    let label_path = entry.label.as_deref().unwrap_or(&entry.image).display().to_string();
    let warnings = labels.warnings.iter().map(|w| format!("{label_path}: {w}")).collect();
    Ok((CachedSample::new(&image, &labels.masks, options.size), warnings))
}
