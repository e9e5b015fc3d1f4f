//! The per-tensor update rules, written to PyTorch's `torch.optim` algorithms. burn's own
//! differ in their defaults where it matters: Adam's epsilon is 1e-5 (torch: 1e-8) and SGD's
//! momentum dampening is 0.1 (torch: 0); AdamP has no burn counterpart; and none of them
//! takes a per-group rate scale. Each rule here follows torch's order of operations, so the
//! fixtures match to float32 rounding.
//!
//! Each rule is a burn [`Optimizer`], so burn's `ModuleOptimizer` walks the module, keeps
//! one state per parameter and records it for checkpoints. `lr_scale` lets the same rule
//! serve a parameter group at a fraction of the rate (the encoder).

use boneseg_models::burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use boneseg_models::burn::store::burn_pack::Scalar;
use boneseg_models::burn::tensor::{Device, Tensor};

/// How Adam applies weight decay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decay {
    /// Added to the gradient (`torch.optim.Adam`).
    L2,
    /// Shrinks the weights by `lr * weight_decay` before the step (`torch.optim.AdamW`).
    Decoupled,
}

/// `torch.optim.Adam` / `AdamW` (amsgrad off).
#[derive(Clone, Debug)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decay: Decay,
    pub lr_scale: f64,
}

/// The two moments and the step count of Adam and AdamP.
#[derive(Clone)]
pub struct AdamState<const D: usize> {
    pub step: u64,
    pub exp_avg: Tensor<D>,
    pub exp_avg_sq: Tensor<D>,
}

impl<const D: usize> AdamState<D> {
    /// Advances the moments by `grad`; a missing state is torch's zeros.
    fn advance(state: Option<Self>, grad: &Tensor<D>, beta1: f64, beta2: f64) -> Self {
        let first = grad.clone().mul_scalar(1.0 - beta1);
        let second = grad.clone().square().mul_scalar(1.0 - beta2);
        match state {
            None => Self { step: 1, exp_avg: first, exp_avg_sq: second },
            Some(state) => Self {
                step: state.step + 1,
                exp_avg: state.exp_avg.mul_scalar(beta1) + first,
                exp_avg_sq: state.exp_avg_sq.mul_scalar(beta2) + second,
            },
        }
    }

    /// `sqrt(v) / sqrt(1 - beta2^t) + eps` and the step size `lr / (1 - beta1^t)`.
    fn denominator_and_step_size(&self, lr: f64, beta1: f64, beta2: f64, eps: f64) -> (Tensor<D>, f64) {
        let t = self.step as i32;
        let correction1 = 1.0 - beta1.powi(t);
        let correction2 = 1.0 - beta2.powi(t);
        let denominator = self.exp_avg_sq.clone().sqrt().div_scalar(correction2.sqrt()).add_scalar(eps);
        (denominator, lr / correction1)
    }
}

impl<const D: usize> RecordState for AdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "step", Scalar::from(self.step));
        out.push_tensor(prefix, "exp_avg", self.exp_avg.to_data());
        out.push_tensor(prefix, "exp_avg_sq", self.exp_avg_sq.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let step = u64::try_from(src.take_scalar(prefix, "step")?).ok()?;
        let exp_avg = Tensor::from_data(src.take_tensor(prefix, "exp_avg")?, device);
        let exp_avg_sq = Tensor::from_data(src.take_tensor(prefix, "exp_avg_sq")?, device);
        Some(Self { step, exp_avg, exp_avg_sq })
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let lr = lr * self.lr_scale;
        let (mut tensor, mut grad) = (tensor, grad);
        if self.weight_decay != 0.0 {
            match self.decay {
                Decay::L2 => grad = grad + tensor.clone().mul_scalar(self.weight_decay),
                Decay::Decoupled => tensor = tensor.mul_scalar(1.0 - lr * self.weight_decay),
            }
        }
        let state = AdamState::advance(state, &grad, self.beta1, self.beta2);
        let (denominator, step_size) = state.denominator_and_step_size(lr, self.beta1, self.beta2, self.eps);
        let update = state.exp_avg.clone().div(denominator).mul_scalar(step_size);
        (tensor - update, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState {
            step: state.step,
            exp_avg: state.exp_avg.to_device(device),
            exp_avg_sq: state.exp_avg_sq.to_device(device),
        }
    }
}

/// `torch.optim.SGD`: L2 weight decay, momentum with dampening, optionally Nesterov.
#[derive(Clone, Debug)]
pub struct Sgd {
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    pub lr_scale: f64,
}

/// The momentum buffer; torch starts it at the first gradient, undampened.
#[derive(Clone)]
pub struct MomentumState<const D: usize> {
    pub buffer: Tensor<D>,
}

impl<const D: usize> RecordState for MomentumState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "momentum_buffer", self.buffer.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self { buffer: Tensor::from_data(src.take_tensor(prefix, "momentum_buffer")?, device) })
    }
}

