//! Annotation files: one JSON per image with one closed polygon per bone.
//!
//! ```json
//! {"annotations": [{"id": "...", "type": "poly_seg", "attributes": {},
//!                   "points": [[x, y], ...], "label": "finger-1"}, ...],
//!  "filename": "image1661130828152.png"}
//! ```
//! `x` is the column and `y` the row. Problems are reported with the JSON path of the culprit
//! (`annotations[3].points[17]`) so a user can open the file and go straight to it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::classes::{CLASSES, class_index};
use crate::fill_poly::{FillRule, fill_poly};
use crate::mask::ClassMasks;

/// One labelled polygon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Polygon {
    /// The annotation's `id` (empty when the file has none).
    pub id: String,
    /// Index of the label in [`CLASSES`].
    pub class: usize,
    /// `[x, y]` = `[column, row]`, integers as in the competition files.
    pub points: Vec<[i32; 2]>,
}

/// The contents of one annotation file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnotationFile {
    /// The `filename` field: the image's base name.
    pub filename: Option<String>,
    pub polygons: Vec<Polygon>,
}

/// What is wrong with an annotation file; `Display` gives the place and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationProblem {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("the top level must be an object with an `annotations` list")]
    NotAnObject,
    #[error("no `annotations` field: an annotation file needs one polygon per bone under `annotations`")]
    MissingAnnotations,
    #[error("`annotations` must be a list")]
    AnnotationsNotAList,
    #[error("annotations[{index}]{}: {problem}", label_note(.label))]
    Annotation { index: usize, label: Option<String>, problem: PolygonProblem },
}

fn label_note(label: &Option<String>) -> String {
    label.as_ref().map(|l| format!(" ({l})")).unwrap_or_default()
}

/// What is wrong with one annotation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolygonProblem {
    #[error("must be an object")]
    NotAnObject,
    #[error("has no `label`")]
    MissingLabel,
    #[error("unknown label `{0}`; the 29 labels are finger-1 ... finger-19, {rest}", rest = CLASSES[19..].join(", "))]
    UnknownLabel(String),
    #[error("has no `points` list")]
    MissingPoints,
    #[error("points[{point}] must be a pair [x, y], found `{found}`")]
    BadPoint { point: usize, found: String },
    #[error(
        "points[{point}] has coordinate `{found}`, which is not an integer (the reference code fills integer points; round them)"
    )]
    NonInteger { point: usize, found: String },
    #[error(
        "points[{point}] has coordinate `{found}`, which is far too large for any image (coordinates are pixel positions, at most 2^31 - 1)"
    )]
    TooLarge { point: usize, found: String },
    #[error("has {0} point(s); a polygon needs at least 3")]
    TooFewPoints(usize),
    #[error(
        "points[{point}] = [{x}, {y}] lies outside the {width}x{height} image (x must be in 0..{width}, y in 0..{height}); is the label paired with the right image?"
    )]
    OutsideImage { point: usize, x: i32, y: i32, width: usize, height: usize },
}

/// Points of one polygon that lie outside the image: where the first is, and how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointsOutside {
    /// The annotation's index in `annotations`.
    pub index: usize,
    pub class: usize,
    /// The first outside point's index in `points`, and its coordinates.
    pub point: usize,
    pub x: i32,
    pub y: i32,
    pub count: usize,
    pub width: usize,
    pub height: usize,
}

impl PointsOutside {
    /// The refusal of the strict reading.
    pub fn into_problem(self) -> AnnotationProblem {
        let PointsOutside { index, class, point, x, y, width, height, .. } = self;
        AnnotationProblem::Annotation {
            index,
            label: Some(CLASSES[class].to_string()),
            problem: PolygonProblem::OutsideImage { point, x, y, width, height },
        }
    }
}

impl fmt::Display for PointsOutside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = match self.count {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        write!(
            f,
            "annotations[{}] ({}): points[{}] = [{}, {}]{more} outside the {}x{} image; clipped as OpenCV's fillPoly clips them (--strict-points refuses such files)",
            self.index, CLASSES[self.class], self.point, self.x, self.y, self.width, self.height
        )
    }
}

