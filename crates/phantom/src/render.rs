//! Draws a scene as a radiograph.
//!
//! Each pixel accumulates an attenuation `A` (soft tissue + every bone it crosses + metal), shown
//! as `255 * (1 - exp(-A))`: near-black air, grey flesh (40-100), bone 100-200 with a bright
//! cortical rim, brighter where bones overlap, white metal. Then the detector: a bright band at
//! the top edge, brightness and contrast, a slight blur and noise.

use boneseg_contract::rng::{Random, mix64};
use boneseg_data::image_io::GrayImage;
use rayon::prelude::*;

use crate::anatomy::{Capsule, Web};
use crate::film::Detector;
use crate::geometry::{Frame, Vec2, bounding_box, v2, within};
use crate::person::{ImagePlan, Trabeculae};
use crate::rng::Rng;
use crate::scene::{Foreign, Scene};
use crate::shape::{Shape, bounds_of};

/// Attenuation per unit of bone density, and the sublinear growth of thickness with width
/// (bone ends are flattened, not round).
const BONE_MU: f64 = 2.4;
const THICKNESS_POWER: f64 = 0.4;
const SESAMOID_MU: f64 = 0.9;
/// Carpals are spongy bone with a thin cortex: less dense than the long bones' shafts.
const CARPAL_MU: f64 = 1.8;
/// Soft tissue's attenuation grows with the chord through it as `mu * chord^power`. The classic
/// phantom's low power made every finger a flat band and the palm as bright as a finger; real
/// flesh, closer to linear, shows a finger brightest on its axis and fading to the skin, and the
/// thicker palm and forearm brighter than the fingers. Its `mu` keeps a finger's axis (a chord
/// of 0.17 L) as bright as before.
const TISSUE: Attenuation = Attenuation { mu: 0.6, power: 0.45 };
const REAL_FLESH: Attenuation = Attenuation { mu: 1.02, power: 0.75 };
/// How much the palm's corners are rounded with sharp skin, in `L` (a few millimetres).
const PALM_ROUNDING: f64 = 0.04;
/// Over how much of a finger the palm's thickness runs out, in `L` (about 15 mm).
const PALM_RUNOUT: f64 = 0.25;
/// Rows per parallel work item.
const BAND: usize = 32;

/// Values on a coarse square grid over the image, read back with bilinear interpolation: smooth
/// fields (soft tissue) and value noise (bone texture) are both made this way.
struct Grid {
    values: Vec<f32>,
    cols: usize,
    cell: f64,
}

impl Grid {
    /// A grid of `cell`-pixel cells covering a `size`-pixel image, one value per node.
    fn new(size: usize, cell: f64, value: impl Fn(Vec2) -> f32 + Sync) -> Grid {
        let cols = (size as f64 / cell).ceil() as usize + 2;
        let values = (0..cols * cols).into_par_iter().map(|i| value(Grid::node(i, cols, cell))).collect();
        Grid { values, cols, cell }
    }

    /// Where node `i` of a grid of `cols` columns of `cell`-pixel cells lies, in pixels.
    fn node(i: usize, cols: usize, cell: f64) -> Vec2 {
        v2((i % cols) as f64 * cell, (i / cols) as f64 * cell)
    }

    /// Value noise: uniform random values in [-1, 1].
    fn noise(size: usize, cell: f64, rng: &mut Rng) -> Grid {
        let cols = (size as f64 / cell).ceil() as usize + 2;
        Grid { values: (0..cols * cols).map(|_| rng.uniform(-1.0, 1.0) as f32).collect(), cols, cell }
    }

