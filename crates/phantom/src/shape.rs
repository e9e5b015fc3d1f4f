//! Bone shapes. Each is one closed 2D region with a 3D thickness, described analytically, so
//! that the label polygon (its outline) and the rendered bone (its projected thickness) come
//! from the same definition and agree to the pixel.
//!
//! Thickness follows X-ray physics loosely: a bone is a shell of dense cortex around lighter
//! marrow, so the projected density peaks just inside the outline (the bright cortical rim) and
//! dips along the middle (the darker medulla).

use crate::geometry::{Frame, Similarity, Vec2, bounding_box, v2};

/// A long bone (metacarpal, phalanx, radius, ulna) along the `u` axis of its frame, from its
/// proximal end (`u = 0`) to its distal end (`u = length`).
#[derive(Clone, Debug)]
pub struct LongBone {
    pub frame: Frame,
    pub length: f64,
    /// Half-widths at the proximal end, along the shaft and at the distal end.
    pub base: f64,
    pub shaft: f64,
    pub head: f64,
    /// Fractions of the length over which the base and the head widen from the shaft.
    pub base_flare: f64,
    pub head_flare: f64,
    /// Lengths of the rounded end caps.
    pub proximal_cap: f64,
    pub distal_cap: f64,
    /// Sideways shift of the head's centre line (radial styloid, tufts).
    pub head_shift: f64,
    /// The distal end advances by `slant` per unit of `v` (the radius' tilted joint surface).
    pub slant: f64,
    /// Both ends advance by `cup * v²`: the base's joint surface turns concave and the head's
    /// rounder, so a convex head sits in the next bone's concave base as in real finger joints
    /// (0 = flat-ended rods).
    pub cup: f64,
    /// How much the shaft narrows between its flares, as a share of its width at mid-length
    /// (real shafts are waisted; 0 = straight-sided).
    pub waist: f64,
    /// Cortex thickness as a fraction of the half-width, along the shaft and at the ends.
    pub cortex_shaft: f64,
    pub cortex_ends: f64,
    /// A child's open growth plate, if any.
    pub physis: Option<Physis>,
}

/// An open growth plate near one end of a long bone: beyond a radiolucent cartilage gap, the
/// epiphysis is a separate ossification centre, narrower than the bone's end until it matures.
/// The label takes in the epiphysis and the gap (a radiologist outlines the whole bone), so here,
/// and only here, the outline encloses pixels without bone density.
#[derive(Clone, Copy, Debug)]
pub struct Physis {
    /// At the distal end (`u = length`) or the proximal one (`u = 0`).
    pub distal: bool,
    /// Distance from that end to the middle of the gap.
    pub depth: f64,
    /// Half the gap's length.
    pub half_gap: f64,
    /// The epiphysis' width as a share of the bone's width there.
    pub nucleus: f64,
}

/// A rounded irregular blob (a carpal bone): a superellipse with low-frequency wobble.
#[derive(Clone, Debug)]
pub struct Blob {
    /// `u` along the major axis.
    pub frame: Frame,
    pub a: f64,
    pub b: f64,
    /// Superellipse exponent (2 = ellipse, larger = boxier).
    pub power: f64,
    /// (amplitude, phase) of the cos(kφ) wobble for k = 2, 3, 4.
    pub wobble: [(f64, f64); 3],
    pub cortex: f64,
}

/// Either shape.
#[derive(Clone, Debug)]
pub enum Shape {
    Long(LongBone),
    Blob(Blob),
}

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Density of the marrow relative to cortex: trabecular bone at the ends, marrow in the shaft.
const MARROW_SHAFT: f64 = 0.15;
const MARROW_ENDS: f64 = 0.62;

impl LongBone {
    /// The end-flare weight at fraction `t`: 1 at the head, 0 along the shaft.
    fn head_weight(&self, t: f64) -> f64 {
        smoothstep(1.0 - (1.0 - t) / self.head_flare)
    }

    fn base_weight(&self, t: f64) -> f64 {
        smoothstep(1.0 - t / self.base_flare)
    }

    /// Half-width (before the end caps) and centre-line offset at fraction `t`.
    fn section(&self, t: f64) -> (f64, f64) {
        let waisted = self.shaft * (1.0 - self.waist * (std::f64::consts::PI * t).sin().powi(2));
        let w = waisted
            + (self.base - waisted) * self.base_weight(t)
            + (self.head - waisted) * self.head_weight(t);
        let w = match &self.physis {
            Some(physis) => w * physis.width_share(self.length, t * self.length),
            None => w,
        };
        (w, self.head_shift * self.head_weight(t))
    }

