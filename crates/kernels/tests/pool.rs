//! boneseg's max-pool against burn's on flex: the same outputs and input gradients, over kernel
//! sizes, strides, padding, dilation and odd plane sizes.

use boneseg_kernels::max_pool2d;
use burn::tensor::module::max_pool2d as burn_max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};

use boneseg_kernels::testing::{assert_close, tensor};

fn cases() -> Vec<([usize; 4], MaxPoolOptions<2>)> {
    vec![
        ([2, 3, 16, 16], MaxPoolOptions::new([2, 2]).with_stride([2, 2])),
        ([2, 4, 17, 13], MaxPoolOptions::new([2, 2]).with_stride([2, 2])),
        ([1, 5, 15, 18], MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1])),
        ([2, 2, 12, 11], MaxPoolOptions::new([3, 2]).with_stride([1, 2]).with_padding([1, 0])),
        ([1, 3, 14, 14], MaxPoolOptions::new([3, 3]).with_dilation([2, 2]).with_padding([2, 2])),
    ]
}

/// Output and input gradient, the loss being the output weighted by fixed random values.
fn run(shape: [usize; 4], seed: u64, pool: impl Fn(Tensor<4>) -> Tensor<4>) -> [TensorData; 2] {
    let device = Device::flex().autodiff();
    let x = tensor(shape, seed, &device).require_grad();
    let out = pool(x.clone());
    let grads = (out.clone() * tensor(out.dims(), seed + 1, &device)).sum().backward();
    [out.into_data(), x.grad(&grads).expect("x has a gradient").into_data()]
}

#[test]
fn outputs_and_gradients_match_burn() {
    for (index, (shape, options)) in cases().into_iter().enumerate() {
        let seed = 10 * index as u64;
        let ours = run(shape, seed, |x| max_pool2d(x, options.clone()));
        let burn = run(shape, seed, |x| burn_max_pool2d(x, options.clone()));
        for ((ours, burn), name) in ours.into_iter().zip(burn).zip(["output", "input gradient"]) {
            assert_close(ours, burn, &format!("case {index} {name}"));
        }
    }
}

#[test]
fn forward_without_autodiff_matches_burn() {
    let device = Device::flex();
    for (index, (shape, options)) in cases().into_iter().enumerate() {
        let x = tensor(shape, index as u64, &device);
        let ours = max_pool2d(x.clone(), options.clone());
        let burn = burn_max_pool2d(x, options);
        assert_close(ours.into_data(), burn.into_data(), &format!("case {index}"));
    }
}

/// PyTorch's rule for ties: the first largest value of the window takes the gradient.
#[test]
fn ties_send_the_gradient_to_the_first_maximum() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 3.0, 3.0, 2.0], [1, 1, 2, 2]), &device)
        .require_grad();
    let out = max_pool2d(x.clone(), MaxPoolOptions::new([2, 2]));
    let grads = out.sum().backward();
    let grad = x.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(grad, vec![0.0, 1.0, 0.0, 0.0]);
}
