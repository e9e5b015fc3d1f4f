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
/// The plate runs straight across the bone (perpendicular to its axis) while the joint surface
/// beyond it is slanted and curved, so the epiphysis is a wedge or a dome as in a child's
/// radiograph, not a slab of even thickness; its corners at the plate are rounded.
/// The label takes in the epiphysis and the gap (a radiologist outlines the whole bone), so here,
/// and only here, the outline encloses pixels without bone density: the gap and the corners.
#[derive(Clone, Copy, Debug)]
pub struct Physis {
    /// At the distal end (`u = length`) or the proximal one (`u = 0`).
    pub distal: bool,
    /// Distance along the axis from that end (its middle) to the middle of the gap.
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
        let t = s / self.length;
        let (w, centre) = self.section(t);
        let e = self.end_caps(s);
        // Bone meets a growth plate in a dense line on either side (the metaphysis' zone of
        // provisional calcification, the nucleus' rim), as thick as half the gap.
        let (w, at_plate) = match &self.physis {
            Some(physis) => match physis.part(self.length, u) {
                Part::Shaft { short } => (w, short < physis.half_gap),
                Part::Gap => return (0.0, 0.0),
                Part::Epiphysis { into } => {
                    let w = w * physis.nucleus;
                    if physis.outside_rounded_corner(into, (v - centre).abs() / (w * e)) {
                        return (0.0, 0.0);
                    }
                    (w, into < physis.half_gap)
                }
            },
            None => (w, false),
        };
        let off = (v - centre) / w;
        let outer = e * e - off * off;
        if outer <= 0.0 {
            return (0.0, 0.0);
        }
        let ends = (self.head_weight(t) + self.base_weight(t)).min(1.0);
        let cortex = self.cortex_shaft + (self.cortex_ends - self.cortex_shaft) * ends;
        let marrow = if at_plate { 1.0 } else { MARROW_SHAFT + (MARROW_ENDS - MARROW_SHAFT) * ends };
        let inner_w = 1.0 - cortex;
        let inner = (e * inner_w).powi(2) - off * off;
        let inner_chord = if inner > 0.0 { inner.sqrt() } else { 0.0 };
        (outer.sqrt() - (1.0 - marrow) * inner_chord, w)
    }

    /// How far, along the axis, the joint surface at one end falls back from its middle within
    /// `share` of the end's half-width: its slant, its curve and its rounded cap. An epiphysis
    /// must be deeper than this to reach across its bone.
    pub fn joint_fall_back(&self, distal: bool, share: f64) -> f64 {
        let t = if distal { 1.0 } else { 0.0 };
        let (w, centre) = self.section(t);
        let cap = if distal { self.distal_cap } else { self.proximal_cap };
        let rounding = cap * (1.0 - (1.0 - share * share).sqrt());
        let shear = |v: f64| {
            let advance = self.slant * v - self.cup * v * v;
            if distal { -advance } else { advance }
        };
        [-1.0, 1.0].map(|sign| shear(centre + sign * share * w)).into_iter().fold(0.0, f64::max) + rounding
    }

    /// The end-cap factor at `s`: 1 along the bone, closing to 0 at its two ends.
    fn end_caps(&self, s: f64) -> f64 {
        Self::cap(s, self.proximal_cap) * Self::cap(self.length - s, self.distal_cap)
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
        let side = |sign: f64| match &self.physis {
            Some(physis) => self.stepped_side(physis, &ts, sign),
            None => ts.iter().map(|&station| self.edge(station, sign, 1.0)).collect::<Vec<_>>(),
        };
        let mut points = side(-1.0);
        points.extend(side(1.0).into_iter().rev());
        points
    }

    /// The outline's point at `s` along the sheared axis, where the end caps narrow the bone by
    /// `e`, on the `sign` side, for `share` of the bone's width.
    fn edge(&self, (s, e): (f64, f64), sign: f64, share: f64) -> Vec2 {
        let (w, centre) = self.section(s / self.length);
        let v = centre + sign * w * share * e;
        v2(self.unsheared(s, v), v)
    }

    /// One side of a bone with a growth plate: the whole bone's outline up to the plate's far
    /// edge, a step in along the plate and the epiphysis' narrower outline on to the end.
    fn stepped_side(&self, physis: &Physis, ts: &[(f64, f64)], sign: f64) -> Vec<Vec2> {
        let beyond = |p: &Vec2| !matches!(physis.part(self.length, p.x), Part::Shaft { .. });
        let shaft = ts.iter().map(|&station| self.edge(station, sign, 1.0)).filter(|p| !beyond(p));
        let epiphysis = ts.iter().map(|&station| self.edge(station, sign, physis.nucleus)).filter(beyond);
        let corners = [1.0, physis.nucleus].map(|share| self.plate_crossing(physis, sign, share));
        if physis.distal {
            shaft.chain(corners).chain(epiphysis).collect()
        } else {
            let [shaft_corner, epiphysis_corner] = corners;
            epiphysis.chain([epiphysis_corner, shaft_corner]).chain(shaft).collect()
        }
    }

    /// Where the `sign` side of the outline for `share` of the width crosses the plate's far
    /// edge (by bisection along the axis: the side runs from the proximal end to the distal).
    fn plate_crossing(&self, physis: &Physis, sign: f64, share: f64) -> Vec2 {
        let boundary = physis.boundary(self.length);
        let (mut low, mut high) = (0.0, self.length);
        let station = |s: f64| (s, self.end_caps(s));
        for _ in 0..48 {
            let middle = 0.5 * (low + high);
            if self.edge(station(middle), sign, share).x < boundary {
                low = middle;
            } else {
                high = middle;
            }
        }
        let point = self.edge(station(0.5 * (low + high)), sign, share);
        v2(boundary, point.y)
    }
}

