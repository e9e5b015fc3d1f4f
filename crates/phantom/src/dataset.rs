//! Writes a phantom dataset: `train/DCM`, `train/outputs_json`, `test/DCM`, `meta_data.xlsx`,
//! plus what the real data keeps hidden — `test_labels/` (the test set's label files, for scoring
//! a test submission) and `synth_truth.csv` (per image: hand side, rotation, bent fingers,
//! outliers).
//!
//! The dataset is built in a hidden folder beside the output and renamed into place at the end,
//! so a crash never leaves a half-written dataset.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use boneseg_contract::atomic::write_atomic;
use boneseg_contract::lock::{LockFile, describe_holder};
use boneseg_contract::rng::Random;
use boneseg_contract::{AnnotationFile, PersonId};
use boneseg_data::image_io::{GrayImage, write_gray_png};
use boneseg_data::meta;
use rayon::prelude::*;

use crate::person::{ImagePlan, Person, Rates};
use crate::render::render;
use crate::rng::Rng;
use crate::scene::Scene;
use crate::style::Style;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Training people (two images each).
    pub people: usize,
    /// Test people (two images each).
    pub test_people: usize,
    /// Image side in pixels (the competition's is 2048).
    pub size: usize,
    pub seed: u64,
    pub rates: Rates,
    /// Which factors are randomised (the default: all of them).
    pub style: Style,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            people: 10,
            test_people: 5,
            size: 2048,
            seed: 0,
            rates: Rates { outlier: 0.1, rotated: 0.1, bent: 0.1 },
            style: Style::wide(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{}: already exists and is not empty; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    #[error("{0}")]
    Config(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Data(#[from] boneseg_data::DataError),
}

/// What was generated.
#[derive(Clone, Debug)]
pub struct SynthSummary {
    pub train_images: usize,
    pub test_images: usize,
    pub seconds: f64,
}

/// One generated radiograph.
pub struct SynthImage {
    pub image: GrayImage,
    pub labels: AnnotationFile,
    /// Middle metacarpal length in pixels (the hand's scale).
    pub unit_px: f64,
    /// Fingertips to wrist as a share of the image height, and the hand's centre as shares of
    /// the width and height.
    pub span: f64,
    pub centre: (f64, f64),
    /// How many collimator shutters cut the field, and the markers burned in (by kind).
    pub shutters: usize,
    pub markers: Vec<&'static str>,
}

/// One image and its labels, from a person and a plan: what the generator and the benchmarks
/// share.
pub fn synth_image(person: &Person, plan: &ImagePlan, size: usize, seed: u64, filename: &str) -> SynthImage {
    let scene = Scene::layout(person, plan, size);
    SynthImage {
        image: render(&scene, plan, seed),
        labels: scene.annotations(filename, seed),
        unit_px: scene.unit,
        span: scene.span,
        centre: scene.centre,
        shutters: scene.shutters.len(),
        markers: scene.markers.iter().map(|m| m.plan.kind.name()).collect(),
    }
}

/// One image to make.
struct Job {
    person: usize,
    hand: usize,
    test: bool,
    rel: String,
}

/// Generates a dataset into `out`; `progress(done, total)` is called as images finish.
pub fn generate(
    out: &Path,
    config: &SynthConfig,
    force: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SynthSummary, SynthError> {
    let start = Instant::now();
    if config.people + config.test_people == 0 {
        return Err(SynthError::Config("nothing to generate: --people and --test-people are both 0".into()));
    }
    if config.size < 64 {
        return Err(SynthError::Config(format!(
            "--size {} is too small: use at least 64 pixels",
            config.size
        )));
    }
    let occupied = out.is_dir() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false);
    if occupied && !force {
        return Err(SynthError::Exists(out.to_path_buf()));
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let staging = out.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    if let Some(parent) = staging.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    remove_abandoned_staging(out, &name);
    // Held while the staging folder is written: a later synth removes only unheld ones.
    let _lock = LockFile::try_acquire(&lock_of(&staging)).map_err(io_error(&staging))?.map_err(|holder| {
        SynthError::Config(format!("{} is held by {}", staging.display(), describe_holder(&holder)))
    })?;
    let written = write_dataset(&staging, config, progress).and_then(|images| {
        if out.exists() {
            std::fs::remove_dir_all(out).map_err(io_error(out))?;
        }
        std::fs::rename(&staging, out).map_err(io_error(out))?;
        Ok(images)
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let _ = std::fs::remove_file(lock_of(&staging));
    let images = written?;
    let test_images = 2 * config.test_people;
    Ok(SynthSummary {
        train_images: images - test_images,
        test_images,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Removes the staging folders of earlier `synth` runs into `out` that were interrupted (a
/// Ctrl-C, a kill): those whose lock no process holds any more. A synth still writing keeps its.
fn remove_abandoned_staging(out: &Path, name: &str) {
    let Some(parent) = out.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let prefix = format!(".{name}.partial-");
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(&prefix) else { continue };
        if !pid.bytes().all(|b| b.is_ascii_digit()) || !entry.path().is_dir() {
            continue;
        }
        let lock = lock_of(&entry.path());
        if let Ok(Ok(held)) = LockFile::try_acquire(&lock) {
            let _ = std::fs::remove_dir_all(entry.path());
            drop(held);
            let _ = std::fs::remove_file(lock);
        }
    }
}

/// The lock file beside a staging folder.
fn lock_of(staging: &Path) -> PathBuf {
    let mut name = staging.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError {
    let path = path.to_path_buf();
    move |source| SynthError::Io { path, source }
}

/// Writes the whole dataset under `root`; returns the number of images.
fn write_dataset(
    root: &Path,
    config: &SynthConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<usize, SynthError> {
    if root.exists() {
        std::fs::remove_dir_all(root).map_err(io_error(root))?;
    }
    let rng = Rng::new(config.seed);
    let people = draw_people(config, &rng);
    let jobs = plan_images(&people, &rng);
    let images_dir = |test: bool| root.join(if test { "test" } else { "train" }).join("DCM");
    let labels_dir = |test: bool| {
        if test { root.join("test_labels") } else { root.join("train").join("outputs_json") }
    };
    let done = AtomicUsize::new(0);
    let truth: Vec<String> = jobs
        .par_iter()
        .map(|job| -> Result<String, SynthError> {
            let (person, _) = &people[job.person];
            let mut rng = rng.fork(job.person as u64).fork(job.hand as u64 + 1);
            let plan = ImagePlan::draw(person, job.hand, config.rates, config.style, &mut rng);
            let filename = job.rel.rsplit('/').next().expect("rel has a file name");
            let synth = synth_image(person, &plan, config.size, rng.next_u64(), filename);
            let png = images_dir(job.test).join(&job.rel);
            let json = labels_dir(job.test).join(job.rel.replace(".png", ".json"));
            for dir in [png.parent(), json.parent()].into_iter().flatten() {
                std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            }
            write_gray_png(&png, &synth.image)?;
            write_atomic(&json, synth.labels.to_json().as_bytes()).map_err(io_error(&json))?;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            Ok(truth_row(job, person, &plan, &synth, config.style))
        })
        .collect::<Result<_, _>>()?;

    let metas: Vec<_> = people.iter().map(|(p, _)| p.meta.clone()).collect();
    meta::write_xlsx(&root.join("meta_data.xlsx"), &metas)?;
    let truth_path = root.join("synth_truth.csv");
    let mut text = String::from(TRUTH_HEADER);
    text.push('\n');
    for row in &truth {
        text.push_str(row);
        text.push('\n');
    }
    write_atomic(&truth_path, text.as_bytes()).map_err(io_error(&truth_path))?;
    Ok(jobs.len())
}

/// Everyone in the dataset, with whether they are a test person. Test people are scattered among
/// the ids, as in the competition.
fn draw_people(config: &SynthConfig, rng: &Rng) -> Vec<(Person, bool)> {
    let total = config.people + config.test_people;
    let mut order: Vec<usize> = (0..total).collect();
    let mut shuffler = rng.fork(u64::MAX);
    for i in (1..order.len()).rev() {
        order.swap(i, shuffler.below(i + 1));
    }
    (0..total)
        .map(|i| {
            let id = PersonId(i as u32 + 1);
            let person = Person::draw(id, config.rates, config.style, &mut rng.fork(i as u64));
            (person, order[i] < config.test_people)
        })
        .collect()
}

/// Two images per person, named like the competition's (`image` + a 13-digit time stamp); which
/// hand comes first in the folder varies, as in the real data.
fn plan_images(people: &[(Person, bool)], rng: &Rng) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (i, (person, test)) in people.iter().enumerate() {
        let mut stems = rng.fork(i as u64).fork(7);
        let stamp = 1_661_000_000_000u64 + i as u64 * 1_000_000 + stems.below(900_000) as u64;
        let first_hand = stems.below(2);
        for k in 0..2 {
            let rel =
                format!("{}/image{}.png", person.meta.id, stamp + k as u64 * (1 + stems.below(2000) as u64));
            jobs.push(Job { person: i, hand: (first_hand + k) % 2, test: *test, rel });
        }
    }
    jobs
}

/// One row per image: the classic phantom's record, then the style and every randomised value.
const TRUTH_HEADER: &str = "image,split,person,hand,rotation_deg,wrist_deviation_deg,bent_fingers,rings,nail_art,implant,metacarpal_px,\
style,age,ossified_carpals,growth_plates,span,centre_x,centre_y,finger_spread,thumb_deg,\
background,gradient,shutters,markers,exposure,gamma,sigmoid,blur_px,noise,cortex,density,trabecular,joint_cup,shaft_waist,carpal_facets,tissue,pulp";

const DIGIT_NAMES: [&str; 5] = ["thumb", "index", "middle", "ring", "little"];

fn truth_row(job: &Job, person: &Person, plan: &ImagePlan, synth: &SynthImage, style: Style) -> String {
    let names = |digits: &[usize]| digits.iter().map(|&d| DIGIT_NAMES[d]).collect::<Vec<_>>().join(";");
    let rings = match &person.rings {
        Some((hand, digits)) if *hand == job.hand => names(digits),
        _ => String::new(),
    };
    let implant = match person.implant {
        Some((hand, kind)) if hand == job.hand => format!("{kind:?}").to_lowercase(),
        _ => String::new(),
    };
    let classic = format!(
        "{},{},{},{},{:.1},{:.1},{},{},{},{},{:.1}",
        job.rel,
        if job.test { "test" } else { "train" },
        person.meta.id,
        if job.hand == 0 { "right" } else { "left" },
        plan.rotation,
        plan.pose.wrist_deviation,
        names(&plan.bent_digits),
        rings,
        u8::from(person.nail_art),
        implant,
        synth.unit_px,
    );
    let pose = &plan.pose;
    let growth = &pose.growth;
    let film = &plan.film;
    let (background, gradient) = film.background.as_ref().map_or((0.0, 0.0), |b| (b.level, b.gradient));
    let detector = film.detector;
    let mean = |values: &[f64; 29]| values.iter().sum::<f64>() / 29.0;
    format!(
        "{classic},{style},{:.1},{},{},{:.3},{:.3},{:.3},{:.2},{:.1},{background:.0},{gradient:.0},{},{},{:.2},{:.2},{:.2},{:.2},{:.1},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{}",
        person.age,
        growth.ossified_carpals(),
        u8::from(growth.epiphyses.is_some()),
        synth.span,
        synth.centre.0,
        synth.centre.1,
        pose.finger_spread,
        pose.thumb_abduction,
        synth.shutters,
        synth.markers.join(";"),
        detector.map_or(plan.exposure, |d| d.exposure),
        detector.map_or(1.0, |d| d.gamma),
        detector.map_or(0.0, |d| d.sigmoid),
        detector.map_or(0.5f64.sqrt(), |d| d.blur),
        detector.map_or(plan.noise, |d| d.noise),
        mean(&pose.cortex),
        mean(&pose.density),
        plan.trabeculae.amplitude,
        pose.cup,
        pose.waist,
        pose.carpal_facets,
        pose.tissue,
        pose.pulp.map_or(String::new(), |pulp| format!("{pulp:.3}")),
    )
}
