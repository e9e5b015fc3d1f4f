//! Our convolution as a burn backend extension: flex runs [`kernels`](super::kernels), and on
//! flex with autodiff a handwritten backward pass runs their two gradients. burn's own autodiff
//! conv calls flex's `conv2d_x_backward`/`conv2d_weight_backward` (a transposed convolution and
//! a convolution with an HxW kernel), which is where flex loses most of its time.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::ops::ConvOptions;

use super::kernels::{self, Geometry};
use crate::affine::Affine;
use crate::flex::{dims4, tensor, values};

#[backend_extension(Flex, Autodiff)]
pub trait FastConv: Backend {
    /// 2-D convolution without bias.
    fn fast_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

impl FastConv for Flex {
    fn fast_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        forward(x, weight, options, None)
    }
}

/// Inference only (no autodiff): a convolution whose output goes straight through a per-channel
/// map, the form a bias, or a batch norm with running statistics and its ReLU, folds into.
#[backend_extension(Flex)]
pub trait FusedConv: Backend {
    fn fused_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        epilogue: Affine,
    ) -> FloatTensor<Self>;
}

impl FusedConv for Flex {
    fn fused_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvOptions<2>,
        epilogue: Affine,
    ) -> FlexTensor {
        forward(x, weight, options, Some(&epilogue))
    }
}

fn forward(
    x: FlexTensor,
    weight: FlexTensor,
    options: ConvOptions<2>,
    epilogue: Option<&Affine>,
) -> FlexTensor {
    let geometry = geometry(&x, &weight, &options);
    let out = kernels::forward(values(&x).as_slice(), values(&weight).as_slice(), &geometry, epilogue);
    tensor(out, geometry.output_shape())
}

impl<C: CheckpointStrategy> FastConv for Autodiff<Flex, C> {
    fn fast_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match ConvBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let out = Flex::fast_conv2d(x.into_primitive(), weight.into_primitive(), options.clone());
                prep.finish((x_state, weight_state, options), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(Flex::fast_conv2d(x.into_primitive(), weight.into_primitive(), options))
            }
        }
    }
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let d_out = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let geometry = geometry(&x, &weight, &options);
        let d_out = values(&d_out);
        if let Some(node) = node_x {
            let d_x = kernels::input_grad(values(&weight).as_slice(), d_out.as_slice(), &geometry);
            grads.register::<Flex>(node.id, tensor(d_x, dims(&x)));
        }
        if let Some(node) = node_weight {
            let d_weight = kernels::weight_grad(values(&x).as_slice(), d_out.as_slice(), &geometry);
            grads.register::<Flex>(node.id, tensor(d_weight, dims(&weight)));
        }
    }
}

fn geometry(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Geometry {
    Geometry::new(dims(x), dims(weight), options.stride, options.padding, options.dilation, options.groups)
}

fn dims(tensor: &FlexTensor) -> [usize; 4] {
    dims4(tensor, "conv2d")
}