    /// The end-cap factor at distance `d` from an end with a cap of length `cap`: the outline
    /// closes as a quarter ellipse.
    fn cap(d: f64, cap: f64) -> f64 {
        if d >= cap {
            1.0
        } else if d <= 0.0 {
            0.0
        } else {
            let x = (cap - d) / cap;
            (1.0 - x * x).sqrt()
        }
    }

    /// Position along the bone, corrected for the slanted and cupped ends.
    fn sheared(&self, u: f64, v: f64) -> f64 {
        u - self.slant * v + self.cup * v * v
    }

    /// The inverse of [`LongBone::sheared`]: where position `s` lies along the frame's `u` axis.
    fn unsheared(&self, s: f64, v: f64) -> f64 {
        s + self.slant * v - self.cup * v * v
    }

    /// Normalised projected density (0 outside, about 0.5-0.8 inside) and the local half-width.
    fn density_local(&self, u: f64, v: f64) -> (f64, f64) {
        let s = self.sheared(u, v);
        if s <= 0.0 || s >= self.length {
            return (0.0, 0.0);
        }
        if self.physis.is_some_and(|physis| physis.in_gap(self.length, s)) {
            return (0.0, 0.0);
        }
        let t = s / self.length;
        let (w, centre) = self.section(t);
        let e = Self::cap(s, self.proximal_cap) * Self::cap(self.length - s, self.distal_cap);
        let off = (v - centre) / w;
        let outer = e * e - off * off;
        if outer <= 0.0 {
            return (0.0, 0.0);
        }
        let ends = (self.head_weight(t) + self.base_weight(t)).min(1.0);
        let cortex = self.cortex_shaft + (self.cortex_ends - self.cortex_shaft) * ends;
        let marrow = MARROW_SHAFT + (MARROW_ENDS - MARROW_SHAFT) * ends;
        let inner_w = 1.0 - cortex;
        let inner = (e * inner_w).powi(2) - off * off;
        let inner_chord = if inner > 0.0 { inner.sqrt() } else { 0.0 };
        (outer.sqrt() - (1.0 - marrow) * inner_chord, w)
    }

    /// The outline, counter-clockwise in the local frame, with about `n` points.
    fn outline(&self, n: usize) -> Vec<Vec2> {
        // Sample the sheared axis densely at the caps (by angle) and evenly along the shaft.
        let cap_steps = (n / 8).max(3);
        let shaft_steps = (n / 2 - 2 * cap_steps).max(2);
        let mut ts: Vec<(f64, f64)> = Vec::new(); // (s, cap factor)
        for i in 0..cap_steps {
            let phi = std::f64::consts::FRAC_PI_2 * i as f64 / cap_steps as f64;
            ts.push((self.proximal_cap * (1.0 - phi.cos()), phi.sin()));
        }
        for i in 0..=shaft_steps {
            let s = self.proximal_cap
                + (self.length - self.proximal_cap - self.distal_cap) * i as f64 / shaft_steps as f64;
            ts.push((s, 1.0));
        }
        for i in (0..cap_steps).rev() {
            let phi = std::f64::consts::FRAC_PI_2 * i as f64 / cap_steps as f64;
            ts.push((self.length - self.distal_cap * (1.0 - phi.cos()), phi.sin()));
        }
        if let Some(physis) = &self.physis {
            // The outline steps in to the epiphysis' width at the far side of the gap.
            let step = physis.boundary(self.length);
            for s in [step - 1e-6 * self.length, step + 1e-6 * self.length] {
                let e = Self::cap(s, self.proximal_cap) * Self::cap(self.length - s, self.distal_cap);
                ts.push((s, e));
            }
            ts.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let side = |sign: f64, &(s, e): &(f64, f64)| {
            let (w, centre) = self.section(s / self.length);
            let v = centre + sign * w * e;
            v2(self.unsheared(s, v), v)
        };
        let mut points: Vec<Vec2> = ts.iter().map(|p| side(-1.0, p)).collect();
        points.extend(ts.iter().rev().map(|p| side(1.0, p)));
        points
    }
}

impl Physis {
    /// Distance of `s` from the plate's end of a bone of `length`.
    fn distance_from_end(&self, length: f64, s: f64) -> f64 {
        if self.distal { length - s } else { s }
    }

    /// Where the epiphysis side begins (the gap's far edge from the end), along the bone.
    fn boundary(&self, length: f64) -> f64 {
        let d = self.depth + self.half_gap;
        if self.distal { length - d } else { d }
    }

