//! Who is X-rayed and how each hand lies: the random draws behind every image.
//!
//! A person's skeleton (size, bone build, carpal shapes) is drawn once and shared by both hands;
//! the pose (rotation, spread, bent fingers, placement) is drawn per image.

use boneseg_contract::PersonId;
use boneseg_contract::rng::Random;
use boneseg_data::meta::{Gender, NAIL_ART, PersonMeta};

use crate::anatomy::{HandPose, LONG_FOREARM};
use crate::film::Film;
use crate::geometry::v2;
use crate::growth::Growth;
use crate::rng::Rng;
use crate::style::{Factor, Style};

/// The Trapezoid's and the Pisiform's places among the carpals of [`crate::anatomy`].
const TRAPEZOID_CARPAL: usize = 1;
const PISIFORM_CARPAL: usize = 7;

/// Rates of the unusual cases, each per person or per image as documented.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    /// Per person: has rings, nail art or a wrist implant.
    pub outlier: f64,
    /// Per image: the whole arm lies rotated by 15-35 degrees.
    pub rotated: f64,
    /// Per image: one or two fingers flexed, or the wrist strongly deviated.
    pub bent: f64,
}

/// An implant in the distal radius.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implant {
    Plate,
    Screws,
}

/// One person and what both of their images share.
#[derive(Clone, Debug)]
pub struct Person {
    pub meta: PersonMeta,
    /// Middle metacarpal length relative to the average adult.
    pub hand_scale: f64,
    /// The skeleton shared by both hands (pose fields are filled per image).
    pub skeleton: HandPose,
    pub nail_art: bool,
    /// Which hand (0 right, 1 left) wears rings, and on which digits.
    pub rings: Option<(usize, Vec<usize>)>,
    pub implant: Option<(usize, Implant)>,
    /// Age in years (the meta table rounds it down).
    pub age: f64,
    /// The trabecular texture of this person's bones.
    pub trabeculae: Trabeculae,
}

/// The trabecular texture inside bones: how strong (0 = the classic phantom's smooth bones) and
/// how coarse (its scale relative to the average).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trabeculae {
    pub amplitude: f64,
    pub scale: f64,
}