    /// Soft-tissue attenuation (flesh has no detail inside), slightly blurred at the skin; `tissue`
    /// scales the palm's thickness (the fingers' and forearm's come scaled in their capsules).
    /// Sharp skin takes a grid of 1024 cells a side, the classic phantom's soft skin 256.
    fn tissue(scene: &Scene) -> Grid {
        let (size, unit) = (scene.size, scene.unit);
        let cell =
            if scene.real_flesh { (size as f64 / 1024.0).max(1.0) } else { (size as f64 / 256.0).max(2.0) };
        let palm = PalmOutline::new(&scene.palm, unit, scene.real_flesh);
        let flesh_attenuation = if scene.real_flesh { REAL_FLESH } else { TISSUE };
        let flesh: Vec<(&Capsule, [f64; 4])> =
            scene.flesh.iter().map(|c| (c, bounding_box([c.a, c.b], c.radius))).collect();
        let webs: Vec<(&Web, [f64; 4])> = scene
            .webs
            .iter()
            .map(|w| {
                let [first, second] = &w.skins;
                (w, bounding_box([first.a, first.b, second.a, second.b], first.radius.max(second.radius)))
            })
            .collect();
        let grid = Grid::new(size, cell, |p| {
            // The thickest capsule's chord, and how deep inside a capsule the point lies (1 on
            // its axis, 0 at its skin).
            let (chord, depth) = flesh
                .iter()
                .filter(|&&(_, bounds)| within(p, bounds))
                .map(|(c, _)| {
                    let chord = chord(p, c);
                    (chord, chord / c.radius)
                })
                .fold((0.0, 0.0), |(chord, depth), (c, d)| (f64::max(chord, c), f64::max(depth, d)));
            let web = webs
                .iter()
                .filter(|&&(_, bounds)| within(p, bounds))
                .map(|(web, _)| web_chord(p, web))
                .fold(0.0, f64::max);
            let chord = chord.max(web).max(palm.thickness(p, depth) * scene.tissue);
            if chord == 0.0 { 0.0 } else { flesh_attenuation.of(chord / unit) as f32 }
        });
        Grid { values: box_blur(&grid.values, grid.cols), ..grid }
    }

    fn at(&self, x: f64, y: f64) -> f64 {
        let (gx, gy) = (x / self.cell, y / self.cell);
        let (ix, iy) = ((gx as usize).min(self.cols - 2), (gy as usize).min(self.cols - 2));
        let (fx, fy) = ((gx - ix as f64) as f32, (gy - iy as f64) as f32);
        let i = iy * self.cols + ix;
        let top = self.values[i] + (self.values[i + 1] - self.values[i]) * fx;
        let bottom =
            self.values[i + self.cols] + (self.values[i + self.cols + 1] - self.values[i + self.cols]) * fx;
        f64::from(top + (bottom - top) * fy)
    }
}

/// The palm's soft tissue: a convex outline, full thickness inside, thinning over a rim near
/// the outline. Edges are measured once, as every grid node asks for its thickness.
struct PalmOutline {
    /// Per edge: its start, its perpendicular and its length.
    edges: Vec<(Vec2, Vec2, f64)>,
    /// +1 or -1: mirroring and the image's downward y turn the outline's orientation.
    orientation: f64,
    /// Nothing outside these pixel bounds is palm.
    bounds: [f64; 4],
    unit: f64,
    /// Skin as sharp as a detector shows it: rounded corners, and the palm's edge under a finger
    /// or the forearm is a gentle slope rather than skin (the classic phantom's blur hid both).
    real_flesh: bool,
}

impl PalmOutline {
    fn new(palm: &[Vec2], unit: f64, real_flesh: bool) -> PalmOutline {
        let pairs = || palm.iter().zip(palm.iter().cycle().skip(1));
        let orientation = pairs().map(|(a, b)| a.x * b.y - b.x * a.y).sum::<f64>().signum();
        let edges = pairs().map(|(&a, &b)| (a, (b - a).perp(), (b - a).length())).collect();
        PalmOutline { edges, orientation, bounds: bounding_box(palm.iter().copied(), 0.0), unit, real_flesh }
    }

    /// The thickness at `p`, which lies `depth` deep in a finger's or the forearm's flesh (0
    /// outside, 1 on its axis).
    fn thickness(&self, p: Vec2, depth: f64) -> f64 {
        if !within(p, self.bounds) {
            return 0.0;
        }
        // Distance inside a convex polygon: the smallest distance to an edge's line.
        let to_edges =
            || self.edges.iter().map(|&(a, perp, length)| self.orientation * (p - a).dot(perp) / length);
        let nearest = to_edges().fold(f64::INFINITY, f64::min);
        let (full, rim) = (0.36 * self.unit, 0.18 * self.unit);
        if !self.real_flesh {
            return full * (nearest / rim).clamp(0.0, 1.0).sqrt();
        }
        // A soft minimum rounds the corners: where two edges are near, the outline cuts inside.
        // Edges farther than 12 softnesses beyond the nearest add under 1e-5 and are skipped.
        let softness = PALM_ROUNDING * self.unit;
        let near = to_edges().map(|d| (d - nearest) / softness).filter(|&excess| excess < 12.0);
        let inside = nearest - softness * near.map(|excess| (-excess).exp()).sum::<f64>().ln();
        let skin = (inside / rim).clamp(0.0, 1.0).sqrt();
        // Under a finger's flesh the palm thins into the finger over `PALM_RUNOUT`; the
        // deeper in the finger, the more of that slope, so the two meet without a step.
        let slope = (inside / (PALM_RUNOUT * self.unit)).clamp(0.0, 1.0);
        full * (skin + (slope - skin) * depth)
    }
}

