//! Reading and making flex tensors for the kernels, which work on plain f32 slices.

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorData;

/// The shape of a tensor the kernels expect to be 4-D; `op` names the caller in the panic.
pub fn dims4(tensor: &FlexTensor, op: &str) -> [usize; 4] {
    let shape = tensor.layout().shape();
    assert_eq!(shape.len(), 4, "{op}: expected a 4-D tensor, got {shape:?}");
    [shape[0], shape[1], shape[2], shape[3]]
}

/// The tensor's f32 values in row-major order, copied only when its layout is not contiguous.
pub fn values(tensor: &FlexTensor) -> Values {
    match tensor.as_slice::<f32>() {
        Some(_) => Values(tensor.clone()),
        None => Values(tensor.to_contiguous()),
    }
}

/// A contiguous f32 tensor.
pub struct Values(FlexTensor);

impl Values {
    pub fn as_slice(&self) -> &[f32] {
        self.0.as_slice::<f32>().expect("contiguous f32 tensor")
    }
}

pub fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
