//! The phantom, checked the way a user would: through the dataset reader, the label masks and
//! the pixels of the written images.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use boneseg_contract::{BitMask, CLASSES, ClassMasks, FillRule, NUM_CLASSES, class_index};
use boneseg_data::image_io::read_gray;
use boneseg_data::{Dataset, ReadOptions, labels};
use boneseg_phantom::person::Rates;
use boneseg_phantom::{SynthConfig, generate};

const SIZE: usize = 512;

fn config(people: usize, test_people: usize, size: usize, seed: u64, rates: Rates) -> SynthConfig {
    SynthConfig { people, test_people, size, seed, rates }
}

/// One dataset shared by the tests of this file: 8 training and 2 test people at 512².
fn dataset() -> &'static (tempfile::TempDir, Dataset) {
    static DATA: OnceLock<(tempfile::TempDir, Dataset)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("data");
        let rates = Rates { outlier: 0.3, rotated: 0.1, bent: 0.1 };
        generate(&out, &config(8, 2, SIZE, 17, rates), false, &|_, _| {}).unwrap();
        let dataset = Dataset::open(&out, ReadOptions::default()).unwrap();
        (dir, dataset)
    })
}

fn masks_of(dataset: &Dataset) -> Vec<ClassMasks> {
    dataset.train.iter().map(|e| labels::load(e, FillRule::default()).unwrap().masks).collect()
}

#[test]
fn writes_the_competition_layout() {
    let (_, dataset) = dataset();
    assert_eq!(dataset.train.len(), 16);
    assert_eq!(dataset.test.len(), 4);
    let meta = dataset.meta.as_ref().expect("meta_data.xlsx is written");
    assert_eq!(meta.people.len(), 10, "one row per person, train and test");
    for entry in dataset.train.iter().chain(&dataset.test) {
        assert_eq!((entry.width, entry.height), (SIZE, SIZE));
        assert!(meta.get(entry.person).is_some(), "{} has a meta row", entry.person);
    }
    let people: Vec<_> = dataset.train.iter().map(|e| e.person).collect();
    for person in &people {
        assert_eq!(people.iter().filter(|p| *p == person).count(), 2, "two hands of {person}");
    }
    for entry in &dataset.train {
        let loaded = labels::load(entry, FillRule::default()).unwrap();
        assert!(loaded.warnings.is_empty(), "{}: {:?}", entry.rel, loaded.warnings);
        for (class, mask) in loaded.masks.iter().enumerate() {
            assert!(!mask.is_empty(), "{}: {} is empty", entry.rel, CLASSES[class]);
        }
    }
    let hidden = dataset.root.join("test_labels");
    assert!(dataset.test.iter().all(|e| hidden.join(e.rel.replace(".png", ".json")).is_file()));
}