/// Where a point lies along a bone with a growth plate.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    /// The shaft and its metaphysis, `short` of the gap along the axis.
    Shaft { short: f64 },
    /// The cartilage gap.
    Gap,
    /// The ossified epiphysis, `into` it past the gap along the axis.
    Epiphysis { into: f64 },
}

impl Physis {
    /// Distance along the axis from the plate's end of a bone of `length` to `u`.
    fn distance_from_end(&self, length: f64, u: f64) -> f64 {
        if self.distal { length - u } else { u }
    }

    /// Where the epiphysis side begins (the gap's far edge from the end), along the axis.
    fn boundary(&self, length: f64) -> f64 {
        let d = self.depth + self.half_gap;
        if self.distal { length - d } else { d }
    }

    /// Which part of the bone the axis position `u` lies in: the plate is straight across.
    fn part(&self, length: f64, u: f64) -> Part {
        let from_gap = self.depth - self.distance_from_end(length, u);
        if from_gap <= -self.half_gap {
            Part::Shaft { short: -self.half_gap - from_gap }
        } else if from_gap < self.half_gap {
            Part::Gap
        } else {
            Part::Epiphysis { into: from_gap - self.half_gap }
        }
    }

    /// Whether a point `into` the epiphysis and `across` its half-width (0 on the axis, 1 at
    /// its side) lies outside the quarter ellipse that rounds its corners at the plate: an
    /// ossification centre grows as a rounded nucleus, never with a square edge.
    fn outside_rounded_corner(&self, into: f64, across: f64) -> bool {
        let (deep, wide) = (EPIPHYSIS_CORNER * self.depth, EPIPHYSIS_CORNER);
        if into >= deep || across <= 1.0 - wide {
            return false;
        }
        let (a, b) = ((deep - into) / deep, (across - (1.0 - wide)) / wide);
        a * a + b * b > 1.0
    }
}