#[derive(Clone, Copy)]
struct Attenuation {
    mu: f64,
    power: f64,
}

impl Attenuation {
    /// The attenuation of a chord of this length, in `L`.
    fn of(self, chord: f64) -> f64 {
        self.mu * chord.powf(self.power)
    }
}

/// Half the chord through a cylinder of flesh around the capsule's axis.
fn chord(p: Vec2, c: &Capsule) -> f64 {
    let d = c.axis_distance(p);
    (c.radius * c.radius - d * d).max(0.0).sqrt()
}

/// Half the chord through two digits' flesh joined by the web: their skins meet in a rounded
/// fold where they part (a smooth minimum, over the web's `fold`, of their distances to the
/// skin: it fills gaps narrower than `fold / 2`), and the flesh under that joined skin is as
/// thick as a finger's at that depth.
fn web_chord(p: Vec2, web: &Web) -> f64 {
    let ([first, second], fold) = (&web.skins, web.fold);
    let (d1, d2) = (first.axis_distance(p) - first.radius, second.axis_distance(p) - second.radius);
    let blend = (1.0 - (d1 - d2).abs() / fold).max(0.0);
    let to_skin = d1.min(d2) - blend * blend * fold / 4.0;
    let radius = 0.5 * (first.radius + second.radius);
    let from_axis = (radius + to_skin).max(0.0);
    (radius * radius - from_axis * from_axis).max(0.0).sqrt()
}

fn box_blur(grid: &[f32], cols: usize) -> Vec<f32> {
    let rows = grid.len() / cols;
    let at = |x: isize, y: isize| {
        grid[(y.clamp(0, rows as isize - 1) as usize) * cols + x.clamp(0, cols as isize - 1) as usize]
    };
    (0..grid.len())
        .into_par_iter()
        .map(|i| {
            let (x, y) = ((i % cols) as isize, (i / cols) as isize);
            let mut sum = 0.0;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    sum += at(x + dx, y + dy);
                }
            }
            sum / 9.0
        })
        .collect()
}

/// A shape to add, with its pixel bounds and attenuation scale.
struct Drawable<'a> {
    shape: &'a Shape,
    bounds: [usize; 4],
    mu: f64,
    /// Seeds its trabecular texture.
    index: u64,
}

/// The trabecular texture: value noise in each bone's own frame, its grain stretched along a long
/// bone's axis as trabeculae follow the lines of load.
struct Trabecular {
    amplitude: f64,
    /// Grain across the bone, in pixels.
    cell: f64,
    seed: u64,
}

impl Trabecular {
    fn new(trabeculae: Trabeculae, unit: f64, seed: u64) -> Trabecular {
        Trabecular { amplitude: trabeculae.amplitude, cell: (0.011 * unit * trabeculae.scale).max(0.5), seed }
    }

    /// The texture's factor on a bone's density at `p`.
    fn at(&self, d: &Drawable, p: Vec2) -> f64 {
        let (u, v) = d.shape.frame().local(p);
        let stretch = if matches!(d.shape, Shape::Long(_)) { 3.0 } else { 1.4 };
        let seed = self.seed ^ d.index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let fine = value_noise(seed, u / (stretch * self.cell), v / self.cell);
        let coarse = value_noise(!seed, u / (2.0 * stretch * self.cell), v / (2.5 * self.cell));
        1.0 + self.amplitude * (0.65 * fine + 0.35 * coarse)
    }
}

