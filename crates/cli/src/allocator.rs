//! How the boneseg process keeps the memory it frees.
//!
//! A training step allocates and frees hundreds of megabytes of activations and gradients, in
//! blocks of 1 to 100 MB. glibc serves blocks above its mmap threshold with fresh `mmap`s and
//! gives freed heap tops back to the kernel, so every step faults the same memory back in, page
//! by page, zeroed by the kernel. On `boneseg bench engine` that was 1.17 million minor page faults
//! in 12 steps and about a fifth of the step's time. Keeping freed blocks of up to 32 MiB (glibc's
//! largest threshold) in the heap, and never trimming it, leaves 251 thousand faults, and the
//! peak resident memory stays the same: a step's peak is the same blocks either way.

/// Sets glibc's thresholds; other C libraries keep their own policy.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        // SAFETY: mallopt only changes allocator parameters; it is called before any thread
        // other than main exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        }
    }
}