/// An annotation problem together with the file it was found in.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct AnnotationError {
    pub path: PathBuf,
    pub problem: AnnotationProblem,
}

/// A class that has more than one polygon in one file. The reference code kept only the last
/// one; boneseg fills their union and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateClass {
    pub class: usize,
    /// Indices into `annotations`, in file order.
    pub annotations: Vec<usize>,
}

impl fmt::Display for DuplicateClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let places: Vec<_> = self.annotations.iter().map(|i| format!("annotations[{i}]")).collect();
        write!(
            f,
            "{} has {} polygons ({}); using their union (the reference code kept only the last)",
            CLASSES[self.class],
            self.annotations.len(),
            places.join(", ")
        )
    }
}

impl AnnotationFile {
    /// Reads and parses a file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, AnnotationError> {
        let path = path.as_ref();
        let at = |problem| AnnotationError { path: path.to_path_buf(), problem };
        let text = std::fs::read_to_string(path).map_err(|e| at(e.into()))?;
        Self::parse(&text).map_err(at)
    }

    /// Parses the text of a file. A UTF-8 byte-order mark (Windows editors write one) is
    /// skipped, as the CSV readers skip it.
    pub fn parse(text: &str) -> Result<Self, AnnotationProblem> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let root: Value = serde_json::from_str(text).map_err(|e| syntax_problem(text, &e))?;
        let root = root.as_object().ok_or(AnnotationProblem::NotAnObject)?;
        let annotations = root.get("annotations").ok_or(AnnotationProblem::MissingAnnotations)?;
        let annotations = annotations.as_array().ok_or(AnnotationProblem::AnnotationsNotAList)?;
        let polygons = annotations
            .iter()
            .enumerate()
            .map(|(index, value)| {
                parse_polygon(value).map_err(|problem| AnnotationProblem::Annotation {
                    index,
                    label: value.get("label").and_then(Value::as_str).map(str::to_string),
                    problem,
                })
            })
            .collect::<Result<_, _>>()?;
        let filename = root.get("filename").and_then(Value::as_str).map(str::to_string);
        Ok(AnnotationFile { filename, polygons })
    }

    /// Checks that every point lies inside a `height x width` image (the strict reading; OpenCV
    /// and [`AnnotationFile::rasterize`] clip what lies outside).
    pub fn check_inside(&self, height: usize, width: usize) -> Result<(), AnnotationProblem> {
        match self.points_outside(height, width).into_iter().next() {
            Some(outside) => Err(outside.into_problem()),
            None => Ok(()),
        }
    }

    /// The polygons with points outside a `height x width` image: the first such point of each,
    /// and how many there are. Annotation tools put points on the far border (`x == width`) or
    /// a little beyond it.
    pub fn points_outside(&self, height: usize, width: usize) -> Vec<PointsOutside> {
        let inside = |&[x, y]: &[i32; 2]| x >= 0 && y >= 0 && (x as usize) < width && (y as usize) < height;
        self.polygons
            .iter()
            .enumerate()
            .filter_map(|(index, polygon)| {
                let point = polygon.points.iter().position(|p| !inside(p))?;
                let [x, y] = polygon.points[point];
                let count = polygon.points.iter().filter(|p| !inside(p)).count();
                Some(PointsOutside { index, class: polygon.class, point, x, y, count, width, height })
            })
            .collect()
    }

    /// Classes with more than one polygon.
    pub fn duplicate_classes(&self) -> Vec<DuplicateClass> {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); CLASSES.len()];
        for (index, polygon) in self.polygons.iter().enumerate() {
            by_class[polygon.class].push(index);
        }
        by_class
            .into_iter()
            .enumerate()
            .filter(|(_, indices)| indices.len() > 1)
            .map(|(class, annotations)| DuplicateClass { class, annotations })
            .collect()
    }

    /// The 29 class masks of a `height x width` image; several polygons of one class are united.
    pub fn rasterize(&self, height: usize, width: usize, rule: FillRule) -> ClassMasks {
        let mut masks = ClassMasks::new(height, width);
        for polygon in &self.polygons {
            fill_poly(masks.class_mut(polygon.class), &polygon.points, rule);
        }
        masks
    }

    /// The file's JSON text in the competition's layout (field order as in the originals).
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            annotations: Vec<OutAnnotation<'a>>,
            filename: &'a str,
        }
        #[derive(serde::Serialize)]
        struct OutAnnotation<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            attributes: serde_json::Map<String, Value>,
            points: &'a [[i32; 2]],
            label: &'a str,
        }
        let out = Out {
            annotations: self
                .polygons
                .iter()
                .map(|p| OutAnnotation {
                    id: &p.id,
                    kind: "poly_seg",
                    attributes: serde_json::Map::new(),
                    points: &p.points,
                    label: CLASSES[p.class],
                })
                .collect(),
            filename: self.filename.as_deref().unwrap_or_default(),
        };
        serde_json::to_string(&out).expect("annotations always serialise")
    }
}

