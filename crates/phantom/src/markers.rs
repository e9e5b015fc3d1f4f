//! Burned-in markers: the lead side letter laid on the detector, the date, a ruler and the text
//! block that X-ray software prints on the image. A model must learn to ignore them.
//!
//! Lead objects are X-rayed with the hand (the detector blurs them, noise covers them); software
//! text is drawn on the finished image, crisp. Text uses a 5x7 bitmap font.

use boneseg_contract::rng::Random;

use crate::rng::Rng;

/// One marker before it is placed: what it shows, how big, how it is drawn.
#[derive(Clone, Debug)]
pub struct MarkerPlan {
    pub kind: MarkerKind,
    /// Lines of text (empty for a ruler).
    pub lines: Vec<String>,
    /// Character height (or a ruler's width) as a share of the image side.
    pub height: f64,
    /// A ruler's length as a share of the image side, and whether it runs vertically.
    pub length: f64,
    pub vertical: bool,
    /// Lead on the detector (blurred, under the noise) or software text (crisp, on top).
    pub lead: bool,
    /// Grey of the strokes; drawn dark on a light box when `boxed` and `inverted`.
    pub level: f64,
    pub boxed: bool,
    pub inverted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    Side,
    Date,
    Ruler,
    Text,
}

impl MarkerKind {
    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Side => "side",
            MarkerKind::Date => "date",
            MarkerKind::Ruler => "ruler",
            MarkerKind::Text => "text",
        }
    }
}

const WORDS: [&str; 12] =
    ["HAND", "PA", "AP", "OBL", "KVP", "MAS", "WRIST", "RT", "LT", "DR", "STD", "BONE AGE"];

impl MarkerPlan {
    /// The markers of one image of hand `hand` (0 right, 1 left).
    pub fn draw(hand: usize, rng: &mut Rng) -> Vec<MarkerPlan> {
        let mut markers = Vec::new();
        let plain = |kind, lines, height, lead, level| MarkerPlan {
            kind,
            lines,
            height,
            length: 0.0,
            vertical: false,
            lead,
            level,
            boxed: false,
            inverted: false,
        };
        if rng.chance(0.7) {
            let letter = if hand == 0 { "R" } else { "L" };
            let text = if rng.chance(0.15) { format!("{letter}T") } else { letter.to_string() };
            let mut side = plain(MarkerKind::Side, vec![text], rng.uniform(0.03, 0.06), true, 250.0);
            side.boxed = rng.chance(0.4);
            markers.push(side);
        }
        if rng.chance(0.45) {
            let (year, month, day) = (1995 + rng.below(30), 1 + rng.below(12), 1 + rng.below(28));
            let (hour, minute) = (7 + rng.below(12), rng.below(60));
            let text = match rng.below(3) {
                0 => format!("{year}-{month:02}-{day:02}"),
                1 => format!("{day:02}/{month:02}/{year} {hour:02}:{minute:02}"),
                _ => format!("{year}.{month:02}.{day:02}"),
            };
            markers.push(plain(
                MarkerKind::Date,
                vec![text],
                rng.uniform(0.012, 0.022),
                false,
                rng.uniform(190.0, 255.0),
            ));
        }
        if rng.chance(0.2) {
            markers.push(MarkerPlan {
                length: rng.uniform(0.22, 0.45),
                vertical: rng.chance(0.5),
                ..plain(MarkerKind::Ruler, Vec::new(), rng.uniform(0.012, 0.02), true, 245.0)
            });
        }
        if rng.chance(0.4) {
            let lines = (0..2 + rng.below(3))
                .map(|_| {
                    let word = WORDS[rng.below(WORDS.len())];
                    format!("{word} {}", rng.below(100_000))
                })
                .collect();
            let mut text =
                plain(MarkerKind::Text, lines, rng.uniform(0.01, 0.018), false, rng.uniform(180.0, 255.0));
            text.boxed = rng.chance(0.2);
            text.inverted = text.boxed && rng.chance(0.5);
            markers.push(text);
        }
        markers
    }

    /// The marker's size in pixels in a `size`-pixel image: (width, height).
    pub fn extent(&self, size: usize) -> (f64, f64) {
        let s = size as f64;
        let h = (self.height * s).max(7.0);
        match self.kind {
            MarkerKind::Ruler if self.vertical => (h * 1.8, self.length * s),
            MarkerKind::Ruler => (self.length * s, h * 1.8),
            _ => {
                let columns = self.lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
                let pad = if self.boxed { h * 0.6 } else { 0.0 };
                (columns * h * 6.0 / 7.0 + 2.0 * pad, self.lines.len() as f64 * h * 1.4 + 2.0 * pad)
            }
        }
    }
}

