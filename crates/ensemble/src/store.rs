//! The probability store: what `--probs DIR` writes and soft-vote ensembles read.
//!
//! The team kept probabilities above 0.3 in Parquet instead of CSV; here, per image and class,
//! the pixels whose probability is at least the floor are stored as the runs of that support
//! plus one byte per pixel (`round(p * 255)`), one Parquet row per image and class, zstd. Nearly
//! all of a 2048² class is far from the bone, so a row is a few kilobytes instead of 16 MiB of
//! floats. Columns (Python: `np.frombuffer(runs, "<u4").reshape(-1, 2)`):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `image_name` | utf8 | the image's base name |
//! | `class` | utf8 | the class name, in class order |
//! | `height`, `width` | uint32 | the image's size |
//! | `runs` | binary | little-endian u32 pairs: 0-based start, length (row-major) |
//! | `values` | binary | one byte per support pixel, in run order: `round(p * 255)` |
//!
//! The floor is in the file's key-value metadata (`boneseg.floor`).
//!
//! A sharded inference (`infer --shard K/N`) writes part `K` of the store as
//! `DIR/probs.part-K-of-N.parquet`, with the shard (`boneseg.shard`) and the slice of the sorted
//! image list it holds (`boneseg.images`: start, end, total) in its metadata. A folder of parts
//! reads as one store: [`ProbReader`] checks that every part is there and that together they
//! hold each image once, in order; [`concat_stores`] writes them as the one file the unsharded
//! inference writes, byte for byte.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, BinaryArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use boneseg_contract::atomic::AtomicFile;
use boneseg_contract::{Shard, class_index};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::runs::{self, Runs};

/// The file inside a store directory.
pub const FILE_NAME: &str = "probs.parquet";
/// The team's floor: probabilities below it are not stored (read back as 0).
pub const DEFAULT_FLOOR: f32 = 0.3;
const FLOOR_KEY: &str = "boneseg.floor";
const SHARD_KEY: &str = "boneseg.shard";
const IMAGES_KEY: &str = "boneseg.images";
/// Rows buffered before a row group is written: 8 images of 29 classes.
const ROWS_PER_GROUP: usize = 29 * 8;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("{}: row {row}: {problem}", path.display())]
    Row { path: PathBuf, row: usize, problem: String },
    #[error("{}: {problem}", path.display())]
    Parts { path: PathBuf, problem: String },
}

/// Which slice of the sorted image list a store part holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub shard: Shard,
    /// Images `start..end` of `total`.
    pub start: usize,
    pub end: usize,
    pub total: usize,
}

impl Part {
    /// Part `shard` of a list of `total` images.
    pub fn of(shard: Shard, total: usize) -> Part {
        let range = shard.range(total);
        Part { shard, start: range.start, end: range.end, total }
    }

    /// The part's file name inside the store folder.
    pub fn file_name(&self) -> String {
        format!("probs.part-{}-of-{}.parquet", self.shard.index, self.shard.count)
    }
}

/// The probabilities of one class of one image at or above the floor, quantised to bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseProbs {
    pub runs: Runs,
    /// `round(p * 255)` of each support pixel, in run order.
    pub values: Vec<u8>,
}

