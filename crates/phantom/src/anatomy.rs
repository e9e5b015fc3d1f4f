//! The canonical hand: a right hand seen postero-anteriorly (thumb on the left, fingers up),
//! in units of the middle metacarpal's length `L` (about 420 px at 2048²), origin at the base of
//! the middle metacarpal, y up.
//!
//! Lengths and metacarpal angles follow measurements of real hands; widths, carpal sizes and
//! positions are set so that the areas at 2048² come out near the competition's (radius ~76k
//! px, capitate ~16k, little distal phalanx ~3.7k, all bones ~13% of the image).

use crate::geometry::{Frame, Vec2, v2};
use crate::growth::Growth;
use crate::shape::{Blob, LongBone, Physis, Shape};

/// One digit: where its metacarpal starts, at what angle (degrees toward the thumb), the lengths
/// of metacarpal, proximal, middle and distal phalanx, a width factor, and the class of each of
/// those bones (the thumb has no middle phalanx).
struct Digit {
    base: Vec2,
    tilt: f64,
    lengths: [f64; 4],
    width: f64,
    classes: [Option<usize>; 4],
}

const THUMB: usize = 0;

const DIGITS: [Digit; 5] = [
    Digit {
        base: v2(-0.43, -0.13),
        tilt: 36.0,
        lengths: [0.69, 0.47, 0.0, 0.34],
        width: 1.12,
        classes: [Some(2), Some(1), None, Some(0)],
    },
    Digit {
        base: v2(-0.235, -0.005),
        tilt: 9.0,
        lengths: [1.03, 0.59, 0.36, 0.27],
        width: 1.0,
        classes: [Some(6), Some(5), Some(4), Some(3)],
    },
    Digit {
        base: v2(0.0, -0.015),
        tilt: 0.0,
        lengths: [1.00, 0.67, 0.43, 0.29],
        width: 1.02,
        classes: [Some(10), Some(9), Some(8), Some(7)],
    },
    Digit {
        base: v2(0.225, -0.045),
        tilt: -9.0,
        lengths: [0.89, 0.62, 0.41, 0.29],
        width: 0.93,
        classes: [Some(14), Some(13), Some(12), Some(11)],
    },
    Digit {
        base: v2(0.41, -0.115),
        tilt: -22.0,
        lengths: [0.82, 0.49, 0.29, 0.26],
        width: 0.86,
        classes: [Some(18), Some(17), Some(16), Some(15)],
    },
];

/// Shape of each bone of a digit (metacarpal, proximal, middle, distal), in `L` before the
/// digit's width factor: half-widths at base, shaft and head, flare fractions, cap lengths,
/// cortex fractions.
struct Profile {
    base: f64,
    shaft: f64,
    head: f64,
    base_flare: f64,
    head_flare: f64,
    proximal_cap: f64,
    distal_cap: f64,
    cortex_shaft: f64,
    cortex_ends: f64,
}

const PROFILES: [Profile; 4] = [
    Profile {
        base: 0.142,
        shaft: 0.098,
        head: 0.137,
        base_flare: 0.22,
        head_flare: 0.3,
        proximal_cap: 0.05,
        distal_cap: 0.11,
        cortex_shaft: 0.38,
        cortex_ends: 0.12,
    },
    Profile {
        base: 0.132,
        shaft: 0.092,
        head: 0.112,
        base_flare: 0.3,
        head_flare: 0.3,
        proximal_cap: 0.055,
        distal_cap: 0.075,
        cortex_shaft: 0.36,
        cortex_ends: 0.12,
    },
    Profile {
        base: 0.1,
        shaft: 0.07,
        head: 0.082,
        base_flare: 0.32,
        head_flare: 0.3,
        proximal_cap: 0.05,
        distal_cap: 0.06,
        cortex_shaft: 0.34,
        cortex_ends: 0.12,
    },
    Profile {
        base: 0.08,
        shaft: 0.045,
        head: 0.06,
        base_flare: 0.35,
        head_flare: 0.3,
        proximal_cap: 0.04,
        distal_cap: 0.055,
        cortex_shaft: 0.3,
        cortex_ends: 0.15,
    },
];

/// Joint spaces after the metacarpal, proximal and middle phalanx.
const JOINT_GAPS: [f64; 3] = [0.035, 0.03, 0.025];

