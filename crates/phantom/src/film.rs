//! How an image is taken and processed, beyond the hand itself: where the hand lies in the frame,
//! the background and collimator shutters, the detector and its processing. Each part is drawn
//! only when its [`Factor`] is on; otherwise the image keeps the classic phantom's values.

use boneseg_contract::rng::Random;

use crate::rng::Rng;
use crate::style::{Factor, Style};

/// Where the hand lies: its size and its place in the free space around it.
#[derive(Clone, Copy, Debug)]
pub struct Framing {
    /// The hand and wrist (fingertips to the distal radius) as a share of the image height.
    pub span: f64,
    /// Position in the free space left and right of the hand (0 left, 1 right) and above and
    /// below it (0 top, 1 bottom).
    pub across: f64,
    pub down: f64,
}

impl Framing {
    pub fn draw(rng: &mut Rng) -> Framing {
        Framing { span: rng.uniform(0.42, 1.0), across: rng.unit(), down: rng.unit() }
    }
}

/// A side of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
    Top,
    Bottom,
}

impl Side {
    pub const ALL: [Side; 4] = [Side::Left, Side::Right, Side::Top, Side::Bottom];
}

/// A collimator shutter along one side: what lies beyond its edge was never exposed.
#[derive(Clone, Copy, Debug)]
pub struct Shutter {
    pub side: Side,
    /// Where its edge lies in the free margin between the image border (0) and the hand (1).
    pub inset: f64,
    /// Tilt of the edge, degrees.
    pub tilt: f64,
}

/// The background behind the hand and what the collimator leaves of the field.
#[derive(Clone, Debug)]
pub struct Background {
    /// Grey level of open air (0 black to about 130, mid-grey).
    pub level: f64,
    /// A linear gradient: grey levels from one side of the image to the other, and its direction.
    pub gradient: f64,
    pub gradient_angle: f64,
    pub shutters: Vec<Shutter>,
    /// The grey of the shuttered area (bright when unexposed and left so, dark when blanked).
    pub shutter_level: f64,
    /// Whether the detector's bright band at the top edge shows (the classic phantom always has it).
    pub band: bool,
}

impl Background {
    pub fn draw(rng: &mut Rng) -> Background {
        let level = 130.0 * rng.unit().powf(1.6);
        let gradient = rng.uniform(-45.0, 45.0);
        let gradient_angle = rng.uniform(0.0, std::f64::consts::TAU);
        let shutters = Side::ALL
            .into_iter()
            .filter_map(|side| {
                let inset = rng.uniform(0.1, 0.9);
                let tilt = rng.normal(0.0, 1.2);
                rng.chance(0.3).then_some(Shutter { side, inset, tilt })
            })
            .collect();
        let shutter_level = if rng.chance(0.7) { rng.uniform(165.0, 250.0) } else { rng.uniform(0.0, 20.0) };
        Background { level, gradient, gradient_angle, shutters, shutter_level, band: rng.chance(0.15) }
    }
}

/// The detector and its processing: exposure, a tone curve, blur and noise.
#[derive(Clone, Copy, Debug)]
pub struct Detector {
    /// Multiplies the attenuation before the exponential (harder or softer beams).
    pub exposure: f64,
    /// Display gamma on [0, 1] greys.
    pub gamma: f64,
    /// Linear contrast about mid-grey and brightness offset (grey levels).
    pub contrast: f64,
    pub brightness: f64,
    /// Share of an S-shaped (sigmoid) window blended into the curve, its centre and width.
    pub sigmoid: f64,
    pub window_centre: f64,
    pub window_width: f64,
    /// Gaussian blur (the detector's point spread), sigma in pixels at 2048².
    pub blur: f64,
    /// Noise: standard deviation in grey levels at full signal, and its quantum share (noise
    /// that grows with the signal's square root rather than staying flat).
    pub noise: f64,
    pub quantum: f64,
}

impl Detector {
    pub fn draw(rng: &mut Rng) -> Detector {
        Detector {
            exposure: rng.normal(0.0, 0.22).exp(),
            gamma: rng.uniform(0.75, 1.45),
            contrast: rng.uniform(0.75, 1.35),
            brightness: rng.normal(0.0, 10.0),
            sigmoid: if rng.chance(0.4) { rng.uniform(0.3, 1.0) } else { 0.0 },
            window_centre: rng.uniform(90.0, 160.0),
            window_width: rng.uniform(30.0, 70.0),
            blur: rng.uniform(0.3, 1.8),
            noise: rng.uniform(1.0, 9.0),
            quantum: rng.uniform(0.3, 1.0),
        }
    }

    /// The tone curve on a grey level in [0, 255].
    pub fn tone(&self, grey: f64) -> f64 {
        let x = (grey / 255.0).clamp(0.0, 1.0).powf(self.gamma) * 255.0;
        let linear = (x - 128.0) * self.contrast + 128.0 + self.brightness;
        let low = 1.0 / (1.0 + (self.window_centre / self.window_width).exp());
        let high = 1.0 / (1.0 + (-(255.0 - self.window_centre) / self.window_width).exp());
        let s = 1.0 / (1.0 + (-(x - self.window_centre) / self.window_width).exp());
        let window = 255.0 * (s - low) / (high - low) + self.brightness;
        linear + (window - linear) * self.sigmoid
    }
}

/// Everything about an image beyond the hand: each part `None` (or empty) when its factor is off.
#[derive(Clone, Debug, Default)]
pub struct Film {
    pub framing: Option<Framing>,
    pub background: Option<Background>,
    pub detector: Option<Detector>,
    /// What to burn in; [`crate::scene::Scene::layout`] finds each a place.
    pub markers: Vec<crate::markers::MarkerPlan>,
    /// Seeds where the markers are tried.
    pub marker_seed: u64,
}

impl Film {
    /// The film of one image of hand `hand` (0 right, 1 left), each part from its factor's stream.
    pub fn draw(style: Style, hand: usize, streams: &Rng) -> Film {
        let stream = |factor: Factor| streams.fork(factor.stream());
        let mut markers = stream(Factor::Markers);
        Film {
            framing: style.has(Factor::Framing).then(|| Framing::draw(&mut stream(Factor::Framing))),
            background: style
                .has(Factor::Background)
                .then(|| Background::draw(&mut stream(Factor::Background))),
            detector: style.has(Factor::Detector).then(|| Detector::draw(&mut stream(Factor::Detector))),
            markers: if style.has(Factor::Markers) {
                crate::markers::MarkerPlan::draw(hand, &mut markers)
            } else {
                Vec::new()
            },
            marker_seed: markers.next_u64(),
        }
    }

    /// Whether the image is processed exactly as the classic phantom's.
    pub fn is_classic(&self) -> bool {
        self.background.is_none() && self.detector.is_none() && self.markers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tone_curve_keeps_black_dark_and_white_bright() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let d = Detector::draw(&mut rng);
            assert!(d.tone(255.0) > d.tone(0.0) + 120.0, "{d:?}");
            assert!((0..255).all(|g| d.tone(g as f64 + 1.0) >= d.tone(g as f64)), "monotone: {d:?}");
        }
        assert!(Film::draw(Style::classic(), 0, &rng).is_classic());
        assert!(!Film::draw(Style::wide(), 0, &rng).is_classic());
    }
}