impl SparseProbs {
    /// Adds pixel `index` (past every pixel added so far) with probability `p`, when `p >= floor`.
    pub fn push(&mut self, index: usize, p: f32, floor: f32) {
        if p >= floor {
            runs::push(&mut self.runs, index, 1);
            self.values.push(quantise(p));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

/// A probability as a byte: `round(p * 255)`.
pub fn quantise(p: f32) -> u8 {
    (p.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// A stored byte as a probability, exactly as the Python reference computes it.
pub fn dequantise(q: u8) -> f64 {
    f64::from(q) / 255.0
}

/// One row of a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbRow {
    pub image_name: String,
    /// Index in class order.
    pub class: usize,
    pub height: usize,
    pub width: usize,
    pub probs: SparseProbs,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("image_name", DataType::Utf8, false),
        Field::new("class", DataType::Utf8, false),
        Field::new("height", DataType::UInt32, false),
        Field::new("width", DataType::UInt32, false),
        Field::new("runs", DataType::Binary, false),
        Field::new("values", DataType::Binary, false),
    ]))
}

/// Streams rows into `DIR/probs.parquet` under a temporary name; [`ProbWriter::finish`] puts it
/// in place. Holds at most one row group (8 images) of sparse rows.
pub struct ProbWriter {
    path: PathBuf,
    floor: f32,
    writer: ArrowWriter<AtomicFile>,
    pending: Vec<ProbRow>,
}

impl ProbWriter {
    /// Creates `dir` when needed and starts its store.
    pub fn create(dir: &Path, floor: f32) -> Result<ProbWriter, StoreError> {
        ProbWriter::start(dir.join(FILE_NAME), floor, Vec::new())
    }

    /// Starts part `part` of the store in `dir` (several processes may write the parts of one
    /// folder at once: each writes its own file).
    pub fn create_part(dir: &Path, floor: f32, part: Part) -> Result<ProbWriter, StoreError> {
        let metadata = vec![
            KeyValue::new(SHARD_KEY.to_string(), part.shard.to_string()),
            KeyValue::new(IMAGES_KEY.to_string(), format!("{} {} {}", part.start, part.end, part.total)),
        ];
        ProbWriter::start(dir.join(part.file_name()), floor, metadata)
    }

    fn start(path: PathBuf, floor: f32, mut metadata: Vec<KeyValue>) -> Result<ProbWriter, StoreError> {
        let io = |source| StoreError::Io { path: path.clone(), source };
        std::fs::create_dir_all(path.parent().expect("a file in the store folder")).map_err(io)?;
        let file = AtomicFile::create(&path).map_err(io)?;
        metadata.insert(0, KeyValue::new(FLOOR_KEY.to_string(), floor.to_string()));
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid zstd level")))
            .set_key_value_metadata(Some(metadata))
            .build();
        let writer = ArrowWriter::try_new(file, schema(), Some(properties))
            .map_err(|source| StoreError::Parquet { path: path.clone(), source })?;
        Ok(ProbWriter { path, floor, writer, pending: Vec::new() })
    }

    /// The floor this store was created with.
    pub fn floor(&self) -> f32 {
        self.floor
    }

    /// Adds one row (rows go in submission order: images sorted, classes in class order).
    pub fn write(&mut self, row: ProbRow) -> Result<(), StoreError> {
        self.pending.push(row);
        if self.pending.len() >= ROWS_PER_GROUP { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let names = StringArray::from_iter_values(rows.iter().map(|r| r.image_name.as_str()));
        let classes = StringArray::from_iter_values(rows.iter().map(|r| boneseg_contract::CLASSES[r.class]));
        let heights = UInt32Array::from_iter_values(rows.iter().map(|r| r.height as u32));
        let widths = UInt32Array::from_iter_values(rows.iter().map(|r| r.width as u32));
        let run_bytes: Vec<Vec<u8>> = rows.iter().map(|r| encode_runs(&r.probs.runs)).collect();
        let runs = BinaryArray::from_iter_values(run_bytes.iter());
        let values = BinaryArray::from_iter_values(rows.iter().map(|r| r.probs.values.as_slice()));
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(names),
            Arc::new(classes),
            Arc::new(heights),
            Arc::new(widths),
            Arc::new(runs),
            Arc::new(values),
        ];
        let batch = RecordBatch::try_new(schema(), columns).expect("columns match the schema");
        let parquet = |source| StoreError::Parquet { path: self.path.clone(), source };
        self.writer.write(&batch).map_err(parquet)?;
        self.writer.flush().map_err(parquet)
    }

