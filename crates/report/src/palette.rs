//! One fixed, distinct colour per class.
//!
//! Hues are spread with the golden angle so that classes that sit side by side in the class
//! order (the bones of one finger, the carpals) get far-apart hues; saturation and value stay
//! high so every colour shows on a dark radiograph.

use boneseg_contract::NUM_CLASSES;

/// The colour of class `class` (its index in `CLASSES`), as RGB.
pub fn class_colour(class: usize) -> [u8; 3] {
    assert!(class < NUM_CLASSES, "class {class} out of range");
    let hue = (class as f64 * 0.381_966_011).fract();
    let value = if class.is_multiple_of(2) { 1.0 } else { 0.85 };
    hsv_to_rgb(hue, 0.75, value)
}

fn hsv_to_rgb(h: f64, s: f64, v: f64) -> [u8; 3] {
    let sector = (h * 6.0).floor();
    let f = h * 6.0 - sector;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    let (r, g, b) = match sector as i32 % 6 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    [r, g, b].map(|c| (c * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_distinct_and_bright() {
        let colours: Vec<[u8; 3]> = (0..NUM_CLASSES).map(class_colour).collect();
        for (i, a) in colours.iter().enumerate() {
            assert!(a.iter().copied().max().unwrap() >= 200, "class {i} is too dark: {a:?}");
            for b in &colours[i + 1..] {
                let distance: i32 = a.iter().zip(b).map(|(&x, &y)| (i32::from(x) - i32::from(y)).abs()).sum();
                assert!(distance >= 20, "{a:?} and {b:?} are too close");
            }
        }
    }
}
