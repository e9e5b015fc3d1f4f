//! Writing a submission CSV as pandas' `to_csv(index=False)` does.

use std::io::{self, Write};
use std::path::Path;

use super::HEADER;
use crate::atomic::AtomicFile;
use crate::classes::CLASSES;
use crate::mask::ClassMasks;
use crate::rle;

/// Streams rows into a submission file under a temporary name; [`SubmissionWriter::finish`]
/// puts it in place. Memory stays flat whatever the number of images.
pub struct SubmissionWriter {
    out: csv::Writer<AtomicFile>,
    rle: String,
}

impl SubmissionWriter {
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(AtomicFile::create(path)?);
        out.write_record(HEADER).map_err(io::Error::other)?;
        Ok(SubmissionWriter { out, rle: String::new() })
    }

    /// Writes one row.
    pub fn write_row(&mut self, image_name: &str, class: &str, rle: &str) -> io::Result<()> {
        self.out.write_record([image_name, class, rle]).map_err(io::Error::other)
    }

    /// Writes the 29 rows of one image, in class order.
    pub fn write_image(&mut self, image_name: &str, masks: &ClassMasks) -> io::Result<()> {
        for (class, mask) in CLASSES.iter().zip(masks.iter()) {
            self.rle.clear();
            rle::encode_into(mask, &mut self.rle);
            self.out.write_record([image_name, class, self.rle.as_str()]).map_err(io::Error::other)?;
        }
        Ok(())
    }

    /// Flushes and renames the file into place.
    pub fn finish(self) -> io::Result<()> {
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        file.commit()
    }
}