#[test]
fn is_deterministic_in_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let rates = Rates { outlier: 0.5, rotated: 0.5, bent: 0.5 };
    let make = |name: &str, seed| {
        let out = dir.path().join(name);
        generate(&out, &config(2, 1, 96, seed, rates), false, &|_, _| {}).unwrap();
        files(&out)
    };
    let (a, b, c) = (make("a", 5), make("b", 5), make("c", 6));
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, another dataset");
}

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e != "xlsx") {
                // The xlsx embeds a creation time; its contents are checked by the reader.
                out.push((
                    path.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn areas_are_near_the_real_data() {
    let (_, dataset) = dataset();
    let masks = masks_of(dataset);
    let scale = (2048.0 / SIZE as f64).powi(2);
    let mean_area = |class: usize| {
        masks.iter().map(|m| m.class(class).count() as f64).sum::<f64>() / masks.len() as f64 * scale
    };
    let targets = [
        ("Radius", 76_000.0),
        ("Ulna", 40_000.0),
        ("Capitate", 16_000.0),
        ("Hamate", 11_000.0),
        ("Scaphoid", 10_000.0),
        ("Trapezium", 9_000.0),
        ("Lunate", 8_000.0),
        ("Triquetrum", 7_000.0),
        ("Trapezoid", 6_000.0),
        ("Pisiform", 4_000.0),
        ("finger-16", 3_700.0),
    ];
    for (name, target) in targets {
        let area = mean_area(class_index(name).unwrap());
        assert!((area / target - 1.0).abs() < 0.25, "{name}: {area:.0} px at 2048², expected about {target}");
    }
    let finger_16 = mean_area(class_index("finger-16").unwrap());
    for class in (0..19).filter(|&c| c != 15) {
        assert!(mean_area(class) > finger_16, "finger-16 is the smallest finger bone");
    }
    let coverage = masks
        .iter()
        .map(|m| {
            let mut all = BitMask::new(SIZE, SIZE);
            m.iter().for_each(|c| all.union_with(c));
            all.count() as f64 / (SIZE * SIZE) as f64
        })
        .sum::<f64>()
        / masks.len() as f64;
    assert!((0.10..0.16).contains(&coverage), "bones cover {coverage:.3} of the image, real data ~0.13");
}

#[test]
fn overlaps_follow_the_real_pairs() {
    let (_, dataset) = dataset();
    let masks = masks_of(dataset);
    // Shared pixels as a share of the smaller bone, averaged over images.
    let shared = |a: &str, b: &str| {
        let (a, b) = (class_index(a).unwrap(), class_index(b).unwrap());
        let shares: Vec<f64> = masks
            .iter()
            .map(|m| {
                let smaller = m.class(a).count().min(m.class(b).count()) as f64;
                m.class(a).intersection_count(m.class(b)) as f64 / smaller
            })
            .collect();
        (shares.iter().sum::<f64>() / shares.len() as f64, shares.iter().filter(|&&s| s > 0.0).count())
    };
    for (a, b) in [("Trapezium", "Trapezoid"), ("Triquetrum", "Pisiform")] {
        let (mean, _) = shared(a, b);
        assert!(mean > 0.1, "{a}/{b} overlap substantially in real data; here {mean:.3}");
    }
    let small =
        [("Scaphoid", "Lunate"), ("Lunate", "Triquetrum"), ("Capitate", "Hamate"), ("finger-11", "Capitate")];
    for (a, b) in small {
        let (mean, images) = shared(a, b);
        assert!(mean < 0.15, "{a}/{b} overlap only a little; here {mean:.3}");
        assert!(images * 2 >= masks.len(), "{a}/{b} touch in most images ({images} of {})", masks.len());
    }
}

#[test]
fn looks_like_a_radiograph() {
    let (_, dataset) = dataset();
    for (entry, masks) in dataset.train.iter().zip(masks_of(dataset)) {
        let image = read_gray(&entry.image).unwrap();
        let pixels = image.as_raw();
        let mut count_per_pixel = vec![0u8; pixels.len()];
        for mask in masks.iter() {
            for (start, length) in mask.runs() {
                count_per_pixel[start..start + length].iter_mut().for_each(|c| *c += 1);
            }
        }
        let mean_where = |keep: &dyn Fn(u8) -> bool| {
            let values: Vec<f64> = pixels
                .iter()
                .zip(&count_per_pixel)
                .filter(|&(_, &c)| keep(c))
                .map(|(&p, _)| f64::from(p))
                .collect();
            values.iter().sum::<f64>() / values.len() as f64
        };
        let (single, overlap) = (mean_where(&|c| c == 1), mean_where(&|c| c >= 2));
        assert!((100.0..215.0).contains(&single), "{}: bone grey {single:.0}", entry.rel);
        assert!(
            overlap > single + 10.0,
            "{}: overlaps ({overlap:.0}) are brighter than bone ({single:.0})",
            entry.rel
        );
        let mut sorted = pixels.clone();
        sorted.sort_unstable();
        let darkest_fifth =
            sorted[..sorted.len() / 5].iter().map(|&p| f64::from(p)).sum::<f64>() / (sorted.len() / 5) as f64;
        assert!(darkest_fifth < 30.0, "{}: background grey {darkest_fifth:.0}", entry.rel);
        let tissue =
            pixels.iter().zip(&count_per_pixel).filter(|&(&p, &c)| c == 0 && (40..=110).contains(&p)).count();
        assert!(
            tissue > pixels.len() / 20,
            "{}: soft tissue (grey 40-110) covers {tissue} pixels",
            entry.rel
        );
        let top_row = pixels[SIZE..2 * SIZE].iter().map(|&p| f64::from(p)).sum::<f64>() / SIZE as f64;
        assert!(top_row > 120.0, "{}: bright band at the top edge ({top_row:.0})", entry.rel);
    }
}

/// The images' records from `synth_truth.csv`, by relative path.
fn truth(root: &Path) -> HashMap<String, HashMap<String, String>> {
    let text = std::fs::read_to_string(root.join("synth_truth.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let row: HashMap<String, String> =
                header.iter().zip(line.split(',')).map(|(h, v)| (h.to_string(), v.to_string())).collect();
            (row["image"].clone(), row)
        })
        .collect()
}

#[test]
fn left_hands_are_mirror_images() {
    let (_, dataset) = dataset();
    let truth = truth(&dataset.root);
    let centroid_x = |mask: &BitMask| {
        let (sum, n) = mask.runs().fold((0.0, 0.0), |(s, n), (start, len)| {
            let x: f64 = (start..start + len).map(|i| (i % SIZE) as f64).sum();
            (s + x, n + len as f64)
        });
        sum / n
    };
    let (thumb, middle) = (class_index("finger-3").unwrap(), class_index("finger-11").unwrap());
    for (entry, masks) in dataset.train.iter().zip(masks_of(dataset)) {
        let row = &truth[&entry.rel];
        if row["rotation_deg"].parse::<f64>().unwrap().abs() > 40.0 {
            continue;
        }
        let thumb_on_left = centroid_x(masks.class(thumb)) < centroid_x(masks.class(middle));
        assert_eq!(thumb_on_left, row["hand"] == "right", "{}: {} hand", entry.rel, row["hand"]);
    }
}

#[test]
fn outliers_are_drawn_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let rates = Rates { outlier: 1.0, rotated: 0.0, bent: 0.0 };
    generate(&out, &config(8, 0, SIZE, 3, rates), false, &|_, _| {}).unwrap();
    let dataset = Dataset::open(&out, ReadOptions::default()).unwrap();
    let meta = dataset.meta.as_ref().unwrap();
    assert!(meta.people.iter().all(|p| p.remark.is_some()), "every outlier is noted in the meta table");
    let truth = truth(&out);
    let mut metal_images = 0;
    for entry in &dataset.train {
        let row = &truth[&entry.rel];
        let person = meta.get(entry.person).unwrap();
        assert_eq!(person.nail_art(), row["nail_art"] == "1", "{}", entry.rel);
        if !row["rings"].is_empty() || !row["implant"].is_empty() {
            metal_images += 1;
            let bright = read_gray(&entry.image).unwrap().as_raw().iter().filter(|&&p| p >= 235).count();
            assert!(bright > 20, "{}: metal shows as white ({bright} pixels)", entry.rel);
        }
    }
    assert!(metal_images > 0, "some rings or implants among 8 people");
    assert_eq!(NUM_CLASSES, 29);
}
