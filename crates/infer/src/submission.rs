//! Trained runs to a submission (and a probability store): one image at a time, read, inferred,
//! encoded and written, so memory does not grow with the number of images. The largest buffer
//! is the sliding window's `[29, height, width]` accumulator of the current image (whole-image
//! mode holds only `[29, size, size]`).

use std::path::{Path, PathBuf};

use boneseg_contract::NUM_CLASSES;
use boneseg_contract::submission::SubmissionWriter;
use boneseg_data::Radiograph;
use boneseg_data::image_io::read_gray;
use boneseg_data::layout::{check_unique_names, list_radiographs};
use boneseg_data::plane::{Plane, gray_to_plane};
use boneseg_data::resize::resize_linear;
use boneseg_ensemble::store::{Part, ProbRow, ProbWriter};
use boneseg_ensemble::{ClassThresholds, PostProcess, SparseProbs};
use boneseg_models::burn::tensor::Device;
use boneseg_models::{Normalization, SegmentationModel};
use rayon::prelude::*;

use crate::load::{InferError, LoadedRun, RunConfig, load_run};
use crate::run::RunDir;
use crate::upsample::{Frame, logits_to_masks, resize_bilinear, upsample_probs};
use crate::views::{self, Tta, View};
use crate::window::{self, Window};

/// Where the logits of a view come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// The whole image resized to the training size (the baseline); a non-square image is
    /// first centred on a black square (letterboxed), since the model trained on squares.
    Whole,
    /// Windows over the full-resolution image.
    Sliding(Window),
}

/// How to infer.
#[derive(Clone, Debug)]
pub struct InferOptions {
    /// `best` or `last`.
    pub checkpoint: String,
    /// Overrides the runs' `train.device`.
    pub device: Option<String>,
    /// One threshold for every class, overriding everything below.
    pub threshold: Option<f64>,
    /// Per-class thresholds chosen for exactly these runs and views (`ensemble tune`'s file), and
    /// where they come from; without them a single run uses its `thresholds.toml` when it has
    /// one, and several runs the first one's `train.threshold` (a run's tuned thresholds suit
    /// that run alone, not the merged logits).
    pub tuned: Option<(ClassThresholds, String)>,
    pub mode: Mode,
    pub tta: Tta,
    pub post: PostProcess,
    /// Also write a probability store there, with this floor.
    pub probs: Option<(PathBuf, f32)>,
    /// The entries are this part of the sorted image list (`infer --shard K/N`): the store is
    /// written as that part of the store in `probs`' folder.
    pub part: Option<Part>,
}

impl InferOptions {
    /// The baseline: whole image, one view, no post-processing.
    pub fn plain(checkpoint: String, device: Option<String>, threshold: Option<f64>) -> InferOptions {
        InferOptions {
            checkpoint,
            device,
            threshold,
            tuned: None,
            mode: Mode::Whole,
            tta: Tta::default(),
            post: PostProcess::default(),
            probs: None,
            part: None,
        }
    }
}

/// What was done.
#[derive(Clone, Debug)]
pub struct InferSummary {
    pub images: usize,
    /// Where the thresholds came from.
    pub thresholds: String,
    pub views: usize,
}

/// One loaded run.
struct Model {
    model: SegmentationModel,
    /// The input normalisation the run trained with.
    input: Normalization,
    /// The training size: whole-image mode resizes to it.
    size: usize,
    /// The default sliding-window side: the training crop, else the training size.
    window: usize,
    device: Device,
}

impl Model {
    fn net(&self) -> window::Net<'_> {
        window::Net { model: &self.model, input: &self.input, device: &self.device }
    }
}

/// The thresholds to use, and where they came from.
fn thresholds(
    runs: &[PathBuf],
    first: &RunConfig,
    options: &InferOptions,
) -> Result<(ClassThresholds, String), InferError> {
    if let Some(t) = options.threshold {
        return Ok((ClassThresholds::uniform(t), format!("--threshold {t}")));
    }
    if let Some((tuned, source)) = &options.tuned {
        return Ok((tuned.clone(), source.clone()));
    }
    let own = match runs {
        [run] => {
            let dir = RunDir::open(run).map_err(|source| InferError::Run { path: run.clone(), source })?;
            dir.tuned_thresholds().map_err(InferError::Thresholds)?.map(|t| (t, dir.thresholds_path()))
        }
        _ => None,
    };
    match own {
        Some((tuned, path)) => Ok((tuned, path.display().to_string())),
        None => Ok((
            ClassThresholds::uniform(first.train.threshold),
            format!("train.threshold {} of {}", first.train.threshold, runs[0].display()),
        )),
    }
}

/// Writes the submission (and the store) for every radiograph (PNG or JPEG, any layout, any
/// size) under `images`.
pub fn infer(
    runs: &[PathBuf],
    images: &Path,
    out: &Path,
    options: &InferOptions,
    progress: impl FnMut(usize, usize),
) -> Result<InferSummary, InferError> {
    let radiographs = list_radiographs(images)?;
    infer_entries(runs, &radiographs, out, options, progress)
}

