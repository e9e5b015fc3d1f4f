//! Places a built hand in the image: scale, mirror, rotation and position, kept inside the
//! frame, and turns its bones into label polygons.

use boneseg_contract::annotation::{AnnotationFile, Polygon};
use boneseg_contract::rng::Random;

use crate::anatomy::{self, Bone, Capsule, Hand, RADIUS, Site, ULNA};
use crate::geometry::{Frame, Similarity, Vec2, v2};
use crate::person::{ImagePlan, Implant, Person};
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
    pub palm: Vec<Vec2>,
    pub foreign: Vec<Foreign>,
}

impl Scene {
    /// Lays out the hand of `plan` for `person` in a `size` x `size` image.
    pub fn layout(person: &Person, plan: &ImagePlan, size: usize) -> Scene {
        let hand = anatomy::build(&plan.pose);
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
            let (low, high) = extent(&hand, &transform);
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
        Scene::place(&hand, person, plan, &transform, size, unit)
    }

    fn place(
        hand: &Hand,
        person: &Person,
        plan: &ImagePlan,
        t: &Similarity,
        size: usize,
        unit: f64,
    ) -> Scene {
        let site = |s: &Site| Site { start: t.point(s.start), end: t.point(s.end), radius: s.radius * unit };
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
                .map(|b| Bone { class: b.class, shape: b.shape.transformed(t) })
                .collect(),
            sesamoids: hand.sesamoids.iter().map(|s| s.transformed(t)).collect(),
            flesh: hand
                .flesh
                .iter()
                .map(|c| Capsule { a: t.point(c.a), b: t.point(c.b), radius: c.radius * unit })
                .collect(),
            palm: hand.palm.iter().map(|&p| t.point(p)).collect(),
            foreign,
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
                let clipped = clip_to_square(&bone.shape.outline(n), max);
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
    let mut low = v2(f64::INFINITY, f64::INFINITY);
    let mut high = v2(f64::NEG_INFINITY, f64::NEG_INFINITY);
    for bone in hand.bones.iter().filter(|b| b.class != RADIUS && b.class != ULNA) {
        for p in bone.shape.outline(48) {
            let q = t.point(p);
            low = v2(low.x.min(q.x), low.y.min(q.y));
            high = v2(high.x.max(q.x), high.y.max(q.y));
        }
    }
    (low, high)
}

/// Sutherland-Hodgman clipping of a closed polygon to the square [0, max]².
fn clip_to_square(points: &[Vec2], max: f64) -> Vec<Vec2> {
    // Signed distance inside each of the four borders.
    let borders: [fn(Vec2, f64) -> f64; 4] = [|p, _| p.x, |p, m| m - p.x, |p, _| p.y, |p, m| m - p.y];
    let mut poly = points.to_vec();
    for distance in borders {
        if poly.is_empty() {
            break;
        }
        let mut out = Vec::with_capacity(poly.len() + 4);
        for i in 0..poly.len() {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            let (da, db) = (distance(a, max), distance(b, max));
            if da >= 0.0 {
                out.push(a);
            }
            if (da >= 0.0) != (db >= 0.0) {
                out.push(a + (b - a) * (da / (da - db)));
            }
        }
        poly = out;
    }
    poly
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
