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

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, BinaryArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use boneseg_contract::atomic::AtomicFile;
use boneseg_contract::class_index;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::properties::WriterProperties;

use crate::runs::{self, Runs};

/// The file inside a store directory.
pub const FILE_NAME: &str = "probs.parquet";
/// The team's floor: probabilities below it are not stored (read back as 0).
pub const DEFAULT_FLOOR: f32 = 0.3;
const FLOOR_KEY: &str = "boneseg.floor";
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
    Corrupt { path: PathBuf, problem: String },
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
        let path = dir.join(FILE_NAME);
        let io = |source| StoreError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = AtomicFile::create(&path).map_err(io)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid zstd level")))
            .set_key_value_metadata(Some(vec![KeyValue::new(FLOOR_KEY.to_string(), floor.to_string())]))
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

/// Reads a store row by row, one record batch (one image) at a time.
pub struct ProbReader {
    path: PathBuf,
    batches: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    at: usize,
    row: usize,
    floor: f32,
}

impl ProbReader {
    /// Opens `DIR/probs.parquet`, or the file itself when `path` is a file.
    pub fn open(path: &Path) -> Result<ProbReader, StoreError> {
        let path = if path.is_dir() { path.join(FILE_NAME) } else { path.to_path_buf() };
        let file = File::open(&path).map_err(|source| StoreError::Io { path: path.clone(), source })?;
        let parquet = |source| StoreError::Parquet { path: path.clone(), source };
        let length = file.metadata().map_err(|source| StoreError::Io { path: path.clone(), source })?.len();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
        check_layout(builder.metadata(), length)
            .map_err(|problem| StoreError::Corrupt { path: path.clone(), problem })?;
        let floor = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|kv| kv.key == FLOOR_KEY))
            .and_then(|kv| kv.value.as_deref()?.parse().ok())
            .unwrap_or(DEFAULT_FLOOR);
        let batches = builder.with_batch_size(29).build().map_err(parquet)?;
        Ok(ProbReader { path, batches, batch: None, at: 0, row: 0, floor })
    }

    /// The floor the store was written with.
    pub fn floor(&self) -> f32 {
        self.floor
    }

    pub fn path(&self) -> &Path {
        &self.path
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

/// Every column chunk must lie inside the file: the Parquet reader asserts that their offsets
/// and sizes are not negative (a panic on a corrupt file), and reads past the end otherwise.
fn check_layout(metadata: &ParquetMetaData, file_length: u64) -> Result<(), String> {
    for (group, row_group) in metadata.row_groups().iter().enumerate() {
        for column in row_group.columns() {
            let start = column.dictionary_page_offset().unwrap_or(column.data_page_offset());
            let length = column.compressed_size();
            let inside = start >= 0
                && length >= 0
                && (start as u64).checked_add(length as u64).is_some_and(|end| end <= file_length);
            if !inside {
                return Err(format!(
                    "corrupt Parquet: column `{}` of row group {group} claims bytes {start}..+{length} of a {file_length}-byte file",
                    column.column_path()
                ));
            }
        }
    }
    Ok(())
}

impl Iterator for ProbReader {
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
