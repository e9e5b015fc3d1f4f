//! Places a built hand in the image: scale, mirror, rotation and position, kept inside the
//! frame, and turns its bones into label polygons.

use boneseg_contract::annotation::{AnnotationFile, Polygon};
use boneseg_contract::rng::Random;

use crate::anatomy::{self, Bone, Capsule, Hand, RADIUS, Site, ULNA, Web};
use crate::film::{Framing, Shutter, Side};
use crate::geometry::{Frame, Similarity, Vec2, bounding_box, v2};
use crate::markers::Marker;
use crate::person::{ImagePlan, Implant, Person};
use crate::rng::Rng;
use crate::shape::Shape;

/// Middle metacarpal length as a fraction of the image side, for an average adult.
pub const METACARPAL_FRACTION: f64 = 0.208;

/// A metal or nail object, in image pixels.
#[derive(Clone, Debug)]
pub enum Foreign {
    /// A ring around a finger segment: centre along the site, band height.
    Ring {
        site: Site,
        at: f64,
        height: f64,
    },
    /// Nail art over the distal phalanx.
    Nail {
        site: Site,
    },
    Plate {
        axis: Frame,
        length: f64,
        width: f64,
    },
    Screws {
        axis: Frame,
        count: usize,
        spacing: f64,
        length: f64,
        width: f64,
    },
}

/// Everything to draw for one image, in pixels.
#[derive(Clone, Debug)]
pub struct Scene {
    pub size: usize,
    /// Pixels per canonical unit (the middle metacarpal's length).
    pub unit: f64,
    pub bones: Vec<Bone>,
    pub sesamoids: Vec<Shape>,
    pub flesh: Vec<Capsule>,
    /// The skin folds between adjacent digits ([`crate::anatomy::Hand::webs`]), in pixels.
    pub webs: Vec<Web>,
    pub palm: Vec<Vec2>,
    pub foreign: Vec<Foreign>,
    /// Soft-tissue thickness relative to the average.
    pub tissue: f64,
    /// Flesh as a detector shows it: sharp skin, round fingers (see
    /// [`crate::anatomy::Hand::real_flesh`]).
    pub real_flesh: bool,
    /// The collimator's edges: the exposed field is where every one is non-negative.
    pub shutters: Vec<HalfPlane>,
    pub markers: Vec<Marker>,
    /// Fingertips to wrist as a share of the image side, and the hand's centre as shares of
    /// the width and height.
    pub span: f64,
    pub centre: (f64, f64),
}

/// `normal . p + offset >= 0`: one side of a straight edge.
#[derive(Clone, Copy, Debug)]
pub struct HalfPlane {
    pub normal: Vec2,
    pub offset: f64,
}

impl HalfPlane {
    /// Signed distance in pixels, positive inside.
    pub fn distance(&self, p: Vec2) -> f64 {
        self.normal.dot(p) + self.offset
    }
}

/// A box in pixels: (left, top, right, bottom).
type Rect = [f64; 4];

fn overlaps(a: &Rect, b: &Rect) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

impl Scene {
    /// Lays out the hand of `plan` for `person` in a `size` x `size` image.
    pub fn layout(person: &Person, plan: &ImagePlan, size: usize) -> Scene {
        let hand = anatomy::build(&plan.pose);
        let transform = match &plan.film.framing {
            Some(framing) => frame(&hand, plan, framing, size),
            None => classic_frame(&hand, person, plan, size),
        };
        let mut scene = Scene::place(&hand, person, plan, &transform, size, transform.scale);
        let s = size as f64;
        let (low, high) = extent(&hand, &transform);
        scene.span = transform.scale * span_units(&hand) / s;
        scene.centre = ((low.x + high.x) / 2.0 / s, (low.y + high.y) / 2.0 / s);
        if let Some(background) = &plan.film.background {
            let extent = wrist_extent(&hand, &transform);
            scene.shutters = background.shutters.iter().filter_map(|s| shutter(s, &extent, size)).collect();
        }
        scene.markers = scene.place_markers(&hand, &transform, plan);
        scene
    }