/// A marker placed on the image: its plan and its top-left corner in pixels.
#[derive(Clone, Debug)]
pub struct Marker {
    pub plan: MarkerPlan,
    pub x: f64,
    pub y: f64,
}

impl Marker {
    /// Draws the marker into a `size`-pixel square image of grey values.
    pub fn paint(&self, grey: &mut [f32], size: usize) {
        let plan = &self.plan;
        let (w, h) = plan.extent(size);
        let char_h = (plan.height * size as f64).max(7.0);
        let (ink, paper) = if plan.inverted { (20.0, plan.level) } else { (plan.level, 0.0) };
        let mut set = |x: f64, y: f64, value: f64| {
            let (x, y) = (x.round(), y.round());
            if x >= 0.0 && y >= 0.0 && (x as usize) < size && (y as usize) < size {
                let pixel = &mut grey[y as usize * size + x as usize];
                *pixel = if plan.inverted { value as f32 } else { pixel.max(value as f32) };
            }
        };
        let fill = |set: &mut dyn FnMut(f64, f64, f64), x0: f64, y0: f64, x1: f64, y1: f64, value: f64| {
            let mut y = y0.floor();
            while y < y1 {
                let mut x = x0.floor();
                while x < x1 {
                    set(x, y, value);
                    x += 1.0;
                }
                y += 1.0;
            }
        };
        if plan.boxed {
            if plan.inverted {
                fill(&mut set, self.x, self.y, self.x + w, self.y + h, paper);
            } else {
                let t = (char_h / 7.0).max(1.0);
                for (x0, y0, x1, y1) in [
                    (self.x, self.y, self.x + w, self.y + t),
                    (self.x, self.y + h - t, self.x + w, self.y + h),
                    (self.x, self.y, self.x + t, self.y + h),
                    (self.x + w - t, self.y, self.x + w, self.y + h),
                ] {
                    fill(&mut set, x0, y0, x1, y1, ink);
                }
            }
        }
        if plan.kind == MarkerKind::Ruler {
            let t = (char_h / 6.0).max(1.0);
            let (along, ticks) = if plan.vertical { (h, w) } else { (w, h) };
            let spacing = (along / 20.0).max(3.0);
            let mut put = |a0: f64, a1: f64, b0: f64, b1: f64| {
                if plan.vertical {
                    fill(&mut set, self.x + b0, self.y + a0, self.x + b1, self.y + a1, ink);
                } else {
                    fill(&mut set, self.x + a0, self.y + b0, self.x + a1, self.y + b1, ink);
                }
            };
            put(0.0, along, 0.0, t);
            let mut i = 0;
            while i as f64 * spacing <= along - t {
                let a = i as f64 * spacing;
                let tick = if i % 5 == 0 { ticks } else { ticks * 0.5 };
                put(a, a + t, 0.0, tick);
                i += 1;
            }
            return;
        }
        let pad = if plan.boxed { char_h * 0.6 } else { 0.0 };
        let cell = char_h / 7.0;
        for (row, line) in plan.lines.iter().enumerate() {
            let top = self.y + pad + row as f64 * char_h * 1.4;
            for (column, c) in line.chars().enumerate() {
                let left = self.x + pad + column as f64 * cell * 6.0;
                for (gy, bits) in glyph(c).iter().enumerate() {
                    for gx in 0..5 {
                        if bits & (0x10 >> gx) != 0 {
                            let (x0, y0) = (left + gx as f64 * cell, top + gy as f64 * cell);
                            fill(&mut set, x0, y0, x0 + cell, y0 + cell, ink);
                        }
                    }
                }
            }
        }
    }
}

/// A 5x7 glyph: seven rows of five bits, the leftmost pixel in bit 4. Unknown characters are blank.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_where_its_extent_says() {
        let plan = MarkerPlan {
            kind: MarkerKind::Side,
            lines: vec!["L".into()],
            height: 0.1,
            length: 0.0,
            vertical: false,
            lead: true,
            level: 250.0,
            boxed: false,
            inverted: false,
        };
        let mut grey = vec![0f32; 100 * 100];
        Marker { plan: plan.clone(), x: 20.0, y: 30.0 }.paint(&mut grey, 100);
        let lit: Vec<(usize, usize)> =
            (0..100 * 100).filter(|&i| grey[i] > 0.0).map(|i| (i % 100, i / 100)).collect();
        let (w, h) = plan.extent(100);
        assert!(!lit.is_empty());
        assert!(
            lit.iter()
                .all(|&(x, y)| x >= 20 && (x as f64) < 20.0 + w + 1.0 && y >= 30 && (y as f64) < 30.0 + h)
        );
        // An L: the left column is lit top to bottom, the top right is not.
        assert!(grey[31 * 100 + 20] > 0.0 && grey[38 * 100 + 20] > 0.0 && grey[31 * 100 + 26] == 0.0);
    }
}
