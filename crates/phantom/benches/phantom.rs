//! Phantom images per second: `cargo bench -p boneseg-phantom`.
//!
//! `render_2048/<style>` draws one 2048² radiograph with its label polygons, for the classic
//! phantom and the wide (domain-randomised) one; `render_and_write_2048/<style>` also encodes
//! the PNG and the JSON as `boneseg synth` does (to a temporary folder). Images are drawn one at
//! a time here, each using both cores; `boneseg synth` draws several at once.

use boneseg_data::image_io::write_gray_png;
use boneseg_phantom::person::{ImagePlan, Person, Rates};
use boneseg_phantom::rng::Rng;
use boneseg_phantom::style::Style;
use boneseg_phantom::synth_image;
use criterion::{Criterion, criterion_group, criterion_main};

fn phantom(c: &mut Criterion) {
    let rates = Rates { outlier: 0.1, rotated: 0.1, bent: 0.1 };
    let mut group = c.benchmark_group("phantom");
    group.sample_size(10);
    let dir = tempfile::tempdir().unwrap();
    for (name, style) in [("classic", Style::classic()), ("wide", Style::wide())] {
        let person = Person::draw(boneseg_contract::PersonId(1), rates, style, &mut Rng::new(1));
        let plan = ImagePlan::draw(&person, 0, rates, style, &mut Rng::new(2));
        group.bench_function(format!("render_2048/{name}"), |b| {
            b.iter(|| synth_image(&person, &plan, 2048, 3, "image.png"))
        });
        group.bench_function(format!("render_and_write_2048/{name}"), |b| {
            b.iter(|| {
                let synth = synth_image(&person, &plan, 2048, 3, "image.png");
                write_gray_png(&dir.path().join("image.png"), &synth.image).unwrap();
                std::fs::write(dir.path().join("image.json"), synth.labels.to_json()).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, phantom);
criterion_main!(benches);