    /// Finds each planned marker a place off the hand and forearm (a few random tries; a marker
    /// with no room is left out).
    fn place_markers(&self, hand: &Hand, t: &Similarity, plan: &ImagePlan) -> Vec<Marker> {
        let s = self.size as f64;
        let (low, high) = extent(hand, t);
        let pad = 0.015 * s;
        let mut taken: Vec<Rect> = vec![[low.x - pad, low.y - pad, high.x + pad, high.y + pad]];
        for bone in self.bones.iter().filter(|b| b.class == RADIUS || b.class == ULNA) {
            if let Some(b) = bone.shape.pixel_bounds(self.size) {
                taken.push([b[0] as f64 - pad, b[1] as f64 - pad, b[2] as f64 + pad, b[3] as f64 + pad]);
            }
        }
        let mut rng = Rng::new(plan.film.marker_seed);
        let mut placed = Vec::new();
        for marker in &plan.film.markers {
            let (w, h) = marker.extent(self.size);
            let border = 0.02 * s;
            for _ in 0..24 {
                let x = rng.uniform(border, (s - border - w).max(border));
                let y = rng.uniform(border, (s - border - h).max(border));
                let rect = [x, y, x + w, y + h];
                if rect[2] <= s && rect[3] <= s && !taken.iter().any(|r| overlaps(r, &rect)) {
                    taken.push(rect);
                    placed.push(Marker { plan: marker.clone(), x, y });
                    break;
                }
            }
        }
        placed
    }
}

/// The classic phantom's placement: the middle metacarpal about a fifth of the image, the middle
/// fingertip near the top.
fn classic_frame(hand: &Hand, person: &Person, plan: &ImagePlan, size: usize) -> Similarity {
    let s = size as f64;
    let mut unit = s * METACARPAL_FRACTION * person.hand_scale;
    let mirror = plan.hand == 1;
    let side = if mirror { -1.0 } else { 1.0 };
    // Anchor the middle finger's tip near the top, the hand slightly toward the little finger,
    // then keep every bone above the forearm inside the frame, shrinking the hand if needed.
    let margin = 0.012 * s;
    let mut transform;
    loop {
        transform = Similarity::hand_to_image(unit, plan.rotation, mirror, v2(0.0, 0.0));
        let anchor = v2(s * (0.5 + plan.shift) + side * 0.12 * unit, s * plan.top_margin + 0.03 * s);
        transform = transform.shifted(anchor - transform.point(v2(0.0, 2.5)));
        let (low, high) = extent(hand, &transform);
        let fit = ((s - 2.0 * margin) / (high.x - low.x)).min((s - 2.0 * margin) / (high.y - low.y));
        if fit < 1.0 {
            unit *= fit * 0.98;
            continue;
        }
        let dx = (margin - low.x).max(0.0) - (high.x - (s - margin)).max(0.0);
        let dy = (margin - low.y).max(0.0) - (high.y - (s - margin)).max(0.0);
        transform = transform.shifted(v2(dx, dy));
        break;
    }
    transform
}

/// Bounding box of the hand down to the distal forearm, what every image shows (and a shutter
/// must leave exposed): (left, top, right, bottom) in pixels.
fn wrist_extent(hand: &Hand, t: &Similarity) -> Rect {
    let (low, high) = extent(hand, t);
    let mut rect = [low.x, low.y, high.x, high.y];
    for bone in hand.bones.iter().filter(|b| b.class == RADIUS || b.class == ULNA) {
        for p in bone.shape.outline(200).into_iter().filter(|p| p.y > -1.1) {
            let q = t.point(p);
            rect = [rect[0].min(q.x), rect[1].min(q.y), rect[2].max(q.x), rect[3].max(q.y)];
        }
    }
    rect
}