/// Smooth value noise in [-1, 1] from hashed lattice values, without a stored grid.
fn value_noise(seed: u64, x: f64, y: f64) -> f64 {
    let (ix, iy) = (x.floor(), y.floor());
    let (fx, fy) = (x - ix, y - iy);
    let (fx, fy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (ix, iy) = (ix as i64 as u64, iy as i64 as u64);
    let at = |i: u64, j: u64| {
        let h = mix64(seed ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ j.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7));
        (h >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    };
    let top = at(ix, iy) + (at(ix.wrapping_add(1), iy) - at(ix, iy)) * fx;
    let bottom = at(ix, iy.wrapping_add(1))
        + (at(ix.wrapping_add(1), iy.wrapping_add(1)) - at(ix, iy.wrapping_add(1))) * fx;
    top + (bottom - top) * fy
}

/// Renders the scene with the image settings of `plan`; `seed` drives texture and noise.
pub fn render(scene: &Scene, plan: &ImagePlan, seed: u64) -> GrayImage {
    let n = scene.size;
    let unit = scene.unit;
    let mut rng = Rng::new(seed);
    let tissue = Grid::tissue(scene);
    let coarse_texture = Grid::noise(n, (0.08 * unit).max(2.0), &mut rng);
    let fine_texture = Grid::noise(n, (n as f64 / 700.0).max(1.5), &mut rng);
    let speckle = Grid::noise(n, (n as f64 / 1000.0).max(1.0), &mut rng);
    let trabecular = (plan.trabeculae.amplitude > 0.0)
        .then(|| Trabecular::new(plan.trabeculae, unit, rng.fork(0x7AB).next_u64()));
    let drawables: Vec<Drawable> = scene
        .bones
        .iter()
        .map(|b| {
            let mu = if matches!(b.shape, Shape::Blob(_)) { CARPAL_MU } else { BONE_MU };
            (&b.shape, mu * b.density)
        })
        .chain(scene.sesamoids.iter().map(|s| (s, SESAMOID_MU)))
        .enumerate()
        .filter_map(|(index, (shape, mu))| {
            Some(Drawable { shape, bounds: shape.pixel_bounds(n)?, mu, index: index as u64 })
        })
        .collect();
    let thickness = PowerTable::new(THICKNESS_POWER, 0.6);
    let foreign: Vec<(&Foreign, [usize; 4])> =
        scene.foreign.iter().filter_map(|f| Some((f, foreign_bounds(f, n)?))).collect();

    // Attenuation.
    let mut attenuation = vec![0f32; n * n];
    attenuation.par_chunks_mut(n * BAND).enumerate().for_each(|(band, rows)| {
        let y0 = band * BAND;
        let y1 = y0 + rows.len() / n;
        for (r, row) in rows.chunks_mut(n).enumerate() {
            let y = (y0 + r) as f64 + 0.5;
            for (x, a) in row.iter_mut().enumerate() {
                *a = tissue.at(x as f64 + 0.5, y) as f32;
            }
        }
        for d in drawables.iter().filter(|d| d.bounds[1] < y1 && d.bounds[3] >= y0) {
            add_region(rows, n, y0, d.bounds, |p| {
                let (density, half_width) = d.shape.density(p);
                if density <= 0.0 {
                    return 0.0;
                }
                let texture = 1.0 + 0.1 * coarse_texture.at(p.x, p.y) + 0.12 * fine_texture.at(p.x, p.y);
                let texture = match &trabecular {
                    Some(trabecular) => texture * trabecular.at(d, p),
                    None => texture,
                };
                d.mu * density * thickness.at(half_width / unit) * texture
            });
        }
        for (f, bounds) in foreign.iter().filter(|(_, b)| b[1] < y1 && b[3] >= y0) {
            add_region(rows, n, y0, *bounds, |p| foreign_attenuation(f, p, &speckle));
        }
    });

    let band_height = rng.uniform(0.01, 0.03) * n as f64;
    let band_level = rng.uniform(170.0, 230.0);
    let noise_seed = rng.next_u64();
    let pixels = if plan.film.is_classic() {
        classic_detector(attenuation, n, plan, (band_height as f32, band_level as f32), noise_seed)
    } else {
        processed(attenuation, scene, plan, (band_height as f32, band_level as f32), noise_seed)
    };
    GrayImage::from_raw(n as u32, n as u32, pixels).expect("buffer matches the size")
}

/// The classic phantom's detector: exposure curve, top band, brightness and contrast, a slight
/// blur and flat noise.
fn classic_detector(
    attenuation: Vec<f32>,
    n: usize,
    plan: &ImagePlan,
    band: (f32, f32),
    noise_seed: u64,
) -> Vec<u8> {
    let (band_height, band_level) = band;
    let (exposure, contrast, brightness) =
        (plan.exposure as f32, plan.contrast as f32, plan.brightness as f32);
    let mut grey = attenuation;
    grey.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let band =
            if (y as f32) < band_height { band_level * (1.0 - y as f32 / band_height).sqrt() } else { 0.0 };
        for v in row.iter_mut() {
            let shown = 255.0 * (1.0 - (-*v * exposure).exp());
            *v = (shown.max(band) - 60.0) * contrast + 60.0 + brightness;
        }
    });

    // A slight blur (the detector's point spread) and noise.
    let blurred = blur_121(&grey, n);
    let mut pixels = vec![0u8; n * n];
    let noise_sd = plan.noise as f32;
    pixels.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let mut noise = Rng::new(noise_seed).fork(y as u64);
        for (x, out) in row.iter_mut().enumerate() {
            let value = blurred[y * n + x] + noise_sd * fast_normal(&mut noise);
            *out = value.round().clamp(0.0, 255.0) as u8;
        }
    });
    pixels
}

