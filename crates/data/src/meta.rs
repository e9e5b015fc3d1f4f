//! The person table `meta_data.xlsx`: one row per person, Korean headers.
//!
//! | header         | meaning                                                        |
//! |----------------|----------------------------------------------------------------|
//! | `ID`           | person id (integer; folder `ID001` is 1)                        |
//! | `나이`          | age                                                            |
//! | `성별`          | gender: `남` male / `여` female, with a stray `_x0008_` before   |
//! | `체중(몸무게)`   | weight, kg                                                     |
//! | `키(신장)`       | height, cm                                                     |
//! | (no header)    | remarks: `네일있음` means nail art                               |
//!
//! The same table is accepted as CSV (UTF-8, optionally with a byte-order mark); a remark column
//! exported by pandas as `Unnamed: 5` is recognised.

use std::path::{Path, PathBuf};

use boneseg_contract::PersonId;
use boneseg_contract::atomic::write_atomic;
use calamine::{Reader, open_workbook_auto};

use crate::error::DataError;

pub const ID: &str = "ID";
pub const AGE: &str = "나이";
pub const GENDER: &str = "성별";
pub const WEIGHT: &str = "체중(몸무게)";
pub const HEIGHT: &str = "키(신장)";
/// The remark that marks nail art.
pub const NAIL_ART: &str = "네일있음";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// The value as the competition file writes it (without the stray control character).
    pub fn korean(self) -> &'static str {
        match self {
            Gender::Male => "남",
            Gender::Female => "여",
        }
    }

    /// Reads `남`/`여` (also 남자/여자, 남성/여성, M/F, male/female), ignoring the stray
    /// `_x0008_` of the competition file in either its escaped or its decoded form.
    pub fn parse(raw: &str) -> Option<Gender> {
        let cleaned = strip_xml_escapes(raw);
        let cleaned: String = cleaned.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect();
        match cleaned.to_lowercase().as_str() {
            "남" | "남자" | "남성" | "m" | "male" => Some(Gender::Male),
            "여" | "여자" | "여성" | "f" | "female" => Some(Gender::Female),
            _ => None,
        }
    }
}

/// Removes OOXML character escapes like `_x0008_` left as literal text (`_x005F_` is an escaped
/// underscore, so `_x005F_x0008_` is a literal `_x0008_`).
fn strip_xml_escapes(text: &str) -> String {
    let text = text.replace("_x005F_", "_");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("_x") {
        let candidate = rest.as_bytes().get(at + 2..at + 7);
        let is_escape = candidate.is_some_and(|c| c[..4].iter().all(u8::is_ascii_hexdigit) && c[4] == b'_');
        let skip = if is_escape { 7 } else { 2 };
        out.push_str(&rest[..at]);
        if !is_escape {
            out.push_str("_x");
        }
        rest = &rest[at + skip..];
    }
    out.push_str(rest);
    out
}

/// One person.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonMeta {
    pub id: PersonId,
    pub age: u32,
    pub gender: Gender,
    pub weight_kg: f64,
    pub height_cm: f64,
    /// The unnamed remark column (`네일있음` = nail art), when not empty.
    pub remark: Option<String>,
}

impl PersonMeta {
    pub fn nail_art(&self) -> bool {
        self.remark.as_deref().is_some_and(|r| r.contains("네일"))
    }
}

/// The table, in file order.
#[derive(Clone, Debug)]
pub struct MetaTable {
    pub path: PathBuf,
    pub people: Vec<PersonMeta>,
}

impl MetaTable {
    pub fn get(&self, id: PersonId) -> Option<&PersonMeta> {
        self.people.iter().find(|p| p.id == id)
    }
}

/// `meta_data.xlsx` or `meta_data.csv` in a dataset root, if there is one.
pub fn find(root: &Path) -> Option<PathBuf> {
    ["meta_data.xlsx", "meta_data.csv"].iter().map(|name| root.join(name)).find(|p| p.is_file())
}

/// Reads the table from `.xlsx` (first sheet) or `.csv`; the first problem is the error.
pub fn read(path: &Path) -> Result<MetaTable, DataError> {
    let (table, mut problems) = read_all(path);
    match table {
        Some(table) if problems.is_empty() => Ok(table),
        _ => Err(problems.remove(0)),
    }
}

/// Reads the table and every problem in it: the rows that read well (`None` when the file or
/// its header cannot be read), and one error per bad row.
pub fn read_all(path: &Path) -> (Option<MetaTable>, Vec<DataError>) {
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let cells = if is_csv { read_csv_cells(path) } else { read_xlsx_cells(path) };
    match cells {
        Ok((cells, first_row)) => parse_table(path, &cells, first_row, if is_csv { "line" } else { "row" }),
        Err(problem) => (None, vec![problem]),
    }
}

