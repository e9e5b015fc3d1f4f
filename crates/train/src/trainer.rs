//! The training loop: epochs of cached, prefetched batches through forward, loss, backward
//! and optimiser step; validation as the leaderboard scores; checkpoints a killed run
//! resumes from bit for bit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use boneseg_contract::atomic::write_atomic;
use boneseg_contract::rng::{GOLDEN_GAMMA, mix64};
use boneseg_hub::Hub;
use boneseg_infer::run::{RunDir, RunInfo, swap_checkpoint};
use boneseg_models::SegmentationModel;
use boneseg_models::burn::module::Module;
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::Device;
use boneseg_models::device::{Backend, training_device};
use boneseg_models::pretrained::{self, Fetched, PretrainedError};
use boneseg_models::weights::{WeightsError, load_into_encoder, load_start_weights, save_burnpack};
use serde::{Deserialize, Serialize};

use crate::budget::TimeFit;
use crate::config::{ConfigError, ModelConfig, TrainConfig};
use crate::data::{DataSplit, DeviceBatches, Loader, PrepareError, StepBatch, batch_count};
use crate::lock::{LockError, RunLock};
use crate::loss::{Loss, LossError};
use crate::optim::{Optim, OptimError};
use crate::parallel::{self, DataParallel};
use crate::precision::{LossScale, MixedPrecision};
use crate::recovery::{discard_staging, resumable_checkpoint};
use crate::schedule::Schedule;
use crate::validate::{ValidateOptions, validate};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The model or the backend the config asks for (the message names the key).
    #[error("{0}")]
    Model(String),
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error(transparent)]
    Loss(#[from] LossError),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error(transparent)]
    Data(#[from] PrepareError),
    #[error("{}: {source}", path.display())]
    State { path: PathBuf, source: serde_json::Error },
    #[error("{}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    #[error(
        "the loss became {value} at step {step} (epoch {epoch}); the last good checkpoint is kept in {checkpoint}. \
         Try a lower learning rate (optim.lr), gradient clipping (optim.clip_grad_norm = 1.0), or check the data."
    )]
    NonFinite { value: f64, step: usize, epoch: usize, checkpoint: PathBuf },
    #[error(transparent)]
    Pretrained(#[from] PretrainedError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Where a run stands: enough, with the model, optimiser and schedule, to go on exactly.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Position {
    /// The epoch being trained (0-based) and the next batch within it.
    pub epoch: usize,
    pub batch: usize,
    /// Optimiser steps taken.
    pub step: usize,
    pub best_dice: Option<f64>,
    pub best_epoch: Option<usize>,
    /// Validations since the best one (early stopping).
    pub since_best: usize,
    /// The current epoch's training losses so far, summed, and their count: `epochs.csv`'s
    /// `train_loss` of an epoch a resume cut in two averages all its steps.
    pub epoch_loss_sum: f64,
    pub epoch_loss_steps: usize,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Finished,
    EarlyStopping,
    TimeLimit,
    /// A stop was requested ([`crate::stop`], e.g. `SIGTERM`): checkpointed, to be resumed.
    Interrupted,
}

#[derive(Debug)]
pub struct Outcome {
    pub run: PathBuf,
    pub stop: Stop,
    pub position: Position,
}

/// What the trainer tells its caller while it runs (the CLI draws progress bars).
pub trait Report {
    fn step(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, lr: f64, images_per_s: f64);
    fn message(&mut self, text: &str);
}

/// A new run in `run_root` from `config`. Pretrained encoder weights (`model.encoder_weights`)
/// are fetched first (from the cache, else the hub: see [`Hub::from_env`]), and the input
/// normalisation they come with is written into the run's config unless `model.input` sets one.
pub fn train(config: TrainConfig, run_root: &Path, report: &mut dyn Report) -> Result<Outcome, TrainError> {
    let _lock = RunLock::acquire(run_root)?;
    train_locked(config, run_root, report)
}

/// [`train`] in a run folder this process has locked.
fn train_locked(
    mut config: TrainConfig,
    run_root: &Path,
    report: &mut dyn Report,
) -> Result<Outcome, TrainError> {
    let pretrained = match &config.model.encoder_weights {
        Some(tag) => {
            let encoder = config.model.encoder.parse().map_err(TrainError::Model)?;
            let fetched = pretrained::lookup(encoder, tag)?.fetch(&Hub::from_env())?;
            match config.model.input {
                None => config.model.input = Some(fetched.normalization),
                Some(own) if own != fetched.normalization => report.message(&format!(
                    "model.input {own:?} replaces the {tag} weights' own normalisation {:?}",
                    fetched.normalization
                )),
                Some(_) => {}
            }
            Some(fetched)
        }
        None => None,
    };
    let info = RunInfo::new(config.train.seed, &config.train.device.to_string());
    let run = RunDir::create(run_root, &config.to_toml(), &info)?;
    Session::new(config, run, Start::Fresh(pretrained), report)?.run(report)
}