impl Optimizer for Sgd {
    type State<const D: usize> = MomentumState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let lr = lr * self.lr_scale;
        let mut grad = grad;
        if self.weight_decay != 0.0 {
            grad = grad + tensor.clone().mul_scalar(self.weight_decay);
        }
        if self.momentum == 0.0 {
            return (tensor - grad.mul_scalar(lr), None);
        }
        let buffer = match state {
            None => grad.clone(),
            Some(state) => {
                state.buffer.mul_scalar(self.momentum) + grad.clone().mul_scalar(1.0 - self.dampening)
            }
        };
        let direction =
            if self.nesterov { grad + buffer.clone().mul_scalar(self.momentum) } else { buffer.clone() };
        (tensor - direction.mul_scalar(lr), Some(MomentumState { buffer }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        MomentumState { buffer: state.buffer.to_device(device) }
    }
}

/// AdamP (Heo et al., 2021; the `adamp` package): Adam whose update, for a weight of two or
/// more dimensions that is (nearly) scale-invariant — its gradient almost orthogonal to it,
/// per output channel or as a whole — loses its radial component, so that the effective step
/// size does not shrink as the weight norm grows; decay is then weakened by `wd_ratio`.
///
/// The channel axis is dimension 0, as in the package: the output channel of a burn Conv2d
/// (`[out, in, kh, kw]`, torch's layout), but the *input* of a burn Linear, which stores
/// `[in, out]`.
#[derive(Clone, Debug)]
pub struct AdamP {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub delta: f64,
    pub wd_ratio: f64,
    pub nesterov: bool,
    pub lr_scale: f64,
}

impl AdamP {
    /// The projected update and the decay factor, with both of the package's tests (per
    /// channel, then whole tensor) computed as 0/1 tensors rather than branched on, so that
    /// a GPU step does not wait for a host read per parameter.
    fn project<const D: usize>(
        &self,
        tensor: &Tensor<D>,
        grad: Tensor<D>,
        perturb: Tensor<D>,
    ) -> (Tensor<D>, Tensor<2>) {
        let shape = tensor.dims();
        let channels = shape[0];
        let rest = tensor.shape().num_elements() / channels.max(1);
        let weight = tensor.clone().reshape([channels, rest]);
        let grad = grad.reshape([channels, rest]);
        let perturb = perturb.reshape([channels, rest]);
        let eps = self.eps;

        let channel_cos = cosine_similarity(grad.clone(), weight.clone(), eps).abs().max().reshape([1, 1]);
        let per_channel = channel_cos.lower_elem(self.delta / (rest as f64).sqrt()).float();
        let channel_unit = weight.clone() / weight.clone().square().sum_dim(1).sqrt().add_scalar(eps);
        let channel_radial = channel_unit.clone() * (channel_unit * perturb.clone()).sum_dim(1);

        let total = channels * rest;
        let (flat_grad, flat_weight) = (grad.reshape([1, total]), weight.clone().reshape([1, total]));
        let layer_cos = cosine_similarity(flat_grad, flat_weight, eps).abs().reshape([1, 1]);
        let whole = layer_cos.lower_elem(self.delta / (total as f64).sqrt()).float();
        let layer_unit = weight.clone() / weight.square().sum().sqrt().add_scalar(eps).reshape([1, 1]);
        let layer_radial = layer_unit.clone() * (layer_unit * perturb.clone()).sum().reshape([1, 1]);

        let use_layer = per_channel.clone().neg().add_scalar(1.0) * whole;
        let projected = perturb - channel_radial * per_channel.clone() - layer_radial * use_layer.clone();
        let decay_factor = (per_channel + use_layer).mul_scalar(self.wd_ratio - 1.0).add_scalar(1.0);
        (projected.reshape(shape), decay_factor)
    }
}

/// `F.cosine_similarity(x, y, dim=1, eps)`: each norm floored at `eps`; shape `[rows, 1]`.
fn cosine_similarity(x: Tensor<2>, y: Tensor<2>, eps: f64) -> Tensor<2> {
    let x_norm = x.clone().square().sum_dim(1).sqrt().clamp_min(eps);
    let y_norm = y.clone().square().sum_dim(1).sqrt().clamp_min(eps);
    ((x / x_norm) * (y / y_norm)).sum_dim(1)
}

impl Optimizer for AdamP {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let lr = lr * self.lr_scale;
        let state = AdamState::advance(state, &grad, self.beta1, self.beta2);
        let (denominator, step_size) = state.denominator_and_step_size(lr, self.beta1, self.beta2, self.eps);
        let perturb = if self.nesterov {
            (state.exp_avg.clone().mul_scalar(self.beta1) + grad.clone().mul_scalar(1.0 - self.beta1))
                .div(denominator)
        } else {
            state.exp_avg.clone().div(denominator)
        };
        let (perturb, decay_factor) = if D > 1 {
            self.project(&tensor, grad, perturb)
        } else {
            (perturb, Tensor::ones([1, 1], &tensor.device()))
        };
        let mut tensor = tensor;
        if self.weight_decay > 0.0 {
            let shrink = decay_factor.mul_scalar(-lr * self.weight_decay).add_scalar(1.0);
            tensor = tensor * shrink.reshape([1; D]);
        }
        (tensor - perturb.mul_scalar(step_size), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}
