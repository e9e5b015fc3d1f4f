//! `boneseg augment-dataset`: a new dataset in the competition layout holding the originals and
//! their augmented copies, readable by every boneseg command.
//!
//! Person grouping: every copy is written into the person folder of its source (`ID001/`), with
//! the operation in its name (`<stem>_flip.png`, `<stem>_rot15.png`, `<stem>_straight.png`,
//! `<stem>_mosaic.png`). Splits group by that folder, so a person's copies always land in the
//! person's fold. For the same reason a mosaic only combines one person's images (both hands and
//! their mirrors): a mosaic of several people could not be kept on one side of a split.
//!
//! Provenance: `augment_provenance.csv` at the root, one row per written image:
//! `output,op,sources,params` (relative paths; sources joined by `;`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use boneseg_contract::atomic::write_atomic;
use boneseg_contract::rng::Random;
use boneseg_contract::{AnnotationFile, PersonId};
use boneseg_data::image_io::{read_gray, write_gray_png};
use boneseg_data::{DataError, Dataset, ImageEntry, ReadOptions};
use rayon::prelude::*;

use super::ops::{Labeled, flip, hand_tilt, mosaic, rotate};
use crate::rng::Rng;

/// An offline operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Flip,
    Rotate,
    Mosaic,
}

impl FromStr for Op {
    type Err = String;

    fn from_str(s: &str) -> Result<Op, String> {
        match s.trim() {
            "flip" => Ok(Op::Flip),
            "rotate" => Ok(Op::Rotate),
            "mosaic" => Ok(Op::Mosaic),
            other => Err(format!("unknown operation `{other}`; the operations are flip, rotate, mosaic")),
        }
    }
}

/// What `rotate` does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rotation {
    /// Every image by this angle (degrees, counter-clockwise).
    Angle(f64),
    /// Hands tilted more than `threshold` degrees are straightened; upright ones are rotated by
    /// `upright_angle` degrees, clockwise or counter-clockwise at random (0: left alone).
    Straighten { threshold: f64, upright_angle: f64 },
}

impl FromStr for Rotation {
    type Err = String;