/// Where a session's weights come from.
enum Start {
    /// A new run: initialised, then the pretrained encoder and `model.weights` if given.
    Fresh(Option<Fetched>),
    /// A checkpoint of this run.
    Resume(PathBuf),
}

/// Continues the run in `run_root` from its newest complete checkpoint (see
/// [`resumable_checkpoint`]); a run that never reached one starts again from its `config.toml`.
pub fn resume(run_root: &Path, report: &mut dyn Report) -> Result<Outcome, TrainError> {
    let _lock = RunLock::acquire(run_root)?;
    let run = RunDir::open(run_root)?;
    let config = TrainConfig::load(&run.config_path(), &[])?;
    let Some(checkpoint) = resumable_checkpoint(&run)? else {
        report.message(&format!(
            "{} has no checkpoint yet (its run stopped before the first): starting it from the beginning",
            run_root.display()
        ));
        return train_locked(config, run_root, report);
    };
    if !checkpoint.ends_with("last") {
        report.message(&format!("the last checkpoint is incomplete: resuming from {}", checkpoint.display()));
    }
    Session::new(config, run, Start::Resume(checkpoint), report)?.run(report)
}

/// Loads what a new run starts from into `model`; what was loaded, a line each.
fn start_weights(
    model: &mut SegmentationModel,
    config: &TrainConfig,
    pretrained: Option<Fetched>,
) -> Result<Vec<String>, TrainError> {
    let allow_partial = config.model.allow_partial;
    let mut lines = Vec::new();
    if let Some(fetched) = pretrained {
        let tag = config.model.encoder_weights.as_deref().unwrap_or_default();
        let loaded = load_into_encoder(model, fetched.tensors, &fetched.path, allow_partial)?;
        lines.push(format!(
            "encoder_weights = \"{tag}\": {} ({})",
            fetched.path.display(),
            loaded.describe()
        ));
    }
    if let Some(weights) = &config.model.weights {
        let loaded = load_start_weights(model, weights, allow_partial)?;
        lines.push(format!("weights: {} ({})", weights.display(), loaded.describe()));
    }
    if lines.is_empty() {
        lines.push("weights: initialised at random (no model.encoder_weights or model.weights)".to_string());
    }
    if allow_partial {
        lines.push(
            "model.allow_partial = true: parameters not in the files keep their initial values".to_string(),
        );
    }
    let input = config.model.normalization();
    lines.push(if input.is_identity() {
        "input: grey / 255 in three channels, not normalised".to_string()
    } else {
        format!("input: (grey / 255 - mean) / std with mean {:?}, std {:?}", input.mean, input.std)
    });
    Ok(lines)
}

struct Session {
    config: TrainConfig,
    run: RunDir,
    device: Device,
    train_device: Device,
    model: SegmentationModel,
    /// The half-precision compute copy, when `train.precision` asks for one on a GPU.
    mixed: Option<MixedPrecision>,
    optim: Optim,
    schedule: Schedule,
    loss: Loss,
    data: DataSplit,
    position: Position,
    /// Several `train.devices`: each batch is split across them.
    parallel: Option<DataParallel>,
}

