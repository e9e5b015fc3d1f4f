//! The phantom, checked the way a user would: through the dataset reader, the label masks and
//! the pixels of the written images. The classic phantom's tests pin today's images; the wide
//! phantom's check that every factor varies, is recorded, and leaves the labels right.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use boneseg_contract::{BitMask, CLASSES, ClassMasks, FillRule, NUM_CLASSES, class_index};
use boneseg_data::image_io::read_gray;
use boneseg_data::{Dataset, ReadOptions, labels};
use boneseg_phantom::person::Rates;
use boneseg_phantom::style::{Factor, Style};
use boneseg_phantom::{SynthConfig, generate};

const SIZE: usize = 512;

/// The classic phantom.
fn config(people: usize, test_people: usize, size: usize, seed: u64, rates: Rates) -> SynthConfig {
    SynthConfig { people, test_people, size, seed, rates, style: Style::classic() }
}

/// One classic dataset shared by the tests of this file: 8 training and 2 test people at 512².
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

/// FNV-1a over the relative paths and bytes of a dataset's images and label files.
fn fingerprint(root: &Path) -> u64 {
    files(root)
        .iter()
        .filter(|(path, _)| path.ends_with(".png") || path.ends_with(".json"))
        .flat_map(|(path, bytes)| path.as_bytes().iter().chain(bytes.iter()).copied().collect::<Vec<u8>>())
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn the_classic_style_is_the_phantom_before_domain_randomisation_byte_for_byte() {
    // The fingerprint of what `boneseg synth --people 2 --test-people 1 --size 96 --seed 5
    // --outlier-rate 0.5 --rotated-rate 0.5 --bent-rate 0.5` wrote before the wide phantom.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("classic");
    let rates = Rates { outlier: 0.5, rotated: 0.5, bent: 0.5 };
    generate(&out, &config(2, 1, 96, 5, rates), false, &|_, _| {}).unwrap();
    assert_eq!(fingerprint(&out), CLASSIC_FINGERPRINT, "{:#x}", fingerprint(&out));
}

const CLASSIC_FINGERPRINT: u64 = 0x00be_df33_306e_acd3;

/// One wide dataset: 14 training people at 256², every factor on.
fn wide() -> &'static (tempfile::TempDir, Dataset) {
    static DATA: OnceLock<(tempfile::TempDir, Dataset)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("wide");
        let config =
            SynthConfig { people: 14, test_people: 0, size: 256, seed: 23, ..SynthConfig::default() };
        assert_eq!(config.style, Style::wide(), "every factor is on by default");
        generate(&out, &config, false, &|_, _| {}).unwrap();
        let dataset = Dataset::open(&out, ReadOptions::default()).unwrap();
        (dir, dataset)
    })
}

fn column(truth: &HashMap<String, HashMap<String, String>>, name: &str) -> Vec<f64> {
    truth
        .values()
        .map(|row| row[name].parse::<f64>().unwrap_or_else(|_| panic!("{name}: {}", row[name])))
        .collect()
}