/// Cells as text, and the 1-based row number of the first row.
fn read_xlsx_cells(path: &Path) -> Result<(Vec<Vec<String>>, usize), DataError> {
    let unreadable = |e: calamine::Error| DataError::table(path, "workbook", format!("cannot read: {e}"));
    let mut workbook = open_workbook_auto(path).map_err(unreadable)?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| DataError::table(path, "workbook", "has no sheet"))?
        .map_err(unreadable)?;
    let first_row = range.start().map_or(1, |(row, _)| row as usize + 1);
    let cells = range.rows().map(|row| row.iter().map(|cell| cell.to_string()).collect()).collect();
    Ok((cells, first_row))
}

fn read_csv_cells(path: &Path) -> Result<(Vec<Vec<String>>, usize), DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| DataError::table(path, "file", format!("cannot read: {e}")))?;
    let mut cells = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let problem = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 (save the CSV as UTF-8)".to_string(),
                _ => e.to_string(),
            };
            DataError::table(path, format!("line {line}"), problem)
        })?;
        cells.push(record.iter().map(|f| f.trim_start_matches('\u{feff}').to_string()).collect());
    }
    Ok((cells, 1))
}

/// The people of the rows that read well, and a problem for each row that does not.
fn parse_table(
    path: &Path,
    cells: &[Vec<String>],
    first_row: usize,
    row_word: &str,
) -> (Option<MetaTable>, Vec<DataError>) {
    let Some(header) = cells.first() else {
        return (None, vec![DataError::table(path, "header", "the table is empty")]);
    };
    let header: Vec<&str> = header.iter().map(|h| h.trim()).collect();
    let column = |name: &str| header.iter().position(|&h| h == name);
    let required = [ID, AGE, GENDER, WEIGHT, HEIGHT];
    let missing: Vec<&str> = required.iter().copied().filter(|&name| column(name).is_none()).collect();
    if !missing.is_empty() {
        let problem = format!("missing column(s) {}; found {}", quoted(&missing), quoted(&header));
        return (None, vec![DataError::table(path, "header", problem)]);
    }
    let [id, age, gender, weight, height] = required.map(|name| column(name).expect("checked above"));
    // The remark column has no header (pandas calls it `Unnamed: N`); it comes after `ID`.
    let remark = header
        .iter()
        .enumerate()
        .skip(id + 1)
        .find(|(_, h)| h.is_empty() || h.starts_with("Unnamed"))
        .map(|(i, _)| i);

    let mut people: Vec<PersonMeta> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for (offset, row) in cells.iter().enumerate().skip(1) {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let row =
            parse_row(path, row, first_row + offset, row_word, [id, age, gender, weight, height], remark);
        match row {
            Ok(person) if !seen.insert(person.id) => problems.push(DataError::table(
                path,
                format!("{row_word} {}, column {ID}", first_row + offset),
                format!("person {} appears twice", person.id),
            )),
            Ok(person) => people.push(person),
            Err(problem) => problems.push(problem),
        }
    }
    (Some(MetaTable { path: path.to_path_buf(), people }), problems)
}