/// A carpal: class, centre, half-axes, angle of the major axis (degrees from +x, counter-
/// clockwise), superellipse power.
struct Carpal {
    class: usize,
    centre: Vec2,
    a: f64,
    b: f64,
    angle: f64,
    power: f64,
}

pub const TRAPEZIUM: usize = 19;
pub const PISIFORM: usize = 26;
pub const RADIUS: usize = 27;
pub const ULNA: usize = 28;

const CARPALS: [Carpal; 8] = [
    Carpal { class: TRAPEZIUM, centre: v2(-0.320, -0.192), a: 0.118, b: 0.127, angle: 35.0, power: 2.6 },
    Carpal { class: 20, centre: v2(-0.177, -0.104), a: 0.085, b: 0.11, angle: 80.0, power: 2.8 },
    Carpal { class: 21, centre: v2(-0.002, -0.210), a: 0.205, b: 0.126, angle: 92.0, power: 2.5 },
    Carpal { class: 22, centre: v2(0.218, -0.169), a: 0.162, b: 0.11, angle: 110.0, power: 2.5 },
    Carpal { class: 23, centre: v2(-0.251, -0.462), a: 0.21, b: 0.086, angle: 120.0, power: 2.2 },
    Carpal { class: 24, centre: v2(-0.030, -0.540), a: 0.116, b: 0.112, angle: 10.0, power: 2.5 },
    Carpal { class: 25, centre: v2(0.182, -0.465), a: 0.116, b: 0.1, angle: 30.0, power: 2.5 },
    Carpal { class: PISIFORM, centre: v2(0.232, -0.440), a: 0.09, b: 0.08, angle: 0.0, power: 2.0 },
];

/// Where the hand turns on the forearm.
const WRIST_CENTRE: Vec2 = v2(-0.05, -0.55);

/// Everything that varies from one hand (image) to the next, in the canonical frame.
#[derive(Clone, Debug)]
pub struct HandPose {
    /// Multiplies the metacarpal angles (how far the hand fans out).
    pub metacarpal_spread: f64,
    /// Multiplies the angle of each finger's phalanges relative to straight up.
    pub finger_spread: f64,
    /// Extra thumb abduction, degrees.
    pub thumb_abduction: f64,
    /// Per digit and joint (MCP, PIP, DIP), degrees of sideways jitter.
    pub joint_jitter: [[f64; 3]; 5],
    /// Per digit, flexion in degrees (0 = straight): a flexed finger projects shorter.
    pub flexion: [f64; 5],
    /// Bone width multiplier (sturdier or finer skeletons).
    pub width_scale: f64,
    /// The digits' long bones: how deep their joint surfaces curve (concave bases, rounded
    /// heads), as a share of the head's half-width, and how waisted their shafts are (see
    /// [`LongBone`]); `cup` also curves the radius' and ulna's distal ends. Both 0 for the
    /// classic phantom's rods.
    pub cup: f64,
    pub waist: f64,
    /// Per carpal: centre offset, size factor, rotation (degrees) and wobble.
    pub carpal_offsets: [Vec2; 8],
    pub carpal_sizes: [f64; 8],
    pub carpal_turns: [f64; 8],
    pub carpal_wobble: [[(f64, f64); 3]; 8],
    /// Added to every carpal's superellipse power: real carpals are faceted, packed polygons
    /// rather than ellipses (0 for the classic phantom).
    pub carpal_facets: f64,
    /// Radial (+) or ulnar (-) deviation of the hand on the forearm, degrees.
    pub wrist_deviation: f64,
    /// Ulna length relative to the radius (positive = longer), in `L`.
    pub ulnar_variance: f64,
    /// Age: which carpals have ossified and how big, open growth plates, joint spaces.
    pub growth: Growth,
    /// Per class, the cortex thickness and the bone density relative to the average adult's.
    pub cortex: [f64; 29],
    pub density: [f64; 29],
    /// Soft-tissue thickness relative to the average.
    pub tissue: f64,
    /// The flesh's real outline: the fingertip's pulp reaches this far past the distal phalanx,
    /// in `L`, the palm meets a forearm as wide as the flesh is thick, and skin edges are as sharp
    /// as a detector shows them. `None` keeps the classic phantom's flesh: round capsule ends
    /// reaching a finger's width past the bone, blurred skin, and the palm's lower corners where
    /// an average forearm's outline would be.
    pub pulp: Option<f64>,
    /// How far below the wrist the forearm runs, in `L` (far enough to leave the image).
    pub forearm: f64,
}

