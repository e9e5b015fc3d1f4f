//! The training batch norm as a burn backend extension: flex runs [`kernels`](super::kernels),
//! and on flex with autodiff a handwritten backward runs their gradient. The batch statistics
//! come back as tensors of their own, outside the graph, for the running statistics.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Flex, backend_extension};

use super::kernels::{self, Layout, Saved};
use crate::affine::{Activation, Affine};
use crate::flex::{dims4, tensor, values};

#[backend_extension(Flex, Autodiff)]
pub trait FastBatchNorm: Backend {
    /// `activation(batch_norm(x))` with the batch's statistics: the output, the mean and the
    /// biased variance per channel.
    fn fast_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl FastBatchNorm for Flex {
    fn fast_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        activation: Activation,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = dims4(&x, "batch norm");
        let layout = Layout::new(shape);
        let x = values(&x);
        let (mean, variance) = kernels::statistics(x.as_slice(), &layout);
        let (gamma, beta) = (values(&gamma), values(&beta));
        let affine =
            Affine::from_statistics(gamma.as_slice(), beta.as_slice(), &mean, &variance, epsilon, activation);
        let out = kernels::normalise(x.as_slice(), &layout, &affine);
        let channels = [layout.channels];
        (tensor(out, shape), tensor(mean, channels), tensor(variance, channels))
    }
}

impl<C: CheckpointStrategy> FastBatchNorm for Autodiff<Flex, C> {
    fn fast_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let parents = [x.node(), gamma.node(), beta.node()];
        match BatchNormBackward.prepare::<C>(parents).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let beta_state = prep.checkpoint(&beta);
                let (out, mean, variance) = on_flex::<C>(x, gamma, beta, epsilon, activation);
                let state = BatchNormState {
                    nodes: [x_state, gamma_state, beta_state],
                    mean: mean.clone(),
                    variance: variance.clone(),
                    epsilon,
                    activation,
                };
                let out = prep.finish(state, out);
                (out, Self::from_inner(mean), Self::from_inner(variance))
            }
            OpsKind::UnTracked(prep) => {
                let (out, mean, variance) = on_flex::<C>(x, gamma, beta, epsilon, activation);
                (prep.finish(out), Self::from_inner(mean), Self::from_inner(variance))
            }
        }
    }
}

/// The forward on the tensors inside the autodiff ones.
fn on_flex<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    gamma: FloatTensor<Autodiff<Flex, C>>,
    beta: FloatTensor<Autodiff<Flex, C>>,
    epsilon: f64,
    activation: Activation,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    Flex::fast_batch_norm_train(
        x.into_primitive(),
        gamma.into_primitive(),
        beta.into_primitive(),
        epsilon,
        activation,
    )
}

#[derive(Debug)]
struct BatchNormBackward;

/// The checkpointed input, gamma and beta, and the statistics the forward computed.
#[derive(Debug, Clone)]
struct BatchNormState {
    nodes: [NodeId; 3],
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    activation: Activation,
}

impl Backward<Flex, 3> for BatchNormBackward {
    type State = BatchNormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let d_out = grads.consume::<Flex>(&ops.node);
        let state = ops.state;
        let [x, gamma, beta] = state.nodes.map(|node| checkpointer.retrieve_node_output::<FlexTensor>(node));
        let shape = dims4(&x, "batch norm");
        let (x, gamma, beta) = (values(&x), values(&gamma), values(&beta));
        let (mean, variance) = (values(&state.mean), values(&state.variance));
        let saved = Saved {
            x: x.as_slice(),
            gamma: gamma.as_slice(),
            beta: beta.as_slice(),
            mean: mean.as_slice(),
            variance: variance.as_slice(),
            epsilon: state.epsilon,
            activation: state.activation,
        };
        let gradients = kernels::backward(&saved, values(&d_out).as_slice(), &Layout::new(shape));
        let channels = [shape[1]];
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(gradients.x, shape));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, tensor(gradients.gamma, channels));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, tensor(gradients.beta, channels));
        }
    }
}