/// The randomised placement: the hand and wrist span `framing.span` of the image height and lie
/// anywhere in the room left around them; a hand too big for the frame at its rotation shrinks.
fn frame(hand: &Hand, plan: &ImagePlan, framing: &Framing, size: usize) -> Similarity {
    let s = size as f64;
    let mut unit = framing.span * s / span_units(hand);
    let margin = 0.01 * s;
    loop {
        let transform = Similarity::hand_to_image(unit, plan.rotation, plan.hand == 1, v2(0.0, 0.0));
        let [left, top, right, bottom] = wrist_extent(hand, &transform);
        let room = v2(s - 2.0 * margin - (right - left), s - 2.0 * margin - (bottom - top));
        if room.x < 0.0 || room.y < 0.0 {
            let fit = ((s - 2.0 * margin) / (right - left)).min((s - 2.0 * margin) / (bottom - top));
            unit *= fit * 0.99;
            continue;
        }
        let corner = v2(margin + framing.across * room.x, margin + framing.down * room.y);
        return transform.shifted(corner - v2(left, top));
    }
}

/// The hand's length from the fingertips to the distal forearm, in units of the middle
/// metacarpal.
fn span_units(hand: &Hand) -> f64 {
    let [_, top, _, bottom] = wrist_extent(hand, &Similarity::hand_to_image(1.0, 0.0, false, v2(0.0, 0.0)));
    bottom - top
}

/// A shutter's edge in the room between the image border and the exposed hand `extent`, or none
/// when there is no room.
fn shutter(shutter: &Shutter, extent: &Rect, size: usize) -> Option<HalfPlane> {
    let s = size as f64;
    // How much room the side leaves, the edge's inward normal and the border's midpoint.
    let (room, normal, border) = match shutter.side {
        Side::Left => (extent[0], v2(1.0, 0.0), v2(0.0, s / 2.0)),
        Side::Right => (s - extent[2], v2(-1.0, 0.0), v2(s, s / 2.0)),
        Side::Top => (extent[1], v2(0.0, 1.0), v2(s / 2.0, 0.0)),
        Side::Bottom => (s - extent[3], v2(0.0, -1.0), v2(s / 2.0, s)),
    };
    if room < 0.02 * s {
        return None;
    }
    let inside = |edge: &HalfPlane| {
        [(extent[0], extent[1]), (extent[2], extent[1]), (extent[0], extent[3]), (extent[2], extent[3])]
            .iter()
            .all(|&(x, y)| edge.distance(v2(x, y)) > 0.0)
    };
    let through = border + normal * (room * shutter.inset);
    [shutter.tilt, 0.0].into_iter().find_map(|tilt| {
        let normal = normal.rotated(tilt.to_radians());
        let edge = HalfPlane { normal, offset: -normal.dot(through) };
        inside(&edge).then_some(edge)
    })
}

impl Scene {
    fn place(
        hand: &Hand,
        person: &Person,
        plan: &ImagePlan,
        t: &Similarity,
        size: usize,
        unit: f64,
    ) -> Scene {
        let site = |s: &Site| Site { start: t.point(s.start), end: t.point(s.end), radius: s.radius * unit };
        let capsule = |c: &Capsule| Capsule { a: t.point(c.a), b: t.point(c.b), radius: c.radius * unit };
        let mut foreign = Vec::new();
        if let Some((hand_index, digits)) = &person.rings
            && *hand_index == plan.hand
        {
            for &digit in digits {
                foreign.push(Foreign::Ring {
                    site: site(&hand.ring_sites[digit]),
                    at: 0.45,
                    height: 0.055 * unit,
                });
            }
        }
        if person.nail_art {
            foreign.extend(hand.nail_sites.iter().map(|s| Foreign::Nail { site: site(s) }));
        }
        if let Some((hand_index, kind)) = person.implant
            && hand_index == plan.hand
        {
            let axis = t.frame(&hand.radius_axis);
            foreign.push(match kind {
                Implant::Plate => Foreign::Plate { axis, length: 0.9 * unit, width: 0.14 * unit },
                Implant::Screws => Foreign::Screws {
                    axis,
                    count: 3,
                    spacing: 0.1 * unit,
                    length: 0.38 * unit,
                    width: 0.03 * unit,
                },
            });
        }
        Scene {
            size,
            unit,
            bones: hand
                .bones
                .iter()
                .map(|b| Bone { class: b.class, shape: b.shape.transformed(t), density: b.density })
                .collect(),
            sesamoids: hand.sesamoids.iter().map(|s| s.transformed(t)).collect(),
            flesh: hand.flesh.iter().map(capsule).collect(),
            webs: hand
                .webs
                .iter()
                .map(|w| Web { skins: w.skins.map(|c| capsule(&c)), fold: w.fold * unit })
                .collect(),
            palm: hand.palm.iter().map(|&p| t.point(p)).collect(),
            foreign,
            tissue: hand.tissue,
            real_flesh: hand.real_flesh,
            shutters: Vec::new(),
            markers: Vec::new(),
            span: 0.0,
            centre: (0.5, 0.5),
        }
    }

