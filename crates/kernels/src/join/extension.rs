//! The decoder's join as a burn backend extension: flex runs [`kernels`](super::kernels), and on
//! flex with autodiff a handwritten backward splits the gradient between the two inputs.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};

use super::kernels::{self, JoinShape};
use crate::flex::{dims4, tensor, values};

#[backend_extension(Flex, Autodiff)]
pub trait FastJoin: Backend {
    /// `cat([nearest_upsample_2x(low), skip], dim=1)`.
    fn fast_upsample_cat(low: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl FastJoin for Flex {
    fn fast_upsample_cat(low: FlexTensor, skip: FlexTensor) -> FlexTensor {
        let shape = join_shape(&low, &skip);
        tensor(
            kernels::forward(values(&low).as_slice(), values(&skip).as_slice(), &shape),
            shape.output_shape(),
        )
    }
}

impl<C: CheckpointStrategy> FastJoin for Autodiff<Flex, C> {
    fn fast_upsample_cat(low: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = join_shape(low.primitive(), skip.primitive());
        match JoinBackward.prepare::<C>([low.node(), skip.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                prep.finish(shape, Flex::fast_upsample_cat(low.into_primitive(), skip.into_primitive()))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(Flex::fast_upsample_cat(low.into_primitive(), skip.into_primitive()))
            }
        }
    }
}

fn join_shape(low: &FlexTensor, skip: &FlexTensor) -> JoinShape {
    let [batch, low_channels, height, width] = dims4(low, "upsample_cat");
    let [skip_batch, skip_channels, skip_height, skip_width] = dims4(skip, "upsample_cat");
    assert_eq!(
        [skip_batch, skip_height, skip_width],
        [batch, 2 * height, 2 * width],
        "upsample_cat: the skip must be the batch of the low-resolution input at twice its size"
    );
    JoinShape { batch, low_channels, skip_channels, low: [height, width] }
}

#[derive(Debug)]
struct JoinBackward;

impl Backward<Flex, 2> for JoinBackward {
    type State = JoinShape;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_low, node_skip] = ops.parents;
        let d_out = grads.consume::<Flex>(&ops.node);
        let shape = ops.state;
        let (d_low, d_skip) = kernels::backward(values(&d_out).as_slice(), &shape);
        let [batch, _, height, width] = shape.output_shape();
        if let Some(node) = node_low {
            grads
                .register::<Flex>(node.id, tensor(d_low, [batch, shape.low_channels, height / 2, width / 2]));
        }
        if let Some(node) = node_skip {
            grads.register::<Flex>(node.id, tensor(d_skip, [batch, shape.skip_channels, height, width]));
        }
    }
}