/// A processed radiograph: the background and its gradient under the hand, the top band if any,
/// the tone curve, the collimator's shutters, lead markers, the detector's blur and its
/// signal-dependent noise, then the software's text on top. Each part falls back to the classic
/// phantom's when its factor is off.
fn processed(
    attenuation: Vec<f32>,
    scene: &Scene,
    plan: &ImagePlan,
    band: (f32, f32),
    noise_seed: u64,
) -> Vec<u8> {
    let n = scene.size;
    let film = &plan.film;
    let detector = film.detector;
    let exposure = detector.map_or(plan.exposure, |d| d.exposure) as f32;
    let (level, gradient, angle, shutter_level, show_band) = match &film.background {
        Some(b) => (b.level, b.gradient, b.gradient_angle, b.shutter_level, b.band),
        None => (0.0, 0.0, 0.0, 0.0, true),
    };
    let (gx, gy) = (angle.cos() * gradient / n as f64, angle.sin() * gradient / n as f64);
    let tone = ToneCurve::new(detector, plan);
    let edge = (1.5 * n as f64 / 2048.0).max(0.5);
    let (band_height, band_level) = band;
    let mut grey = attenuation;
    grey.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let band = if show_band && (y as f32) < band_height {
            band_level * (1.0 - y as f32 / band_height).sqrt()
        } else {
            0.0
        };
        let dy = y as f64 - n as f64 / 2.0;
        for (x, v) in row.iter_mut().enumerate() {
            let background = (level + gx * (x as f64 - n as f64 / 2.0) + gy * dy).clamp(0.0, 255.0) as f32;
            let shown = 255.0 * (1.0 - (-*v * exposure).exp());
            let value = tone.at((background + (1.0 - background / 255.0) * shown).max(band));
            let p = v2(x as f64 + 0.5, y as f64 + 0.5);
            let open = scene
                .shutters
                .iter()
                .map(|s| (s.distance(p) / edge + 0.5).clamp(0.0, 1.0))
                .fold(1.0, f64::min) as f32;
            *v = shutter_level as f32 + (value - shutter_level as f32) * open;
        }
    });
    for marker in scene.markers.iter().filter(|m| m.plan.lead) {
        marker.paint(&mut grey, n);
    }
    let mut grey = match detector {
        Some(d) => gaussian_blur(&grey, n, d.blur * n as f64 / 2048.0),
        None => blur_121(&grey, n),
    };
    let (noise_sd, quantum) = detector.map_or((plan.noise, 0.0), |d| (d.noise, d.quantum));
    grey.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let mut noise = Rng::new(noise_seed).fork(y as u64);
        for v in row.iter_mut() {
            let signal = (*v / 255.0).clamp(0.0, 1.0).sqrt();
            let sd = noise_sd as f32 * (1.0 - quantum as f32 + quantum as f32 * signal);
            *v += sd * fast_normal(&mut noise);
        }
    });
    for marker in scene.markers.iter().filter(|m| !m.plan.lead) {
        marker.paint(&mut grey, n);
    }
    grey.into_par_iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect()
}

/// The tone curve as a table over grey levels 0-255 (read with linear interpolation): the
/// detector's, or the classic linear contrast about grey 60.
struct ToneCurve {
    table: Vec<f32>,
}

impl ToneCurve {
    const STEPS: usize = 1024;

    fn new(detector: Option<Detector>, plan: &ImagePlan) -> ToneCurve {
        let curve = |grey: f64| match &detector {
            Some(d) => d.tone(grey),
            None => (grey - 60.0) * plan.contrast + 60.0 + plan.brightness,
        };
        let table = (0..=Self::STEPS).map(|i| curve(i as f64 * 255.0 / Self::STEPS as f64) as f32).collect();
        ToneCurve { table }
    }