    /// Writes the last rows and renames the file into place.
    pub fn finish(mut self) -> Result<(), StoreError> {
        self.flush()?;
        let path = self.path.clone();
        let file =
            self.writer.into_inner().map_err(|source| StoreError::Parquet { path: path.clone(), source })?;
        file.commit().map_err(|source| StoreError::Io { path, source })
    }
}

fn encode_runs(runs: &[(usize, usize)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(runs.len() * 8);
    for &(start, length) in runs {
        bytes.extend_from_slice(&(start as u32).to_le_bytes());
        bytes.extend_from_slice(&(length as u32).to_le_bytes());
    }
    bytes
}

/// Reads one Parquet file of a store row by row, one record batch (one image) at a time.
struct FileReader {
    path: PathBuf,
    batches: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    at: usize,
    row: usize,
    floor: f32,
    part: Option<Part>,
}

impl FileReader {
    fn open(path: &Path) -> Result<FileReader, StoreError> {
        let path = path.to_path_buf();
        let file = File::open(&path).map_err(|source| StoreError::Io { path: path.clone(), source })?;
        let parquet = |source| StoreError::Parquet { path: path.clone(), source };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
        let metadata = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let value = |key: &str| metadata.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone());
        let floor = value(FLOOR_KEY).and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_FLOOR);
        let part = match (value(SHARD_KEY), value(IMAGES_KEY)) {
            (Some(shard), Some(images)) => {
                let numbers: Vec<usize> = images.split(' ').filter_map(|n| n.parse().ok()).collect();
                let (Ok(shard), &[start, end, total]) = (shard.parse::<Shard>(), &numbers[..]) else {
                    return Err(StoreError::Parts {
                        path,
                        problem: format!("unreadable part metadata `{shard}` / `{images}`"),
                    });
                };
                Some(Part { shard, start, end, total })
            }
            _ => None,
        };
        let batches = builder.with_batch_size(29).build().map_err(parquet)?;
        Ok(FileReader { path, batches, batch: None, at: 0, row: 0, floor, part })
    }

    fn row_error(&self, problem: impl Into<String>) -> StoreError {
        StoreError::Row { path: self.path.clone(), row: self.row, problem: problem.into() }
    }

    fn decode(&self, batch: &RecordBatch, i: usize) -> Result<ProbRow, StoreError> {
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| self.row_error(format!("no column `{name}`")))
        };
        let text = |name: &str| -> Result<String, StoreError> {
            let array = column(name)?.as_any().downcast_ref::<StringArray>();
            Ok(array.ok_or_else(|| self.row_error(format!("`{name}` is not utf8")))?.value(i).to_string())
        };
        let number = |name: &str| -> Result<usize, StoreError> {
            let array = column(name)?.as_any().downcast_ref::<UInt32Array>();
            Ok(array.ok_or_else(|| self.row_error(format!("`{name}` is not uint32")))?.value(i) as usize)
        };
        let bytes = |name: &str| -> Result<Vec<u8>, StoreError> {
            let array = column(name)?.as_any().downcast_ref::<BinaryArray>();
            Ok(array.ok_or_else(|| self.row_error(format!("`{name}` is not binary")))?.value(i).to_vec())
        };
        let class_name = text("class")?;
        let class = class_index(&class_name)
            .ok_or_else(|| self.row_error(format!("unknown class `{class_name}`")))?;
        let (height, width) = (number("height")?, number("width")?);
        let run_bytes = bytes("runs")?;
        if run_bytes.len() % 8 != 0 {
            return Err(self.row_error("`runs` is not a list of u32 pairs"));
        }
        let runs: Runs = run_bytes
            .chunks_exact(8)
            .map(|pair| {
                let start = u32::from_le_bytes(pair[..4].try_into().expect("4 bytes"));
                let length = u32::from_le_bytes(pair[4..].try_into().expect("4 bytes"));
                (start as usize, length as usize)
            })
            .collect();
        let values = bytes("values")?;
        let mut end = 0;
        for &(start, length) in &runs {
            if start < end || length == 0 || start + length > height * width {
                return Err(
                    self.row_error(format!("run {start} {length} is unsorted, empty or outside the image"))
                );
            }
            end = start + length;
        }
        if runs.iter().map(|r| r.1).sum::<usize>() != values.len() {
            return Err(self.row_error("`values` does not hold one byte per pixel of `runs`"));
        }
        Ok(ProbRow {
            image_name: text("image_name")?,
            class,
            height,
            width,
            probs: SparseProbs { runs, values },
        })
    }
}

