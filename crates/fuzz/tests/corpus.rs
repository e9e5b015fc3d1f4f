//! Every committed corpus input, past findings included, through its target: a regression test
//! for each fixed finding. Also the promise the PNG loader makes about lying headers.

use boneseg_fuzz::alloc;
use boneseg_fuzz::harness::{QuietPanics, load_corpus, run_one};
use boneseg_fuzz::targets::{Scratch, TARGETS, by_name};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

#[test]
fn every_corpus_input_passes_its_target() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let scratch = Scratch::new().unwrap();
    let _quiet = QuietPanics::install();
    let mut failures = Vec::new();
    for target in &TARGETS {
        let inputs = load_corpus(&corpus.join(target.name)).unwrap();
        assert!(inputs.len() >= 2, "{}: the corpus has {} inputs", target.name, inputs.len());
        for (name, input) in inputs {
            if let Err((kind, message)) = run_one(target, &input, &scratch) {
                failures.push(format!("{}/{name}: {kind}: {message}", target.name));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A PNG whose header claims 100000 x 100000 pixels (30 GB of RGB), or a JPEG claiming
/// 60000 x 60000, over a few bytes of data is refused having allocated a few megabytes at most.
#[test]
fn a_lying_image_header_costs_megabytes() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/image");
    for (seed, claim) in [("seed-huge-header.png", "100000x100000"), ("seed-huge-header.jpg", "60000x60000")]
    {
        let huge = std::fs::read(corpus.join(seed)).unwrap();
        let base = alloc::live();
        alloc::reset_peak();
        let error = boneseg_data::image_io::decode_gray(&huge).unwrap_err();
        let peak = alloc::peak() - base;
        assert!(error.contains(&format!("claims {claim} pixels")), "{seed}: {error}");
        assert!(peak < 4 << 20, "{seed}: {peak} bytes allocated");
        let image = by_name("image").unwrap();
        run_one(&image, &huge, &Scratch::new().unwrap()).unwrap();
    }
}