    fn at(&self, grey: f32) -> f32 {
        let x = grey.clamp(0.0, 255.0) * Self::STEPS as f32 / 255.0;
        let i = (x as usize).min(Self::STEPS - 1);
        self.table[i] + (self.table[i + 1] - self.table[i]) * (x - i as f32)
    }
}

/// Separable Gaussian blur with clamped borders.
fn gaussian_blur(image: &[f32], n: usize, sigma: f64) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil().max(1.0) as usize;
    let mut kernel: Vec<f32> = (0..=2 * radius)
        .map(|i| (-((i as f64 - radius as f64) / sigma).powi(2) / 2.0).exp() as f32)
        .collect();
    let total: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= total);
    let at = |i: usize, offset: usize| (i + offset).saturating_sub(radius).min(n - 1);
    let mut horizontal = vec![0f32; n * n];
    horizontal.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let src = &image[y * n..(y + 1) * n];
        for (x, out) in row.iter_mut().enumerate() {
            *out = kernel.iter().enumerate().map(|(k, w)| w * src[at(x, k)]).sum();
        }
    });
    let mut out = vec![0f32; n * n];
    out.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        for (k, w) in kernel.iter().enumerate() {
            let src = &horizontal[at(y, k) * n..(at(y, k) + 1) * n];
            row.iter_mut().zip(src).for_each(|(o, s)| *o += w * s);
        }
    });
    out
}

/// Adds `value(p)` at the pixels of `bounds` that fall in a band of rows starting at row `y0`.
fn add_region(rows: &mut [f32], n: usize, y0: usize, bounds: [usize; 4], value: impl Fn(Vec2) -> f64) {
    let y1 = y0 + rows.len() / n;
    for y in bounds[1].max(y0)..=bounds[3].min(y1 - 1) {
        let row = &mut rows[(y - y0) * n..(y - y0 + 1) * n];
        for (x, a) in row.iter_mut().enumerate().take(bounds[2] + 1).skip(bounds[0]) {
            *a += value(v2(x as f64 + 0.5, y as f64 + 0.5)) as f32;
        }
    }
}

/// An approximately standard normal draw from one random word: the sum of four uniform 16-bit
/// parts (Irwin-Hall), plenty for sensor noise and far cheaper than Box-Muller per pixel.
fn fast_normal(rng: &mut Rng) -> f32 {
    let w = rng.next_u64();
    let sum: u32 = (0..4).map(|i| ((w >> (16 * i)) & 0xffff) as u32).sum();
    // Four U(0,1) have mean 2 and variance 4/12.
    (sum as f32 / 65535.0 - 2.0) * 1.732_050_8
}

/// `x^power` for `x` in `[0, max]`, tabulated: the bone loop calls it for every pixel.
struct PowerTable {
    values: Vec<f32>,
    step: f64,
}

impl PowerTable {
    fn new(power: f64, max: f64) -> PowerTable {
        let steps = 4096;
        let step = max / steps as f64;
        PowerTable { values: (0..=steps).map(|i| (i as f64 * step).powf(power) as f32).collect(), step }
    }

    fn at(&self, x: f64) -> f64 {
        let i = ((x / self.step) as usize).min(self.values.len() - 1);
        f64::from(self.values[i])
    }
}

/// Separable [1 2 1]/4 blur in both directions.
fn blur_121(image: &[f32], n: usize) -> Vec<f32> {
    let mut horizontal = vec![0f32; n * n];
    horizontal.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let src = &image[y * n..(y + 1) * n];
        for x in 0..n {
            let (l, r) = (src[x.saturating_sub(1)], src[(x + 1).min(n - 1)]);
            row[x] = 0.25 * l + 0.5 * src[x] + 0.25 * r;
        }
    });
    let mut out = vec![0f32; n * n];
    out.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let (up, here, down) = (y.saturating_sub(1), y, (y + 1).min(n - 1));
        for x in 0..n {
            row[x] = 0.25 * horizontal[up * n + x]
                + 0.5 * horizontal[here * n + x]
                + 0.25 * horizontal[down * n + x];
        }
    });
    out
}

/// Local coordinates along a site's axis: `(u, v)`, `u` from its start toward its end.
fn site_frame(start: Vec2, end: Vec2) -> (Frame, f64) {
    (Frame::along(start, end - start), (end - start).length())
}