impl HandPose {
    /// The average hand.
    pub fn neutral() -> HandPose {
        HandPose {
            metacarpal_spread: 1.0,
            finger_spread: 1.0,
            thumb_abduction: 0.0,
            joint_jitter: [[0.0; 3]; 5],
            flexion: [0.0; 5],
            width_scale: 1.0,
            cup: 0.0,
            waist: 0.0,
            carpal_offsets: [v2(0.0, 0.0); 8],
            carpal_sizes: [1.0; 8],
            carpal_turns: [0.0; 8],
            carpal_wobble: [[(0.0, 0.0); 3]; 8],
            carpal_facets: 0.0,
            wrist_deviation: 0.0,
            ulnar_variance: 0.0,
            growth: Growth::adult(),
            cortex: [1.0; 29],
            density: [1.0; 29],
            tissue: 1.0,
            pulp: None,
            forearm: -BELOW,
        }
    }
}

/// A labelled bone.
#[derive(Clone, Debug)]
pub struct Bone {
    pub class: usize,
    pub shape: Shape,
    /// Density relative to the average adult's bone of its kind.
    pub density: f64,
}

/// A rounded segment of soft tissue.
#[derive(Clone, Copy, Debug)]
pub struct Capsule {
    pub a: Vec2,
    pub b: Vec2,
    pub radius: f64,
}

impl Capsule {
    /// Distance from `p` to the capsule's axis segment (inside where under `radius`).
    pub fn axis_distance(&self, p: Vec2) -> f64 {
        let ab = self.b - self.a;
        let t = ((p - self.a).dot(ab) / ab.dot(ab).max(1e-12)).clamp(0.0, 1.0);
        (p - (self.a + ab * t)).length()
    }
}

/// A web: two digits' flesh whose skins meet in a rounded fold where they part. It fills the gap
/// between them where that is narrower than about half of `fold` (in `L`).
#[derive(Clone, Copy, Debug)]
pub struct Web {
    pub skins: [Capsule; 2],
    pub fold: f64,
}

/// The fold of the webs between the fingers, in `L`: it closes the gap where two fingers part
/// while that is narrower than half of it (about 1 cm), about a third of the way up the
/// proximal phalanges for fingers spread 20 degrees apart.
const FINGER_WEB_FOLD: f64 = 0.3;
/// The first web space, between thumb and index, is wider: its skin runs in a concave arc from
/// the index's knuckle to the thumb's, where a convex palm would cut straight across.
const THUMB_WEB_FOLD: f64 = 0.6;

/// A finger segment where a ring or a nail can sit: its axis and the flesh radius around it.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub start: Vec2,
    pub end: Vec2,
    pub radius: f64,
}

impl Site {
    /// The flesh around the segment.
    fn capsule(self) -> Capsule {
        Capsule { a: self.start, b: self.end, radius: self.radius }
    }
}

/// A built hand, in canonical units.
#[derive(Clone, Debug)]
pub struct Hand {
    pub bones: Vec<Bone>,
    /// Unlabelled small bones (sesamoids at the thumb), as in real radiographs.
    pub sesamoids: Vec<Shape>,
    pub flesh: Vec<Capsule>,
    /// The skin folds between adjacent digits, the fingers' first and the thumb's (the first web
    /// space) last (real flesh only: none in the classic phantom).
    pub webs: Vec<Web>,
    /// The palm's soft tissue: a convex polygon, counter-clockwise.
    pub palm: Vec<Vec2>,
    /// Per digit: the proximal phalanx (ring site) and the distal phalanx (nail site).
    pub ring_sites: [Site; 5],
    pub nail_sites: [Site; 5],
    /// The distal radius: where a plate or screws go.
    pub radius_axis: Frame,
    /// Soft-tissue thickness relative to the average.
    pub tissue: f64,
    /// Flesh as a detector shows it (see [`HandPose::pulp`]): sharp skin, and fingers and forearm
    /// as round as they are, brightest on their axis and fading to the skin.
    pub real_flesh: bool,
}