impl Iterator for FileReader {
    type Item = Result<ProbRow, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = &self.batch
                && self.at < batch.num_rows()
            {
                let row = self.decode(batch, self.at);
                self.at += 1;
                self.row += 1;
                return Some(row);
            }
            match self.batches.next()? {
                Ok(batch) => {
                    self.batch = Some(batch);
                    self.at = 0;
                }
                Err(e) => return Some(Err(self.row_error(e.to_string()))),
            }
        }
    }
}

/// Reads a store row by row: `DIR/probs.parquet`, a file, or a folder of parts read as one
/// store (each part checked to hold its slice of the image list, the parts to tile it).
pub struct ProbReader {
    path: PathBuf,
    floor: f32,
    current: FileReader,
    /// The parts still to read, in order.
    rest: std::vec::IntoIter<FileReader>,
    /// Images completed in the current file.
    images: usize,
}

impl ProbReader {
    /// Opens `DIR/probs.parquet`, the parts in `DIR`, or the file itself when `path` is a file.
    pub fn open(path: &Path) -> Result<ProbReader, StoreError> {
        let single = path.join(FILE_NAME);
        let files = if !path.is_dir() {
            vec![FileReader::open(path)?]
        } else if single.is_file() {
            vec![FileReader::open(&single)?]
        } else {
            open_parts(path)?
        };
        let floor = files[0].floor;
        if let Some(other) = files.iter().find(|f| f.floor != floor) {
            return Err(StoreError::Parts {
                path: other.path.clone(),
                problem: format!("floor {} where the first part has {floor}", other.floor),
            });
        }
        let mut files = files.into_iter();
        let current = files.next().expect("at least one file");
        Ok(ProbReader { path: path.to_path_buf(), floor, current, rest: files, images: 0 })
    }

