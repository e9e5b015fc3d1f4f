//! Mixed precision (`train.precision = "bf16"` or `"f16"`): the forward and backward passes run
//! in a half type on a shadow copy of the model, while the optimiser updates float32 master
//! weights — PyTorch's autocast + GradScaler recipe, built from what burn 0.22 offers:
//!
//! - The shadow's trainable parameters are casts of the master's, made inside the autodiff
//!   graph, so each step's gradients arrive at the master's parameters in float32.
//! - burn has no dtype promotion (an f32 tensor cannot meet a bf16 one), and BatchNorm updates
//!   its running statistics from the batch's, so the shadow keeps its own statistics in the half
//!   type; they are written back to the master after every step, so that validation and
//!   checkpoints (which use the master) always see them.
//! - The logits are cast back to float32 before the loss.
//! - With f16, whose range is small, the loss is multiplied by a dynamic scale before the
//!   backward pass so that small gradients do not flush to zero; gradients are divided by it
//!   again, and a step whose gradients overflowed is skipped while the scale halves. After
//!   `growth_interval` good steps the scale doubles (GradScaler's policy and defaults).

use std::collections::VecDeque;
use std::str::FromStr;

use boneseg_models::burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::{Device, FloatDType, Tensor};
use boneseg_models::device::{Backend, computes_in};
use boneseg_models::{ModelSpec, SegmentationModel};
use serde::{Deserialize, Serialize};

use crate::optim::grads;

/// The half type of the compute copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Precision {
    Bf16,
    F16,
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "f16" | "fp16" | "float16" | "half" => Ok(Precision::F16),
            _ => Err(format!(
                "train.precision = \"{text}\": use \"bf16\" or \"f16\" (or leave it out for float32)"
            )),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        })
    }
}

boneseg_contract::named_in_config!(Precision);

impl Precision {
    pub fn dtype(self) -> FloatDType {
        match self {
            Precision::Bf16 => FloatDType::BF16,
            Precision::F16 => FloatDType::F16,
        }
    }

    /// Refuses, before any tensor, a precision that `device` cannot train in (see
    /// [`computes_in`]): a Vulkan device without bf16 arithmetic that is asked for it anyway
    /// poisons itself at the first kernel, a panic deep in the first step, and lavapipe's f16
    /// kernels crash the process.
    pub fn check(self, device: &Device, backend: Backend) -> Result<(), String> {
        let Err(reason) = computes_in(device, self.dtype()) else {
            return Ok(());
        };
        let other = match self {
            Precision::Bf16 => Precision::F16,
            Precision::F16 => Precision::Bf16,
        };
        let instead = if computes_in(device, other.dtype()).is_ok() {
            format!("use train.precision = \"{other}\", or leave train.precision out to train in float32")
        } else {
            "leave train.precision out to train in float32".to_string()
        };
        Err(format!("train.precision = \"{self}\" cannot run on this {backend} device: {reason}; {instead}"))
    }
}

/// GradScaler's dynamic loss scale; saved with the checkpoint so a resumed run goes on with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossScale {
    pub scale: f64,
    /// Good steps since the scale last changed.
    pub good_steps: usize,
    pub growth_interval: usize,
}

impl Default for LossScale {
    fn default() -> Self {
        LossScale { scale: 65_536.0, good_steps: 0, growth_interval: 2000 }
    }
}

impl LossScale {
    /// GradScaler's policy from another initial scale (`train.loss_scale`).
    pub fn starting_at(scale: f64) -> Self {
        LossScale { scale, ..LossScale::default() }
    }

    /// Records a step's outcome: halves the scale after an overflow, doubles it after
    /// `growth_interval` good steps in a row.
    pub fn update(&mut self, finite: bool) {
        if finite {
            self.good_steps += 1;
            if self.good_steps >= self.growth_interval {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            self.scale *= 0.5;
            self.good_steps = 0;
        }
    }
}

/// The shadow model and, for f16, the loss scale.
pub struct MixedPrecision {
    dtype: FloatDType,
    /// Taken out while it is being refreshed (a module maps by value).
    shadow: Option<SegmentationModel>,
    /// [`trainable_flags`] of the master.
    trainable: Vec<bool>,
    /// Present for f16 only: bf16 has float32's range.
    pub loss_scale: Option<LossScale>,
}

impl MixedPrecision {
    /// A shadow of `master` (same architecture, on the master's device) in `precision`.
    pub fn new(precision: Precision, spec: ModelSpec, master: &SegmentationModel) -> Self {
        let mut mixed = MixedPrecision::with_dtype(precision.dtype(), spec, master);
        mixed.loss_scale = (precision == Precision::F16).then(LossScale::default);
        mixed
    }