/// A JSON syntax error, explained: Python's `json.dump` writes NaN and Infinity as bare words
/// that are not JSON, a common way for a coordinate to break a file.
fn syntax_problem(text: &str, error: &serde_json::Error) -> AnnotationProblem {
    let (line, column) = (error.line(), error.column());
    let at = text
        .lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.get(column.saturating_sub(1)..))
        .unwrap_or("");
    let message = match ["NaN", "Infinity", "-Infinity"].iter().find(|w| at.starts_with(*w)) {
        Some(word) => format!(
            "`{word}` is not a number in JSON (Python writes it for NaN/inf coordinates); fix the point"
        ),
        None => error.to_string().split(" at line").next().unwrap_or_default().to_string(),
    };
    AnnotationProblem::Syntax { line, column, message }
}

fn parse_polygon(value: &Value) -> Result<Polygon, PolygonProblem> {
    let object = value.as_object().ok_or(PolygonProblem::NotAnObject)?;
    let label = object.get("label").and_then(Value::as_str).ok_or(PolygonProblem::MissingLabel)?;
    let class = class_index(label).ok_or_else(|| PolygonProblem::UnknownLabel(label.to_string()))?;
    let points = object.get("points").and_then(Value::as_array).ok_or(PolygonProblem::MissingPoints)?;
    let points = points
        .iter()
        .enumerate()
        .map(|(point, value)| parse_point(point, value))
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 3 {
        return Err(PolygonProblem::TooFewPoints(points.len()));
    }
    let id = object.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(Polygon { id, class, points })
}

