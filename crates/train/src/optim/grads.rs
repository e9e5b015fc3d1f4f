//! Whole-model operations on gradients that burn does per tensor or not at all: the global
//! norm clipping of `torch.nn.utils.clip_grad_norm_` (burn's norm clipping is per tensor,
//! which changes the direction of the update), and summing and scaling for accumulation.
//! Gradients are found through the module's parameters, the only way to enumerate them.

use boneseg_models::burn::module::{Module, ModuleVisitor, Param, ParamId};
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::Tensor;

/// Scales the gradients so that their global L2 norm is at most `max_norm`, exactly as
/// `clip_grad_norm_(max_norm, norm_type=2)`: the factor `max_norm / (norm + 1e-6)`, capped at
/// 1, multiplies every gradient. Returns the gradients and the norm before clipping.
pub fn clip_grad_norm<M: Module>(model: &M, grads: GradientsParams, max_norm: f64) -> (GradientsParams, f64) {
    let norm = global_norm(model, &grads);
    let factor = (max_norm / (norm + 1e-6)).min(1.0);
    (scale(model, grads, factor), norm)
}

/// The L2 norm of all gradients of `model`'s parameters taken together.
pub fn global_norm<M: Module>(model: &M, grads: &GradientsParams) -> f64 {
    struct SquaredSum<'a> {
        grads: &'a GradientsParams,
        sum: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SquaredSum<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.get::<D>(param.id) {
                let squares = grad.square().sum();
                self.sum = Some(match self.sum.take() {
                    Some(sum) => sum + squares,
                    None => squares,
                });
            }
        }
    }
    let mut visitor = SquaredSum { grads, sum: None };
    model.visit(&mut visitor);
    visitor.sum.map_or(0.0, |sum| sum.into_scalar::<f64>().sqrt())
}

/// Every gradient of `model`'s parameters multiplied by `factor`.
pub fn scale<M: Module>(model: &M, grads: GradientsParams, factor: f64) -> GradientsParams {
    struct Scale {
        grads: GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, grad.mul_scalar(self.factor));
            }
        }
    }
    let mut visitor = Scale { grads, factor };
    model.visit(&mut visitor);
    visitor.grads
}

/// `sum + grads`, parameter by parameter (a parameter with a gradient in only one keeps it).
pub fn add<M: Module>(model: &M, sum: GradientsParams, grads: GradientsParams) -> GradientsParams {
    struct Add {
        sum: GradientsParams,
        grads: GradientsParams,
    }
    impl ModuleVisitor for Add {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let total = match (self.sum.remove::<D>(param.id), self.grads.remove::<D>(param.id)) {
                (Some(a), Some(b)) => a + b,
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => return,
            };
            self.sum.register(param.id, total);
        }
    }
    let mut visitor = Add { sum, grads };
    model.visit(&mut visitor);
    visitor.sum
}

/// The ids of `model`'s float parameters.
pub fn param_ids<M: Module>(model: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut visitor = Ids(Vec::new());
    model.visit(&mut visitor);
    visitor.0
}
