//! Max pooling as a burn backend extension: flex runs [`kernels`](super::kernels); on flex with
//! autodiff the forward keeps the chosen positions and a handwritten backward scatters the
//! gradient to them.

use std::sync::Arc;

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::ops::MaxPoolOptions;

use super::kernels::{self, PoolGeometry};
use crate::flex::{dims4, tensor, values};

#[backend_extension(Flex, Autodiff)]
pub trait FastMaxPool: Backend {
    /// `F.max_pool2d` in floor mode.
    fn fast_max_pool2d(x: FloatTensor<Self>, options: MaxPoolOptions<2>) -> FloatTensor<Self>;
}

impl FastMaxPool for Flex {
    fn fast_max_pool2d(x: FlexTensor, options: MaxPoolOptions<2>) -> FlexTensor {
        pool(&x, &options).0
    }
}

impl<C: CheckpointStrategy> FastMaxPool for Autodiff<Flex, C> {
    fn fast_max_pool2d(x: FloatTensor<Self>, options: MaxPoolOptions<2>) -> FloatTensor<Self> {
        match MaxPoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (out, indices, geometry) = pool(&x.into_primitive(), &options);
                prep.finish(PoolState { indices: Arc::new(indices), geometry }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(pool(&x.into_primitive(), &options).0),
        }
    }
}

fn pool(x: &FlexTensor, options: &MaxPoolOptions<2>) -> (FlexTensor, Vec<u32>, PoolGeometry) {
    let shape = dims4(x, "max_pool2d");
    let geometry =
        PoolGeometry::new(shape, options.kernel_size, options.stride, options.padding, options.dilation);
    let (out, indices) = kernels::forward(values(x).as_slice(), &geometry);
    (tensor(out, geometry.output_shape(shape[0])), indices, geometry)
}

#[derive(Debug)]
struct MaxPoolBackward;

/// Where each output took its value from, and the shapes.
#[derive(Debug, Clone)]
struct PoolState {
    indices: Arc<Vec<u32>>,
    geometry: PoolGeometry,
}

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = PoolState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let d_out = grads.consume::<Flex>(&ops.node);
        let Some(node) = node_x else { return };
        let PoolState { indices, geometry } = ops.state;
        let d_x = kernels::backward(values(&d_out).as_slice(), &indices, &geometry);
        let [batch, channels, _, _] = dims4(&d_out, "max_pool2d");
        grads.register::<Flex>(node.id, tensor(d_x, [batch, channels, geometry.input[0], geometry.input[1]]));
    }
}