    fn in_gap(&self, length: f64, s: f64) -> bool {
        (self.distance_from_end(length, s) - self.depth).abs() < self.half_gap
    }

    /// The width share at `s`: the epiphysis' (and the gap's) or the whole bone's.
    fn width_share(&self, length: f64, s: f64) -> f64 {
        if self.distance_from_end(length, s) < self.depth + self.half_gap { self.nucleus } else { 1.0 }
    }
}

impl Blob {
    fn radius(&self, phi: f64) -> f64 {
        let (s, c) = phi.sin_cos();
        let se = ((c / self.a).abs().powf(self.power) + (s / self.b).abs().powf(self.power))
            .powf(-1.0 / self.power);
        let wobble: f64 = self
            .wobble
            .iter()
            .enumerate()
            .map(|(k, (amp, phase))| amp * ((k as f64 + 2.0) * phi + phase).cos())
            .sum();
        se * (1.0 + wobble)
    }

    fn density_local(&self, u: f64, v: f64) -> (f64, f64) {
        let r = (u * u + v * v).sqrt();
        if r >= self.a.max(self.b) * 1.5 {
            return (0.0, 0.0);
        }
        let edge = self.radius(v.atan2(u));
        let rho = r / edge;
        if rho >= 1.0 {
            return (0.0, 0.0);
        }
        let inner_edge = 1.0 - self.cortex;
        let inner = if rho < inner_edge { (inner_edge * inner_edge - rho * rho).sqrt() } else { 0.0 };
        ((1.0 - rho * rho).sqrt() - (1.0 - MARROW_ENDS) * inner, edge)
    }

    fn outline(&self, n: usize) -> Vec<Vec2> {
        (0..n)
            .map(|i| {
                let phi = std::f64::consts::TAU * i as f64 / n as f64;
                let r = self.radius(phi);
                v2(r * phi.cos(), r * phi.sin())
            })
            .collect()
    }
}

impl Shape {
    /// The shape's local frame (`u` along a long bone or a carpal's major axis).
    pub fn frame(&self) -> &Frame {
        match self {
            Shape::Long(b) => &b.frame,
            Shape::Blob(b) => &b.frame,
        }
    }

    /// Normalised projected density at a world point (0 outside) and the bone's local
    /// half-width there (its thickness scale, in the shape's units).
    pub fn density(&self, p: Vec2) -> (f64, f64) {
        let (u, v) = self.frame().local(p);
        match self {
            Shape::Long(b) => b.density_local(u, v),
            Shape::Blob(b) => b.density_local(u, v),
        }
    }

    /// The outline in world coordinates with about `n` points.
    pub fn outline(&self, n: usize) -> Vec<Vec2> {
        let local = match self {
            Shape::Long(b) => b.outline(n),
            Shape::Blob(b) => b.outline(n),
        };
        let frame = *self.frame();
        local.into_iter().map(|p| frame.world(p.x, p.y)).collect()
    }

    /// The shape under a similarity: lengths scale, the frame moves.
    pub fn transformed(&self, t: &Similarity) -> Shape {
        let k = t.scale;
        match self {
            Shape::Long(b) => Shape::Long(LongBone {
                frame: t.frame(&b.frame),
                length: b.length * k,
                base: b.base * k,
                shaft: b.shaft * k,
                head: b.head * k,
                proximal_cap: b.proximal_cap * k,
                distal_cap: b.distal_cap * k,
                head_shift: b.head_shift * k,
                cup: b.cup / k,
                physis: b.physis.map(|p| Physis { depth: p.depth * k, half_gap: p.half_gap * k, ..p }),
                ..b.clone()
            }),
            Shape::Blob(b) => {
                Shape::Blob(Blob { frame: t.frame(&b.frame), a: b.a * k, b: b.b * k, ..b.clone() })
            }
        }
    }

    /// Pixel bounds `(x0, y0, x1, y1)` (inclusive) of the shape in a `size` x `size` image, or
    /// `None` when it lies outside.
    pub fn pixel_bounds(&self, size: usize) -> Option<[usize; 4]> {
        let points = self.outline(96);
        bounds_of(points.iter().copied(), 2.0, size)
    }