/// The epiphysis' rounded corners: a quarter ellipse as deep as this share of the plate's depth
/// and as wide as this share of the epiphysis' half-width.
const EPIPHYSIS_CORNER: f64 = 0.4;

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

    /// A child's distal radius in miniature: a slanted, concave joint surface over an open
    /// growth plate with a nucleus 0.7 of the end's width.
    fn childs_radius() -> LongBone {
        let physis = Physis { distal: true, depth: 12.0, half_gap: 1.5, nucleus: 0.7 };
        LongBone { slant: 0.3, cup: -0.02, physis: Some(physis), ..metacarpal() }
    }

    /// Whether `p` lies inside the closed polygon `points` (even-odd rule).
    fn inside(points: &[Vec2], p: Vec2) -> bool {
        let edges = points.iter().zip(points.iter().cycle().skip(1));
        edges
            .filter(|(a, b)| {
                (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x)
            })
            .count()
            % 2
            == 1
    }

    #[test]
    fn a_growth_plate_runs_straight_across_under_a_wedge_shaped_epiphysis() {
        let bone = childs_radius();
        let density = |u: f64, v: f64| bone.density_local(u, v).0;
        // The gap (86.5 to 89.5 along the axis) is empty at the same height on both sides, with
        // bone just below and just above it.
        for v in [-4.0, 0.0, 4.0] {
            assert!(density(85.5, v) > 0.0 && density(90.5, v) > 0.0, "bone beside the gap at v = {v}");
            assert_eq!(density(88.0, v), 0.0, "the gap at v = {v}");
        }
        // The joint surface advances by the slant, 0.3 per unit of v, and the plate does not:
        // the epiphysis is a wedge, 2.4 taller at v = +4 than at v = -4.
        let height = |v: f64| {
            (0..400).map(|i| 89.5 + i as f64 * 0.05).filter(|&u| density(u, v) > 0.0).count() as f64 * 0.05
        };
        let (low, high) = (height(-4.0), height(4.0));
        assert!(
            low > 5.0 && (high - low - 2.4).abs() < 0.3,
            "epiphysis {low} tall at v = -4, {high} at v = +4"
        );
        // Its corners at the plate are rounded: bone just past the gap's middle, none at its side.
        let side = 0.95 * 0.7 * bone.section(0.9).0;
        assert!(density(90.0, 0.0) > 0.0 && density(90.0, side) == 0.0, "a rounded corner");
    }

    #[test]
    fn bone_meets_a_growth_plate_in_a_dense_line_on_both_sides() {
        let bone = childs_radius();
        let density = |u: f64| bone.density_local(u, 0.0).0;
        // The gap runs from 86.5 to 89.5; the lines are half the gap (1.5) thick.
        assert!(
            density(86.0) > 1.3 * density(84.0),
            "metaphysis {} against {}",
            density(86.0),
            density(84.0)
        );
        assert!(density(90.0) > 1.3 * density(92.0), "epiphysis {} against {}", density(90.0), density(92.0));
    }

    #[test]
    fn a_growing_bones_outline_encloses_its_density_and_little_more() {
        for bone in [
            childs_radius(),
            LongBone {
                physis: Some(Physis { distal: false, ..childs_radius().physis.unwrap() }),
                cup: 0.05,
                ..childs_radius()
            },
        ] {
            let outline = bone.outline(400);
            let polygon_area = area(&outline).abs();
            let (mut dense, mut outside, step) = (0.0, 0.0, 0.25);
            for i in -100..=100 {
                for j in -20..=440 {
                    let (u, v) = (j as f64 * step, i as f64 * step);
                    if bone.density_local(u, v).0 > 0.0 {
                        dense += step * step;
                        if !inside(&outline, v2(u, v)) {
                            outside += step * step;
                        }
                    }
                }
            }
            assert!(outside < 0.003 * dense, "{outside} of {dense} lies outside the outline");
            // What the outline holds beyond the bone: the gap and the rounded corners.
            let extra = polygon_area - dense;
            assert!(extra > 0.0 && extra < 0.06 * dense, "{extra} beyond {dense}");
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
