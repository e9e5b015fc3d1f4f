//! The training batch norm (batch statistics) and the activation after it, as one operation on
//! flex (f32) with its own backward ([`kernels`]); burn's `batch_norm_train` elsewhere. The
//! running statistics and the inference form (folded into the convolution, see
//! [`conv2d_mapped`](crate::conv2d_mapped)) belong to the layer that owns them.

mod extension;
pub mod kernels;

use burn::backend::Dispatch;
use burn::tensor::{Tensor, activation};

use crate::affine::Activation;
use crate::dispatch::runs_our_kernels;
use extension::FastBatchNorm;

/// `activation(batch_norm(x))` with the batch's own statistics, and those statistics (mean and
/// biased variance per channel, outside the graph) for the running ones.
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    activation: Activation,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    if runs_our_kernels(&x) {
        let (out, mean, variance) = Dispatch::fast_batch_norm_train(
            x.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            epsilon,
            activation,
        );
        return (Tensor::from_dispatch(out), Tensor::from_dispatch(mean), Tensor::from_dispatch(variance));
    }
    let result = burn::tensor::module::batch_norm_train(x, gamma, beta, epsilon);
    (activate(result.output, activation), result.mean, result.variance)
}

/// `activation(x)` with burn's ops.
pub fn activate(x: Tensor<4>, activation: Activation) -> Tensor<4> {
    match activation {
        Activation::Identity => x,
        Activation::Relu => activation::relu(x),
    }
}
