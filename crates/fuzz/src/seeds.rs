//! The generated part of the corpus (`boneseg-fuzz seed`): small, valid files written by
//! boneseg's own writers, and the edge cases each format is known for. Mutation starts from
//! these; hand-made inputs and past findings sit beside them in `corpus/<target>/`.

use std::path::Path;

use boneseg_contract::annotation::Polygon;
use boneseg_contract::submission::SubmissionWriter;
use boneseg_contract::{AnnotationFile, ClassMasks, PersonId};
use boneseg_data::meta::{Gender, PersonMeta, write_xlsx};
use boneseg_ensemble::store::{ProbRow, ProbWriter, SparseProbs};
use image::{ExtendedColorType, ImageEncoder};

use crate::mutate::fix_png_checksums;

/// Writes every seed as `<corpus>/<target>/seed-<name>`.
pub fn write_all(corpus: &Path) -> std::io::Result<usize> {
    let scratch = tempfile::tempdir()?;
    let mut written = 0;
    for (target, seeds) in [
        ("annotation", annotations()),
        ("rle", rles()),
        (
            "submission",
            vec![
                ("two-images.csv".to_string(), submission(scratch.path())?),
                ("defects.csv".to_string(), SUBMISSION_DEFECTS.as_bytes().to_vec()),
            ],
        ),
        ("meta", meta_tables(scratch.path())?),
        ("image", [pngs(), jpegs()].concat()),
        (
            "store",
            vec![
                ("rows.parquet".to_string(), store(scratch.path(), 6)?),
                ("empty.parquet".to_string(), store(scratch.path(), 0)?),
            ],
        ),
    ] {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in seeds {
            std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
            written += 1;
        }
    }
    Ok(written)
}

fn polygon(class: usize, points: &[[i32; 2]]) -> Polygon {
    Polygon { id: format!("p{class}"), class, points: points.to_vec() }
}

fn annotations() -> Vec<(String, Vec<u8>)> {
    let file = |polygons: Vec<Polygon>| AnnotationFile { filename: Some("image1.png".into()), polygons };
    let bones = file(vec![
        polygon(0, &[[2, 2], [10, 3], [9, 12], [3, 11]]),
        polygon(19, &[[20, 5], [30, 5], [25, 20]]),
        polygon(28, &[[5, 30], [35, 28], [36, 40], [4, 44], [12, 36]]),
    ]);
    let border = file(vec![
        polygon(1, &[[30, 0], [40, 0], [40, 48], [30, 48]]),
        polygon(2, &[[-3, 10], [8, 12], [-1, 30]]),
        polygon(3, &[[0, 0], [40, 0], [40, 48], [0, 48]]),
    ]);
    let degenerate =
        file(vec![polygon(4, &[[5, 5], [5, 5], [5, 5]]), polygon(4, &[[1, 1], [30, 30], [1, 30], [30, 1]])]);
    let pretty = serde_like_pretty(&bones.to_json());
    vec![
        ("bones.json".into(), bones.to_json().into_bytes()),
        ("border.json".into(), border.to_json().into_bytes()),
        ("degenerate.json".into(), degenerate.to_json().into_bytes()),
        ("pretty.json".into(), pretty.into_bytes()),
        ("bom.json".into(), format!("\u{feff}{}", bones.to_json()).into_bytes()),
        (
            "floats.json".into(),
            br#"{"annotations": [{"label": "Lunate", "points": [[1.0, 2.0], [30.0, 4], [12, 40.0]]}]}"#
                .to_vec(),
        ),
        ("empty.json".into(), br#"{"annotations": [], "filename": "x.png"}"#.to_vec()),
    ]
}

/// The competition files' layout: one key per line, indented.
fn serde_like_pretty(json: &str) -> String {
    json.replace("{", "{\n  ").replace(",\"", ",\n  \"").replace("}", "\n}")
}

fn rles() -> Vec<(String, Vec<u8>)> {
    let rle = |h: u8, w: u8, text: &str| {
        let mut bytes = vec![h, w];
        bytes.extend_from_slice(text.as_bytes());
        bytes
    };
    vec![
        ("runs".into(), rle(15, 23, "1 3 10 2 40 17 300 2")),
        ("full".into(), rle(7, 7, "1 64")),
        ("empty".into(), rle(3, 3, "")),
        ("adjacent".into(), rle(9, 9, "1 2 3 4 20 1")),
        ("spaces".into(), rle(20, 20, "  5\t6\n\n100 1 ")),
        ("unsorted".into(), rle(20, 20, "50 2 10 2 0 1 7 0")),
    ]
}

/// A submission with one of each defect the checker knows: quoted fields, an unknown class, a
/// duplicate row, rows out of order, a malformed RLE, a wrong field count, a missing row.
const SUBMISSION_DEFECTS: &str = "image_name,class,rle\n\
    a.png,finger-1,1 3 10 2\n\
    \"a.png\",\"finger-2\",\"5 5\"\n\
    a.png,finger-2,5 5\n\
    a.png,finger-30,1 1\n\
    b.png,Ulna,9 9 1 1\n\
    a.png,finger-3,0 4 x\n\
    a.png,finger-4\n";

fn submission(dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = dir.join("sub.csv");
    let mut writer = SubmissionWriter::create(&path)?;
    for (image, offset) in [("a.png", 0), ("b.png", 5)] {
        let mut masks = ClassMasks::new(16, 24);
        for class in [0, 3, 28] {
            let mask = masks.class_mut(class);
            for row in 2..8 {
                mask.set_range(row * 24 + class % 7 + offset, row * 24 + class % 7 + offset + 6);
            }
        }
        writer.write_image(image, &masks)?;
    }
    writer.finish()?;
    std::fs::read(&path)
}

fn meta_tables(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let people = [
        PersonMeta {
            id: PersonId(1),
            age: 30,
            gender: Gender::Female,
            weight_kg: 55.5,
            height_cm: 162.0,
            remark: Some("네일있음".into()),
        },
        PersonMeta {
            id: PersonId(2),
            age: 41,
            gender: Gender::Male,
            weight_kg: 80.0,
            height_cm: 178.0,
            remark: None,
        },
    ];
    let xlsx = dir.join("meta.xlsx");
    write_xlsx(&xlsx, &people).map_err(std::io::Error::other)?;
    let tagged = |kind: u8, bytes: &[u8]| [&[kind], bytes].concat();
    let csv = "\u{feff}ID,나이,성별,체중(몸무게),키(신장),Unnamed: 5\n1,30,_x0008_여,55.5,162,네일있음\n2,41,_x0008_남,80,178,\n";
    Ok(vec![
        ("table.csv".into(), tagged(0, csv.as_bytes())),
        ("table.xlsx".into(), tagged(1, &std::fs::read(&xlsx)?)),
    ])
}

/// PNG bytes of `pixels` (`width x height`, `color`).
fn encode(width: u32, height: u32, pixels: &[u8], color: ExtendedColorType) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(pixels, width, height, color)
        .expect("a valid image encodes");
    bytes
}