    /// `straighten` or an angle in degrees.
    fn from_str(s: &str) -> Result<Rotation, String> {
        match s.trim() {
            "straighten" => Ok(Rotation::Straighten { threshold: 8.0, upright_angle: 0.0 }),
            angle => angle
                .parse()
                .map(Rotation::Angle)
                .map_err(|_| format!("`{angle}` is neither an angle in degrees nor `straighten`")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct OfflineOptions {
    pub ops: Vec<Op>,
    pub rotation: Rotation,
    pub seed: u64,
    /// Copy the original images and labels too (so the output is a complete training set).
    pub originals: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: the output folder must differ from the dataset and be empty or new", path.display())]
    Output { path: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OfflineError + '_ {
    move |source| OfflineError::Io { path: path.to_path_buf(), source }
}

/// One written image and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    pub output: String,
    pub op: &'static str,
    pub sources: Vec<String>,
    pub params: String,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub written: Vec<Provenance>,
    /// Images an operation left alone, and why.
    pub skipped: Vec<String>,
}

/// One image's pixels, polygons and relative path (`ID001/stem.png`).
struct Source {
    rel: String,
    labeled: Labeled,
}

impl Source {
    fn load(entry: &ImageEntry) -> Result<Source, OfflineError> {
        let label = entry.label.as_ref().expect("training entries have labels");
        let labels = AnnotationFile::read(label).map_err(DataError::from)?;
        Ok(Source { rel: entry.rel.clone(), labeled: Labeled { image: read_gray(&entry.image)?, labels } })
    }

    fn stem(&self) -> &str {
        let name = self.rel.rsplit('/').next().unwrap_or(&self.rel);
        name.strip_suffix(".png").unwrap_or(name)
    }
}

/// Writes one image and its label file under `out/train`, returning its relative path.
fn write(out: &Path, person: PersonId, name: &str, labeled: &Labeled) -> Result<String, OfflineError> {
    let rel = format!("{person}/{name}.png");
    let image_path = Dataset::train_images(out).join(&rel);
    let label_path = Dataset::train_labels(out).join(format!("{person}/{name}.json"));
    for path in [&image_path, &label_path] {
        let folder = path.parent().expect("a file in a person folder");
        std::fs::create_dir_all(folder).map_err(io(folder))?;
    }
    write_gray_png(&image_path, &labeled.image)?;
    let labels =
        AnnotationFile { filename: Some(format!("{name}.png")), polygons: labeled.labels.polygons.clone() };
    write_atomic(&label_path, labels.to_json().as_bytes()).map_err(io(&label_path))?;
    Ok(rel)
}

/// Everything made from one person's images.
fn person_outputs(
    out: &Path,
    person: PersonId,
    sources: &[Source],
    options: &OfflineOptions,
) -> Result<Summary, OfflineError> {
    let mut summary = Summary::default();
    let mut rng = Rng::new(options.seed ^ u64::from(person.0).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut emit = |name: String, labeled: &Labeled, op, sources: Vec<String>, params: String| {
        let output = write(out, person, &name, labeled)?;
        summary.written.push(Provenance { output, op, sources, params });
        Ok::<_, OfflineError>(())
    };
    for source in sources {
        let stem = source.stem();
        let from = || vec![source.rel.clone()];
        if options.originals {
            emit(stem.to_string(), &source.labeled, "original", from(), String::new())?;
        }
        if options.ops.contains(&Op::Flip) {
            emit(format!("{stem}_flip"), &flip(&source.labeled), "flip", from(), "x -> width-1-x".into())?;
        }
        if options.ops.contains(&Op::Rotate) {
            let (angle, name, params) = match options.rotation {
                Rotation::Angle(angle) => {
                    (angle, format!("{stem}_rot{}", angle_name(angle)), format!("angle={angle}"))
                }
                Rotation::Straighten { threshold, upright_angle } => {
                    match hand_tilt(&source.labeled.labels) {
                        None => {
                            summary.skipped.push(format!(
                                "{}: no wrist or metacarpal labels to find the hand axis",
                                source.rel
                            ));
                            continue;
                        }
                        Some(tilt) if tilt.abs() > threshold => {
                            (tilt, format!("{stem}_straight"), format!("angle={tilt:.2};tilt={tilt:.2}"))
                        }
                        Some(tilt) if upright_angle != 0.0 => {
                            let angle = if rng.chance(0.5) { upright_angle } else { -upright_angle };
                            (
                                angle,
                                format!("{stem}_rot{}", angle_name(angle)),
                                format!("angle={angle};tilt={tilt:.2}"),
                            )
                        }
                        Some(tilt) => {
                            summary
                                .skipped
                                .push(format!("{}: upright (tilt {tilt:.1}°), left alone", source.rel));
                            continue;
                        }
                    }
                }
            };
            emit(name, &rotate(&source.labeled, angle), "rotate", from(), params)?;
        }
    }
    if options.ops.contains(&Op::Mosaic) && !sources.is_empty() {
        let flipped: Vec<Labeled> = sources.iter().map(|s| flip(&s.labeled)).collect();
        let mut tiles: Vec<(String, &Labeled)> = Vec::new();
        for k in 0..4 {
            let source = &sources[k % sources.len()];
            let mirrored = (k / sources.len()) % 2 == 1;
            let tile = if mirrored { &flipped[k % sources.len()] } else { &source.labeled };
            tiles.push((format!("{}{}", source.rel, if mirrored { "(flip)" } else { "" }), tile));
        }
        for i in (1..4).rev() {
            tiles.swap(i, rng.int(0, i as i64) as usize);
        }
        let made = mosaic([tiles[0].1, tiles[1].1, tiles[2].1, tiles[3].1]);
        let names: Vec<String> = tiles.iter().map(|(name, _)| name.clone()).collect();
        let params = format!("quadrants={}", names.join(";"));
        let used: Vec<String> = sources.iter().map(|s| s.rel.clone()).collect();
        emit(format!("{}_mosaic", sources[0].stem()), &made, "mosaic", used, params)?;
    }
    Ok(summary)
}

/// `15` → `15`, `-7.5` → `m7.5`: a file-name-safe angle.
fn angle_name(angle: f64) -> String {
    let text = format!("{}", angle.abs());
    if angle < 0.0 { format!("m{text}") } else { text }
}

/// Augments the training images of `data` into a new dataset at `out`.
pub fn augment_dataset(data: &Path, out: &Path, options: &OfflineOptions) -> Result<Summary, OfflineError> {
    let same = out.canonicalize().ok().zip(data.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    let busy = out.read_dir().map(|mut d| d.next().is_some()).unwrap_or(false);
    if same || busy {
        return Err(OfflineError::Output { path: out.to_path_buf() });
    }
    let dataset = Dataset::open(data, ReadOptions::default())?;
    let mut people: BTreeMap<PersonId, Vec<&ImageEntry>> = BTreeMap::new();
    for entry in &dataset.train {
        people.entry(entry.person).or_default().push(entry);
    }
    let results: Vec<Summary> = people
        .into_par_iter()
        .map(|(person, entries)| {
            let sources = entries.into_iter().map(Source::load).collect::<Result<Vec<_>, _>>()?;
            person_outputs(out, person, &sources, options)
        })
        .collect::<Result<_, _>>()?;
    let mut summary = Summary::default();
    for result in results {
        summary.written.extend(result.written);
        summary.skipped.extend(result.skipped);
    }
    if let Some(meta) = boneseg_data::meta::find(data) {
        let target = out.join(meta.file_name().expect("a meta file has a name"));
        let bytes = std::fs::read(&meta).map_err(io(&meta))?;
        write_atomic(&target, &bytes).map_err(io(&target))?;
    }
    write_provenance(out, &summary.written)?;
    Ok(summary)
}

fn write_provenance(out: &Path, rows: &[Provenance]) -> Result<(), OfflineError> {
    let path = out.join("augment_provenance.csv");
    let mut writer = csv::Writer::from_writer(Vec::new());
    let row_error = |e: csv::Error| OfflineError::Io { path: path.clone(), source: e.into() };
    writer.write_record(["output", "op", "sources", "params"]).map_err(row_error)?;
    for row in rows {
        let output = format!("train/DCM/{}", row.output);
        writer
            .write_record([output.as_str(), row.op, &row.sources.join(";"), &row.params])
            .map_err(row_error)?;
    }
    let bytes =
        writer.into_inner().map_err(|e| OfflineError::Io { path: path.clone(), source: e.into_error() })?;
    write_atomic(&path, &bytes).map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_rotations_parse_with_helpful_errors() {
        assert_eq!("mosaic".parse::<Op>(), Ok(Op::Mosaic));
        assert!("shear".parse::<Op>().unwrap_err().contains("the operations are flip, rotate, mosaic"));
        assert_eq!("-12.5".parse::<Rotation>(), Ok(Rotation::Angle(-12.5)));
        assert!(matches!("straighten".parse::<Rotation>(), Ok(Rotation::Straighten { .. })));
        assert!(
            "left".parse::<Rotation>().unwrap_err().contains("neither an angle in degrees nor `straighten`")
        );
        assert_eq!((angle_name(15.0), angle_name(-7.5)), ("15".to_string(), "m7.5".to_string()));
    }
}