fn parse_point(point: usize, value: &Value) -> Result<[i32; 2], PolygonProblem> {
    let pair = value
        .as_array()
        .filter(|pair| pair.len() == 2)
        .ok_or_else(|| PolygonProblem::BadPoint { point, found: value.to_string() })?;
    let coordinate = |v: &Value| -> Result<i32, PolygonProblem> {
        let non_integer = || PolygonProblem::NonInteger { point, found: v.to_string() };
        let too_large = || PolygonProblem::TooLarge { point, found: v.to_string() };
        if let Some(i) = v.as_i64() {
            return i32::try_from(i).map_err(|_| too_large());
        }
        if v.is_u64() {
            return Err(too_large());
        }
        // 12.0 is accepted as 12; 12.5, strings and nulls are not.
        match v.as_f64() {
            Some(f) if f.fract() != 0.0 || !f.is_finite() => Err(non_integer()),
            Some(f) if f.abs() <= i32::MAX as f64 => Ok(f as i32),
            Some(_) => Err(too_large()),
            None => Err(non_integer()),
        }
    };
    Ok([coordinate(&pair[0])?, coordinate(&pair[1])?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(annotations: &str) -> String {
        format!(r#"{{"annotations": [{annotations}], "filename": "a.png"}}"#)
    }

    fn square(label: &str, x: i32) -> String {
        format!(
            r#"{{"id": "p", "type": "poly_seg", "attributes": {{}}, "points": [[{x},1],[{},1],[{},4],[{x},4]], "label": "{label}"}}"#,
            x + 3,
            x + 3
        )
    }

    #[test]
    fn parses_the_competition_layout() {
        let parsed =
            AnnotationFile::parse(&file(&[square("finger-1", 1), square("Ulna", 5)].join(","))).unwrap();
        assert_eq!(parsed.filename.as_deref(), Some("a.png"));
        assert_eq!(parsed.polygons.len(), 2);
        assert_eq!(parsed.polygons[1].class, 28);
        assert_eq!(parsed.polygons[0].points[1], [4, 1]);
        let again = AnnotationFile::parse(&parsed.to_json()).unwrap();
        assert_eq!(again, parsed, "to_json round-trips");
    }

    #[test]
    fn duplicate_classes_are_united_and_reported() {
        let parsed =
            AnnotationFile::parse(&file(&[square("Lunate", 0), square("Lunate", 10)].join(","))).unwrap();
        let duplicates = parsed.duplicate_classes();
        assert_eq!(duplicates, vec![DuplicateClass { class: 24, annotations: vec![0, 1] }]);
        assert!(duplicates[0].to_string().contains("annotations[0], annotations[1]"));
        let masks = parsed.rasterize(8, 16, FillRule::default());
        assert_eq!(masks.class(24).count(), 2 * 4 * 4, "both squares are filled");
    }

    #[test]
    fn problems_name_the_place() {
        let problem = |text: &str| AnnotationFile::parse(text).unwrap_err().to_string();
        assert!(problem("{\"annotations\": [").contains("line 1"));
        assert!(problem("{}").contains("no `annotations`"));
        assert!(
            problem(&file(&square("finger-20", 0)))
                .contains("annotations[0] (finger-20): unknown label `finger-20`")
        );
        let two_points = r#"{"label": "Radius", "points": [[1,1],[2,2]]}"#;
        assert!(problem(&file(two_points)).contains("has 2 point(s)"));
        let fractional = r#"{"label": "Radius", "points": [[1,1],[2.5,2],[3,3]]}"#;
        assert!(problem(&file(fractional)).contains("points[1] has coordinate `2.5`"));
        let string = r#"{"label": "Radius", "points": [[1,1],[2,"NaN"],[3,3]]}"#;
        assert!(problem(&file(string)).contains("`\"NaN\"`, which is not an integer"));
        let nan = "{\"annotations\": [{\"label\": \"Radius\",\n \"points\": [[1, NaN], [2, 2], [3, 3]]}]}";
        let err = problem(nan);
        assert!(err.contains("line 2, column 17: `NaN` is not a number in JSON"), "{err}");
        let huge = r#"{"label": "Radius", "points": [[1,1],[1099511627776,2],[3,3]]}"#;
        assert!(
            problem(&file(huge)).contains("points[1] has coordinate `1099511627776`, which is far too large")
        );
        let huge_float = problem(&file(r#"{"label": "Radius", "points": [[1,1],[2,2],[1e300,3]]}"#));
        assert!(
            huge_float.contains("points[2] has coordinate `1e+300`, which is far too large"),
            "{huge_float}"
        );
        let whole = r#"{"label": "Radius", "points": [[1.0,1],[2,2],[3,3]]}"#;
        assert!(AnnotationFile::parse(&file(whole)).is_ok(), "integer-valued floats are accepted");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let text = format!("\u{feff}{}", file(&square("Ulna", 1)));
        assert_eq!(AnnotationFile::parse(&text).unwrap().polygons.len(), 1);
    }

    #[test]
    fn points_outside_the_image_are_reported() {
        let parsed = AnnotationFile::parse(&file(&square("Capitate", 6))).unwrap();
        assert!(parsed.check_inside(10, 10).is_ok());
        let err = parsed.check_inside(10, 8).unwrap_err().to_string();
        assert!(
            err.contains("annotations[0] (Capitate): points[1] = [9, 1] lies outside the 8x10 image"),
            "{err}"
        );
        let outside = parsed.points_outside(10, 8);
        assert_eq!(outside.len(), 1);
        let warning = outside[0].to_string();
        assert!(
            warning.contains(
                "annotations[0] (Capitate): points[1] = [9, 1] and 1 more outside the 8x10 image; clipped"
            ),
            "{warning}"
        );
    }
}