    /// The label file: one polygon per bone, clipped to the image, integer points.
    pub fn annotations(&self, filename: &str, id_seed: u64) -> AnnotationFile {
        let max = (self.size - 1) as f64;
        let mut polygons: Vec<Polygon> = self
            .bones
            .iter()
            .enumerate()
            .filter_map(|(i, bone)| {
                // About one point every 7 pixels of outline, like the hand-drawn originals.
                let n = ((bone.shape.perimeter() / 7.0) as usize).clamp(16, 360);
                let mut clipped = clip_to_square(&bone.shape.outline(n), max);
                for edge in &self.shutters {
                    clipped = clip(&clipped, |p| edge.distance(p));
                }
                let mut points: Vec<[i32; 2]> =
                    clipped.iter().map(|p| [p.x.round() as i32, p.y.round() as i32]).collect();
                points.dedup();
                while points.len() > 1 && points.first() == points.last() {
                    points.pop();
                }
                (points.len() >= 3).then(|| Polygon {
                    id: annotation_id(id_seed, i),
                    class: bone.class,
                    points,
                })
            })
            .collect();
        polygons.sort_by_key(|p| p.class);
        AnnotationFile { filename: Some(filename.to_string()), polygons }
    }
}

/// A stable, unique-looking annotation id (hex, like the originals' UUIDs).
fn annotation_id(seed: u64, index: usize) -> String {
    let mut rng = crate::rng::Rng::new(seed).fork(index as u64);
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Bounding box of all bones but the forearm's, in pixels.
fn extent(hand: &Hand, t: &Similarity) -> (Vec2, Vec2) {
    let bones = hand.bones.iter().filter(|b| b.class != RADIUS && b.class != ULNA);
    let [x0, y0, x1, y1] = bounding_box(bones.flat_map(|b| b.shape.outline(48)).map(|p| t.point(p)), 0.0);
    (v2(x0, y0), v2(x1, y1))
}

/// Sutherland-Hodgman clipping of a closed polygon to the square [0, max]².
fn clip_to_square(points: &[Vec2], max: f64) -> Vec<Vec2> {
    // Signed distance inside each of the four borders.
    let borders: [fn(Vec2, f64) -> f64; 4] = [|p, _| p.x, |p, m| m - p.x, |p, _| p.y, |p, m| m - p.y];
    borders.iter().fold(points.to_vec(), |poly, distance| clip(&poly, |p| distance(p, max)))
}

/// One Sutherland-Hodgman step: the part of a closed polygon where `distance` is non-negative.
fn clip(poly: &[Vec2], distance: impl Fn(Vec2) -> f64) -> Vec<Vec2> {
    let mut out = Vec::with_capacity(poly.len() + 4);
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        let (da, db) = (distance(a), distance(b));
        if da >= 0.0 {
            out.push(a);
        }
        if (da >= 0.0) != (db >= 0.0) {
            out.push(a + (b - a) * (da / (da - db)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_inside_points_and_cuts_at_the_border() {
        let square = [v2(-5.0, 2.0), v2(5.0, 2.0), v2(5.0, 12.0), v2(-5.0, 12.0)];
        let clipped = clip_to_square(&square, 9.0);
        assert!(clipped.iter().all(|p| p.x >= 0.0 && p.x <= 9.0 && p.y >= 0.0 && p.y <= 9.0));
        assert!(clipped.contains(&v2(0.0, 2.0)) && clipped.contains(&v2(5.0, 9.0)));
    }
}
