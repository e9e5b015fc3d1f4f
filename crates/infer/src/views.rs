//! Test-time augmentation: each view changes the image (horizontal flip, scale, brightness
//! multiply), the model runs on it, the view is undone on its logits (flipped back, resized to
//! the common grid) and the views are merged, on logits or on probabilities.

use boneseg_data::plane::Plane;

/// Which views to run and how to merge them.
#[derive(Clone, Debug, PartialEq)]
pub struct Tta {
    pub hflip: bool,
    /// Input scales relative to the mode's own (1.0 = as trained).
    pub scales: Vec<f64>,
    /// Pixel multipliers (1.0 = unchanged); values clamp at 255.
    pub brightness: Vec<f64>,
    pub merge: Merge,
}

impl Default for Tta {
    /// One view: the image as it is.
    fn default() -> Self {
        Tta { hflip: false, scales: vec![1.0], brightness: vec![1.0], merge: Merge::Logits }
    }
}

/// What is averaged across views (and models).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Logits,
    Probabilities,
}

impl std::str::FromStr for Merge {
    type Err = String;

    fn from_str(s: &str) -> Result<Merge, String> {
        match s {
            "logits" => Ok(Merge::Logits),
            "probs" | "probabilities" => Ok(Merge::Probabilities),
            other => Err(format!("unknown merge `{other}`: use logits or probs")),
        }
    }
}

/// One view of the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub flip: bool,
    pub scale: f64,
    pub brightness: f64,
}

impl Tta {
    /// Every combination of flip, scale and brightness, the plain view first.
    pub fn views(&self) -> Vec<View> {
        let flips: &[bool] = if self.hflip { &[false, true] } else { &[false] };
        let mut views = Vec::new();
        for &flip in flips {
            for &scale in &self.scales {
                for &brightness in &self.brightness {
                    views.push(View { flip, scale, brightness });
                }
            }
        }
        views
    }
}

impl View {
    /// The image with this view's brightness and flip (scaling belongs to the mode, which knows
    /// the size it runs at).
    pub fn apply(&self, image: &Plane<u8>) -> Plane<u8> {
        let mut out = image.clone();
        if self.brightness != 1.0 {
            for value in &mut out.data {
                *value = (f64::from(*value) * self.brightness).round().clamp(0.0, 255.0) as u8;
            }
        }
        if self.flip {
            out.data.chunks_exact_mut(image.width).for_each(<[u8]>::reverse);
        }
        out
    }

    /// Undoes the flip on logits (`[classes, height, width]`, row-major).
    pub fn undo(&self, logits: &mut [f32], width: usize) {
        if self.flip {
            logits.chunks_exact_mut(width).for_each(<[f32]>::reverse);
        }
    }
}

/// The running merge of views and models on one grid.
pub struct Merger {
    merge: Merge,
    sum: Vec<f32>,
    count: usize,
}

impl Merger {
    pub fn new(merge: Merge, len: usize) -> Merger {
        Merger { merge, sum: vec![0.0; len], count: 0 }
    }

    pub fn add(&mut self, logits: &[f32]) {
        assert_eq!(logits.len(), self.sum.len(), "views merge on one grid");
        match self.merge {
            Merge::Logits => self.sum.iter_mut().zip(logits).for_each(|(s, &x)| *s += x),
            Merge::Probabilities => self.sum.iter_mut().zip(logits).for_each(|(s, &x)| *s += sigmoid(x)),
        }
        self.count += 1;
    }

    /// The merged logits (a merged probability is turned back into its logit, so thresholds and
    /// the upsampling work the same way for both merges). One view comes back unchanged.
    pub fn finish(mut self) -> Vec<f32> {
        let n = self.count as f32;
        match self.merge {
            Merge::Logits => self.sum.iter_mut().for_each(|s| *s /= n),
            Merge::Probabilities => self.sum.iter_mut().for_each(|s| {
                let p = (*s / n).clamp(1e-7, 1.0 - 1e-7);
                *s = (p / (1.0 - p)).ln();
            }),
        }
        self.sum
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_combine_and_undo() {
        let tta =
            Tta { hflip: true, scales: vec![0.9, 1.1], brightness: vec![1.0, 1.2], merge: Merge::Logits };
        let views = tta.views();
        assert_eq!(views.len(), 8);
        assert_eq!(views[0], View { flip: false, scale: 0.9, brightness: 1.0 });
        let image = Plane::from_vec(3, 2, vec![0, 100, 250, 10, 20, 30]);
        let view = View { flip: true, scale: 1.0, brightness: 1.2 };
        assert_eq!(view.apply(&image).data, vec![255, 120, 0, 36, 24, 12]);
        let mut logits = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        view.undo(&mut logits, 3);
        assert_eq!(logits, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
    }

    #[test]
    fn merges_on_logits_or_probabilities() {
        let mut m = Merger::new(Merge::Logits, 2);
        m.add(&[1.0, -3.0]);
        m.add(&[3.0, 1.0]);
        assert_eq!(m.finish(), vec![2.0, -1.0]);
        let mut m = Merger::new(Merge::Probabilities, 1);
        m.add(&[0.0]);
        m.add(&[10.0]);
        let p = sigmoid(m.finish()[0]);
        assert!((p - (0.5 + sigmoid(10.0)) / 2.0).abs() < 1e-6, "{p}");
        let mut one = Merger::new(Merge::Logits, 1);
        one.add(&[0.123]);
        assert_eq!(one.finish(), vec![0.123], "one view is unchanged");
    }
}
