//! Points, local frames and the similarity that places a canonical hand in an image.

use std::ops::{Add, Mul, Neg, Sub};

/// The box `[x0, y0, x1, y1]` around some points, grown by `margin` on every side.
pub fn bounding_box(points: impl IntoIterator<Item = Vec2>, margin: f64) -> [f64; 4] {
    let (mut x0, mut y0, mut x1, mut y1) =
        (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in points {
        (x0, y0, x1, y1) = (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y));
    }
    [x0 - margin, y0 - margin, x1 + margin, y1 + margin]
}

/// Whether `p` lies strictly inside the box `[x0, y0, x1, y1]`.
pub fn within(p: Vec2, [x0, y0, x1, y1]: [f64; 4]) -> bool {
    p.x > x0 && p.x < x1 && p.y > y0 && p.y < y1
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec2 {
    pub x: f64,
    pub y: f64,
}

pub const fn v2(x: f64, y: f64) -> Vec2 {
    Vec2 { x, y }
}

impl Vec2 {
    pub fn dot(self, o: Vec2) -> f64 {
        self.x * o.x + self.y * o.y
    }

    pub fn length(self) -> f64 {
        self.dot(self).sqrt()
    }

    pub fn normalized(self) -> Vec2 {
        self * (1.0 / self.length())
    }

    /// Rotated counter-clockwise (in a y-up frame) by `angle` radians.
    pub fn rotated(self, angle: f64) -> Vec2 {
        let (s, c) = angle.sin_cos();
        v2(c * self.x - s * self.y, s * self.x + c * self.y)
    }

    /// The direction at `degrees` from straight up, positive toward -x (the thumb of a canonical
    /// right hand): how the anatomy tables give bone angles.
    pub fn from_tilt(degrees: f64) -> Vec2 {
        let a = degrees.to_radians();
        v2(-a.sin(), a.cos())
    }

    /// Perpendicular, counter-clockwise.
    pub fn perp(self) -> Vec2 {
        v2(-self.y, self.x)
    }
}

impl Add for Vec2 {
    type Output = Vec2;
    fn add(self, o: Vec2) -> Vec2 {
        v2(self.x + o.x, self.y + o.y)
    }
}

impl Sub for Vec2 {
    type Output = Vec2;
    fn sub(self, o: Vec2) -> Vec2 {
        v2(self.x - o.x, self.y - o.y)
    }
}

impl Mul<f64> for Vec2 {
    type Output = Vec2;
    fn mul(self, k: f64) -> Vec2 {
        v2(self.x * k, self.y * k)
    }
}

impl Neg for Vec2 {
    type Output = Vec2;
    fn neg(self) -> Vec2 {
        v2(-self.x, -self.y)
    }
}

/// An orthonormal local frame: `world = origin + u * a + v * b`. It may be left-handed (after a
/// mirror), which the shapes never need to know.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub origin: Vec2,
    pub u: Vec2,
    pub v: Vec2,
}

impl Frame {
    /// A frame whose `u` axis points along `direction`, `v` to its left (counter-clockwise).
    pub fn along(origin: Vec2, direction: Vec2) -> Frame {
        let u = direction.normalized();
        Frame { origin, u, v: u.perp() }
    }

    /// Local coordinates of a world point.
    pub fn local(&self, p: Vec2) -> (f64, f64) {
        let d = p - self.origin;
        (d.dot(self.u), d.dot(self.v))
    }

    /// World point of local coordinates.
    pub fn world(&self, a: f64, b: f64) -> Vec2 {
        self.origin + self.u * a + self.v * b
    }
}

/// `p -> offset + scale * R * p`, `R` a rotation possibly combined with a mirror: maps the
/// canonical hand (units of the middle metacarpal's length, y up) into image pixels (y down).
#[derive(Clone, Copy, Debug)]
pub struct Similarity {
    /// Rows of the 2x2 orthogonal matrix.
    m: [[f64; 2]; 2],
    pub scale: f64,
    pub offset: Vec2,
}

impl Similarity {
    /// Canonical hand to image: flip y (image rows grow downward), mirror x for a left hand,
    /// rotate by `rotation_deg` (counter-clockwise as seen in the image), scale, translate.
    pub fn hand_to_image(scale: f64, rotation_deg: f64, mirror: bool, offset: Vec2) -> Similarity {
        let (s, c) = rotation_deg.to_radians().sin_cos();
        let mx = if mirror { -1.0 } else { 1.0 };
        // Image rotation R (counter-clockwise on screen with y down) applied after flip/mirror:
        // R = [[c, s], [-s, c]], flip F = diag(mx, -1).
        let m = [[c * mx, -s], [-s * mx, -c]];
        Similarity { m, scale, offset }
    }

    pub fn point(&self, p: Vec2) -> Vec2 {
        self.offset + self.direction(p) * self.scale
    }

    pub fn direction(&self, d: Vec2) -> Vec2 {
        v2(self.m[0][0] * d.x + self.m[0][1] * d.y, self.m[1][0] * d.x + self.m[1][1] * d.y)
    }

    pub fn frame(&self, f: &Frame) -> Frame {
        Frame { origin: self.point(f.origin), u: self.direction(f.u), v: self.direction(f.v) }
    }

    /// The same map moved by `delta` pixels.
    pub fn shifted(self, delta: Vec2) -> Similarity {
        Similarity { offset: self.offset + delta, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_up_is_image_up_and_mirror_swaps_sides() {
        let t = Similarity::hand_to_image(10.0, 0.0, false, v2(100.0, 100.0));
        assert_eq!(
            t.point(v2(0.0, 1.0)),
            v2(100.0, 90.0),
            "y up in the hand is up (smaller row) in the image"
        );
        assert_eq!(t.point(v2(-1.0, 0.0)), v2(90.0, 100.0), "the thumb side stays left");
        let left = Similarity::hand_to_image(10.0, 0.0, true, v2(100.0, 100.0));
        assert_eq!(left.point(v2(-1.0, 0.0)), v2(110.0, 100.0), "a left hand has its thumb on the right");
        let turned = Similarity::hand_to_image(1.0, 90.0, false, v2(0.0, 0.0));
        let up = turned.point(v2(0.0, 1.0));
        assert!(
            (up.x + 1.0).abs() < 1e-12 && up.y.abs() < 1e-12,
            "90 degrees counter-clockwise on screen: {up:?}"
        );
    }

    #[test]
    fn frames_round_trip() {
        let f = Frame::along(v2(1.0, 2.0), v2(3.0, 4.0));
        let (a, b) = f.local(f.world(0.7, -1.3));
        assert!((a - 0.7).abs() < 1e-12 && (b + 1.3).abs() < 1e-12);
    }
}