fn long_bone(
    start: Vec2,
    direction: Vec2,
    length: f64,
    profile: &Profile,
    width: f64,
    cortex: f64,
) -> LongBone {
    LongBone {
        frame: Frame::along(start, direction),
        length,
        base: profile.base * width,
        shaft: profile.shaft * width,
        head: profile.head * width,
        base_flare: profile.base_flare,
        head_flare: profile.head_flare,
        proximal_cap: (profile.proximal_cap * width).min(length * 0.3),
        distal_cap: (profile.distal_cap * width).min(length * 0.3),
        head_shift: 0.0,
        slant: 0.0,
        cup: 0.0,
        waist: 0.0,
        cortex_shaft: profile.cortex_shaft * cortex,
        cortex_ends: profile.cortex_ends * cortex,
        physis: None,
    }
}

/// Gives a digit's bone a real bone's outline: joint surfaces curving `cup` of the head's
/// half-width deep, a rounder head, and a shaft narrowing by `waist` between its flares. A
/// phalanx's base turns concave around the head below it; a metacarpal's base, which meets the
/// carpals, stays about flat.
fn contour(bone: &mut LongBone, phalanx: bool, cup: f64, waist: f64) {
    bone.cup = cup / bone.head;
    if phalanx {
        bone.proximal_cap *= 0.3;
    }
    bone.distal_cap *= 0.6;
    bone.waist = waist;
}

/// A child's growth plate at one end of `bone` (its final outline): the epiphysis beyond it is
/// `tall` in its middle (in `L`, for a mature nucleus) and as wide as `nucleus` of the bone's
/// end; where the joint surface falls back (the radius' slant, a rounded head) the plate lies
/// deeper, so the thin side of the wedge keeps a third of the middle's height.
fn growth_plate(bone: &LongBone, distal: bool, tall: f64, plate: f64, nucleus: f64) -> Physis {
    let half_gap = plate / 2.0;
    let height = tall * (0.55 + 0.45 * nucleus);
    let fall_back = bone.joint_fall_back(distal, 0.8 * nucleus);
    let depth = (height + half_gap).min(bone.length * 0.35).max(half_gap + fall_back + height / 3.0);
    Physis { distal, depth, half_gap, nucleus }
}

/// Rotates `p` about `centre` by `degrees` (counter-clockwise, y up).
fn turn(p: Vec2, centre: Vec2, degrees: f64) -> Vec2 {
    centre + (p - centre).rotated(degrees.to_radians())
}

/// Where the forearm bones start, far below the image.
const BELOW: f64 = -4.0;
/// A forearm long enough, in `L`, to leave the image below even a small hand placed high: a
/// child's hand in the classic framing, any hand the framing factor shrinks.
pub const LONG_FOREARM: f64 = 9.0;

const RADIUS_PROFILE: Profile = Profile {
    base: 0.142,
    shaft: 0.142,
    head: 0.24,
    base_flare: 0.05,
    head_flare: 0.14,
    proximal_cap: 0.1,
    distal_cap: 0.05,
    cortex_shaft: 0.3,
    cortex_ends: 0.1,
};

const ULNA_PROFILE: Profile = Profile {
    base: 0.085,
    shaft: 0.085,
    head: 0.115,
    base_flare: 0.05,
    head_flare: 0.1,
    proximal_cap: 0.1,
    distal_cap: 0.07,
    cortex_shaft: 0.32,
    cortex_ends: 0.1,
};

/// Builds the hand for a pose.
pub fn build(pose: &HandPose) -> Hand {
    let mut builder = Builder::new(pose);
    for (index, digit) in DIGITS.iter().enumerate() {
        builder.digit(index, digit);
    }
    builder.carpals();
    builder.forearm()
}

/// Collects the parts of a hand as they are built.
struct Builder<'a> {
    pose: &'a HandPose,
    bones: Vec<Bone>,
    sesamoids: Vec<Shape>,
    flesh: Vec<Capsule>,
    /// Points the palm's outline must enclose: both sides of each metacarpal's base and head.
    palm_points: Vec<Vec2>,
    ring_sites: [Site; 5],
    nail_sites: [Site; 5],
    /// The first web space's two sides: the thumb metacarpal's flesh and the palm's edge along
    /// the index metacarpal.
    thumb_metacarpal: Capsule,
    index_edge: Capsule,
}