fn foreign_bounds(f: &Foreign, size: usize) -> Option<[usize; 4]> {
    let corners: Vec<Vec2> = match f {
        Foreign::Ring { site, .. } | Foreign::Nail { site } => {
            let (frame, _) = site_frame(site.start, site.end);
            let r = site.radius * 1.3;
            [site.start, site.end].iter().flat_map(|&p| [p + frame.v * r, p - frame.v * r]).collect()
        }
        Foreign::Plate { axis, length, width } => {
            [(0.0, -width), (0.0, *width), (length + width, -width), (length + width, *width)]
                .iter()
                .map(|&(a, b)| axis.world(a, b))
                .collect()
        }
        Foreign::Screws { axis, count, spacing, length, .. } => {
            let far = 0.2 * length + spacing * *count as f64;
            [(0.0, -length), (0.0, *length), (far, -length), (far, *length)]
                .iter()
                .map(|&(a, b)| axis.world(a, b))
                .collect()
        }
    };
    bounds_of(corners.into_iter(), 2.0, size)
}

/// Attenuation of a ring, nail art or implant at `p`.
fn foreign_attenuation(f: &Foreign, p: Vec2, speckle: &Grid) -> f64 {
    match f {
        Foreign::Ring { site, at, height } => {
            let (frame, length) = site_frame(site.start, site.end);
            let (u, v) = frame.local(p);
            let (du, r) = ((u - at * length).abs(), site.radius * 1.05);
            if du > height / 2.0 || v.abs() >= r {
                return 0.0;
            }
            // Seen edge-on at the sides, a ring band is thickest there.
            let edge = (1.0 - (du / (height / 2.0)).powi(8)).max(0.0);
            4.0 * edge * (0.6 + 0.4 * (v / r).powi(4))
        }
        Foreign::Nail { site } => {
            let (frame, length) = site_frame(site.start, site.end);
            let (u, v) = frame.local(p);
            let (cu, half_length, half_width) = (0.72 * length, 0.42 * length, 0.7 * site.radius);
            let e = ((u - cu) / half_length).powi(2) + (v / half_width).powi(2);
            if e >= 1.0 {
                return 0.0;
            }
            let glitter = (speckle.at(p.x, p.y) * 3.0).clamp(-1.0, 1.0) * 0.5 + 0.5;
            (0.25 + 0.55 * glitter) * (1.0 - e).sqrt()
        }
        Foreign::Plate { axis, length, width } => {
            let (u, v) = axis.local(p);
            if u < 0.1 * width || u > *length || v.abs() > width / 2.0 {
                return 0.0;
            }
            let holes = (0..4).any(|i| {
                let c = length * (0.15 + 0.22 * i as f64);
                (u - c).powi(2) + v * v < (0.3 * width).powi(2)
            });
            if holes { 1.0 } else { 2.6 }
        }
        Foreign::Screws { axis, count, spacing, length, width } => {
            let (u, v) = axis.local(p);
            let thread = 0.85 + 0.15 * (v * std::f64::consts::TAU / (width * 0.9)).cos();
            let hit = (0..*count).any(|i| {
                let c = 0.12 * length + spacing * i as f64;
                (u - c).abs() < width / 2.0 && v.abs() < length / 2.0
            });
            if hit { 2.8 * thread } else { 0.0 }
        }
    }
}

#[cfg(test)]
mod tests {
    use boneseg_contract::PersonId;

    use super::*;
    use crate::person::{Person, Rates};
    use crate::style::{Factor, Style};

    /// The soft tissue across the top-most finger's flesh at its middle, from its axis out to
    /// 0.9 of its radius, relative to the axis; and the palm's middle relative to that axis.
    fn finger_profile(style: Style) -> (f64, f64) {
        let scene = upright_hand(style);
        let grid = Grid::tissue(&scene);
        let middle = |c: &Capsule| (c.a + c.b) * 0.5;
        let tip = scene.flesh.iter().min_by(|a, b| middle(a).y.total_cmp(&middle(b).y)).unwrap();
        let across = (tip.b - tip.a).perp().normalized() * tip.radius;
        let at = |p: Vec2| grid.at(p.x, p.y);
        let axis = at(middle(tip));
        (at(middle(tip) + across * 0.9) / axis, at(palm_centre(&scene)) / axis)
    }

