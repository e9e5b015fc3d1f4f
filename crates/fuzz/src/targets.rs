//! The fuzz targets: one per parser of files a user hands boneseg. Each takes arbitrary bytes;
//! a problem is an `Err`, never a panic, and what succeeds must make sense (checked here with
//! `assert!`, so a broken promise is a finding like a panic).

use std::path::{Path, PathBuf};

use boneseg_contract::submission::Submission;
use boneseg_contract::submission::check::{self, ExpectedImage};
use boneseg_contract::{AnnotationFile, CLASSES, FillRule, rle};
use boneseg_data::image_io::decode_gray;
use boneseg_data::meta;
use boneseg_ensemble::store::ProbReader;

/// A parser under test.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    /// What it reads, for the report.
    pub what: &'static str,
    pub run: fn(&[u8], &Scratch),
}

/// Every target, by name.
pub const TARGETS: [Target; 6] = [
    Target { name: "annotation", what: "annotation JSON, rasterised at three sizes", run: annotation },
    Target { name: "rle", what: "RLE text, decoded and checked", run: rle_text },
    Target { name: "submission", what: "submission CSV, loaded and checked", run: submission },
    Target { name: "meta", what: "meta table, CSV or xlsx", run: meta_table },
    Target { name: "image", what: "PNG and JPEG decoding to grey", run: image },
    Target { name: "store", what: "Parquet probability store", run: store },
];

pub fn by_name(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

/// A folder for targets whose parser reads a file.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> std::io::Result<Scratch> {
        Ok(Scratch { dir: tempfile::tempdir()? })
    }

    /// `data` written to `name` in the scratch folder.
    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).expect("the scratch folder is writable");
        path
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Parses, then rasterises at three sizes with every fill rule (points far outside the image
/// included: they are clipped); a file that parses must come back the same from its own JSON.
fn annotation(data: &[u8], _: &Scratch) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = AnnotationFile::parse(text) else { return };
    for (height, width) in [(1, 1), (7, 13), (48, 40)] {
        let outside = file.points_outside(height, width);
        assert_eq!(file.check_inside(height, width).is_ok(), outside.is_empty());
        for (rule, _) in FillRule::ALL {
            let masks = file.rasterize(height, width, rule);
            assert_eq!((masks.height(), masks.width()), (height, width));
        }
    }
    let again = AnnotationFile::parse(&file.to_json()).expect("a file's own JSON parses");
    assert_eq!(again.polygons, file.polygons, "the polygons survive their own JSON");
}

/// Two bytes choose the mask's size, the rest is the RLE: decoding succeeds exactly when the
/// checker finds no problem, and a decoded mask encodes back to the runs it came from.
fn rle_text(data: &[u8], _: &Scratch) {
    let [h, w, rest @ ..] = data else { return };
    let (height, width) = (1 + *h as usize % 64, 1 + *w as usize % 64);
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let decoded = rle::decode(text, height, width);
    let problems = rle::problems(text, (height * width) as u64);
    assert_eq!(decoded.is_ok(), problems.is_empty(), "decode and the checker agree: {problems:?}");
    if let Ok(mask) = decoded {
        let encoded = rle::encode(&mask);
        assert_eq!(rle::decode(&encoded, height, width).expect("own output decodes"), mask);
        let numbers = |s: &str| s.split_ascii_whitespace().map(|t| t.parse::<u64>().ok()).collect::<Vec<_>>();
        if mask.runs().count() == text.split_ascii_whitespace().count() / 2 {
            assert_eq!(numbers(&encoded), numbers(text), "runs that do not touch come back as written");
        }
    }
    // A mask the size of the competition's: the checker must not allocate it.
    let _ = rle::problems(text, 2048 * 2048);
}

/// Loads a submission for scoring (decoding every mask of two images) and checks it.
fn submission(data: &[u8], scratch: &Scratch) {
    let path = scratch.file("submission.csv", data);
    let expected: Vec<ExpectedImage> = ["a.png", "b.png"]
        .iter()
        .map(|name| ExpectedImage { name: name.to_string(), height: 16, width: 24 })
        .collect();
    let report = check::check(&path, &expected).expect("the file is readable");
    assert!(report.rows <= data.len() as u64 + 1);
    if let Ok(loaded) = Submission::read(&path) {
        for image in &expected {
            for class in 0..CLASSES.len() {
                if let Ok(Some(mask)) = loaded.mask(&image.name, class, image.height, image.width) {
                    assert_eq!(mask.len(), image.height * image.width);
                }
            }
        }
    }
}

/// The first byte chooses CSV (even) or xlsx (odd); the rest is the file.
fn meta_table(data: &[u8], scratch: &Scratch) {
    let [kind, rest @ ..] = data else { return };
    let name = if kind % 2 == 0 { "meta_data.csv" } else { "meta_data.xlsx" };
    let path = scratch.file(name, rest);
    let (table, problems) = meta::read_all(&path);
    assert!(table.is_some() || !problems.is_empty(), "no table comes with a reason");
    assert_eq!(meta::read(&path).is_ok(), table.is_some() && problems.is_empty());
}

/// Decodes a PNG or JPEG to grey; what decodes has one byte per pixel.
fn image(data: &[u8], _: &Scratch) {
    if let Ok(image) = decode_gray(data) {
        assert_eq!(image.as_raw().len(), image.width() as usize * image.height() as usize);
    }
}

/// Opens a probability store and reads its rows: each row's runs lie in its image.
fn store(data: &[u8], scratch: &Scratch) {
    let path = scratch.file("probs.parquet", data);
    let Ok(reader) = ProbReader::open(&path) else { return };
    for row in reader.take(10_000) {
        let Ok(row) = row else { break };
        let pixels = row.height * row.width;
        assert!(row.probs.runs.iter().all(|&(start, length)| start + length <= pixels));
        assert_eq!(row.probs.runs.iter().map(|r| r.1).sum::<usize>(), row.probs.values.len());
    }
}