impl<'a> Builder<'a> {
    fn new(pose: &'a HandPose) -> Self {
        let nowhere = Site { start: v2(0.0, 0.0), end: v2(0.0, 0.0), radius: 0.0 };
        Builder {
            pose,
            bones: Vec::with_capacity(29),
            sesamoids: Vec::new(),
            flesh: Vec::new(),
            palm_points: Vec::new(),
            ring_sites: [nowhere; 5],
            nail_sites: [nowhere; 5],
            thumb_metacarpal: nowhere.capsule(),
            index_edge: nowhere.capsule(),
        }
    }

    /// A point of the hand moved by the wrist's deviation; `share` is how much of it the point
    /// follows (the proximal carpal row half).
    fn deviate(&self, p: Vec2, share: f64) -> Vec2 {
        turn(p, WRIST_CENTRE, self.pose.wrist_deviation * share)
    }

    /// The metacarpal and phalanges of one digit, with their flesh.
    fn digit(&mut self, digit_index: usize, digit: &Digit) {
        let pose = self.pose;
        let width = digit.width * pose.width_scale;
        let is_thumb = digit_index == THUMB;
        let mut tilt =
            digit.tilt * pose.metacarpal_spread + if is_thumb { pose.thumb_abduction } else { 0.0 };
        let mut position = self.deviate(digit.base, 1.0);
        let flesh_radius = if is_thumb { 0.19 } else { 0.17 } * width * pose.tissue;
        for (bone_index, (&nominal_length, &class)) in digit.lengths.iter().zip(&digit.classes).enumerate() {
            let Some(class) = class else { continue };
            if bone_index > 0 {
                let jitter = pose.joint_jitter[digit_index][bone_index - 1];
                tilt = if is_thumb {
                    tilt - 8.0 + jitter
                } else if bone_index == 1 {
                    digit.tilt * pose.finger_spread + jitter
                } else {
                    tilt + jitter
                };
            }
            // A flexed finger's phalanges point partly out of the image plane.
            let foreshortening =
                if bone_index >= 2 { pose.flexion[digit_index].to_radians().cos() } else { 1.0 };
            let length = nominal_length * foreshortening;
            let direction = Vec2::from_tilt(tilt).rotated(pose.wrist_deviation.to_radians());
            let end = position + direction * length;
            let site = Site { start: position, end, radius: flesh_radius };
            match bone_index {
                0 if is_thumb => {
                    // The thenar eminence: only the thumb's base is inside the palm.
                    let side = direction.perp() * (0.16 * width);
                    self.palm_points.extend([position + side, position - side]);
                    self.thumb_metacarpal =
                        Capsule { a: position, b: end, radius: 0.22 * width * pose.tissue };
                    self.flesh.push(self.thumb_metacarpal);
                    let sesamoids = pose.growth.epiphyses.is_none_or(|e| e.nucleus > 0.85);
                    for side in [-1.0, 1.0].into_iter().filter(|_| sesamoids) {
                        let centre = end - direction * 0.06 + direction.perp() * (side * 0.055 * width);
                        self.sesamoids.push(sesamoid(centre, direction, width));
                    }
                }
                0 => {
                    let (side, head) = (direction.perp() * (0.16 * width), end - direction * 0.04);
                    self.palm_points.extend([position + side, position - side, head + side, head - side]);
                    if digit_index == THUMB + 1 {
                        self.index_edge = Capsule { a: position, b: head, radius: 0.16 * width };
                    }
                }
                1 => self.ring_sites[digit_index] = site,
                3 => {
                    self.nail_sites[digit_index] = site;
                    self.flesh.push(fingertip(position, end, direction, flesh_radius, pose.pulp));
                }
                _ => {}
            }
            if bone_index > 0 && (bone_index < 3 || pose.pulp.is_none()) {
                self.flesh.push(Capsule { a: position, b: end, radius: flesh_radius });
            }
            let mut bone =
                long_bone(position, direction, length, &PROFILES[bone_index], width, pose.cortex[class]);
            // Phalanges and the thumb's metacarpal grow at their base, the other metacarpals
            // at their head; the epiphysis is as tall as the end's cap before contouring.
            let distal = bone_index == 0 && !is_thumb;
            let tall = 1.6 * if distal { bone.distal_cap } else { bone.proximal_cap };
            if pose.cup > 0.0 {
                contour(&mut bone, bone_index > 0, pose.cup, pose.waist);
            }
            if let Some(e) = pose.growth.epiphyses {
                bone.physis = Some(growth_plate(&bone, distal, tall, e.plate, e.nucleus));
            }
            self.bones.push(Bone { class, shape: Shape::Long(bone), density: pose.density[class] });
            let gap = JOINT_GAPS[bone_index.min(2)] * foreshortening.max(0.5);
            let gap = if pose.growth.joint_space != 1.0 { gap * pose.growth.joint_space } else { gap };
            position = end + direction * gap;
        }
    }

