//! The catalogue of bad inputs: each gets a clear error naming the file and the place, a non-zero
//! exit, never a panic, and never a half-written output.

use std::path::{Path, PathBuf};

use crate::support::{Run, boneseg, copy_corpus, file_names, s, submission_from_labels, train_pairs};

/// `submission from-labels` on a dataset's training set, writing into `dir`.
fn from_labels(data: &Path, out: &Path, extra: &[&str]) -> Run {
    let (labels, images) = (data.join("train/outputs_json"), data.join("train/DCM"));
    let mut args =
        vec!["submission", "from-labels", "--labels", s(&labels), "--images", s(&images), "--out", s(out)];
    args.extend_from_slice(extra);
    boneseg(&args)
}

/// A fresh copy of the corpus and the path of an output that must not appear on failure.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = copy_corpus(dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("submission.csv");
    (dir, data, out)
}

/// Fails, names the place, and leaves the output folder empty.
fn fails_cleanly(run: Run, out: &Path, fragments: &[&str]) {
    run.expect(2).says(fragments);
    assert!(file_names(out.parent().unwrap()).is_empty(), "no half-written output is left behind");
}

/// Rewrites a label file through a text edit.
fn edit_label(label: &Path, edit: impl Fn(String) -> String) {
    let text = std::fs::read_to_string(label).unwrap();
    std::fs::write(label, edit(text)).unwrap();
}

/// Replaces the points of annotation `index` with `points` (JSON text), on the compact text the
/// phantom writes.
fn set_points(label: &Path, index: usize, points: &str) {
    edit_label(label, |mut text| {
        let key = "\"points\":";
        let start = text.match_indices(key).nth(index).expect("annotation exists").0 + key.len();
        let end = start + text[start..].find("]],").expect("points end") + 2;
        text.replace_range(start..end, points);
        text
    });
}

#[test]
fn truncated_png() {
    let (_dir, data, out) = setup();
    let (image, _) = train_pairs(&data, 1).remove(0);
    let bytes = std::fs::read(&image).unwrap();
    std::fs::write(&image, &bytes[..bytes.len() / 3]).unwrap();
    boneseg(&["data", "check", "--data", s(&data)]).expect(1).says(&[s(&image), "truncated PNG"]);
    fails_cleanly(boneseg(&["show", s(&image), "--out", s(&out)]), &out, &[s(&image), "truncated PNG"]);
}

#[test]
fn not_an_image() {
    let (_dir, data, out) = setup();
    let (image, _) = train_pairs(&data, 1).remove(0);
    std::fs::write(&image, b"GIF89a\x10\x00\x10\x00").unwrap();
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&image), "not a PNG or JPEG file: it is a GIF"]);
    // A JPEG's start under a PNG's name is read as the JPEG it is, and is cut short.
    std::fs::write(&image, [0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F']).unwrap();
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&image), "JPEG"]);
}

#[test]
fn unexpected_image_size() {
    let (_dir, data, out) = setup();
    let (image, _) = train_pairs(&data, 2).remove(1);
    // The dataset's images are 256x256.
    image::GrayImage::new(300, 256).save(&image).unwrap();
    fails_cleanly(
        from_labels(&data, &out, &[]),
        &out,
        &[s(&image), "unexpected image size 300x256; the other images are 256x256"],
    );
}

#[test]
fn json_syntax_error() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    edit_label(&label, |t| t.replacen("\"label\":", "\"label\"", 1));
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&label), "invalid JSON at line 1, column"]);
}

#[test]
fn missing_annotations() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    edit_label(&label, |t| t.replacen("\"annotations\"", "\"shapes\"", 1));
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&label), "no `annotations` field"]);
}

#[test]
fn unknown_label() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    edit_label(&label, |t| t.replacen("\"label\":\"finger-4\"", "\"label\":\"finger-20\"", 1));
    fails_cleanly(
        from_labels(&data, &out, &[]),
        &out,
        &[s(&label), "annotations[3] (finger-20): unknown label `finger-20`"],
    );
}

