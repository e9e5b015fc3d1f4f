//! Which hand an image shows and how it lies, read from its label masks: the forearm (Radius and
//! Ulna) to the middle metacarpal gives the hand's axis, the thumb's side of that axis the hand.

use boneseg_contract::{BitMask, ClassMasks, class_index};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Right,
    Left,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Right => "right",
            Side::Left => "left",
        }
    }
}

/// An image's hand and axis.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct HandPose {
    pub side: Side,
    /// Angle of the forearm-to-middle-metacarpal axis from straight up, degrees, positive when
    /// the fingers lean to the image's right.
    pub angle_deg: f64,
}

/// Mean (row, col) of a mask's pixels, from its runs (no per-pixel loop).
pub fn centroid(mask: &BitMask) -> Option<(f64, f64)> {
    let width = mask.width();
    let (mut n, mut rows, mut cols) = (0.0, 0.0, 0.0);
    for (start, length) in mask.runs() {
        // A run may wrap across rows: split it at row ends.
        let (mut at, end) = (start, start + length);
        while at < end {
            let (row, col) = (at / width, at % width);
            let take = (width - col).min(end - at) as f64;
            n += take;
            rows += row as f64 * take;
            cols += (col as f64 + (take - 1.0) / 2.0) * take;
            at += take as usize;
        }
    }
    (n > 0.0).then(|| (rows / n, cols / n))
}

/// The hand's side and axis; `None` when the forearm, the middle metacarpal or the thumb is
/// missing from the labels.
///
/// Radiographs are postero-anterior: a right hand shows its thumb on the image's left.
pub fn hand_pose(masks: &ClassMasks) -> Option<HandPose> {
    let at = |name: &str| centroid(masks.class(class_index(name).expect("a known class")));
    let (radius, ulna) = (at("Radius")?, at("Ulna")?);
    let wrist = ((radius.0 + ulna.0) / 2.0, (radius.1 + ulna.1) / 2.0);
    let middle = at("finger-11")?;
    let thumb = at("finger-3")?;
    let axis = (middle.1 - wrist.1, wrist.0 - middle.0);
    let to_thumb = (thumb.1 - wrist.1, wrist.0 - thumb.0);
    let angle_deg = axis.0.atan2(axis.1).to_degrees();
    // In x-right, y-up coordinates a thumb left of the axis gives a positive cross product.
    let cross = axis.0 * to_thumb.1 - axis.1 * to_thumb.0;
    Some(HandPose { side: if cross > 0.0 { Side::Right } else { Side::Left }, angle_deg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centroids_follow_runs_across_rows() {
        let mut mask = BitMask::new(4, 5);
        mask.set_range(3, 7);
        assert_eq!(centroid(&mask), Some((0.5, 2.0)));
        assert_eq!(centroid(&BitMask::new(2, 2)), None);
    }

    #[test]
    fn a_thumb_on_the_left_is_a_right_hand() {
        let mut masks = ClassMasks::new(100, 100);
        let mut put = |name: &str, row: usize, col: usize| {
            masks.class_mut(class_index(name).unwrap()).set_span(row, col, col + 2);
        };
        put("Radius", 90, 45);
        put("Ulna", 90, 55);
        put("finger-11", 40, 60);
        put("finger-3", 60, 20);
        let pose = hand_pose(&masks).unwrap();
        assert_eq!(pose.side, Side::Right);
        assert!((pose.angle_deg - 10.0_f64.atan2(50.0).to_degrees()).abs() < 1e-9, "{pose:?}");
    }
}