fn range(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

#[test]
fn the_wide_phantom_varies_every_factor_and_records_it() {
    let (_, dataset) = wide();
    let truth = truth(&dataset.root);
    assert_eq!(truth.len(), 28);
    assert!(truth.values().all(|row| row["style"] == "wide"));
    let (span_low, span_high) = range(&column(&truth, "span"));
    assert!(span_low < 0.55 && span_high > 0.85, "hand spans {span_low:.2}-{span_high:.2} of the height");
    let (x_low, x_high) = range(&column(&truth, "centre_x"));
    assert!(x_high - x_low > 0.15, "hands lie at x {x_low:.2}-{x_high:.2}");
    let (bg_low, bg_high) = range(&column(&truth, "background"));
    assert!(bg_low < 15.0 && bg_high > 55.0, "backgrounds {bg_low}-{bg_high}");
    let (age_low, age_high) = range(&column(&truth, "age"));
    assert!(age_low < 12.0 && age_high > 60.0, "ages {age_low}-{age_high}");
    let (gamma_low, gamma_high) = range(&column(&truth, "gamma"));
    assert!(gamma_high - gamma_low > 0.3, "gamma {gamma_low}-{gamma_high}");
    let (spread_low, spread_high) = range(&column(&truth, "finger_spread"));
    assert!(spread_high - spread_low > 0.6, "finger spread {spread_low}-{spread_high}");
    let (thumb_low, thumb_high) = range(&column(&truth, "thumb_deg"));
    assert!(thumb_high - thumb_low > 15.0, "thumb {thumb_low}-{thumb_high}");
    let varied =
        ["noise", "blur_px", "exposure", "cortex", "density", "trabecular", "joint_cup", "shaft_waist"];
    for name in varied.into_iter().chain(["carpal_facets", "tissue", "pulp"]) {
        let (low, high) = range(&column(&truth, name));
        assert!(high > low, "{name} varies: {low}-{high}");
    }
    assert!(column(&truth, "shutters").iter().any(|&n| n > 0.0), "some images are collimated");
    assert!(truth.values().any(|row| row["markers"].contains("side")), "some side letters");
    for row in truth.values() {
        let age: f64 = row["age"].parse().unwrap();
        let plates = row["growth_plates"] == "1";
        assert!(!(age >= 20.0 && plates), "{}: open growth plates at {age}", row["image"]);
        assert!(age >= 10.0 || plates, "{}: fused growth plates at {age}", row["image"]);
    }
    // The meta table carries the same ages.
    let meta = dataset.meta.as_ref().unwrap();
    for entry in &dataset.train {
        let age: f64 = truth[&entry.rel]["age"].parse().unwrap();
        assert_eq!(meta.get(entry.person).unwrap().age, age.floor() as u32);
    }
}

const CARPALS: [&str; 8] =
    ["Trapezium", "Trapezoid", "Capitate", "Hamate", "Scaphoid", "Lunate", "Triquetrum", "Pisiform"];

#[test]
fn labels_follow_what_a_radiologist_marks() {
    let (_, dataset) = wide();
    let truth = truth(&dataset.root);
    let carpals: Vec<usize> = CARPALS.iter().map(|c| class_index(c).unwrap()).collect();
    let (mut child_carpal, mut adult_carpal) = (Vec::new(), Vec::new());
    let mut overlaps = Vec::new();
    for (entry, masks) in dataset.train.iter().zip(masks_of(dataset)) {
        let row = &truth[&entry.rel];
        let ossified: usize = row["ossified_carpals"].parse().unwrap();
        let labelled = carpals.iter().filter(|&&c| !masks.class(c).is_empty()).count();
        assert_eq!(labelled, ossified, "{}: a carpal is labelled exactly when it has ossified", entry.rel);
        for class in (0..NUM_CLASSES).filter(|c| !carpals.contains(c)) {
            assert!(!masks.class(class).is_empty(), "{}: {} is empty", entry.rel, CLASSES[class]);
        }
        // Carpal area relative to the middle metacarpal's (scale-free).
        let metacarpal = masks.class(class_index("finger-11").unwrap()).count() as f64;
        let carpal_area = carpals.iter().map(|&c| masks.class(c).count() as f64).sum::<f64>() / metacarpal;
        let age: f64 = row["age"].parse().unwrap();
        if age < 9.0 {
            child_carpal.push(carpal_area);
        } else if age > 20.0 {
            adult_carpal.push(carpal_area);
        }
        if ossified == 8 && age > 20.0 {
            let (a, b) = (masks.class(carpals[0]), masks.class(carpals[1]));
            overlaps.push(a.intersection_count(b) as f64 / a.count().min(b.count()) as f64);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(!child_carpal.is_empty() && !adult_carpal.is_empty());
    assert!(
        mean(&child_carpal) < 0.7 * mean(&adult_carpal),
        "young children's carpals are fewer and smaller: {:.2} against {:.2} metacarpals",
        mean(&child_carpal),
        mean(&adult_carpal)
    );
    assert!(mean(&overlaps) > 0.05, "adult Trapezium/Trapezoid still overlap: {:.3}", mean(&overlaps));
}

#[test]
fn wide_images_look_like_processed_radiographs() {
    let (_, dataset) = wide();
    let mut backgrounds = Vec::new();
    for (entry, masks) in dataset.train.iter().zip(masks_of(dataset)) {
        let pixels = read_gray(&entry.image).unwrap().into_raw();
        let mut bone = vec![false; pixels.len()];
        for mask in masks.iter() {
            for (start, length) in mask.runs() {
                bone[start..start + length].iter_mut().for_each(|b| *b = true);
            }
        }
        let mean = |keep: bool| {
            let values: Vec<f64> =
                pixels.iter().zip(&bone).filter(|&(_, &b)| b == keep).map(|(&p, _)| f64::from(p)).collect();
            values.iter().sum::<f64>() / values.len() as f64
        };
        let mut sorted = pixels.clone();
        sorted.sort_unstable();
        let darkest_fifth =
            sorted[..sorted.len() / 5].iter().map(|&p| f64::from(p)).sum::<f64>() / (sorted.len() / 5) as f64;
        assert!(
            mean(true) > darkest_fifth + 25.0,
            "{}: bone {:.0}, background {darkest_fifth:.0}",
            entry.rel,
            mean(true)
        );
        assert!(mean(true) > mean(false), "{}: bone is brighter than the rest", entry.rel);
        backgrounds.push(darkest_fifth);
    }
    let (low, high) = range(&backgrounds);
    assert!(low < 20.0 && high > 50.0, "backgrounds from black to grey: {low:.0}-{high:.0}");
}

#[test]
fn each_factor_draws_from_its_own_stream() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, style: Style| {
        let out = dir.path().join(name);
        let config =
            SynthConfig { people: 3, test_people: 0, size: 96, seed: 9, style, ..SynthConfig::default() };
        generate(&out, &config, false, &|_, _| {}).unwrap();
        let (labels, images): (Vec<_>, Vec<_>) = files(&out)
            .into_iter()
            .filter(|(p, _)| p.ends_with(".json") || p.ends_with(".png"))
            .partition(|(p, _)| p.ends_with(".json"));
        (labels, images)
    };
    let classic = make("classic", Style::classic());
    let marked = make("marked", Style::classic().with(Factor::Markers).with(Factor::Detector));
    assert_eq!(classic.0, marked.0, "markers and the detector leave the labels as they are");
    assert_ne!(classic.1, marked.1);
    let wide = make("wide", Style::wide());
    let unmarked = make("unmarked", Style::wide().without(Factor::Markers));
    assert_eq!(wide.0, unmarked.0, "turning markers off changes nothing else");
    let framed = make("framed", Style::classic().with(Factor::Framing));
    assert_ne!(classic.0, framed.0, "framing moves the bones");
}

#[test]
fn every_forearm_leaves_the_image_a_small_childs_in_the_classic_framing_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("children");
    let rates = Rates { outlier: 0.0, rotated: 0.0, bent: 0.0 };
    let style = Style::classic().with(Factor::Age);
    let config = SynthConfig { people: 12, test_people: 0, size: 128, seed: 9, rates, style };
    generate(&out, &config, false, &|_, _| {}).unwrap();
    let dataset = Dataset::open(&out, ReadOptions::default()).unwrap();
    let truth = truth(&out);
    let youngest = column(&truth, "age").into_iter().fold(f64::INFINITY, f64::min);
    assert!(youngest < 6.0, "the set has a young child: youngest {youngest}");
    let bottom_row = (config.size - 1) * config.size;
    for (entry, masks) in dataset.train.iter().zip(masks_of(&dataset)) {
        for name in ["Radius", "Ulna"] {
            let reaches = masks
                .class(class_index(name).unwrap())
                .runs()
                .any(|(start, length)| start + length > bottom_row);
            let age = &truth[&entry.rel]["age"];
            assert!(reaches, "{}: the {name} of a {age}-year-old ends inside the image", entry.rel);
        }
    }
}