    /// Perimeter of the outline, for choosing a point count.
    pub fn perimeter(&self) -> f64 {
        let points = self.outline(64);
        points.iter().zip(points.iter().cycle().skip(1)).map(|(a, b)| (*b - *a).length()).sum()
    }
}

/// Inclusive pixel bounds of some points, grown by `margin`, clipped to the image.
pub fn bounds_of(points: impl Iterator<Item = Vec2>, margin: f64, size: usize) -> Option<[usize; 4]> {
    let [x0, y0, x1, y1] = bounding_box(points, margin);
    let max = size as f64 - 1.0;
    let (x0, y0, x1, y1) = (x0.max(0.0), y0.max(0.0), x1.min(max), y1.min(max));
    (x0 <= x1 && y0 <= y1).then(|| [x0 as usize, y0 as usize, x1.ceil() as usize, y1.ceil() as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metacarpal() -> LongBone {
        LongBone {
            frame: Frame::along(v2(0.0, 0.0), v2(0.0, 1.0)),
            length: 100.0,
            base: 10.0,
            shaft: 6.0,
            head: 9.0,
            base_flare: 0.25,
            head_flare: 0.25,
            proximal_cap: 6.0,
            distal_cap: 8.0,
            head_shift: 0.0,
            slant: 0.0,
            cup: 0.0,
            waist: 0.0,
            cortex_shaft: 0.35,
            cortex_ends: 0.12,
            physis: None,
        }
    }

    /// Signed area of a closed polygon (shoelace).
    fn area(points: &[Vec2]) -> f64 {
        points.iter().zip(points.iter().cycle().skip(1)).map(|(a, b)| a.x * b.y - b.x * a.y).sum::<f64>()
            / 2.0
    }

    #[test]
    fn outline_and_density_describe_the_same_region() {
        let shapes = [
            Shape::Long(metacarpal()),
            Shape::Long(LongBone { slant: 0.4, head_shift: 2.0, ..metacarpal() }),
            Shape::Long(LongBone { cup: 0.08, waist: 0.2, proximal_cap: 2.0, ..metacarpal() }),
            Shape::Blob(Blob {
                frame: Frame::along(v2(5.0, 5.0), v2(1.0, 1.0)),
                a: 20.0,
                b: 12.0,
                power: 2.4,
                wobble: [(0.05, 1.0), (0.04, 2.0), (0.02, 0.5)],
                cortex: 0.15,
            }),
        ];
        for shape in &shapes {
            let outline = shape.outline(400);
            let polygon_area = area(&outline).abs();
            // Count unit cells whose centre has density.
            let (mut inside, step) = (0.0, 0.25);
            for i in -400..=400 {
                for j in -100..=600 {
                    if shape.density(v2(i as f64 * step, j as f64 * step)).0 > 0.0 {
                        inside += step * step;
                    }
                }
            }
            assert!((inside - polygon_area).abs() / polygon_area < 0.01, "{inside} vs {polygon_area}");
        }
    }

    #[test]
    fn a_cupped_waisted_bone_has_a_concave_base_a_round_head_and_a_narrow_shaft() {
        let rod = metacarpal();
        let bone = LongBone { cup: 0.08, waist: 0.2, proximal_cap: 2.0, ..metacarpal() };
        let (rod_shape, shape) = (Shape::Long(rod.clone()), Shape::Long(bone.clone()));
        // The base's corners reach further down than its middle: a socket for the head below.
        assert_eq!(shape.density(v2(0.0, -1.0)).0, 0.0, "the middle of the base is recessed");
        assert!(shape.density(v2(8.0, -2.0)).0 > 0.0, "the corners of the base reach past it");
        assert!(rod_shape.density(v2(8.0, -2.0)).0 == 0.0, "a rod's base is flat");
        // The head's sides fall back further from its tip than the rod's do.
        let reach = |b: &LongBone, v: f64| b.unsheared(b.length - b.distal_cap, v);
        assert!(reach(&bone, 8.0) < reach(&rod, 8.0) - 4.0, "the head is rounder");
        // Mid-shaft the waisted bone is a fifth narrower than the rod.
        let (narrow, straight) = (bone.section(0.5).0, rod.section(0.5).0);
        assert!((narrow / straight - 0.8).abs() < 1e-9, "{narrow} vs {straight}");
    }

    #[test]
    fn the_cortical_rim_is_denser_than_the_medulla() {
        let bone = Shape::Long(metacarpal());
        let middle = bone.density(v2(0.0, 50.0)).0;
        let rim = bone.density(v2(6.0 * 0.7, 50.0)).0;
        assert!(rim > middle * 1.2, "rim {rim} vs middle {middle}");
        assert_eq!(bone.density(v2(7.0, 50.0)).0, 0.0, "outside the shaft");
    }
}