    /// A hand of `style` at 1024², neither rotated nor bent.
    fn upright_hand(style: Style) -> Scene {
        let rates = Rates { outlier: 0.0, rotated: 0.0, bent: 0.0 };
        let mut rng = Rng::new(11);
        let person = Person::draw(PersonId(1), rates, style, &mut rng);
        let plan = ImagePlan::draw(&person, 0, rates, style, &mut rng);
        Scene::layout(&person, &plan, 1024)
    }

    /// The mean of the palm outline's corners.
    fn palm_centre(scene: &Scene) -> Vec2 {
        scene.palm.iter().fold(v2(0.0, 0.0), |sum, &p| sum + p) * (1.0 / scene.palm.len() as f64)
    }

    #[test]
    fn the_web_joins_parting_fingers_in_a_rounded_fold_near_their_base_only() {
        // Two fingers 0.2 apart at their base, parting by 20 degrees, flesh radius 0.17.
        let finger = |x: f64, tilt: f64| {
            let a = v2(x, 0.0);
            Capsule { a, b: a + Vec2::from_tilt(tilt), radius: 0.17 }
        };
        let web = Web { skins: [finger(-0.1, 10.0), finger(0.1, -10.0)], fold: 0.3 };
        let apart = |p: Vec2| web.skins.iter().map(|c| chord(p, c)).fold(0.0, f64::max);
        // Up the gap between them: where their own flesh ends, the fold still has some; far
        // up, neither has any.
        let gap = (1..100).map(|i| v2(0.0, 0.01 * i as f64)).find(|&p| apart(p) == 0.0).unwrap();
        assert!(web_chord(gap + v2(0.0, 0.05), &web) > 0.05, "no web just past where the fingers part");
        assert_eq!(web_chord(gap + v2(0.0, 0.5), &web), 0.0, "the web closes the gap far up the fingers");
        // Inside a finger the web is never thinner than the finger's own flesh.
        let inside = v2(-0.1, 0.3);
        assert!(web_chord(inside, &web) >= apart(inside));
    }

    #[test]
    fn the_first_web_fills_the_corner_between_thumb_and_palm_in_a_concave_arc() {
        let scene = upright_hand(Style::classic().with(Factor::Tissue));
        let with_web = Grid::tissue(&scene);
        let (first_web, finger_webs) = scene.webs.split_last().unwrap();
        let fingers_only = Scene { webs: finger_webs.to_vec(), ..scene.clone() };
        let without = Grid::tissue(&fingers_only);
        // The web's free edge runs from the thumb's knuckle to the index's in a concave arc:
        // flesh it adds lies on the palm's side of the line between them, or within a skin's
        // width past it (the web meets each digit at its skin, not its axis).
        let [thumb, index] = first_web.skins;
        let (thumb_knuckle, index_knuckle) = (thumb.b, index.b);
        let across = (index_knuckle - thumb_knuckle).perp().normalized();
        let outward = -(palm_centre(&scene) - thumb_knuckle).dot(across).signum();
        let skin = 0.5 * (thumb.radius + index.radius);
        let (mut added, mut farthest) = (0.0, f64::NEG_INFINITY);
        for (i, (&web, &bare)) in with_web.values.iter().zip(&without.values).enumerate() {
            if bare == 0.0 && web > 0.0 {
                let node = Grid::node(i, with_web.cols, with_web.cell);
                added += with_web.cell * with_web.cell;
                farthest = farthest.max((node - thumb_knuckle).dot(across) * outward);
            }
        }
        let added = added / (scene.unit * scene.unit);
        assert!(added > 0.04, "the first web adds {added:.4} L² of flesh where there was none");
        assert!(farthest < skin, "flesh {farthest:.1} px past the knuckles' line, a skin is {skin:.1}");
    }

    #[test]
    fn real_flesh_is_round_fading_from_a_fingers_axis_to_its_skin() {
        let (classic_edge, classic_palm) = finger_profile(Style::classic());
        let (real_edge, real_palm) = finger_profile(Style::classic().with(Factor::Tissue));
        assert!(classic_edge > 0.68, "classic: {classic_edge} of the axis' attenuation near the skin");
        assert!(real_edge < 0.58, "real flesh: {real_edge} of the axis' attenuation near the skin");
        assert!(
            real_palm > classic_palm + 0.2,
            "the palm: {real_palm} a finger's axis (classic {classic_palm})"
        );
    }
}