    /// The eight carpals: the distal row moves with the hand, the proximal row half as much.
    fn carpals(&mut self) {
        let pose = self.pose;
        for (i, carpal) in CARPALS.iter().enumerate() {
            // A carpal that has not ossified yet is neither seen nor labelled.
            let Some(grown) = pose.growth.carpals[i] else { continue };
            let share = if carpal.centre.y > -0.35 { 1.0 } else { 0.5 };
            let centre = self.deviate(carpal.centre + pose.carpal_offsets[i], share);
            let angle = carpal.angle + pose.carpal_turns[i] + pose.wrist_deviation * share;
            let mut size = pose.carpal_sizes[i] * pose.width_scale;
            let (mut power, mut wobble) = (carpal.power + pose.carpal_facets, pose.carpal_wobble[i]);
            if grown < 1.0 {
                // A young nucleus is small and round.
                let youth = ((1.0 - grown) / 0.7).clamp(0.0, 1.0);
                size *= grown;
                power = carpal.power + (2.0 - carpal.power) * youth;
                wobble = wobble.map(|(amplitude, phase)| (amplitude * (1.0 - youth), phase));
            }
            let shape = Shape::Blob(Blob {
                frame: Frame::along(centre, v2(1.0, 0.0).rotated(angle.to_radians())),
                a: carpal.a * size,
                b: carpal.b * size,
                power,
                wobble,
                cortex: 0.16 * pose.cortex[carpal.class],
            });
            self.bones.push(Bone { class: carpal.class, shape, density: pose.density[carpal.class] });
        }
    }

