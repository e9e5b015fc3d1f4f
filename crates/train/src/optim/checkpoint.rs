//! The optimiser's part of a checkpoint, one burnpack: burn's optimiser record (moments and
//! step counts per parameter, keyed by the parameter ids that the model's own burnpack
//! preserves) plus what burn does not know about — gradients accumulated towards a step not
//! yet taken and the counters — so that a run killed between micro-batches resumes exactly.

use std::collections::HashMap;

use boneseg_models::burn::module::{Module, ModuleVisitor, Param, ParamId};
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::store::burn_pack::{self, Bytes, Reader, Scalar, Writer};
use boneseg_models::burn::tensor::{Tensor, TensorData};

use super::OptimError;

/// Prefix of the accumulated-gradient tensors and of this module's scalars in the file.
const ACCUMULATED: &str = "boneseg.accumulated.";
const MICRO_BATCHES: &str = "boneseg.micro_batches";
const UPDATES: &str = "boneseg.updates";

/// What the checkpoint holds besides burn's record.
pub struct Extra {
    /// Gradients summed over `micro_batches` micro-batches, by parameter id.
    pub accumulated: Vec<(ParamId, TensorData)>,
    pub micro_batches: u64,
    pub updates: u64,
}

/// Appends `extra` to burn's serialised record.
pub fn encode(record: Bytes, extra: Extra) -> Result<Bytes, OptimError> {
    let reader = Reader::from_bytes(record)?;
    let scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let mut tensors = reader.into_tensors()?;
    for (id, data) in extra.accumulated {
        let (bytes, shape, dtype) = data.into_parts();
        tensors.push(burn_pack::Tensor::new(
            format!("{ACCUMULATED}{}", id.val()),
            dtype,
            shape,
            Some(id.val()),
            bytes,
        ));
    }
    let mut writer = Writer::new(tensors)
        .with_scalar(MICRO_BATCHES, Scalar::from(extra.micro_batches))
        .with_scalar(UPDATES, Scalar::from(extra.updates));
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, *value);
    }
    for (key, value) in &metadata {
        writer = writer.with_metadata(key, value);
    }
    Ok(writer.into_bytes()?)
}

/// Splits a checkpoint into burn's record and the extra, checking that every parameter id
/// it names is one of `known` (else the state would silently not apply).
pub fn decode(bytes: Bytes, known: &[ParamId]) -> Result<(Bytes, Extra), OptimError> {
    let reader = Reader::from_bytes(bytes)?;
    let mut scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let count = |key: &str, scalars: &mut std::collections::BTreeMap<String, Scalar>| {
        scalars.remove(key).and_then(|value| u64::try_from(value).ok()).unwrap_or(0)
    };
    let micro_batches = count(MICRO_BATCHES, &mut scalars);
    let updates = count(UPDATES, &mut scalars);
    let known: std::collections::HashSet<u64> = known.iter().map(|id| id.val()).collect();
    let (mut burn_tensors, mut accumulated, mut strangers) = (Vec::new(), Vec::new(), 0usize);
    for tensor in reader.into_tensors()? {
        if tensor.param_id.is_some_and(|id| !known.contains(&id)) {
            strangers += 1;
        }
        if tensor.name.starts_with(ACCUMULATED) {
            let (_, dtype, shape, id, bytes) = tensor.into_parts()?;
            let id =
                id.ok_or_else(|| OptimError::Mismatch("an accumulated gradient has no parameter id".into()))?;
            accumulated.push((ParamId::from(id), TensorData::from_bytes(bytes, shape, dtype)));
        } else {
            burn_tensors.push(tensor);
        }
    }
    if strangers > 0 {
        return Err(OptimError::Mismatch(format!(
            "{strangers} state tensors belong to parameters this model does not have; \
             load the model from the same checkpoint before its optimiser state"
        )));
    }
    let mut writer = Writer::new(burn_tensors);
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, *value);
    }
    for (key, value) in &metadata {
        writer = writer.with_metadata(key, value);
    }
    Ok((writer.into_bytes()?, Extra { accumulated, micro_batches, updates }))
}

/// The data of each gradient in `grads` (a host read per tensor: done only when saving).
pub fn gradients_data<M: Module>(model: &M, grads: &GradientsParams) -> Vec<(ParamId, TensorData)> {
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: Vec<(ParamId, TensorData)>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.get::<D>(param.id) {
                self.out.push((param.id, grad.to_data()));
            }
        }
    }
    let mut visitor = Collect { grads, out: Vec::new() };
    model.visit(&mut visitor);
    visitor.out
}

/// Gradients rebuilt from their data, on each parameter's device, without autodiff (as
/// `GradientsParams::from_grads` gives them).
pub fn gradients_from_data<M: Module>(model: &M, data: Vec<(ParamId, TensorData)>) -> GradientsParams {
    struct Rebuild {
        data: HashMap<ParamId, TensorData>,
        grads: GradientsParams,
    }
    impl ModuleVisitor for Rebuild {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(data) = self.data.remove(&param.id) {
                let grad = Tensor::<D>::from_data(data, &param.val().device()).inner();
                self.grads.register(param.id, grad);
            }
        }
    }
    let mut visitor = Rebuild { data: data.into_iter().collect(), grads: GradientsParams::new() };
    model.visit(&mut visitor);
    visitor.grads
}