/// Writes the submission (and the store) for `entries`, in their order.
pub fn infer_entries(
    runs: &[PathBuf],
    entries: &[Radiograph],
    out: &Path,
    options: &InferOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<InferSummary, InferError> {
    assert!(!runs.is_empty(), "at least one run");
    let mut models = Vec::new();
    let mut first_config = None;
    for run in runs {
        let LoadedRun { model, config, device } =
            load_run(run, &options.checkpoint, options.device.as_deref())?;
        let window = config.data.crop.unwrap_or(config.data.size);
        models.push(Model {
            model,
            input: config.model.normalization(),
            size: config.data.size,
            window,
            device,
        });
        first_config.get_or_insert(config);
    }
    let first_config = first_config.expect("one run");
    let (thresholds, source) = thresholds(runs, &first_config, options)?;
    check_unique_names(entries)?;
    let write_error = |source| InferError::Write { path: out.to_path_buf(), source };
    let mut writer = SubmissionWriter::create(out).map_err(write_error)?;
    let mut store = match &options.probs {
        Some((dir, floor)) => Some(match options.part {
            Some(part) => ProbWriter::create_part(dir, *floor, part)?,
            None => ProbWriter::create(dir, *floor)?,
        }),
        None => None,
    };
    let views = options.tta.views();
    let total = entries.len();
    for (done, entry) in entries.iter().enumerate() {
        let image = gray_to_plane(&read_gray(&entry.image)?);
        let (logits, grid, frame) = merged_logits(&models, &image, &views, options);
        let mut masks = logits_to_masks(&logits, grid, frame, &thresholds.0);
        if !options.post.is_noop() {
            for class in 0..NUM_CLASSES {
                options.post.apply(class, masks.class_mut(class));
            }
        }
        writer.write_image(entry.name(), &masks).map_err(write_error)?;
        if let Some(store) = &mut store {
            let floor = store.floor();
            let planes: Vec<SparseProbs> = logits
                .par_chunks_exact(grid.0 * grid.1)
                .map(|plane| upsample_probs(plane, grid, frame, floor))
                .collect();
            for (class, probs) in planes.into_iter().enumerate() {
                let (height, width) = (entry.height, entry.width);
                store.write(ProbRow { image_name: entry.name().to_string(), class, height, width, probs })?;
            }
        }
        progress(done + 1, total);
    }
    writer.finish().map_err(write_error)?;
    if let Some(store) = store {
        store.finish()?;
    }
    Ok(InferSummary { images: total, thresholds: source, views: views.len() * models.len() })
}

/// The merged logits of every run and view of one image, the grid they are on (the first run's
/// training size in whole-image mode, the image's size in sliding mode) and where the image
/// lies on what the grid covers.
fn merged_logits(
    models: &[Model],
    image: &Plane<u8>,
    views: &[View],
    options: &InferOptions,
) -> (Vec<f32>, (usize, usize), Frame) {
    let (frame, grid) = match options.mode {
        Mode::Whole => (Frame::letterbox(image.height, image.width), (models[0].size, models[0].size)),
        Mode::Sliding(_) => (Frame::whole(image.height, image.width), (image.height, image.width)),
    };
    let padded;
    let image = if frame.canvas == frame.size {
        image
    } else {
        padded = letterbox(image, frame);
        &padded
    };
    let mut merger = views::Merger::new(options.tta.merge, NUM_CLASSES * grid.0 * grid.1);
    for model in models {
        for view in views {
            let seen = view.apply(image);
            let (mut logits, height, width) = view_logits(model, &seen, view.scale, &options.mode);
            view.undo(&mut logits, width);
            if (height, width) != grid {
                logits = logits
                    .par_chunks_exact(height * width)
                    .flat_map_iter(|plane| resize_bilinear(plane, (height, width), grid))
                    .collect();
            }
            merger.add(&logits);
        }
    }
    (merger.finish(), grid, frame)
}

/// The image on the frame's canvas, black around it: what collimator shutters look like, and
/// the phantom randomises them, so the model has seen such borders.
fn letterbox(image: &Plane<u8>, frame: Frame) -> Plane<u8> {
    let (top, left) = frame.offset;
    let mut canvas = Plane::new(frame.canvas.1, frame.canvas.0);
    for y in 0..image.height {
        let start = (top + y) * canvas.width + left;
        canvas.data[start..start + image.width].copy_from_slice(image.row(y));
    }
    canvas
}

/// Logits `[29, height, width]` of one view's image at `scale`.
fn view_logits(model: &Model, image: &Plane<u8>, scale: f64, mode: &Mode) -> (Vec<f32>, usize, usize) {
    match mode {
        Mode::Whole => {
            // Encoders downsample 32 times: scaled sizes stay multiples of 32.
            let size = if scale == 1.0 {
                model.size
            } else {
                ((model.size as f64 * scale / 32.0).round() as usize).max(1) * 32
            };
            let input = resize_to(image, size, size);
            let logits = model.net().logits(&[input.data.as_slice()], size);
            let [_, _, height, width] = logits.dims();
            (
                logits.into_data_as::<f32>().try_into_vec::<f32>().expect("logits read back as f32"),
                height,
                width,
            )
        }
        Mode::Sliding(window) => {
            let (height, width) = (
                (image.height as f64 * scale).round() as usize,
                (image.width as f64 * scale).round() as usize,
            );
            let input = resize_to(image, width, height);
            let side = window.size.unwrap_or(model.window);
            let stride = window.stride.unwrap_or(side / 2).max(1);
            let logits =
                window::sliding_logits(&model.net(), &input, side, stride, window.sigma, window.batch);
            (logits, height, width)
        }
    }
}

/// The image at `width x height` (OpenCV's INTER_LINEAR, as training resized it).
fn resize_to(image: &Plane<u8>, width: usize, height: usize) -> Plane<u8> {
    if (image.width, image.height) == (width, height) {
        image.clone()
    } else {
        resize_linear(image, width, height)
    }
}