/// One person from row `line`, whose required columns are at `columns` (ID, age, gender,
/// weight, height).
fn parse_row(
    path: &Path,
    row: &[String],
    line: usize,
    row_word: &str,
    [id, age, gender, weight, height]: [usize; 5],
    remark: Option<usize>,
) -> Result<PersonMeta, DataError> {
    let cell = |i: usize| row.get(i).map_or("", |c| c.trim());
    let place = |name: &str| format!("{row_word} {line}, column {name}");
    let bad = |name: &str, expected: &str, i: usize| {
        DataError::table(path, place(name), format!("cannot read `{}`: expected {expected}", cell(i)))
    };
    let number = |name: &str, i: usize| -> Result<f64, DataError> {
        cell(i).parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| bad(name, "a number", i))
    };
    let person_id = number(ID, id)?;
    if person_id < 0.0 || person_id.fract() != 0.0 {
        return Err(bad(ID, "a whole person number like 1 for ID001", id));
    }
    let person_age = number(AGE, age)?;
    if person_age < 0.0 || person_age.fract() != 0.0 {
        return Err(bad(AGE, "a whole number of years", age));
    }
    Ok(PersonMeta {
        id: PersonId(person_id as u32),
        age: person_age as u32,
        gender: Gender::parse(cell(gender)).ok_or_else(|| bad(GENDER, "남 (male) or 여 (female)", gender))?,
        weight_kg: number(WEIGHT, weight)?,
        height_cm: number(HEIGHT, height)?,
        remark: remark.map(cell).filter(|r| !r.is_empty()).map(str::to_string),
    })
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Writes the table as the competition's `meta_data.xlsx`: same headers, an unnamed remark
/// column, and the stray control character before the gender that the original file carries
/// (it is stored as `_x0008_`).
pub fn write_xlsx(path: &Path, people: &[PersonMeta]) -> Result<(), DataError> {
    let xlsx_error =
        |e: rust_xlsxwriter::XlsxError| DataError::table(path, "workbook", format!("cannot write: {e}"));
    let mut workbook = rust_xlsxwriter::Workbook::new();
    // A fixed creation date in place of the clock's: the same people give the same bytes (the
    // phantom's datasets are reproducible byte for byte from their seed).
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2000, 1, 1).map_err(xlsx_error)?;
    workbook.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let sheet = workbook.add_worksheet();
    for (col, name) in [ID, AGE, GENDER, WEIGHT, HEIGHT].iter().enumerate() {
        sheet.write_string(0, col as u16, *name).map_err(xlsx_error)?;
    }
    for (i, person) in people.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_number(row, 0, person.id.0).map_err(xlsx_error)?;
        sheet.write_number(row, 1, person.age).map_err(xlsx_error)?;
        sheet.write_string(row, 2, format!("\u{8}{}", person.gender.korean())).map_err(xlsx_error)?;
        sheet.write_number(row, 3, person.weight_kg).map_err(xlsx_error)?;
        sheet.write_number(row, 4, person.height_cm).map_err(xlsx_error)?;
        if let Some(remark) = &person.remark {
            sheet.write_string(row, 5, remark).map_err(xlsx_error)?;
        }
    }
    let bytes = workbook.save_to_buffer().map_err(xlsx_error)?;
    write_atomic(path, &bytes).map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Vec<PersonMeta> {
        vec![
            PersonMeta {
                id: PersonId(1),
                age: 30,
                gender: Gender::Female,
                weight_kg: 55.5,
                height_cm: 162.0,
                remark: Some(NAIL_ART.into()),
            },
            PersonMeta {
                id: PersonId(2),
                age: 41,
                gender: Gender::Male,
                weight_kg: 80.0,
                height_cm: 178.0,
                remark: None,
            },
        ]
    }

    #[test]
    fn xlsx_round_trip_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta_data.xlsx");
        write_xlsx(&path, &people()).unwrap();
        let table = read(&path).unwrap();
        assert_eq!(table.people, people());
        assert!(table.people[0].nail_art());
        assert!(!table.people[1].nail_art());
    }

    #[test]
    fn the_same_people_give_the_same_bytes_at_any_time() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("first.xlsx"), dir.path().join("second.xlsx"));
        write_xlsx(&first, &people()).unwrap();
        // The workbook's properties carry a creation time to the second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        write_xlsx(&second, &people()).unwrap();
        assert!(std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap());
    }

    #[test]
    fn gender_tolerates_the_stray_escape() {
        for raw in ["_x0008_남", "\u{8}남", "남", " 남자 ", "M", "_x005F_x0008_남"] {
            assert_eq!(Gender::parse(raw), Some(Gender::Male), "{raw:?}");
        }
        assert_eq!(Gender::parse("_x0008_여"), Some(Gender::Female));
        assert_eq!(Gender::parse("?"), None);
        assert_eq!(strip_xml_escapes("a_xZZ_b"), "a_xZZ_b");
    }

    #[test]
    fn csv_with_pandas_headers_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta_data.csv");
        std::fs::write(&path, "\u{feff}ID,나이,성별,체중(몸무게),키(신장),Unnamed: 5\n1,30,_x0008_여,55.5,162,네일있음\n2,41,_x0008_남,80,178,\n")
            .unwrap();
        assert_eq!(read(&path).unwrap().people, people());
    }

    #[test]
    fn errors_name_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta_data.csv");
        std::fs::write(&path, "ID,나이,성별,키(신장)\n1,30,여,162\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("header: missing column(s) `체중(몸무게)`"), "{err}");
        std::fs::write(&path, "ID,나이,성별,체중(몸무게),키(신장)\n1,30,여,55,162\n2,41,?,80,178\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 3, column 성별: cannot read `?`: expected 남 (male) or 여 (female)"),
            "{err}"
        );
        std::fs::write(&path, "ID,나이,성별,체중(몸무게),키(신장)\n1,30,여,55,162\n1,41,남,80,178\n")
            .unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("person ID001 appears twice"));
    }

    #[test]
    fn every_bad_row_is_reported_and_the_good_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta_data.csv");
        std::fs::write(
            &path,
            "ID,나이,성별,체중(몸무게),키(신장)\n1,x,여,55,162\n2,41,남,80,178\n3,50,?,70,170\n",
        )
        .unwrap();
        let (table, problems) = read_all(&path);
        assert_eq!(table.unwrap().people.len(), 1);
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("line 2, column 나이") && problems[1].contains("line 4, column 성별"));
    }
}
