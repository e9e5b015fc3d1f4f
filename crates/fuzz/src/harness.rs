//! Runs a target over its corpus and then over mutated inputs for a time budget, catching what
//! goes wrong: a panic (an `assert!` of the target included), an input that made the parser
//! allocate more than its size can justify, or one that took too long. Each distinct finding is
//! saved with its input under the findings folder; add the input to the corpus once fixed, and
//! it stays a regression test.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use boneseg_contract::rng::{Random, SplitMix64};

use crate::alloc;
use crate::mutate::mutate;
use crate::targets::{Scratch, Target};

/// An input may make its parser hold this much plus [`MEMORY_PER_BYTE`] per input byte.
pub const MEMORY_BASE: usize = 64 << 20;
/// A compressed input (a PNG's deflate, a Parquet page) may stand for ~1000 times its size.
pub const MEMORY_PER_BYTE: usize = 2048;
/// An input that takes longer than this is a finding.
pub const SLOW: Duration = Duration::from_secs(2);

/// What went wrong with one input.
#[derive(Clone, Debug)]
pub struct Finding {
    pub target: &'static str,
    /// `panic`, `memory` or `slow`.
    pub kind: &'static str,
    pub message: String,
    /// Where the input was saved (none when not saved).
    pub input: Option<PathBuf>,
}

/// How one input went.
struct Measure {
    elapsed: Duration,
    peak: usize,
}

/// A target's fuzzing, summed up.
#[derive(Debug)]
pub struct Outcome {
    pub target: &'static str,
    pub corpus_inputs: usize,
    pub executions: u64,
    pub seconds: f64,
    /// The most bytes one input made the target hold.
    pub peak_bytes: usize,
    pub slowest: Duration,
    pub findings: Vec<Finding>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} executions in {:.1} s ({:.0}/s) from {} corpus inputs; peak {:.1} MiB, slowest {} ms; {} finding(s)",
            self.target,
            self.executions,
            self.seconds,
            self.executions as f64 / self.seconds.max(1e-9),
            self.corpus_inputs,
            self.peak_bytes as f64 / (1 << 20) as f64,
            self.slowest.as_millis(),
            self.findings.len()
        )
    }
}

/// Every file of `dir`, in name order (an absent folder is an empty corpus).
pub fn load_corpus(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.is_file() {
            files.push((
                path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                std::fs::read(&path)?,
            ));
        }
    }
    files.sort();
    Ok(files)
}

/// The message of the last panic on this thread, with its place.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the panic hook with one that keeps the message quietly; the old one comes back
/// when the guard drops.
pub struct QuietPanics {
    previous: Option<PanicHook>,
}

/// A panic hook as `std::panic::take_hook` returns it.
type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

impl QuietPanics {
    pub fn install() -> QuietPanics {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            let place = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{place}: {message}"));
        }));
        QuietPanics { previous: Some(previous) }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            std::panic::set_hook(previous);
        }
    }
}

/// Runs `target` on one input; `Err` with the finding's kind and message when it fails.
pub fn run_one(target: &Target, input: &[u8], scratch: &Scratch) -> Result<(), (&'static str, String)> {
    run_measured(target, input, scratch).map(|_| ())
}

/// When the input being run started, in milliseconds since [`epoch`]; 0 when none runs.
static RUNNING_SINCE: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Stops the process when one input runs longer than `limit` (a hang cannot be caught like a
/// panic): the input is saved as `hang-<hash>.bin` under `dir` first.
pub fn start_watchdog(dir: PathBuf, limit: Duration) {
    epoch();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let since = RUNNING_SINCE.load(Ordering::Relaxed);
            if since == 0 || epoch().elapsed().as_millis() as u64 - since < limit.as_millis() as u64 {
                continue;
            }
            let saved = alloc::current_input().and_then(|input| save(&dir, "hang", &input).ok());
            eprintln!("boneseg-fuzz: an input ran for over {} s; saved as {saved:?}", limit.as_secs());
            std::process::exit(3);
        }
    });
}

