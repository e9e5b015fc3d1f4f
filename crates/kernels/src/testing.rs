//! Helpers of the parity tests against burn's ops, here and in the models' layer tests
//! (feature `testing`).

use burn::tensor::{Device, Tensor, TensorData};

/// Deterministic pseudo-random values in [-1, 1).
pub fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

pub fn tensor<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values(shape.iter().product(), seed), shape), device)
}

pub fn assert_close(ours: TensorData, burn: TensorData, what: &str) {
    assert_eq!(ours.shape(), burn.shape(), "{what}: shapes");
    let ours = ours.try_to_vec::<f32>().unwrap();
    let burn = burn.try_to_vec::<f32>().unwrap();
    assert_eq!(ours.len(), burn.len(), "{what}: lengths");
    let scale = burn.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours.iter().zip(&burn).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-4 * scale, "{what}: max difference {worst} against max magnitude {scale}");
}