    /// Radius, ulna and the forearm's flesh, running from far below the image up to the wrist,
    /// and the finished hand.
    fn forearm(mut self) -> Hand {
        let pose = self.pose;
        let width = pose.width_scale;
        let below = -pose.forearm;
        let radius_end = v2(-0.17, -0.6);
        let radius_dir = Vec2::from_tilt(-2.0);
        let radius_start = radius_end - radius_dir * (radius_end.y - below);
        let mut radius = LongBone {
            head_shift: 0.05 * width,
            slant: 0.3,
            ..forearm_bone(radius_start, radius_dir, radius_end.y - below, &RADIUS_PROFILE, pose, RADIUS)
        };
        let ulna_end = v2(0.155, -0.67 + pose.ulnar_variance);
        let ulna_dir = Vec2::from_tilt(1.5);
        let ulna_start = ulna_end - ulna_dir * (ulna_end.y - below);
        let mut ulna = LongBone {
            head_shift: -0.02 * width,
            slant: -0.25,
            ..forearm_bone(ulna_start, ulna_dir, ulna_end.y - below, &ULNA_PROFILE, pose, ULNA)
        };
        // With the digits' outlines (`pose.cup`, 0 in the classic phantom) the radius ends in a
        // concave joint surface that the scaphoid and lunate sit in, its styloid reaching past
        // them, and the ulna's head is a dome.
        radius.cup = -0.7 * pose.cup / radius.head;
        ulna.cup = 0.5 * pose.cup / ulna.head;
        if let Some(e) = pose.growth.epiphyses {
            radius.physis = Some(growth_plate(&radius, true, 0.13, e.plate * 1.3, e.nucleus));
            let plate = growth_plate(&ulna, true, 0.09, e.plate * 1.3, e.nucleus);
            if e.ulna {
                ulna.physis = Some(plate);
            } else {
                // Before its epiphysis ossifies the ulna's end is all cartilage: the bone ends
                // at the growth plate, in the metaphysis' flat end rather than the head's dome.
                ulna.length -= plate.depth + plate.half_gap;
                (ulna.cup, ulna.slant, ulna.distal_cap) = (0.0, 0.0, 0.3 * ulna.distal_cap);
            }
        }
        let density = |class: usize| pose.density[class];
        self.bones.push(Bone { class: RADIUS, shape: Shape::Long(radius), density: density(RADIUS) });
        self.bones.push(Bone { class: ULNA, shape: Shape::Long(ulna), density: density(ULNA) });

        // The wrist joins the palm to the forearm, which leaves the image at the bottom.
        // The palm's lower corners lie 0.04 inside the forearm's outline, which is as wide as the
        // flesh is thick; the classic phantom keeps them where an average forearm's would be.
        let forearm_radius = 0.5 * pose.tissue;
        let lower = match pose.pulp {
            Some(_) => [-1.0, 1.0].map(|side| v2(-0.04 + side * (forearm_radius - 0.04), -0.75)),
            None => [v2(-0.5, -0.75), v2(0.42, -0.75)],
        };
        let wrist = [self.deviate(v2(-0.5, -0.45), 0.5), self.deviate(v2(0.45, -0.45), 0.5)];
        self.palm_points.extend(wrist.into_iter().chain(lower));
        self.flesh.push(Capsule { a: v2(-0.04, -0.6), b: v2(-0.04, below), radius: forearm_radius });
        let proximal = self.ring_sites.map(|s| s.capsule());
        let webs = match pose.pulp {
            Some(_) => {
                let fingers = (1..4).map(|finger| Web {
                    skins: [proximal[finger], proximal[finger + 1]],
                    fold: FINGER_WEB_FOLD,
                });
                let thumb = Web { skins: [self.thumb_metacarpal, self.index_edge], fold: THUMB_WEB_FOLD };
                fingers.chain([thumb]).collect()
            }
            None => Vec::new(),
        };
        Hand {
            bones: self.bones,
            sesamoids: self.sesamoids,
            flesh: self.flesh,
            webs,
            palm: convex_hull(self.palm_points),
            ring_sites: self.ring_sites,
            nail_sites: self.nail_sites,
            radius_axis: Frame::along(radius_end, -radius_dir),
            tissue: pose.tissue,
            real_flesh: pose.pulp.is_some(),
        }
    }
}

/// The distal phalanx's flesh, from its base at `start` along `direction` to past its tip at
/// `end`. With a `pulp` the finger keeps its width to a round tip that far past the bone, as in
/// a real finger (a narrower tip would show a step at the joint); without, the classic
/// phantom's extra capsule past the tip (drawn with the phalanx's own capsule).
fn fingertip(start: Vec2, end: Vec2, direction: Vec2, flesh_radius: f64, pulp: Option<f64>) -> Capsule {
    match pulp {
        Some(pulp) => {
            let back = (flesh_radius - pulp).clamp(0.0, (end - start).length());
            Capsule { a: start, b: end - direction * back, radius: flesh_radius }
        }
        None => Capsule { a: end, b: end + direction * 0.06, radius: flesh_radius * 0.85 },
    }
}

/// A forearm bone of `length`: a longer forearm (to leave the image when the hand is small and
/// high) keeps the classic one's flares in `L`, so the wrist looks the same.
fn forearm_bone(
    start: Vec2,
    direction: Vec2,
    length: f64,
    profile: &Profile,
    pose: &HandPose,
    class: usize,
) -> LongBone {
    let bone = long_bone(start, direction, length, profile, pose.width_scale, pose.cortex[class]);
    if pose.forearm == -BELOW {
        return bone;
    }
    let stretch = (length - pose.forearm + -BELOW) / length;
    LongBone { head_flare: bone.head_flare * stretch, base_flare: bone.base_flare * stretch, ..bone }
}

/// A small round sesamoid bone (unlabelled, as in the competition's data).
fn sesamoid(centre: Vec2, direction: Vec2, width: f64) -> Shape {
    Shape::Blob(Blob {
        frame: Frame::along(centre, direction),
        a: 0.032 * width,
        b: 0.028 * width,
        power: 2.0,
        wobble: [(0.0, 0.0); 3],
        cortex: 0.3,
    })
}

