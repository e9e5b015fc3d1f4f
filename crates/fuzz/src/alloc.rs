//! A global allocator that counts: the bytes live now and the most live since the last
//! [`reset_peak`], so the harness can tell how much one input made a parser allocate. A single
//! request beyond [`HARD_LIMIT`] is refused (the process then aborts) after the input being run
//! is written out, so that a "claims 100000² pixels" bug is found, not an out-of-memory machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::File;
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// No input of a few kilobytes justifies one allocation of more than this.
pub const HARD_LIMIT: usize = 1 << 30;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The input being run, and where to write it should it ask for too much.
static CURRENT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);
static CRASH_FILE: OnceLock<File> = OnceLock::new();

/// The system allocator, counted.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_LIMIT {
            refuse(layout.size());
            return std::ptr::null_mut();
        }
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_LIMIT {
            refuse(layout.size());
            return std::ptr::null_mut();
        }
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > HARD_LIMIT {
            refuse(new_size);
            return std::ptr::null_mut();
        }
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grow(new_size);
        }
        new
    }
}

fn grow(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

/// Writes the current input to the crash file (without allocating) before the refusal aborts.
fn refuse(size: usize) {
    let (ptr, len) = (CURRENT.load(Ordering::Relaxed), CURRENT_LEN.load(Ordering::Relaxed));
    if let Some(mut file) = CRASH_FILE.get()
        && !ptr.is_null()
    {
        // SAFETY: `watch` keeps the input alive while it is current.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        let _ = file.write_all(input);
    }
    let mut digits = [b'0'; 20];
    let mut n = size;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(b"boneseg-fuzz: refused an allocation of ");
    let _ = stderr.write_all(&digits);
    let _ = stderr.write_all(b" bytes; the input is in the crash file\n");
}

/// Bytes allocated and not yet freed.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a new peak measurement at the bytes live now.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// The most bytes live since [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Where a refused allocation writes its input (set once, before fuzzing).
pub fn set_crash_file(file: File) {
    let _ = CRASH_FILE.set(file);
}

/// A copy of the input being run, if any (for the watchdog, while the runner is stuck in it).
pub fn current_input() -> Option<Vec<u8>> {
    let (ptr, len) = (CURRENT.load(Ordering::Relaxed), CURRENT_LEN.load(Ordering::Relaxed));
    // SAFETY: `watch` keeps the input alive while it is current; a runner stuck in a target
    // does not drop it.
    (!ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
}

/// Marks `input` as the one being run until the returned guard drops.
pub fn watch(input: &[u8]) -> Watched<'_> {
    CURRENT.store(input.as_ptr().cast_mut(), Ordering::Relaxed);
    CURRENT_LEN.store(input.len(), Ordering::Relaxed);
    Watched { _input: input }
}

pub struct Watched<'a> {
    _input: &'a [u8],
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        CURRENT.store(std::ptr::null_mut(), Ordering::Relaxed);
        CURRENT_LEN.store(0, Ordering::Relaxed);
    }
}