impl Person {
    /// A person, drawn as the classic phantom draws them, then changed by the factors of `style`
    /// that concern the person (age, bone, tissue), each from its own stream.
    pub fn draw(id: PersonId, rates: Rates, style: Style, rng: &mut Rng) -> Person {
        let streams = rng.clone();
        let gender = if rng.chance(0.5) { Gender::Male } else { Gender::Female };
        let age = rng.uniform(20.0, 70.0).round() as u32;
        let height_cm = match gender {
            Gender::Male => rng.normal(173.0, 6.0),
            Gender::Female => rng.normal(160.5, 5.5),
        }
        .clamp(145.0, 195.0);
        let bmi = rng.normal(23.0, 3.0).clamp(16.0, 35.0);
        let weight_kg = (bmi * (height_cm / 100.0).powi(2) * 10.0).round() / 10.0;
        let hand_scale = (height_cm / 168.0).powf(0.9) * rng.normal(1.0, 0.03);

        let mut skeleton = HandPose::neutral();
        skeleton.width_scale = rng.normal(if gender == Gender::Male { 1.03 } else { 0.97 }, 0.03);
        skeleton.ulnar_variance = rng.normal(0.0, 0.025);
        for i in 0..8 {
            skeleton.carpal_offsets[i] = v2(rng.normal(0.0, 0.012), rng.normal(0.0, 0.012));
            skeleton.carpal_sizes[i] = rng.normal(1.0, 0.05);
            skeleton.carpal_turns[i] = rng.normal(0.0, 6.0);
            for k in 0..3 {
                skeleton.carpal_wobble[i][k] =
                    (rng.normal(0.0, 0.045 / (k as f64 + 1.0)), rng.uniform(0.0, std::f64::consts::TAU));
            }
        }

        let (mut nail_art, mut rings, mut implant) = (false, None, None);
        if rng.chance(rates.outlier) {
            let roll = rng.unit();
            if roll < 0.4 && (gender == Gender::Female || rng.chance(0.1)) {
                nail_art = true;
            } else if roll < 0.8 {
                // Mostly the ring finger; sometimes a second ring on the middle or little finger.
                let mut digits = vec![3];
                if rng.chance(0.3) {
                    digits.push(if rng.chance(0.5) { 2 } else { 4 });
                }
                rings = Some((rng.below(2), digits));
            } else {
                implant =
                    Some((rng.below(2), if rng.chance(0.5) { Implant::Plate } else { Implant::Screws }));
            }
        }
        let remarks: Vec<&str> = [
            nail_art.then_some(NAIL_ART),
            rings.is_some().then_some("반지"),
            implant.is_some().then_some("임플란트"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let meta = PersonMeta {
            id,
            age,
            gender,
            weight_kg,
            height_cm: (height_cm * 10.0).round() / 10.0,
            remark: (!remarks.is_empty()).then(|| remarks.join(", ")),
        };
        let mut person = Person {
            meta,
            hand_scale,
            skeleton,
            nail_art,
            rings,
            implant,
            age: f64::from(age),
            trabeculae: Trabeculae { amplitude: 0.0, scale: 1.0 },
        };
        let female = gender == Gender::Female;
        if style.has(Factor::Age) {
            person.grow(female, bmi, &mut streams.fork(Factor::Age.stream()));
        }
        if style.has(Factor::Bone) {
            person.vary_bones(&mut streams.fork(Factor::Bone.stream()));
        }
        if style.has(Factor::Tissue) {
            let rng = &mut streams.fork(Factor::Tissue.stream());
            let tissue = ((bmi / 23.0).sqrt() * rng.normal(1.0, 0.08)).clamp(0.75, 1.45);
            person.skeleton.tissue = tissue;
            // The pulp reaches 5-8 mm past the distal phalanx's tuft (`L` is about 65 mm).
            person.skeleton.pulp = Some(rng.normal(0.095, 0.012).clamp(0.07, 0.125) * tissue);
        }
        person
    }

    /// Ages from young children to old adults: a third of the people are children. A child's
    /// height, weight and hand follow, and so does the skeleton ([`Growth`]).
    fn grow(&mut self, female: bool, adult_bmi: f64, rng: &mut Rng) {
        let age = if rng.chance(0.33) { rng.uniform(1.0, 18.0) } else { rng.uniform(18.0, 90.0) };
        if age < 18.0 {
            let grown = (0.45 + 0.55 * (age / 17.0).powf(0.8)).min(1.0);
            let height = self.meta.height_cm * grown;
            let bmi = rng.normal(16.5, 1.5).clamp(13.0, 24.0).max(adult_bmi * 0.6);
            self.meta.height_cm = (height * 10.0).round() / 10.0;
            self.meta.weight_kg = (bmi * (height / 100.0).powi(2) * 10.0).round() / 10.0;
            self.hand_scale *= grown.powf(0.9);
            self.skeleton.forearm = LONG_FOREARM;
        }
        self.age = age;
        self.meta.age = age.floor() as u32;
        let growth = Growth::at_age(age, female, rng);
        for class in 0..29 {
            self.skeleton.cortex[class] *= growth.cortex;
            self.skeleton.density[class] *= growth.mineral;
        }
        self.trabeculae.amplitude += 0.1 * growth.coarse_trabeculae;
        self.trabeculae.scale *= 1.0 + 0.8 * growth.coarse_trabeculae;
        self.skeleton.growth = growth;
    }

    /// Bones that differ from person to person and bone to bone: cortex thickness, density, the
    /// strength and grain of the trabecular texture, and the digits' outlines (curved joint
    /// surfaces, waisted shafts) in place of the classic phantom's rods.
    fn vary_bones(&mut self, rng: &mut Rng) {
        let cortex = rng.normal(1.0, 0.12).clamp(0.7, 1.35);
        let density = rng.normal(1.0, 0.07).clamp(0.8, 1.2);
        for class in 0..29 {
            self.skeleton.cortex[class] *= cortex * rng.normal(1.0, 0.08).clamp(0.75, 1.25);
            self.skeleton.density[class] *= density * rng.normal(1.0, 0.05).clamp(0.85, 1.15);
        }
        self.trabeculae.amplitude += rng.uniform(0.08, 0.22);
        self.trabeculae.scale *= rng.normal(1.0, 0.15).clamp(0.6, 1.5);
        // The classic Trapezoid is a fifth too big: in the competition's data it is among the
        // three smallest classes with finger-16 and the Pisiform.
        self.skeleton.carpal_sizes[TRAPEZOID_CARPAL] *= rng.normal(0.84, 0.04).clamp(0.72, 0.96);
        self.skeleton.cup = rng.normal(0.35, 0.06).clamp(0.2, 0.5);
        self.skeleton.waist = rng.normal(0.16, 0.04).clamp(0.05, 0.28);
        // Faceted carpals, a little larger, pack the wrist with narrow joint spaces between them.
        // The Trapezoid and the Pisiform keep their size: faceting alone grows them by a tenth,
        // and they must stay among the smallest classes.
        self.skeleton.carpal_facets = rng.normal(0.8, 0.15).clamp(0.4, 1.2);
        for (carpal, size) in self.skeleton.carpal_sizes.iter_mut().enumerate() {
            if carpal != TRAPEZOID_CARPAL && carpal != PISIFORM_CARPAL {
                *size *= 1.08;
            }
        }
    }
}

/// How one image of a hand is taken.
#[derive(Clone, Debug)]
pub struct ImagePlan {
    /// 0 = right hand, 1 = left hand (mirrored).
    pub hand: usize,
    pub pose: HandPose,
    /// Rotation of the whole arm in the image, degrees counter-clockwise.
    pub rotation: f64,
    /// Where the tip of the middle finger lies, as a fraction of the height from the top.
    pub top_margin: f64,
    /// Horizontal shift of the hand, as a fraction of the width.
    pub shift: f64,
    /// Names of the flexed digits, for the record.
    pub bent_digits: Vec<usize>,
    pub rotated: bool,
    /// Image look: brightness offset, contrast gain, noise level, exposure.
    pub brightness: f64,
    pub contrast: f64,
    pub noise: f64,
    pub exposure: f64,
    /// Framing, background, markers and detector (the classic phantom's where their factors are off).
    pub film: Film,
    /// The person's trabecular texture.
    pub trabeculae: Trabeculae,
}

impl ImagePlan {
    /// An image of `person`'s hand `hand`, drawn as the classic phantom draws it, then changed by
    /// the factors of `style` that concern the image, each from its own stream.
    pub fn draw(person: &Person, hand: usize, rates: Rates, style: Style, rng: &mut Rng) -> ImagePlan {
        let streams = rng.clone();
        let mut pose = person.skeleton.clone();
        pose.metacarpal_spread = rng.normal(1.0, 0.06);
        pose.finger_spread = rng.uniform(0.6, 1.3);
        pose.thumb_abduction = rng.normal(0.0, 6.0);
        for digit in 0..5 {
            for joint in 0..3 {
                pose.joint_jitter[digit][joint] = rng.normal(0.0, 2.5);
            }
        }
        pose.wrist_deviation = rng.normal(0.0, 4.0);
        let mut bent_digits = Vec::new();
        if rng.chance(rates.bent) {
            if rng.chance(0.6) {
                for _ in 0..1 + rng.below(2) {
                    let digit = 1 + rng.below(4);
                    if !bent_digits.contains(&digit) {
                        pose.flexion[digit] = rng.uniform(35.0, 75.0);
                        bent_digits.push(digit);
                    }
                }
            } else {
                pose.wrist_deviation = rng.uniform(12.0, 25.0) * if rng.chance(0.5) { 1.0 } else { -1.0 };
            }
        }
        let rotated = rng.chance(rates.rotated);
        let rotation = if rotated {
            rng.uniform(15.0, 35.0) * if rng.chance(0.5) { 1.0 } else { -1.0 }
        } else {
            rng.normal(0.0, 3.0)
        };
        let mut plan = ImagePlan {
            hand,
            pose,
            rotation,
            top_margin: rng.uniform(0.03, 0.09),
            shift: rng.normal(0.0, 0.025),
            bent_digits,
            rotated,
            brightness: rng.normal(0.0, 6.0),
            contrast: rng.normal(1.0, 0.07),
            noise: rng.uniform(2.0, 5.0),
            exposure: rng.normal(1.0, 0.06),
            film: Film::draw(style, hand, &streams),
            trabeculae: person.trabeculae,
        };
        if style.has(Factor::Pose) {
            plan.vary_pose(&mut streams.fork(Factor::Pose.stream()));
        }
        if plan.film.framing.is_some() {
            plan.pose.forearm = LONG_FOREARM;
        }
        plan
    }

    /// Arms at any slight angle, fingers from together to spread wide, the thumb from lying
    /// along the hand to abducted.
    fn vary_pose(&mut self, rng: &mut Rng) {
        let rotation = rng.normal(0.0, 9.0).clamp(-25.0, 25.0);
        if !self.rotated {
            self.rotation = rotation;
        }
        self.pose.finger_spread = rng.uniform(0.15, 1.7);
        self.pose.metacarpal_spread = rng.normal(1.0, 0.09).clamp(0.8, 1.25);
        self.pose.thumb_abduction = rng.uniform(-12.0, 32.0);
    }
}
