//! `boneseg-fuzz`: fuzzes boneseg's parsers for a time budget (see the crate's documentation).
//!
//! ```text
//! boneseg-fuzz [--seconds N] [--seed S] [--corpus DIR] [--findings DIR] [TARGET ...]
//! boneseg-fuzz seed [--corpus DIR]        (re)writes the generated seeds of the corpus
//! ```
//! Exit status: 0 nothing found, 1 findings (saved under --findings), 2 bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use boneseg_fuzz::harness::{Options, fuzz, start_watchdog};
use boneseg_fuzz::targets::{TARGETS, by_name};
use boneseg_fuzz::{alloc, seeds};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("boneseg-fuzz: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut options = Options {
        budget: Duration::from_secs(20),
        seed: 1,
        corpus: here.join("corpus"),
        findings: here.join("../../target/fuzz-findings"),
    };
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                let seconds: f64 = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?;
                options.budget = Duration::from_secs_f64(seconds);
            }
            "--seed" => options.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--corpus" => options.corpus = PathBuf::from(value("--corpus")?),
            "--findings" => options.findings = PathBuf::from(value("--findings")?),
            _ => names.push(arg),
        }
    }
    if names.first().map(String::as_str) == Some("seed") {
        let written = seeds::write_all(&options.corpus).map_err(|e| e.to_string())?;
        println!("wrote {written} seeds under {}", options.corpus.display());
        return Ok(ExitCode::SUCCESS);
    }
    let targets = if names.is_empty() {
        TARGETS.to_vec()
    } else {
        names
            .iter()
            .map(|name| {
                by_name(name).ok_or_else(|| {
                    let known: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
                    format!("unknown target `{name}`; the targets are {}", known.join(", "))
                })
            })
            .collect::<Result<_, _>>()?
    };
    std::fs::create_dir_all(&options.findings).map_err(|e| format!("{}: {e}", options.findings.display()))?;
    let crash_path = options.findings.join("refused-allocation.bin");
    let crash = std::fs::File::create(&crash_path).map_err(|e| format!("{}: {e}", crash_path.display()))?;
    alloc::set_crash_file(crash);
    start_watchdog(options.findings.clone(), Duration::from_secs(20));
    let mut findings = 0;
    for target in &targets {
        let outcome = fuzz(target, &options).map_err(|e| format!("{}: {e}", target.name))?;
        println!("{outcome}");
        for finding in &outcome.findings {
            let saved = finding.input.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            println!("  {} {}: {} (input: {saved})", finding.target, finding.kind, finding.message);
        }
        findings += outcome.findings.len();
    }
    let _ = std::fs::remove_file(&crash_path);
    println!("{findings} finding(s)");
    Ok(if findings == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