impl Session {
    fn new(
        config: TrainConfig,
        run: RunDir,
        start: Start,
        report: &mut dyn Report,
    ) -> Result<Self, TrainError> {
        let backend = config.train.device;
        let mut precision = config.train.precision;
        if let (Some(text), Backend::Cpu) = (precision, backend) {
            report.message(&format!(
                "train.precision = \"{text}\" is not used: the CPU backend trains in float32 (mixed precision is for GPU backends)"
            ));
            precision = None;
        }
        let device = backend.device().map_err(TrainError::Model)?;
        if let Some(precision) = precision {
            precision.check(&device, backend).map_err(TrainError::Model)?;
        }
        device.seed(config.train.seed);
        let train_device = training_device(&device, config.train.checkpointing);
        let spec = config.model.spec().map_err(TrainError::Model)?;
        let mut model = SegmentationModel::new(spec, &train_device);
        let loss = config.loss()?;
        let mut optim = Optim::new(&config.optim)?;
        let data = DataSplit::prepare(&config, &mut |text: &str| report.message(text))?;
        let updates_per_epoch =
            batch_count(data.train.len(), config.train.batch_size).div_ceil(config.optim.accumulate.max(1));
        let mut schedule =
            Schedule::new(config.schedule.clone(), config.optim.lr, updates_per_epoch * config.train.epochs);
        let mut position = Position::default();
        let mut loss_scale = config.train.loss_scale.map(LossScale::starting_at);
        match start {
            Start::Resume(dir) => {
                model = load_model(model, &dir.join("model.bpk"))?;
                optim.load(&dir.join("optim.bpk"), &model)?;
                let path = dir.join("state.json");
                let state: CheckpointState = serde_json::from_slice(&std::fs::read(&path)?)
                    .map_err(|source| TrainError::State { path, source })?;
                schedule = state.schedule;
                position = state.position;
                loss_scale = state.loss_scale;
                run.truncate_logs(position.step, position.epoch)?;
                report.message(&format!(
                    "resuming at epoch {} batch {} (step {})",
                    position.epoch + 1,
                    position.batch,
                    position.step
                ));
            }
            Start::Fresh(pretrained) => {
                let lines = start_weights(&mut model, &config, pretrained)?;
                for line in &lines {
                    report.message(line);
                }
                write_atomic(
                    run.root.join("start_weights.txt"),
                    format!("{}\n", lines.join("\n")).as_bytes(),
                )?;
            }
        }
        let mixed = precision.map(|precision| {
            let mut mixed = MixedPrecision::new(precision, spec, &model);
            if let (Some(saved), Some(scale)) = (loss_scale, &mut mixed.loss_scale) {
                *scale = saved;
            }
            report.message(&format!("mixed precision: {precision:?} compute, float32 master weights"));
            mixed
        });
        let parallel = match config.train.devices.len() {
            0 | 1 => None,
            _ => {
                let devices = parallel::devices(backend, &config.train.devices).map_err(TrainError::Model)?;
                report.message(&format!("data parallel on {} devices of {backend}", devices.len()));
                Some(DataParallel::new(devices.into_iter().map(Device::autodiff).collect()))
            }
        };
        Ok(Self {
            config,
            run,
            device,
            train_device,
            model,
            mixed,
            optim,
            schedule,
            loss,
            data,
            position,
            parallel,
        })
    }

