//! The per-channel map that follows a convolution or a batch norm: a scale, a shift and an
//! activation. The convolution applies it to its output rows while they are still in cache (a
//! bias, or a batch norm with running statistics folded in); the training batch norm applies it
//! once the batch statistics are known.

/// What follows the normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
}

/// The per-channel map `activation(scale * x + shift)`: what a batch norm and its activation
/// apply once the statistics are known, and what a convolution's bias is with scale 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Affine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    pub activation: Activation,
}

impl Affine {
    /// `activation(gamma (x - mean) / sqrt(var + eps) + beta)`, as a scale and a shift.
    pub fn from_statistics(
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        variance: &[f32],
        epsilon: f64,
        activation: Activation,
    ) -> Self {
        let (scale, shift) = gamma
            .iter()
            .zip(beta)
            .zip(mean.iter().zip(variance))
            .map(|((&gamma, &beta), (&mean, &variance))| {
                let scale = gamma as f64 / (variance as f64 + epsilon).sqrt();
                (scale as f32, (beta as f64 - mean as f64 * scale) as f32)
            })
            .unzip();
        Self { scale, shift, activation }
    }

    /// Applies the map to `values`, all of channel `channel`.
    pub fn apply_to(&self, channel: usize, values: &mut [f32]) {
        let (scale, shift) = (self.scale[channel], self.shift[channel]);
        values.iter_mut().for_each(|v| *v = Affine::apply(scale, shift, *v, self.activation));
    }

    /// `activation(scale * value + shift)`: the forward and the backward's ReLU mask both use
    /// this one expression, so the mask is exactly where the forward's output was positive.
    #[inline]
    pub fn apply(scale: f32, shift: f32, value: f32, activation: Activation) -> f32 {
        let y = scale * value + shift;
        match activation {
            Activation::Identity => y,
            Activation::Relu => y.max(0.0),
        }
    }
}
