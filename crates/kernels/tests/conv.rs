//! boneseg's convolution against burn's own on flex: outputs and both gradients agree within
//! 1e-4 of the largest magnitude, over stride, asymmetric padding, dilation, groups (depthwise
//! included) and 1x1, 3x3, 7x7 and non-square kernels.

use boneseg_kernels::conv2d;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use boneseg_kernels::testing::{assert_close, tensor};

/// One convolution: input `[n, c, h, w]`, output channels, kernel, stride, padding
/// `[(top, bottom), (left, right)]`, dilation, groups, bias.
struct Case {
    x: [usize; 4],
    channels_out: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
    bias: bool,
}

impl Case {
    fn new(x: [usize; 4], channels_out: usize, kernel: usize) -> Self {
        let p = kernel / 2;
        Self {
            x,
            channels_out,
            kernel: [kernel, kernel],
            stride: [1, 1],
            padding: [(p, p); 2],
            dilation: [1, 1],
            groups: 1,
            bias: false,
        }
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new_with_padding(self.stride, self.padding, self.dilation, self.groups)
    }

    fn weight_shape(&self) -> [usize; 4] {
        [self.channels_out, self.x[1] / self.groups, self.kernel[0], self.kernel[1]]
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case::new([2, 3, 17, 19], 8, 3),
        Case::new([1, 16, 12, 12], 24, 1),
        Case { bias: true, ..Case::new([2, 5, 9, 11], 7, 1) },
        Case { stride: [2, 2], padding: [(0, 0); 2], ..Case::new([2, 6, 15, 14], 5, 1) },
        Case { stride: [2, 2], ..Case::new([2, 3, 23, 21], 8, 7) },
        Case { stride: [2, 1], padding: [(0, 1), (2, 1)], ..Case::new([1, 4, 13, 10], 6, 3) },
        Case { dilation: [2, 3], padding: [(2, 2), (3, 3)], ..Case::new([2, 4, 16, 18], 4, 3) },
        Case { groups: 2, bias: true, ..Case::new([2, 8, 10, 9], 6, 3) },
        Case { groups: 12, ..Case::new([2, 12, 14, 13], 12, 3) },
        Case { groups: 6, stride: [2, 2], ..Case::new([1, 6, 20, 17], 12, 7) },
        Case { kernel: [1, 5], padding: [(0, 0), (2, 2)], ..Case::new([2, 5, 8, 12], 3, 1) },
        Case { padding: [(0, 0); 2], ..Case::new([1, 2, 7, 7], 3, 7) },
        Case::new([2, 40, 33, 5], 48, 3),
    ]
}

/// Output, input gradient, weight gradient (and bias gradient) of one convolution, the loss
/// being the output weighted by fixed random values.
fn run(
    case: &Case,
    seed: u64,
    conv: impl Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
) -> Vec<TensorData> {
    let device = Device::flex().autodiff();
    let x = tensor(case.x, seed, &device).require_grad();
    let weight = tensor(case.weight_shape(), seed + 1, &device).require_grad();
    let bias = case.bias.then(|| tensor([case.channels_out], seed + 2, &device).require_grad());
    let out = conv(x.clone(), weight.clone(), bias.clone());
    let mix = tensor(out.dims(), seed + 3, &device);
    let grads = (out.clone() * mix).sum().backward();
    let mut results =
        vec![out.into_data(), x.grad(&grads).unwrap().into_data(), weight.grad(&grads).unwrap().into_data()];
    if let Some(bias) = bias {
        results.push(bias.grad(&grads).unwrap().into_data());
    }
    results
}

#[test]
fn outputs_and_gradients_match_burn() {
    for (index, case) in cases().iter().enumerate() {
        let seed = 10 * index as u64;
        let ours = run(case, seed, |x, w, b| conv2d(x, w, b, case.options()));
        let burn = run(case, seed, |x, w, b| burn_conv2d(x, w, b, case.options()));
        let names = ["output", "input gradient", "weight gradient", "bias gradient"];
        for ((ours, burn), name) in ours.into_iter().zip(burn).zip(names) {
            assert_close(ours, burn, &format!("case {index} {name}"));
        }
    }
}

#[test]
fn forward_without_autodiff_matches_burn() {
    let device = Device::flex();
    for (index, case) in cases().iter().enumerate() {
        let x = tensor(case.x, index as u64, &device);
        let weight = tensor(case.weight_shape(), index as u64 + 1, &device);
        let bias = case.bias.then(|| tensor([case.channels_out], index as u64 + 2, &device));
        let ours = conv2d(x.clone(), weight.clone(), bias.clone(), case.options());
        let burn = burn_conv2d(x, weight, bias, case.options());
        assert_close(ours.into_data(), burn.into_data(), &format!("case {index} output"));
    }
}

#[test]
fn strided_views_are_read_as_their_values() {
    let device = Device::flex();
    let case = Case::new([2, 4, 9, 7], 3, 3);
    let x = tensor([2, 4, 7, 9], 5, &device).swap_dims(2, 3);
    let weight = tensor(case.weight_shape(), 6, &device);
    let ours = conv2d(x.clone(), weight.clone(), None, case.options());
    let burn = burn_conv2d(x, weight, None, case.options());
    assert_close(ours.into_data(), burn.into_data(), "transposed input");
}