    fn run(mut self, report: &mut dyn Report) -> Result<Outcome, TrainError> {
        let started = Instant::now();
        let seed = self.config.train.seed;
        let mut epochs = self.config.train.epochs;
        let batch_size = self.config.train.batch_size;
        let fit = self.time_fit();
        let mut last_saved = Instant::now();
        while self.position.epoch < epochs {
            let epoch = self.position.epoch;
            let epoch_started = Instant::now();
            let loader = Loader::new(&self.data, &self.config, epoch, self.position.batch);
            // A data-parallel step uploads each device's part itself.
            let upload_to = self.parallel.is_none().then_some(&self.train_device);
            let mut loader = DeviceBatches::start(loader, upload_to);
            if let Some(line) = self.loss.stage_begins(epoch) {
                report.message(&line);
            }
            let batches = loader.batches();
            // Steps of this session in this epoch, for the throughput.
            let mut session_steps = 0;
            while let Some(batch) = loader.next_batch() {
                let lr = self.schedule.lr(self.optim.updates() as usize);
                // The step's own seed makes dropout the same in a resumed run.
                self.train_device.seed(mix(seed, self.position.step as u64));
                let (value, grads) = match batch {
                    StepBatch::Host(batch) => {
                        let parallel =
                            self.parallel.as_ref().expect("host batches only for data parallel steps");
                        let step_seed = mix(seed, self.position.step as u64);
                        let (value, grads) =
                            parallel.forward_backward(&self.model, batch, &self.loss, epoch, step_seed);
                        (value, Some(grads))
                    }
                    StepBatch::Device((images, targets)) => {
                        let logits = match &mut self.mixed {
                            Some(mixed) => mixed.forward(&self.model, images),
                            None => self.model.forward(images),
                        };
                        let loss = self.loss.forward_at(epoch, logits, targets);
                        let value = loss.clone().into_scalar::<f32>() as f64;
                        let grads = match &mut self.mixed {
                            Some(mixed) => {
                                let (model, grads) = mixed.backward(self.model, loss);
                                self.model = model;
                                grads
                            }
                            None => Some(GradientsParams::from_grads(loss.backward(), &self.model)),
                        };
                        (value, grads)
                    }
                };
                if !value.is_finite() {
                    return Err(TrainError::NonFinite {
                        value,
                        step: self.position.step,
                        epoch,
                        checkpoint: self.run.checkpoint("last"),
                    });
                }
                match grads {
                    Some(grads) => self.model = self.optim.step(lr, self.model, grads),
                    None => report.message(&format!(
                        "step {}: f16 gradients overflowed; step skipped, loss scale lowered to {}",
                        self.position.step + 1,
                        self.mixed.as_ref().and_then(|m| m.loss_scale.as_ref()).map_or(0.0, |s| s.scale)
                    )),
                }
                self.position.step += 1;
                self.position.batch += 1;
                self.position.epoch_loss_sum += value;
                self.position.epoch_loss_steps += 1;
                session_steps += 1;
                if self.position.step.is_multiple_of(self.config.train.log_every)
                    || self.position.batch == batches
                {
                    let images_per_s =
                        (session_steps * batch_size) as f64 / epoch_started.elapsed().as_secs_f64();
                    let wait_share = loader.wait_share();
                    self.run.append(
                        "steps.csv",
                        &format!(
                            "{},{},{value:.6},{lr:.6e},{images_per_s:.3},{wait_share:.4}",
                            self.position.step, epoch
                        ),
                    )?;
                }
                report.step(
                    epoch,
                    self.position.batch,
                    batches,
                    value,
                    lr,
                    (session_steps * batch_size) as f64 / epoch_started.elapsed().as_secs_f64(),
                );
                if self
                    .config
                    .train
                    .checkpoint_every
                    .is_some_and(|every| self.position.step.is_multiple_of(every))
                {
                    self.save("last")?;
                }
                if self
                    .config
                    .train
                    .max_minutes
                    .is_some_and(|limit| started.elapsed().as_secs_f64() / 60.0 >= limit)
                {
                    self.save("last")?;
                    report.message("time limit reached; the run can be continued with --resume");
                    return Ok(self.outcome(Stop::TimeLimit));
                }
                if crate::stop::stop_requested() {
                    self.save("last")?;
                    report.message(&format!(
                        "stopped by request at step {}; checkpoint written, continue with --resume",
                        self.position.step
                    ));
                    return Ok(self.outcome(Stop::Interrupted));
                }
            }
            let (sum, steps) = (self.position.epoch_loss_sum, self.position.epoch_loss_steps);
            let train_loss = if steps > 0 { sum / steps as f64 } else { f64::NAN };
            self.position.epoch += 1;
            self.position.batch = 0;
            (self.position.epoch_loss_sum, self.position.epoch_loss_steps) = (0.0, 0);
            if let Some((fit, updates_per_epoch)) = fit {
                epochs = fit.epochs(epoch + 1, started.elapsed().as_secs_f64());
                self.schedule.refit(updates_per_epoch * epochs);
            }
            let mut val_dice = None;
            if (epoch + 1).is_multiple_of(self.config.train.val_every) || epoch + 1 == epochs {
                let (dice, worst) = self.validate(epoch)?;
                report.message(&format!(
                    "epoch {}/{epochs} step {} loss {train_loss:.4} validation mean dice {dice:.4} (worst {worst}) {:.0} s",
                    epoch + 1,
                    self.position.step,
                    started.elapsed().as_secs_f64()
                ));
                val_dice = Some(dice);
            }
            self.run.append(
                "epochs.csv",
                &format!(
                    "{},{},{train_loss:.6},{},{:.1}",
                    epoch + 1,
                    self.position.step,
                    val_dice.map(|d| format!("{d:.6}")).unwrap_or_default(),
                    epoch_started.elapsed().as_secs_f64()
                ),
            )?;
            let stopping_early =
                self.config.train.early_stopping.is_some_and(|patience| self.position.since_best >= patience);
            let finishing = stopping_early || self.position.epoch >= epochs;
            if finishing || last_due(self.config.train.last_every_minutes, last_saved.elapsed()) {
                self.save("last")?;
                last_saved = Instant::now();
            }
            if stopping_early {
                report.message(&format!(
                    "no improvement in {} validations: stopping early",
                    self.position.since_best
                ));
                return Ok(self.outcome(Stop::EarlyStopping));
            }
        }
        Ok(self.outcome(Stop::Finished))
    }

    /// With `train.fit_to_time`, the fit and the optimiser updates of an epoch.
    fn time_fit(&self) -> Option<(TimeFit, usize)> {
        let train = &self.config.train;
        let minutes = train.max_minutes.filter(|_| train.fit_to_time)?;
        let updates = batch_count(self.data.train.len(), train.batch_size)
            .div_ceil(self.config.optim.accumulate.max(1));
        Some((TimeFit::new(minutes, train.epochs), updates))
    }

