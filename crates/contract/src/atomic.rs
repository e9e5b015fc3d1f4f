//! Outputs written to a temporary name and renamed into place, so a crash or an error never
//! leaves a half-written file where a finished one is expected.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file being written under a temporary name beside `dest`; [`AtomicFile::commit`] renames it
/// to `dest`. Dropped without a commit, the temporary file is removed.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

/// An I/O error that names the file it happened on.
fn with_path(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// A temporary name in the same folder (so the rename stays on one file system), hidden, and
/// unique within and across processes.
fn temporary_name(dest: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.tmp-{}-{unique}", std::process::id()))
}

impl AtomicFile {
    /// Starts writing `dest`; its folder must exist.
    pub fn create(dest: impl AsRef<Path>) -> io::Result<Self> {
        let dest = dest.as_ref().to_path_buf();
        let tmp = temporary_name(&dest);
        let file = File::create(&tmp).map_err(|e| with_path(&dest, e))?;
        Ok(AtomicFile { dest, tmp, writer: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// Flushes and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.writer.take().expect("an AtomicFile is committed once");
        let file = writer.into_inner().map_err(|e| with_path(&self.dest, e.into_error()))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| with_path(&self.dest, e))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let writer = self.writer.as_mut().expect("write after commit");
        writer.write(buf).map_err(|e| with_path(&self.dest, e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let writer = self.writer.as_mut().expect("flush after commit");
        writer.flush().map_err(|e| with_path(&self.dest, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(dest)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.csv");
        let mut file = AtomicFile::create(&dest).unwrap();
        file.write_all(b"half").unwrap();
        drop(file);
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temporary file removed");

        write_atomic(&dest, b"whole").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let err = AtomicFile::create("/nonexistent-dir/x.csv").err().unwrap();
        assert!(err.to_string().contains("/nonexistent-dir/x.csv"), "{err}");
    }
}