/// Convex hull, counter-clockwise (Andrew's monotone chain).
fn convex_hull(mut points: Vec<Vec2>) -> Vec<Vec2> {
    points.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    let cross = |o: Vec2, a: Vec2, b: Vec2| (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
    let mut hull: Vec<Vec2> = Vec::with_capacity(points.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Box<dyn Iterator<Item = &Vec2>> =
            if pass == 0 { Box::new(points.iter()) } else { Box::new(points.iter().rev()) };
        for &p in ordered {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palm_is_a_convex_counter_clockwise_hull() {
        let square = vec![v2(0.0, 0.0), v2(1.0, 0.0), v2(0.5, 0.5), v2(1.0, 1.0), v2(0.0, 1.0)];
        assert_eq!(convex_hull(square), vec![v2(0.0, 0.0), v2(1.0, 0.0), v2(1.0, 1.0), v2(0.0, 1.0)]);
        assert!(build(&HandPose::neutral()).palm.len() >= 6);
    }

    /// How far along its axis `class`'s bone reaches at each sideways offset `v` (marching in
    /// steps of 0.001 from beyond its distal end until the density starts).
    fn distal_reach(hand: &Hand, class: usize, vs: [f64; 3]) -> [f64; 3] {
        let bone = hand.bones.iter().find(|b| b.class == class).unwrap();
        let Shape::Long(long) = &bone.shape else { panic!("class {class} is not a long bone") };
        vs.map(|v| {
            let mut u = long.length + 0.3;
            while bone.shape.density(long.frame.world(u, v)).0 == 0.0 {
                u -= 0.001;
                assert!(u > long.length - 0.5, "class {class} has no bone at v = {v}");
            }
            u
        })
    }

    /// How far the middle of a three-point surface lies ahead of the chord between its sides.
    fn bulge([side_a, middle, side_b]: [f64; 3]) -> f64 {
        middle - (side_a + side_b) / 2.0
    }

    #[test]
    fn the_outlined_radius_is_concave_at_the_wrist_and_the_ulnar_head_a_dome() {
        let outlined = build(&HandPose { cup: 0.35, ..HandPose::neutral() });
        let rods = build(&HandPose::neutral());
        // Measured against the rods' ends, whose rounded corners curve them a little too.
        let curving = |class: usize, vs: [f64; 3]| {
            bulge(distal_reach(&outlined, class, vs)) - bulge(distal_reach(&rods, class, vs))
        };
        let radius = curving(RADIUS, [-0.13, 0.05, 0.23]);
        assert!(radius < -0.02, "the radius' joint surface is a socket: {radius}");
        let ulna = curving(ULNA, [-0.06, 0.0, 0.06]);
        assert!(ulna > 0.004, "the ulna's head is a dome: {ulna}");
    }

    /// How far past each digit's distal phalanx its flesh reaches along the phalanx's axis.
    fn pulp_reach(hand: &Hand) -> [f64; 5] {
        let in_flesh = |p: Vec2| hand.flesh.iter().any(|c| c.axis_distance(p) < c.radius);
        hand.nail_sites.map(|site| {
            let direction = (site.end - site.start).normalized();
            let mut reach = 0.0;
            while in_flesh(site.end + direction * reach) {
                reach += 0.001;
            }
            reach
        })
    }

    #[test]
    fn the_fingertip_pulp_ends_a_few_millimetres_past_the_bone() {
        let classic = build(&HandPose::neutral());
        assert!(!classic.real_flesh && classic.webs.is_empty());
        assert!(pulp_reach(&classic).iter().all(|&r| r > 0.18), "classic: {:?}", pulp_reach(&classic));
        let real = build(&HandPose { pulp: Some(0.09), ..HandPose::neutral() });
        assert!(real.real_flesh);
        assert_eq!(real.webs.len(), 4, "a web between each pair of adjacent digits");
        for (digit, reach) in pulp_reach(&real).into_iter().enumerate() {
            assert!((reach - 0.09).abs() < 0.002, "digit {digit}: the flesh reaches {reach} past the bone");
        }
    }

    #[test]
    fn every_class_appears_once() {
        let hand = build(&HandPose::neutral());
        let mut classes: Vec<usize> = hand.bones.iter().map(|b| b.class).collect();
        classes.sort_unstable();
        assert_eq!(classes, (0..29).collect::<Vec<_>>());
    }
}