#[test]
fn polygon_with_too_few_points() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    set_points(&label, 5, "[[10,10],[20,20]]");
    fails_cleanly(
        from_labels(&data, &out, &[]),
        &out,
        &[s(&label), "annotations[5] (finger-6): has 2 point(s)"],
    );
}

#[test]
fn non_integer_coordinate() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    set_points(&label, 2, "[[10,10],[20.5,20],[10,30]]");
    fails_cleanly(
        from_labels(&data, &out, &[]),
        &out,
        &[s(&label), "annotations[2] (finger-3): points[1] has coordinate `20.5`"],
    );
}

#[test]
fn nan_coordinate() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    set_points(&label, 2, "[[10,10],[NaN,20],[10,30]]");
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&label), "`NaN` is not a number in JSON"]);
}

#[test]
fn huge_coordinate() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    set_points(&label, 2, "[[10,10],[1099511627776,20],[10,30]]");
    fails_cleanly(
        from_labels(&data, &out, &[]),
        &out,
        &[s(&label), "points[1] has coordinate `1099511627776`, which is far too large"],
    );
}

/// Annotation tools put points on the far border (x == width) and beyond: clipped as OpenCV's
/// fillPoly clips them, with a warning naming the point; `--strict-points` refuses them.
#[test]
fn point_outside_the_image() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    set_points(&label, 27, "[[10,10],[300,20],[256,30],[10,30]]");
    from_labels(&data, &out, &[]).expect(0).says(&[
        s(&label),
        "annotations[27] (Radius): points[1] = [300, 20] and 1 more outside the 256x256 image; clipped",
    ]);
    boneseg(&["data", "check", "--data", s(&data)]).expect(0).says(&["warning:", "points[1] = [300, 20]"]);
    std::fs::remove_file(&out).unwrap();
    fails_cleanly(
        from_labels(&data, &out, &["--strict-points"]),
        &out,
        &[s(&label), "annotations[27] (Radius): points[1] = [300, 20] lies outside the 256x256 image"],
    );
}

#[test]
fn label_with_a_byte_order_mark() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    edit_label(&label, |t| format!("\u{feff}{t}"));
    from_labels(&data, &out, &[]).expect(0);
    boneseg(&["data", "check", "--data", s(&data)]).expect(0);
}

/// With no size shared by most images, neither is blamed alone: both are named.
#[test]
fn two_images_of_two_sizes() {
    let (dir, data, _) = setup();
    let two = dir.path().join("two");
    let person = data.join("test/DCM").read_dir().unwrap().next().unwrap().unwrap().path();
    let copy = two.join("test/DCM").join(person.file_name().unwrap());
    crate::support::copy_dir(&person, &copy);
    let mut pair: Vec<PathBuf> = copy.read_dir().unwrap().map(|e| e.unwrap().path()).collect();
    pair.sort();
    image::GrayImage::new(300, 256).save(&pair[1]).unwrap();
    boneseg(&["data", "check", "--data", s(&two)]).expect(1).says(&[
        s(&pair[0]),
        "256x256",
        s(&pair[1]),
        "300x256",
        "no size is shared by most",
    ]);
}

/// A person folder that is a symbolic link is listed like any other; a link loop is an error,
/// never a silent skip.
#[test]
fn symlinked_person_folder() {
    let (dir, data, _) = setup();
    let test = data.join("test/DCM");
    let person = test.read_dir().unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let moved = dir.path().join("elsewhere");
    std::fs::rename(&person, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &person).unwrap();
    let out = dir.path().join("sub.csv");
    let labels = data.join("test_labels");
    submission_from_labels(&labels, &test, &out).expect(0).says(&["4 images"]);
    boneseg(&["submission", "check", s(&out), "--images", s(&test)]).expect(0);
    std::os::unix::fs::symlink(&test, moved.join("loop")).unwrap();
    boneseg(&["data", "check", "--data", s(&data)])
        .expect(1)
        .says(&["loop: a symbolic link to a folder already listed"]);
}

