//! The decoder's join (nearest 2x upsampling, then the skip concatenated) against burn's
//! interpolate and cat on flex: the same output and the same gradients for both inputs.

use boneseg_kernels::join::resize_nearest;
use boneseg_kernels::upsample_cat;
use burn::tensor::{Device, Tensor, TensorData};

use boneseg_kernels::testing::{assert_close, tensor};

fn burn_join(x: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = skip.dims();
    Tensor::cat(vec![resize_nearest(x, [height, width]), skip], 1)
}

/// Output and the gradients of both inputs, the loss being the output weighted by fixed random
/// values.
fn run(
    low: [usize; 4],
    skip: [usize; 4],
    join: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
) -> [TensorData; 3] {
    let device = Device::flex().autodiff();
    let x = tensor(low, 1, &device).require_grad();
    let s = tensor(skip, 2, &device).require_grad();
    let out = join(x.clone(), s.clone());
    let grads = (out.clone() * tensor(out.dims(), 3, &device)).sum().backward();
    [out.into_data(), x.grad(&grads).unwrap().into_data(), s.grad(&grads).unwrap().into_data()]
}

#[test]
fn output_and_gradients_match_burn() {
    // An exact 2x step runs our kernel; 5x4 to 11x9 is not one and runs burn's ops.
    let cases = [([2, 3, 5, 7], [2, 4, 10, 14]), ([1, 6, 4, 4], [1, 2, 8, 8]), ([2, 3, 5, 4], [2, 2, 11, 9])];
    for (low, skip) in cases {
        let ours = run(low, skip, upsample_cat);
        let burn = run(low, skip, burn_join);
        for ((ours, burn), name) in
            ours.into_iter().zip(burn).zip(["output", "low gradient", "skip gradient"])
        {
            assert_close(ours, burn, &format!("{low:?} + {skip:?} {name}"));
        }
    }
}

#[test]
fn forward_without_autodiff_matches_burn() {
    let device = Device::flex();
    let (x, skip) = (tensor([2, 5, 6, 3], 4, &device), tensor([2, 3, 12, 6], 5, &device));
    assert_close(upsample_cat(x.clone(), skip.clone()).into_data(), burn_join(x, skip).into_data(), "join");
}