    /// The floor the store was written with.
    pub fn floor(&self) -> f32 {
        self.floor
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// At the end of a file: a part must have held exactly its slice's images.
    fn check_count(&self) -> Result<(), StoreError> {
        match self.current.part {
            Some(part) if part.end - part.start != self.images => Err(StoreError::Parts {
                path: self.current.path.clone(),
                problem: format!(
                    "holds {} images where its slice {}..{} of {} has {}",
                    self.images,
                    part.start,
                    part.end,
                    part.total,
                    part.end - part.start
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// The parts of the store in `dir`, in order, checked to tile one image list.
fn open_parts(dir: &Path) -> Result<Vec<FileReader>, StoreError> {
    let problem = |problem: String| StoreError::Parts { path: dir.to_path_buf(), problem };
    let listing =
        std::fs::read_dir(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
    let mut parts = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("probs.part-") && name.ends_with(".parquet") {
            let file = FileReader::open(&entry.path())?;
            let part = file.part.ok_or_else(|| StoreError::Parts {
                path: entry.path(),
                problem: "a part without its shard metadata".into(),
            })?;
            parts.push((part, file));
        }
    }
    if parts.is_empty() {
        return Err(StoreError::Io {
            path: dir.join(FILE_NAME),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no probability store (nor parts of one) here",
            ),
        });
    }
    parts.sort_by_key(|(part, _)| part.shard.index);
    let count = parts[0].0.shard.count;
    let total = parts[0].0.total;
    let present: Vec<usize> = parts.iter().map(|(p, _)| p.shard.index).collect();
    if parts.iter().any(|(p, _)| p.shard.count != count || p.total != total) {
        return Err(problem(
            "parts of different shardings (K/N or image counts differ); remove the stale ones".into(),
        ));
    }
    if present != (0..count).collect::<Vec<_>>() {
        let missing: Vec<String> =
            (0..count).filter(|k| !present.contains(k)).map(|k| format!("{k}/{count}")).collect();
        return Err(problem(format!(
            "parts {} are missing (has {} of {count})",
            missing.join(", "),
            present.len()
        )));
    }
    let mut end = 0;
    for (part, _) in &parts {
        if part.start != end {
            return Err(problem(format!(
                "part {} starts at image {} where the parts before end at {end}",
                part.shard, part.start
            )));
        }
        end = part.end;
    }
    if end != total {
        return Err(problem(format!("the parts end at image {end} of {total}")));
    }
    Ok(parts.into_iter().map(|(_, file)| file).collect())
}

impl Iterator for ProbReader {
    type Item = Result<ProbRow, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.current.next() {
                Some(Ok(row)) => {
                    self.images += usize::from(row.class == boneseg_contract::NUM_CLASSES - 1);
                    return Some(Ok(row));
                }
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    if let Err(e) = self.check_count() {
                        return Some(Err(e));
                    }
                    self.current = self.rest.next()?;
                    self.images = 0;
                }
            }
        }
    }
}

/// Writes the rows of `inputs` (stores or folders of parts), in order, as one store in `dir`;
/// an image may appear in only one input. Returns the number of images. The parts of one
/// sharded inference give the unsharded store byte for byte.
pub fn concat_stores(inputs: &[PathBuf], dir: &Path) -> Result<usize, StoreError> {
    let readers = inputs.iter().map(|p| ProbReader::open(p)).collect::<Result<Vec<_>, _>>()?;
    let floor = readers.first().map_or(DEFAULT_FLOOR, ProbReader::floor);
    if let Some(other) = readers.iter().find(|r| r.floor() != floor) {
        return Err(StoreError::Parts {
            path: other.path().to_path_buf(),
            problem: format!(
                "floor {} where {} has {floor}: stores of one floor only",
                other.floor(),
                inputs[0].display()
            ),
        });
    }
    let mut writer = ProbWriter::create(dir, floor)?;
    let mut seen = std::collections::HashSet::new();
    for reader in readers {
        let path = reader.path().to_path_buf();
        for row in reader {
            let row = row?;
            if row.class == 0 && !seen.insert(row.image_name.clone()) {
                return Err(StoreError::Parts {
                    path,
                    problem: format!(
                        "{} is in an earlier input too: an image belongs to one input only",
                        row.image_name
                    ),
                });
            }
            writer.write(row)?;
        }
    }
    writer.finish()?;
    Ok(seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ProbWriter::create(&dir.path().join("store"), 0.25).unwrap();
        let mut written = Vec::new();
        for image in 0..10 {
            for class in 0..29 {
                let mut probs = SparseProbs::default();
                for i in 0..(image * 29 + class) % 17 {
                    probs.push(i + i / 4 * 2, (i as f32 * 0.07) % 1.0, 0.25);
                }
                let row = ProbRow { image_name: format!("{image}.png"), class, height: 6, width: 10, probs };
                written.push(row.clone());
                writer.write(row).unwrap();
            }
        }
        writer.finish().unwrap();
        let reader = ProbReader::open(&dir.path().join("store")).unwrap();
        assert_eq!(reader.floor(), 0.25);
        let read: Vec<ProbRow> = reader.map(Result::unwrap).collect();
        assert_eq!(read, written);
        assert!(read.iter().any(|r| r.probs.runs.iter().any(|&(_, l)| l > 1)), "runs merge");
    }

    /// Rows of `images` images of 29 classes, each with a few pixels.
    fn rows(images: usize) -> Vec<ProbRow> {
        let mut rows = Vec::new();
        for image in 0..images {
            for class in 0..29 {
                let mut probs = SparseProbs::default();
                for i in 0..(image * 7 + class) % 11 {
                    probs.push(i * 3, 0.2 + (i as f32 * 0.05) % 0.8, 0.1);
                }
                rows.push(ProbRow {
                    image_name: format!("img{image:02}.png"),
                    class,
                    height: 8,
                    width: 8,
                    probs,
                });
            }
        }
        rows
    }

    fn write(dir: &Path, rows: &[ProbRow], part: Option<Part>) {
        let mut writer = match part {
            Some(part) => ProbWriter::create_part(dir, 0.1, part).unwrap(),
            None => ProbWriter::create(dir, 0.1).unwrap(),
        };
        for row in rows {
            writer.write(row.clone()).unwrap();
        }
        writer.finish().unwrap();
    }

    /// Writes the parts of a 3-way sharding of `all` (11 images) into `dir`.
    fn write_parts(dir: &Path, all: &[ProbRow], count: usize) {
        for index in 0..count {
            let part = Part::of(Shard { index, count }, all.len() / 29);
            write(dir, &all[part.start * 29..part.end * 29], Some(part));
        }
    }

    #[test]
    fn parts_read_as_one_store_and_merge_into_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let all = rows(11);
        write(&dir.path().join("whole"), &all, None);
        let sharded = dir.path().join("sharded");
        write_parts(&sharded, &all, 3);
        let read: Vec<ProbRow> = ProbReader::open(&sharded).unwrap().map(Result::unwrap).collect();
        assert_eq!(read, all);
        assert_eq!(concat_stores(std::slice::from_ref(&sharded), &dir.path().join("merged")).unwrap(), 11);
        let bytes = |d: &str| std::fs::read(dir.path().join(d).join(FILE_NAME)).unwrap();
        assert_eq!(bytes("merged"), bytes("whole"), "merged parts are the unsharded store, byte for byte");
    }

    #[test]
    fn missing_or_mismatched_parts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let all = rows(11);
        let missing = dir.path().join("missing");
        write_parts(&missing, &all, 3);
        std::fs::remove_file(missing.join("probs.part-1-of-3.parquet")).unwrap();
        let error = ProbReader::open(&missing).err().unwrap().to_string();
        assert!(error.contains("parts 1/3 are missing"), "{error}");

        let mixed = dir.path().join("mixed");
        write_parts(&mixed, &all, 3);
        write(&mixed, &all[..29 * 5], Some(Part::of(Shard { index: 0, count: 2 }, 11)));
        let error = ProbReader::open(&mixed).err().unwrap().to_string();
        assert!(error.contains("parts of different shardings"), "{error}");

        // A part that holds fewer images than its slice says is caught when read.
        let short = dir.path().join("short");
        write_parts(&short, &all, 2);
        write(&short, &all[..29 * 4], Some(Part::of(Shard { index: 0, count: 2 }, 11)));
        let error = ProbReader::open(&short).unwrap().find_map(Result::err).unwrap().to_string();
        assert!(error.contains("holds 4 images where its slice 0..5 of 11 has 5"), "{error}");

        // The same image in two inputs of a concatenation.
        let first = dir.path().join("missing/probs.part-0-of-3.parquet");
        let error =
            concat_stores(&[first.clone(), first], &dir.path().join("twice")).unwrap_err().to_string();
        assert!(error.contains("img00.png is in an earlier input too"), "{error}");
    }

    #[test]
    fn the_floor_and_quantisation() {
        let mut probs = SparseProbs::default();
        for (i, p) in [0.1f32, 0.3, 0.5, 1.0, 0.29].into_iter().enumerate() {
            probs.push(i, p, 0.3);
        }
        assert_eq!(probs.runs, vec![(1, 3)]);
        assert_eq!(probs.values, vec![77, 128, 255]);
        assert_eq!(dequantise(255), 1.0);
    }
}