/// `data check` reports every problem: a broken meta table does not hide a truncated image or
/// two test images that a submission could not tell apart.
#[test]
fn data_check_reports_everything() {
    let (_dir, data, _) = setup();
    let (image, _) = train_pairs(&data, 1).remove(0);
    let bytes = std::fs::read(&image).unwrap();
    std::fs::write(&image, &bytes[..bytes.len() / 3]).unwrap();
    let meta = data.join("meta_data.xlsx");
    write_meta(&meta, &["ID", "나이", "성별", "키(신장)"], &[&["1", "30", "_x0008_여", "160"]]);
    let test = data.join("test/DCM");
    let mut people: Vec<PathBuf> = test.read_dir().unwrap().map(|e| e.unwrap().path()).collect();
    people.sort();
    let first = people[0].read_dir().unwrap().next().unwrap().unwrap().path();
    let twin = people[1].join(first.file_name().unwrap());
    std::fs::copy(&first, &twin).unwrap();
    boneseg(&["data", "check", "--data", s(&data)]).expect(1).says(&[
        s(&image),
        "truncated PNG",
        s(&meta),
        "missing column(s) `체중(몸무게)`",
        "the image name is used twice",
        "3 problem(s)",
    ]);
}

/// An interrupted `synth` leaves its hidden staging folder; the next one into the same place
/// removes it.
#[test]
fn synth_removes_what_an_interrupted_synth_left() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join(".data.partial-4000000");
    std::fs::create_dir_all(stale.join("train")).unwrap();
    let out = dir.path().join("data");
    boneseg(&["synth", "--out", s(&out), "--people", "1", "--test-people", "0", "--size", "64"]).expect(0);
    assert_eq!(file_names(dir.path()), ["data"], "only the dataset is left");
}

#[test]
fn same_class_twice_warns_and_unites() {
    let (_dir, data, out) = setup();
    let (_, label) = train_pairs(&data, 1).remove(0);
    edit_label(&label, |t| t.replacen("\"label\":\"finger-2\"", "\"label\":\"finger-1\"", 1));
    from_labels(&data, &out, &[])
        .expect(0)
        .says(&[s(&label), "finger-1 has 2 polygons (annotations[0], annotations[1]); using their union"]);
    let text = std::fs::read_to_string(&out).unwrap();
    let row = |class: &str| text.lines().find(|l| l.split(',').nth(1) == Some(class)).unwrap().to_string();
    assert!(row("finger-2").ends_with(','), "finger-2 is now empty");
    assert!(row("finger-1").len() > row("finger-3").len() / 4, "finger-1 holds both polygons");
}

#[test]
fn image_without_label_and_skip_bad() {
    let (_dir, data, out) = setup();
    let (image, label) = train_pairs(&data, 1).remove(0);
    std::fs::remove_file(&label).unwrap();
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&image), "image without a label file", s(&label)]);
    from_labels(&data, &out, &["--skip-bad"]).expect(0).says(&[
        "skipped",
        s(&image),
        "5 images",
        "skipped 1 bad file",
    ]);
}

#[test]
fn label_without_image() {
    let (_dir, data, out) = setup();
    let (image, label) = train_pairs(&data, 1).remove(0);
    std::fs::remove_file(&image).unwrap();
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&label), "label file without an image"]);
}

#[test]
fn image_outside_a_person_folder() {
    let (_dir, data, out) = setup();
    let (image, label) = train_pairs(&data, 1).remove(0);
    let loose_image = data.join("train/DCM/ID12x/loose.png");
    std::fs::create_dir_all(loose_image.parent().unwrap()).unwrap();
    std::fs::rename(&image, &loose_image).unwrap();
    let loose_label = data.join("train/outputs_json/ID12x/loose.json");
    std::fs::create_dir_all(loose_label.parent().unwrap()).unwrap();
    std::fs::rename(&label, &loose_label).unwrap();
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&loose_image), "not inside a person folder"]);
}

/// Writes a meta table with the given header and rows.
fn write_meta(path: &Path, header: &[&str], rows: &[&[&str]]) {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            match v.parse::<f64>() {
                Ok(n) => sheet.write_number(r as u32 + 1, c as u16, n).unwrap(),
                Err(_) => sheet.write_string(r as u32 + 1, c as u16, *v).unwrap(),
            };
        }
    }
    workbook.save(path).unwrap();
}

