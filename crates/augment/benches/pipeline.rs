//! The heavy online pipeline on a 1024² phantom radiograph with its 29 masks:
//! `RAYON_NUM_THREADS=1 cargo bench -p boneseg-augment` (one core, as the albumentations peer
//! `tools/bench/bench_augment.py` runs). See BENCHMARKS.md for the figures.
//!
//! `heavy_packed` runs the pipeline on packed labels (what a data loader keeps between steps);
//! `heavy_masks` also packs the 29 `ClassMasks` in and unpacks them out.

use boneseg_augment::{Pipeline, Sample};
use boneseg_phantom::person::{ImagePlan, Person, Rates};
use boneseg_phantom::rng::Rng;
use boneseg_phantom::style::Style;
use boneseg_phantom::synth_image;
use criterion::{Criterion, criterion_group, criterion_main};

/// The same pipeline as `tools/bench/bench_augment.py`, every step always applied.
pub const HEAVY: &str = r#"
[[augment]]
name = "horizontal_flip"
p = 1.0
[[augment]]
name = "shift_scale_rotate"
p = 1.0
shift_limit = 0.0625
scale_limit = 0.1
rotate_limit = 30
[[augment]]
name = "elastic_transform"
p = 1.0
alpha = 30
sigma = 6
[[augment]]
name = "clahe"
p = 1.0
clip_limit = 2.0
[[augment]]
name = "random_brightness_contrast"
p = 1.0
"#;

fn heavy(c: &mut Criterion) {
    let rates = Rates { outlier: 0.0, rotated: 0.0, bent: 0.0 };
    let person = Person::draw(boneseg_contract::PersonId(1), rates, Style::classic(), &mut Rng::new(1));
    let plan = ImagePlan::draw(&person, 0, rates, Style::classic(), &mut Rng::new(2));
    let synth = synth_image(&person, &plan, 1024, 3, "image.png");
    let masks = synth.labels.rasterize(1024, 1024, Default::default());
    let pipeline = Pipeline::parse(HEAVY).unwrap();
    let sample = Sample::from_masks(&synth.image, &masks);
    let mut group = c.benchmark_group("augment");
    group.sample_size(20);
    let mut seed = 0;
    group.bench_function("heavy_packed_1024", |b| {
        b.iter(|| {
            seed += 1;
            pipeline.apply(seed, sample.clone())
        })
    });
    group.bench_function("heavy_masks_1024", |b| {
        b.iter(|| {
            seed += 1;
            pipeline.augment(seed, &synth.image, &masks)
        })
    });
    group.finish();
}

criterion_group!(benches, heavy);
criterion_main!(benches);