fn run_measured(target: &Target, input: &[u8], scratch: &Scratch) -> Result<Measure, (&'static str, String)> {
    let _watched = alloc::watch(input);
    RUNNING_SINCE.store((epoch().elapsed().as_millis() as u64).max(1), Ordering::Relaxed);
    let _idle = Idle;
    let base = alloc::live();
    alloc::reset_peak();
    let started = Instant::now();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input, scratch)));
    let elapsed = started.elapsed();
    let peak = alloc::peak().saturating_sub(base);
    if result.is_err() {
        let message = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
        return Err(("panic", message));
    }
    let limit = MEMORY_BASE + MEMORY_PER_BYTE * input.len();
    if peak > limit {
        return Err((
            "memory",
            format!("{peak} bytes held for a {}-byte input (limit {limit})", input.len()),
        ));
    }
    if elapsed > SLOW {
        return Err(("slow", format!("{} ms for a {}-byte input", elapsed.as_millis(), input.len())));
    }
    Ok(Measure { elapsed, peak })
}

/// Marks the runner idle for the watchdog when dropped.
struct Idle;

impl Drop for Idle {
    fn drop(&mut self) {
        RUNNING_SINCE.store(0, Ordering::Relaxed);
    }
}

/// How to fuzz.
#[derive(Clone, Debug)]
pub struct Options {
    pub budget: Duration,
    pub seed: u64,
    /// `corpus/<target>/` folders live here.
    pub corpus: PathBuf,
    /// Findings go to `<findings>/<target>/`.
    pub findings: PathBuf,
}

/// The corpus, then mutated inputs until the budget is spent.
pub fn fuzz(target: &Target, options: &Options) -> std::io::Result<Outcome> {
    let corpus = load_corpus(&options.corpus.join(target.name))?;
    let scratch = Scratch::new()?;
    let _quiet = QuietPanics::install();
    let started = Instant::now();
    let mut outcome = Outcome {
        target: target.name,
        corpus_inputs: corpus.len(),
        executions: 0,
        seconds: 0.0,
        peak_bytes: 0,
        slowest: Duration::ZERO,
        findings: Vec::new(),
    };
    let mut seen: BTreeMap<(&'static str, String), ()> = BTreeMap::new();
    let mut record =
        |outcome: &mut Outcome, input: &[u8], measured: Result<Measure, (&'static str, String)>| {
            outcome.executions += 1;
            match measured {
                Ok(measure) => {
                    outcome.peak_bytes = outcome.peak_bytes.max(measure.peak);
                    outcome.slowest = outcome.slowest.max(measure.elapsed);
                }
                Err((kind, message)) => {
                    // One finding per place: the message up to its first value.
                    let place = message.split(": ").next().unwrap_or_default().to_string();
                    if seen.insert((kind, place), ()).is_none() {
                        let saved = save(&options.findings.join(target.name), kind, input).ok();
                        outcome.findings.push(Finding { target: target.name, kind, message, input: saved });
                    }
                }
            }
        };
    for (_, input) in &corpus {
        let measured = run_measured(target, input, &scratch);
        record(&mut outcome, input, measured);
    }
    let mut rng = SplitMix64::new(options.seed);
    let empty: &[u8] = &[];
    while started.elapsed() < options.budget && !corpus.is_empty() {
        for _ in 0..64 {
            let base = &corpus[(rng.next_u64() % corpus.len() as u64) as usize].1;
            let other = if rng.chance(0.2) {
                &corpus[(rng.next_u64() % corpus.len() as u64) as usize].1
            } else {
                empty
            };
            let input = mutate(base, other, &mut rng);
            let measured = run_measured(target, &input, &scratch);
            record(&mut outcome, &input, measured);
        }
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Saves a failing input as `<kind>-<hash>.bin`; returns its path.
fn save(dir: &Path, kind: &str, input: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let hash =
        input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    let path = dir.join(format!("{kind}-{hash:016x}.bin"));
    std::fs::write(&path, input)?;
    Ok(path)
}
