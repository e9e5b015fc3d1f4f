//! Figures for BENCHMARKS.md, run by hand (release, under `/usr/bin/time -v` for the peak memory):
//!
//! ```sh
//! BONESEG_BENCH_VOTE="OUT.csv SIZE A.csv B.csv ..." cargo test --release -p boneseg-ensemble --test bench -- --ignored vote
//! BONESEG_BENCH_STORE="STORE_DIR" cargo test --release -p boneseg-ensemble --test bench -- --ignored store
//! ```

use std::path::PathBuf;
use std::time::Instant;

use boneseg_ensemble::PostProcess;
use boneseg_ensemble::store::ProbReader;
use boneseg_ensemble::stream::vote_submissions;
use boneseg_ensemble::vote::majority;

#[test]
#[ignore = "a benchmark: needs BONESEG_BENCH_VOTE"]
fn vote() {
    let spec = std::env::var("BONESEG_BENCH_VOTE").expect("BONESEG_BENCH_VOTE=\"OUT SIZE INPUT...\"");
    let mut words = spec.split_whitespace();
    let out = PathBuf::from(words.next().expect("an output"));
    let size: usize = words.next().expect("a size").parse().expect("a number");
    let inputs: Vec<PathBuf> = words.map(PathBuf::from).collect();
    let start = Instant::now();
    let images = vote_submissions(
        &inputs,
        &out,
        majority(inputs.len()),
        &|_| Ok((size, size)),
        PostProcess::default(),
    )
    .unwrap();
    println!(
        "hard vote of {} inputs: {images} images in {:.2} s",
        inputs.len(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "a benchmark: needs BONESEG_BENCH_STORE"]
fn store() {
    let dir = PathBuf::from(std::env::var("BONESEG_BENCH_STORE").expect("BONESEG_BENCH_STORE=DIR"));
    let start = Instant::now();
    let (mut rows, mut pixels) = (0, 0);
    for row in ProbReader::open(&dir).unwrap() {
        let row = row.unwrap();
        rows += 1;
        pixels += row.probs.values.len();
    }
    println!("{rows} rows, {pixels} stored pixels read in {:.3} s", start.elapsed().as_secs_f64());
}
