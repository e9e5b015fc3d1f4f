//! Cache files: one per image, training size and fill rule, named so that a lookup needs no
//! index, and carrying in their header what they were built from so that a stale file is
//! noticed and rebuilt rather than trusted.
//!
//! Layout (little-endian): magic `BSEGCACH`, format version, the key text (source paths, size,
//! fill rule), the sources' fingerprints (length and modification time of image and label
//! file), then the sample: size, image bytes, label runs, original height and width and the
//! per-class truth runs. Files are written atomically, so a killed build leaves no torn file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use boneseg_contract::atomic::AtomicFile;
use boneseg_contract::{FillRule, NUM_CLASSES};
use boneseg_data::ImageEntry;

use crate::data::sample::{CachedSample, Truth};

const MAGIC: &[u8; 8] = b"BSEGCACH";
/// Bump when the layout or the way samples are computed changes: older files are then rebuilt.
pub const CACHE_VERSION: u32 = 1;

/// What a cache file is for: the sources, the training size and the fill rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    text: String,
    file_name: String,
}

impl CacheKey {
    pub fn new(entry: &ImageEntry, size: usize, rule: FillRule) -> CacheKey {
        let absolute = |path: &Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let label = entry.label.as_deref().map(absolute).unwrap_or_default();
        let text = format!(
            "{}|{}|size={size}|fill={}",
            absolute(&entry.image).display(),
            label.display(),
            rule.name()
        );
        let stem = entry.name().rsplit_once('.').map_or(entry.name(), |(stem, _)| stem);
        let stem: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        let file_name = format!("{stem}-{size}-{:016x}.bsc", fnv1a(text.as_bytes()));
        CacheKey { text, file_name }
    }

    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.file_name)
    }
}

/// FNV-1a: a hash that stays the same across Rust releases, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Length and modification time (ns) of the image and label files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint([u64; 4]);

impl Fingerprint {
    pub fn of(entry: &ImageEntry) -> std::io::Result<Fingerprint> {
        let one = |path: &Path| -> std::io::Result<[u64; 2]> {
            let meta = std::fs::metadata(path)?;
            let modified = meta.modified()?.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            Ok([meta.len(), modified])
        };
        let [image_len, image_time] = one(&entry.image)?;
        let [label_len, label_time] = match &entry.label {
            Some(path) => one(path)?,
            None => [0, 0],
        };
        Ok(Fingerprint([image_len, image_time, label_len, label_time]))
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Box<CachedSample>),
    Missing,
    /// Built from other sources, by another format version, or unreadable: rebuild it.
    Stale(String),
}

pub fn read(path: &Path, key: &CacheKey, fingerprint: Fingerprint) -> Lookup {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Missing,
        Err(e) => return Lookup::Stale(format!("unreadable: {e}")),
    };
    let mut reader = Reader { bytes: &bytes };
    if reader.take(8) != Some(MAGIC.as_slice()) {
        return Lookup::Stale("not a boneseg cache file".into());
    }
    match reader.u32() {
        Some(CACHE_VERSION) => {}
        other => return Lookup::Stale(format!("format version {other:?}, expected {CACHE_VERSION}")),
    }
    if reader.string().as_deref() != Some(key.text.as_str()) {
        return Lookup::Stale("built for another source, size or fill rule".into());
    }
    let stored = [reader.u64(), reader.u64(), reader.u64(), reader.u64()];
    if stored.map(Option::unwrap_or_default) != fingerprint.0 {
        return Lookup::Stale("the image or label file changed since".into());
    }
    match reader.sample() {
        Some(sample) if reader.bytes.is_empty() => Lookup::Hit(Box::new(sample)),
        _ => Lookup::Stale("truncated or corrupt".into()),
    }
}

pub fn write(
    path: &Path,
    key: &CacheKey,
    fingerprint: Fingerprint,
    sample: &CachedSample,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(sample.bytes() as usize + 256);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, CACHE_VERSION);
    put_u32(&mut out, key.text.len() as u32);
    out.extend_from_slice(key.text.as_bytes());
    for value in fingerprint.0 {
        out.extend_from_slice(&value.to_le_bytes());
    }
    put_u32(&mut out, sample.size as u32);
    out.extend_from_slice(&sample.image);
    put_runs(&mut out, &sample.labels);
    put_u32(&mut out, sample.truth.height as u32);
    put_u32(&mut out, sample.truth.width as u32);
    for runs in &sample.truth.runs {
        put_runs(&mut out, runs);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = AtomicFile::create(path)?;
    file.write_all(&out)?;
    file.commit()
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_runs(out: &mut Vec<u8>, runs: &[(u32, u32)]) {
    put_u32(out, runs.len() as u32);
    for &(a, b) in runs {
        put_u32(out, a);
        put_u32(out, b);
    }
}

/// Reads values off the front of a byte slice; `None` when the bytes run out.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }

    fn runs(&mut self) -> Option<Vec<(u32, u32)>> {
        let count = self.u32()? as usize;
        let bytes = self.take(count.checked_mul(8)?)?;
        Some(
            bytes
                .chunks_exact(8)
                .map(|c| {
                    let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
                    (word(&c[..4]), word(&c[4..]))
                })
                .collect(),
        )
    }

    fn sample(&mut self) -> Option<CachedSample> {
        let size = self.u32()? as usize;
        let image = self.take(size.checked_mul(size)?)?.to_vec();
        let labels = self.runs()?;
        let covered: u64 = labels.iter().map(|&(_, length)| u64::from(length)).sum();
        if covered != (size * size) as u64 {
            return None;
        }
        let (height, width) = (self.u32()? as usize, self.u32()? as usize);
        let runs = (0..NUM_CLASSES).map(|_| self.runs()).collect::<Option<Vec<_>>>()?;
        let inside = runs.iter().flatten().all(|&(s, l)| (s as usize + l as usize) <= height * width);
        inside.then_some(CachedSample { size, image, labels, truth: Truth { height, width, runs } })
    }
}
