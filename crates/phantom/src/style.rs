//! Which world the phantom draws from: the `classic` phantom (every hand adult, framed alike, on
//! black, one contrast) or the `wide` one, where each factor below is randomised over a realistic
//! range so that what learns the phantom learns the bones rather than its framing.
//!
//! Each factor draws from a random stream of its own, forked from the image's or the person's
//! stream, so turning one off changes nothing else, and with every factor off the phantom is the
//! classic one byte for byte.

use std::fmt;
use std::str::FromStr;

/// One randomised aspect of the phantom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Factor {
    /// Hand scale (the hand and wrist from under half to all of the image height) and position.
    Framing,
    /// Rotation of the arm, fingers spread or together, thumb angle.
    Pose,
    /// Background from black to mid-grey, gradients, collimator shutters.
    Background,
    /// Burned-in side letters, dates, rulers and text blocks.
    Markers,
    /// Exposure, gamma and contrast curves, detector noise and blur.
    Detector,
    /// Trabecular texture, cortical thickness and density by bone and person; real outlines
    /// (concave phalanx bases, round heads, waisted shafts, faceted carpals, the radius'
    /// concave joint surface and the ulna's domed head).
    Bone,
    /// Soft-tissue thickness, the fingertip pulp, sharp skin edges, round fingers (flesh
    /// brightest on a finger's axis, fading to its skin) and the webs between them, the thumb's
    /// included.
    Tissue,
    /// Young children to old adults: ossification centres, growth plates, osteopenia.
    Age,
}

impl Factor {
    pub const ALL: [Factor; 8] = [
        Factor::Framing,
        Factor::Pose,
        Factor::Background,
        Factor::Markers,
        Factor::Detector,
        Factor::Bone,
        Factor::Tissue,
        Factor::Age,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Factor::Framing => "framing",
            Factor::Pose => "pose",
            Factor::Background => "background",
            Factor::Markers => "markers",
            Factor::Detector => "detector",
            Factor::Bone => "bone",
            Factor::Tissue => "tissue",
            Factor::Age => "age",
        }
    }

    /// The index of the random stream the factor draws from.
    pub(crate) fn stream(self) -> u64 {
        0xFAC7_0000 + self as u64
    }
}

impl FromStr for Factor {
    type Err = String;

    fn from_str(text: &str) -> Result<Factor, String> {
        Factor::ALL.into_iter().find(|f| f.name() == text.trim()).ok_or_else(|| {
            let names: Vec<&str> = Factor::ALL.iter().map(|f| f.name()).collect();
            format!("unknown phantom factor `{text}`; expected one of {}", names.join(", "))
        })
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of factors that are randomised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    on: u16,
}

impl Style {
    /// Every factor randomised: the default.
    pub fn wide() -> Style {
        Style { on: (1 << Factor::ALL.len()) - 1 }
    }

    /// No factor randomised: the phantom as it was before domain randomisation, byte for byte.
    pub fn classic() -> Style {
        Style { on: 0 }
    }

    /// The style by name (`wide`, `classic`).
    pub fn named(name: &str) -> Result<Style, String> {
        match name.trim() {
            "wide" => Ok(Style::wide()),
            "classic" => Ok(Style::classic()),
            other => Err(format!("unknown phantom style `{other}`; expected wide or classic")),
        }
    }

    pub fn has(self, factor: Factor) -> bool {
        self.on & (1 << factor as u16) != 0
    }

    pub fn with(self, factor: Factor) -> Style {
        Style { on: self.on | (1 << factor as u16) }
    }

    pub fn without(self, factor: Factor) -> Style {
        Style { on: self.on & !(1 << factor as u16) }
    }

    /// The factors that are on.
    pub fn factors(self) -> impl Iterator<Item = Factor> {
        Factor::ALL.into_iter().filter(move |&f| self.has(f))
    }
}

impl Default for Style {
    fn default() -> Style {
        Style::wide()
    }
}

/// `wide`, `classic`, or the factors that are on joined by `+` (`framing+age`).
impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Style::wide() {
            f.write_str("wide")
        } else if *self == Style::classic() {
            f.write_str("classic")
        } else {
            let names: Vec<&str> = self.factors().map(Factor::name).collect();
            f.write_str(&names.join("+"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_sets_of_factors() {
        assert!(Factor::ALL.iter().all(|&f| Style::wide().has(f) && !Style::classic().has(f)));
        let some = Style::classic().with(Factor::Age).with(Factor::Framing);
        assert_eq!(some.to_string(), "framing+age");
        assert_eq!(Style::wide().without(Factor::Age).with(Factor::Age), Style::wide());
        assert_eq!(Style::named("classic").unwrap(), Style::classic());
        assert!(Style::named("narrow").unwrap_err().contains("wide or classic"));
        assert_eq!("markers".parse::<Factor>().unwrap(), Factor::Markers);
        assert!("marker".parse::<Factor>().unwrap_err().contains("framing, pose"));
    }
}