    /// Validates, records the table (in the run's `validation/` folder), keeps the best
    /// checkpoint; returns the mean dice and the worst three classes with theirs.
    fn validate(&mut self, epoch: usize) -> Result<(f64, String), TrainError> {
        let model = self.model.valid();
        let options = ValidateOptions {
            threshold: self.config.train.threshold,
            batch_size: self.config.train.batch_size,
            input: self.config.model.normalization(),
        };
        let table = validate(&model, &self.data.validation, &options, &self.device, |_, _| {});
        let mean = table.mean();
        let means = table.class_means();
        let worst: Vec<String> = table
            .worst_classes(3)
            .into_iter()
            .map(|class| format!("{} {:.2}", boneseg_contract::CLASSES[class], means[class]))
            .collect();
        self.run.write_validation(epoch + 1, &table.to_csv())?;
        self.schedule.observe(mean);
        if self.position.best_dice.is_none_or(|best| mean > best) {
            self.position.best_dice = Some(mean);
            self.position.best_epoch = Some(epoch + 1);
            self.position.since_best = 0;
            self.save("best")?;
        } else {
            self.position.since_best += 1;
        }
        Ok((mean, worst.join(", ")))
    }

    /// Writes a checkpoint through a staging directory (see [`swap_checkpoint`]); a checkpoint
    /// that fails half-way (a full disk) leaves no staging files behind.
    fn save(&self, name: &str) -> Result<(), TrainError> {
        let staging = self.run.checkpoint(name).with_extension("staging");
        self.write_checkpoint(name, &staging).map_err(|error| {
            discard_staging(&staging);
            match error {
                TrainError::Io(source) => TrainError::Checkpoint {
                    path: self.run.checkpoint(name),
                    message: format!("cannot write the checkpoint: {source}"),
                },
                other => other,
            }
        })
    }

    fn write_checkpoint(&self, name: &str, staging: &Path) -> Result<(), TrainError> {
        // BatchNorm's running statistics hold the last batch's update pending until the next
        // forward; `valid()` folds it in, so that the checkpoint is what the next step will see.
        drop(self.model.valid());
        let dest = self.run.checkpoint(name);
        discard_staging(staging);
        std::fs::create_dir_all(staging)?;
        save_burnpack(&self.model, &staging.join("model.bpk"))?;
        self.optim.save(&staging.join("optim.bpk"), &self.model)?;
        let state = CheckpointState {
            position: self.position.clone(),
            schedule: self.schedule.clone(),
            loss_scale: self.mixed.as_ref().and_then(|m| m.loss_scale.clone()),
            model: Some(self.config.model.clone()),
        };
        std::fs::write(staging.join("state.json"), serde_json::to_vec_pretty(&state).expect("serialisable"))?;
        swap_checkpoint(staging, &dest)?;
        Ok(())
    }

    fn outcome(self, stop: Stop) -> Outcome {
        Outcome { run: self.run.root.clone(), stop, position: self.position }
    }
}

/// Whether an epoch's end writes `last`, `since` its previous write (`train.last_every_minutes`).
fn last_due(every_minutes: Option<f64>, since: std::time::Duration) -> bool {
    every_minutes.is_none_or(|minutes| since.as_secs_f64() / 60.0 >= minutes)
}

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    position: Position,
    schedule: Schedule,
    /// f16 mixed precision's loss scale.
    #[serde(default)]
    loss_scale: Option<LossScale>,
    /// The `[model]` the weights are of: a config changed after training is told apart from a
    /// damaged checkpoint (see `boneseg_infer::mismatch`).
    #[serde(default)]
    model: Option<ModelConfig>,
}

fn load_model(model: SegmentationModel, path: &Path) -> Result<SegmentationModel, TrainError> {
    let mut model = model;
    let mut store = boneseg_models::burn::store::BurnpackStore::from_file(path);
    use boneseg_models::burn::store::ModuleSnapshot;
    model
        .load_from(&mut store)
        .map_err(|e| TrainError::Checkpoint { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(model)
}

/// A per-step seed from the run's seed: SplitMix64's output of its `step`-th state.
fn mix(seed: u64, step: u64) -> u64 {
    mix64(seed.wrapping_add(step.wrapping_mul(GOLDEN_GAMMA)))
}

#[cfg(test)]
mod tests {
    use super::last_due;
    use std::time::Duration;

    #[test]
    fn last_is_written_after_every_epoch_unless_a_spacing_is_set() {
        assert!(last_due(None, Duration::ZERO));
        assert!(!last_due(Some(1.0), Duration::from_secs(59)));
        assert!(last_due(Some(1.0), Duration::from_secs(60)));
        assert!(last_due(Some(0.0), Duration::ZERO));
    }
}