fn pngs() -> Vec<(String, Vec<u8>)> {
    let pattern = |n: usize| (0..n).map(|i| (i * 37 % 251) as u8).collect::<Vec<u8>>();
    let rgb = encode(9, 7, &pattern(9 * 7 * 3), ExtendedColorType::Rgb8);
    // A header that claims 100000 x 100000 pixels over the 9 x 7 image's data.
    let mut huge = rgb.clone();
    huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]);
    fix_png_checksums(&mut huge);
    vec![
        ("rgb.png".into(), rgb),
        ("grey.png".into(), encode(16, 5, &pattern(16 * 5), ExtendedColorType::L8)),
        ("grey16.png".into(), encode(6, 6, &pattern(6 * 6 * 2), ExtendedColorType::L16)),
        ("rgba.png".into(), encode(4, 9, &pattern(4 * 9 * 4), ExtendedColorType::Rgba8)),
        ("huge-header.png".into(), huge),
    ]
}

/// JPEG bytes of `pixels` (`width x height`, `color`) with `exif` (raw TIFF bytes) when not empty.
fn encode_jpeg(width: u32, height: u32, pixels: &[u8], color: ExtendedColorType, exif: Vec<u8>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90);
    encoder.set_exif_metadata(exif).expect("JPEG takes Exif");
    encoder.write_image(pixels, width, height, color).expect("a valid image encodes");
    bytes
}

fn jpegs() -> Vec<(String, Vec<u8>)> {
    let pattern = |n: usize| (0..n).map(|i| (i * 37 % 251) as u8).collect::<Vec<u8>>();
    let grey = encode_jpeg(16, 9, &pattern(16 * 9), ExtendedColorType::L8, Vec::new());
    // A header that claims 60000 x 60000 pixels over the 16 x 9 image's data: the frame header
    // (SOF0, ff c0, then length and precision) carries height and width.
    let mut huge = grey.clone();
    let sof = huge.windows(2).position(|w| w == [0xff, 0xc0]).expect("a baseline JPEG has SOF0");
    huge[sof + 5..sof + 9].copy_from_slice(&[0xea, 0x60, 0xea, 0x60]);
    // Little-endian TIFF with one tag, the orientation (6: shown turned a quarter clockwise).
    let orientation: Vec<u8> = [&b"II*\0"[..], &8u32.to_le_bytes(), &1u16.to_le_bytes(), &[0x12, 0x01, 3, 0]]
        .into_iter()
        .chain([&1u32.to_le_bytes()[..], &6u32.to_le_bytes(), &0u32.to_le_bytes()])
        .flatten()
        .copied()
        .collect();
    vec![
        ("grey.jpg".into(), grey),
        ("rgb.jpg".into(), encode_jpeg(9, 7, &pattern(9 * 7 * 3), ExtendedColorType::Rgb8, Vec::new())),
        ("turned.jpg".into(), encode_jpeg(12, 5, &pattern(12 * 5), ExtendedColorType::L8, orientation)),
        ("huge-header.jpg".into(), huge),
    ]
}

/// A store of `rows` rows (a few classes of two images).
fn store(dir: &Path, rows: usize) -> std::io::Result<Vec<u8>> {
    let folder = dir.join(format!("store{rows}"));
    let mut writer = ProbWriter::create(&folder, 0.25).map_err(std::io::Error::other)?;
    for (image, class) in
        ["a.png", "b.png"].iter().flat_map(|image| (0..3).map(move |class| (*image, class))).take(rows)
    {
        {
            let mut probs = SparseProbs::default();
            for i in 0..12 {
                probs.push(i * 3 + class, 0.2 + i as f32 * 0.06, 0.25);
            }
            let row = ProbRow { image_name: image.into(), class, height: 6, width: 8, probs };
            writer.write(row).map_err(std::io::Error::other)?;
        }
    }
    writer.finish().map_err(std::io::Error::other)?;
    std::fs::read(folder.join("probs.parquet"))
}