    /// A shadow in any float type, without loss scaling. With `F32` a step is the plain
    /// float32 step computed through the shadow, which is how the tests check the mechanism
    /// apart from half precision's rounding.
    pub fn with_dtype(dtype: FloatDType, spec: ModelSpec, master: &SegmentationModel) -> Self {
        let device = master.devices().into_iter().next().expect("a model lives on a device");
        let shadow = SegmentationModel::new(spec, &device);
        let trainable = trainable_flags(master);
        let shadow = shadow.map(&mut CopyFrom::new(master, &trainable, dtype, Copy::Everything));
        MixedPrecision { dtype, shadow: Some(shadow), trainable, loss_scale: None }
    }

    /// Float32 logits of `images` computed in the half type with the master's current weights.
    pub fn forward(&mut self, master: &SegmentationModel, images: Tensor<4>) -> Tensor<4> {
        let dtype = self.dtype;
        let shadow = self.shadow.take().expect("the shadow is put back after every refresh");
        let shadow = self.shadow.insert(shadow.map(&mut CopyFrom::new(
            master,
            &self.trainable,
            dtype,
            Copy::Trainable,
        )));
        shadow.forward(images.cast(dtype)).cast(FloatDType::F32)
    }

    /// Backward pass of `loss` (computed from [`forward`](Self::forward)'s logits): the master
    /// with the shadow's updated BatchNorm statistics, and its float32 gradients — `None` when
    /// they overflowed (f16), in which case the step must be skipped.
    pub fn backward(
        &mut self,
        master: SegmentationModel,
        loss: Tensor<1>,
    ) -> (SegmentationModel, Option<GradientsParams>) {
        let scale = self.loss_scale.as_ref().map_or(1.0, |s| s.scale);
        let grads = GradientsParams::from_grads(loss.mul_scalar(scale).backward(), &master);
        // BatchNorm holds its last update pending until the next forward; `valid()` folds it in.
        let shadow = self.shadow.as_ref().expect("the shadow is put back after every refresh");
        drop(shadow.valid());
        let master = master.map(&mut CopyFrom::new(shadow, &self.trainable, FloatDType::F32, Copy::Buffers));
        let Some(loss_scale) = &mut self.loss_scale else {
            return (master, Some(grads));
        };
        let grads = grads::scale(&master, grads, 1.0 / scale);
        let finite = grads::global_norm(&master, &grads).is_finite();
        loss_scale.update(finite);
        (master, finite.then_some(grads))
    }
}

/// Which float tensors [`CopyFrom`] replaces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Copy {
    Everything,
    /// Parameters the optimiser trains (they require gradients).
    Trainable,
    /// Everything else: BatchNorm's running statistics.
    Buffers,
}

/// Replaces a module's float tensors, in visiting order, with casts of another module's of the
/// same architecture. Casts of trainable tensors stay in the autodiff graph.
struct CopyFrom<'a> {
    sources: VecDeque<Tensor<1>>,
    /// The master's tensors that train, in visiting order (a cast of one does not itself
    /// report `is_require_grad`, so the shadow cannot tell).
    trainable: std::slice::Iter<'a, bool>,
    dtype: FloatDType,
    which: Copy,
}

impl<'a> CopyFrom<'a> {
    fn new(source: &SegmentationModel, trainable: &'a [bool], dtype: FloatDType, which: Copy) -> Self {
        struct Collect(VecDeque<Tensor<1>>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let value = param.val();
                let count = value.shape().num_elements();
                self.0.push_back(value.reshape([count]));
            }
        }
        let mut collect = Collect(VecDeque::new());
        source.visit(&mut collect);
        CopyFrom { sources: collect.0, trainable: trainable.iter(), dtype, which }
    }
}

impl ModuleMapper for CopyFrom<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let different = "both models have the same architecture";
        let source = self.sources.pop_front().expect(different);
        let trainable = *self.trainable.next().expect(different);
        let wanted = match self.which {
            Copy::Everything => true,
            Copy::Trainable => trainable,
            Copy::Buffers => !trainable,
        };
        if !wanted {
            return param;
        }
        let dtype = self.dtype;
        param.map(|old| source.reshape(old.shape()).cast(dtype))
    }
}

/// Whether each float tensor of `model`, in visiting order, trains.
fn trainable_flags(model: &SegmentationModel) -> Vec<bool> {
    struct Flags(Vec<bool>);
    impl ModuleVisitor for Flags {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().is_require_grad());
        }
    }
    let mut flags = Flags(Vec::new());
    model.visit(&mut flags);
    flags.0
}
