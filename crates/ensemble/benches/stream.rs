//! Figures for BENCHMARKS.md, run by hand on inputs you make (release, under `/usr/bin/time -v`
//! for the peak memory):
//!
//! ```sh
//! cargo bench -p boneseg-ensemble --bench stream -- vote OUT.csv SIZE A.csv B.csv ...
//! cargo bench -p boneseg-ensemble --bench stream -- store STORE_DIR
//! ```

use std::path::PathBuf;
use std::time::Instant;

use boneseg_ensemble::PostProcess;
use boneseg_ensemble::store::ProbReader;
use boneseg_ensemble::stream::vote_submissions;
use boneseg_ensemble::vote::majority;

const USAGE: &str = "usage: stream vote OUT.csv SIZE INPUT.csv... | stream store STORE_DIR";

fn main() {
    // `cargo bench` appends `--bench` to the arguments.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.first().map(String::as_str) {
        Some("vote") => vote(&args[1..]),
        Some("store") => store(args.get(1).expect(USAGE)),
        _ => println!("{USAGE}"),
    }
}

fn vote(args: &[String]) {
    let mut words = args.iter();
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

fn store(dir: &str) {
    let dir = PathBuf::from(dir);
    let start = Instant::now();
    let (mut rows, mut pixels) = (0, 0);
    for row in ProbReader::open(&dir).unwrap() {
        let row = row.unwrap();
        rows += 1;
        pixels += row.probs.values.len();
    }
    println!("{rows} rows, {pixels} stored pixels read in {:.3} s", start.elapsed().as_secs_f64());
}