#[test]
fn meta_table_missing_a_column() {
    let (_dir, data, _) = setup();
    let meta = data.join("meta_data.xlsx");
    write_meta(&meta, &["ID", "나이", "성별", "키(신장)"], &[&["1", "30", "_x0008_여", "160"]]);
    boneseg(&["data", "check", "--data", s(&data)])
        .expect(1)
        .says(&[s(&meta), "missing column(s) `체중(몸무게)`"]);
}

#[test]
fn meta_table_unreadable_gender() {
    let (_dir, data, _) = setup();
    let meta = data.join("meta_data.xlsx");
    let header = ["ID", "나이", "성별", "체중(몸무게)", "키(신장)", ""];
    write_meta(
        &meta,
        &header,
        &[
            &["1", "30", "\u{8}여", "55", "160", ""],
            &["2", "41", "X", "80", "178", "y"],
            &["3", "", "남", "80", "178", ""],
        ],
    );
    boneseg(&["data", "check", "--data", s(&data)]).expect(1).says(&[
        s(&meta),
        "row 3, column 성별: cannot read `X`",
        "row 4, column 나이: cannot read ``",
    ]);
    // Folds do not need the meta table: split warns and goes on, as it does without one.
    boneseg(&["split", "--data", s(&data), "--folds", "3", "--out", s(&data.join("splits"))])
        .expect(0)
        .says(&[s(&meta), "row 3, column 성별: cannot read `X`", "folds do not need the meta table"]);
}

/// A good test-set submission to break.
fn test_submission(data: &Path, dir: &Path) -> (PathBuf, Vec<String>) {
    let csv = dir.join("sub.csv");
    let (labels, images) = (data.join("test_labels"), data.join("test/DCM"));
    submission_from_labels(&labels, &images, &csv).expect(0);
    let lines = std::fs::read_to_string(&csv).unwrap().lines().map(str::to_string).collect();
    (csv, lines)
}

fn score_test_set(data: &Path, csv: &Path) -> Run {
    let (labels, images) = (data.join("test_labels"), data.join("test/DCM"));
    boneseg(&["score", "--pred", s(csv), "--labels", s(&labels), "--images", s(&images)])
}

#[test]
fn submission_with_a_bad_header() {
    let (dir, data, _) = setup();
    let (csv, mut lines) = test_submission(&data, dir.path());
    lines[0] = "image,class,rle".into();
    std::fs::write(&csv, lines.join("\n")).unwrap();
    score_test_set(&data, &csv).expect(2).says(&[s(&csv), "line 1: bad header `image,class,rle`"]);
    let images = data.join("test/DCM");
    boneseg(&["submission", "check", s(&csv), "--images", s(&images)])
        .expect(1)
        .says(&["line 1: bad header"]);
}

#[test]
fn submission_with_malformed_rle() {
    let (dir, data, _) = setup();
    let (csv, mut lines) = test_submission(&data, dir.path());
    let image = lines[7].split(',').next().unwrap().to_string();
    lines[7] = format!("{image},finger-7,12 4 x 9");
    std::fs::write(&csv, lines.join("\n")).unwrap();
    score_test_set(&data, &csv).expect(2).says(&[s(&csv), "line 8: malformed RLE: token 3 (`x`)"]);
}

#[test]
fn synth_never_overwrites_without_force() {
    let (_dir, data, _) = setup();
    let before = file_names(&data);
    boneseg(&["synth", "--out", s(&data), "--people", "1", "--test-people", "0", "--size", "64"])
        .expect(2)
        .says(&[s(&data), "already exists and is not empty; pass --force"]);
    assert_eq!(file_names(&data), before);
}

#[test]
fn failure_midway_leaves_no_output() {
    let (_dir, data, out) = setup();
    // The last image's label is bad: five images are written before the failure.
    let (_, label) = train_pairs(&data, 6).remove(5);
    edit_label(&label, |t| t.replacen("\"label\":\"Ulna\"", "\"label\":\"ulna\"", 1));
    fails_cleanly(from_labels(&data, &out, &[]), &out, &[s(&label), "unknown label `ulna`"]);
}
