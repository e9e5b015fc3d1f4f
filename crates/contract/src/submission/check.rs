//! `boneseg submission check`: every problem of a submission, each with its line number, against
//! the list of test images it must cover.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::rows::{RowProblem, Rows};
use crate::classes::{CLASSES, NUM_CLASSES, class_index};
use crate::rle::{self, RleError};

/// A test image the submission must cover, in the expected order.
#[derive(Clone, Debug)]
pub struct ExpectedImage {
    /// Base name, as in the `image_name` column.
    pub name: String,
    pub height: usize,
    pub width: usize,
}

/// One problem; `line` is `None` for problems of the file as a whole (missing rows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<u64>,
    pub kind: ProblemKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    Row(RowProblem),
    UnknownImage {
        image: String,
    },
    UnknownClass {
        image: String,
        class: String,
    },
    Duplicate {
        image: String,
        class: String,
        first_line: u64,
    },
    OutOfOrder {
        image: String,
        class: String,
        after_image: String,
        after_class: String,
        after_line: u64,
    },
    Rle {
        image: String,
        class: String,
        error: RleError,
    },
    /// Rows missing for one image: the classes, in class order.
    Missing {
        image: String,
        classes: Vec<usize>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::Row(problem) => write!(f, "{problem}"),
            ProblemKind::UnknownImage { image } if image.contains(['/', '\\']) => {
                write!(
                    f,
                    "image `{image}` is not one of the test images: image_name is the file's base name, without folders"
                )
            }
            ProblemKind::UnknownImage { image } => {
                write!(f, "image `{image}` is not one of the test images (extra row)")
            }
            ProblemKind::UnknownClass { image, class } => {
                write!(f, "{image}: unknown class `{class}` (extra row)")
            }
            ProblemKind::Duplicate { image, class, first_line } => {
                write!(f, "{image} / {class}: duplicate row (first at line {first_line})")
            }
            ProblemKind::OutOfOrder { image, class, after_image, after_class, after_line } => write!(
                f,
                "{image} / {class}: out of order, it must come before {after_image} / {after_class} \
                 (line {after_line}); images go in sorted path order, classes in class order"
            ),
            ProblemKind::Rle { image, class, error } => {
                write!(f, "{image} / {class}: malformed RLE: {error}")
            }
            ProblemKind::Missing { image, classes } if classes.len() == NUM_CLASSES => {
                write!(f, "{image}: all 29 rows are missing")
            }
            ProblemKind::Missing { image, classes } => {
                let names: Vec<_> = classes.iter().map(|&c| CLASSES[c]).collect();
                write!(f, "{image}: missing rows for {}", names.join(", "))
            }
        }
    }
}

/// The outcome of a check.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    pub problems: Vec<Problem>,
    /// Data rows read.
    pub rows: u64,
    /// Rows expected (29 per test image).
    pub expected_rows: u64,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the submission at `path` against the test images, in their expected order.
