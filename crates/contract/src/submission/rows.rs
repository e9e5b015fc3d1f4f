//! Reading a submission CSV row by row with line numbers, shared by the loader and the checker.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use super::HEADER;

/// One data row as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub image_name: String,
    pub class: String,
    pub rle: String,
}

/// A row that cannot be read as `image_name,class,rle`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    #[error("bad header `{found}`: expected `image_name,class,rle`")]
    BadHeader { found: String },
    #[error("{found} fields, expected 3 (image_name,class,rle)")]
    FieldCount { found: usize },
    #[error("unreadable row: {0}")]
    Unreadable(String),
    #[error("the file is empty: expected the header `image_name,class,rle`")]
    Empty,
}

/// Data rows of a submission; the first item is an error when the header is wrong.
pub struct Rows {
    records: csv::StringRecordsIntoIter<BufReader<File>>,
    header_checked: bool,
}

impl Rows {
    pub fn open(path: &Path) -> io::Result<Rows> {
        let file = File::open(path)?;
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        Ok(Rows { records: reader.into_records(), header_checked: false })
    }
}

impl Iterator for Rows {
    /// A row, or its line and problem.
    type Item = Result<Row, (u64, RowProblem)>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.records.next();
        if !self.header_checked {
            self.header_checked = true;
            let header = match record {
                None => return Some(Err((1, RowProblem::Empty))),
                Some(Err(e)) => return Some(Err((1, RowProblem::Unreadable(e.to_string())))),
                Some(Ok(header)) => header,
            };
            // A UTF-8 byte-order mark (Excel) is tolerated.
            let fields: Vec<&str> = header.iter().map(|f| f.trim_start_matches('\u{feff}')).collect();
            if fields != HEADER {
                return Some(Err((1, RowProblem::BadHeader { found: fields.join(",") })));
            }
            return self.next();
        }
        let record = match record? {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let problem = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => RowProblem::Unreadable("not valid UTF-8".into()),
                    _ => RowProblem::Unreadable(e.to_string()),
                };
                return Some(Err((line, problem)));
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != 3 {
            return Some(Err((line, RowProblem::FieldCount { found: record.len() })));
        }
        Some(Ok(Row {
            line,
            image_name: record[0].to_string(),
            class: record[1].to_string(),
            rle: record[2].to_string(),
        }))
    }
}
