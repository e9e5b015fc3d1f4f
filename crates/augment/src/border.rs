//! What a transform reads outside the image: OpenCV's border modes, with OpenCV's names.

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BorderMode {
    /// A fixed value (`fill` for the image, no class for the mask): `cv2.BORDER_CONSTANT`.
    #[default]
    Constant,
    /// `aaa|abcd|ddd`: `cv2.BORDER_REPLICATE`.
    Replicate,
    /// `cba|abcd|dcb`: `cv2.BORDER_REFLECT`.
    Reflect,
    /// `dcb|abcd|cba`: `cv2.BORDER_REFLECT_101`, OpenCV's default for filters.
    #[serde(alias = "reflect101")]
    Reflect101,
    /// `bcd|abcd|abc`: `cv2.BORDER_WRAP`.
    Wrap,
}

impl BorderMode {
    /// The index read for position `p` of a line of `len` pixels, `None` for a constant border
    /// (OpenCV's `borderInterpolate`).
    #[inline]
    pub fn index(self, p: isize, len: usize) -> Option<usize> {
        let n = len as isize;
        if (0..n).contains(&p) {
            return Some(p as usize);
        }
        let i = match self {
            BorderMode::Constant => return None,
            BorderMode::Replicate => p.clamp(0, n - 1),
            BorderMode::Wrap => p.rem_euclid(n),
            BorderMode::Reflect | BorderMode::Reflect101 if n == 1 => 0,
            BorderMode::Reflect | BorderMode::Reflect101 => {
                let delta = isize::from(self == BorderMode::Reflect101);
                let mut p = p;
                while !(0..n).contains(&p) {
                    p = if p < 0 { -p - 1 + delta } else { n - 1 - (p - n) - delta };
                }
                p
            }
        };
        Some(i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_opencv_border_interpolate() {
        let at = |mode: BorderMode| {
            (-3..8).map(|p| mode.index(p, 5).map(|i| i as i32).unwrap_or(-1)).collect::<Vec<_>>()
        };
        assert_eq!(at(BorderMode::Replicate), [0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]);
        assert_eq!(at(BorderMode::Reflect), [2, 1, 0, 0, 1, 2, 3, 4, 4, 3, 2]);
        assert_eq!(at(BorderMode::Reflect101), [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]);
        assert_eq!(at(BorderMode::Wrap), [2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2]);
        assert_eq!(at(BorderMode::Constant), [-1, -1, -1, 0, 1, 2, 3, 4, -1, -1, -1]);
    }
}