///
/// Every row is read; a problem never stops the check. Only an unreadable file is an error.
pub fn check(path: &Path, expected: &[ExpectedImage]) -> std::io::Result<CheckReport> {
    let positions: HashMap<&str, usize> =
        expected.iter().enumerate().map(|(i, e)| (e.name.as_str(), i)).collect();
    let mut report =
        CheckReport { expected_rows: (expected.len() * NUM_CLASSES) as u64, ..Default::default() };
    // Line of the row seen for each expected (image, class) slot.
    let mut seen: Vec<Option<u64>> = vec![None; expected.len() * NUM_CLASSES];
    // The furthest slot reached so far, for the order check.
    let mut furthest: Option<(usize, u64)> = None;
    let mut problem = |line: Option<u64>, kind| report.problems.push(Problem { line, kind });

    for row in Rows::open(path)? {
        let row = match row {
            Ok(row) => row,
            Err((line, row_problem)) => {
                problem(Some(line), ProblemKind::Row(row_problem));
                continue;
            }
        };
        report.rows += 1;
        let line = Some(row.line);
        let Some(&image) = positions.get(row.image_name.as_str()) else {
            problem(line, ProblemKind::UnknownImage { image: row.image_name });
            continue;
        };
        let Some(class) = class_index(&row.class) else {
            problem(line, ProblemKind::UnknownClass { image: row.image_name, class: row.class });
            continue;
        };
        let slot = image * NUM_CLASSES + class;
        if let Some(first_line) = seen[slot] {
            problem(line, ProblemKind::Duplicate { image: row.image_name, class: row.class, first_line });
            continue;
        }
        seen[slot] = Some(row.line);
        match furthest {
            Some((after, after_line)) if slot < after => problem(
                line,
                ProblemKind::OutOfOrder {
                    image: row.image_name.clone(),
                    class: row.class.clone(),
                    after_image: expected[after / NUM_CLASSES].name.clone(),
                    after_class: CLASSES[after % NUM_CLASSES].to_string(),
                    after_line,
                },
            ),
            _ => furthest = Some((slot, row.line)),
        }
        let pixels = (expected[image].height * expected[image].width) as u64;
        for error in rle::problems(&row.rle, pixels) {
            problem(
                line,
                ProblemKind::Rle { image: row.image_name.clone(), class: row.class.clone(), error },
            );
        }
    }

    for (image, slots) in seen.chunks(NUM_CLASSES).enumerate() {
        let classes: Vec<usize> = (0..NUM_CLASSES).filter(|&c| slots[c].is_none()).collect();
        if !classes.is_empty() {
            problem(None, ProblemKind::Missing { image: expected[image].name.clone(), classes });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn expected(names: &[&str]) -> Vec<ExpectedImage> {
        names.iter().map(|n| ExpectedImage { name: n.to_string(), height: 4, width: 4 }).collect()
    }

    fn good_rows(images: &[&str]) -> Vec<String> {
        images.iter().flat_map(|i| CLASSES.iter().map(move |c| format!("{i},{c},1 2"))).collect()
    }

    fn check_text(text: &str, images: &[&str]) -> CheckReport {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        check(file.path(), &expected(images)).unwrap()
    }

    fn lines(rows: &[String]) -> String {
        format!("image_name,class,rle\n{}\n", rows.join("\n"))
    }

    #[test]
    fn a_correct_submission_has_no_problem() {
        let report = check_text(&lines(&good_rows(&["a.png", "b.png"])), &["a.png", "b.png"]);
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(report.rows, 58);
        let with_empty_masks =
            lines(&good_rows(&["a.png"]).iter().map(|r| r.replace(",1 2", ",")).collect::<Vec<_>>());
        assert!(check_text(&with_empty_masks, &["a.png"]).is_ok());
    }

    #[test]
    fn finds_seeded_defects_with_their_lines() {
        let mut rows = good_rows(&["a.png", "b.png"]);
        rows[3] = "a.png,finger-4,1 2 3".into(); // line 5: odd count
        rows[4] = "a.png,finger-5,0 1".into(); // line 6: zero start
        rows[5] = "a.png,finger-6,1 x".into(); // line 7: not a number
        rows[6] = "a.png,finger-7,16 2".into(); // line 8: out of range (16 px)
        rows[7] = "a.png,finger-8,5 1 2 1".into(); // line 9: unsorted
        rows[8] = "a.png,finger-9,1 3 2 1".into(); // line 10: overlapping
        rows[9] = "a.png,finger-10,4 0".into(); // line 11: zero length
        rows.swap(30, 31); // lines 32/33: b finger-3 before b finger-2
        rows[40] = rows[39].clone(); // line 42: duplicate of b finger-11 (line 41), b finger-12 missing
        rows.push("c.png,finger-1,".into()); // line 60: unknown image
        rows.push("ID001/a.png,finger-1,".into()); // line 61: a path instead of a name
        rows.push("b.png,finger-0,".into()); // line 62: unknown class
        rows.push("b.png,Ulna".into()); // line 63: wrong field count
        rows.remove(28); // a.png Ulna missing; everything after moves up one line
        let report = check_text(&lines(&rows), &["a.png", "b.png"]);
        let text: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        let expect = [
            "line 5: a.png / finger-4: malformed RLE: odd number of values (3)",
            "line 6: a.png / finger-5: malformed RLE: run 1 starts at 0",
            "line 7: a.png / finger-6: malformed RLE: token 2 (`x`)",
            "line 8: a.png / finger-7: malformed RLE: run 1 (16 2) ends past the last pixel (16)",
            "line 9: a.png / finger-8: malformed RLE: run 2 starts at 2, before",
            "line 10: a.png / finger-9: malformed RLE: run 2 starts at 2, inside the previous run",
            "line 11: a.png / finger-10: malformed RLE: run 1 (start 4) has length 0",
            "line 32: b.png / finger-2: out of order, it must come before b.png / finger-3 (line 31)",
            "line 41: b.png / finger-11: duplicate row (first at line 40)",
            "line 59: image `c.png` is not one of the test images",
            "line 60: image `ID001/a.png` is not one of the test images: image_name is the file's base name",
            "line 61: b.png: unknown class `finger-0`",
            "line 62: 2 fields, expected 3",
            "a.png: missing rows for Ulna",
            "b.png: missing rows for finger-12",
        ];
        assert_eq!(text.len(), expect.len(), "{text:#?}");
        for (found, wanted) in text.iter().zip(expect) {
            assert!(found.starts_with(wanted), "{found:?} should start with {wanted:?}");
        }
    }

    #[test]
    fn bad_header_and_empty_file() {
        let report = check_text("image,class,rle\n", &["a.png"]);
        assert_eq!(
            report.problems[0].to_string(),
            "line 1: bad header `image,class,rle`: expected `image_name,class,rle`"
        );
        assert_eq!(report.problems[1].to_string(), "a.png: all 29 rows are missing");
        let report = check_text("", &["a.png"]);
        assert!(report.problems[0].to_string().contains("the file is empty"));
    }
}
