//! Stopping a run cleanly from outside: a scheduler that preempts, requeues or reaches a job's
//! time limit sends `SIGTERM` and waits a grace period before `SIGKILL`. With
//! [`stop_on_sigterm`] installed, the first `SIGTERM` only raises a flag; the trainer sees it at
//! the next step boundary, writes the `last` checkpoint and returns
//! [`Stop::Interrupted`](crate::trainer::Stop::Interrupted), so the resumed run continues exactly
//! where this one stopped. Later `SIGTERM`s change nothing (a scheduler signals the whole job,
//! and its batch script passes the signal on too); `SIGKILL` still ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a stop has been asked for (by a signal or [`request_stop`]).
pub fn stop_requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks the running training to stop at its next step boundary, with a checkpoint.
pub fn request_stop() {
    REQUESTED.store(true, Ordering::SeqCst);
}

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the `SIGTERM` handler for this process (once is enough; again is harmless).
#[cfg(unix)]
pub fn stop_on_sigterm() -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction is valid, and the handler only stores to an atomic.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// No `SIGTERM` outside unix: nothing to install.
#[cfg(not(unix))]
pub fn stop_on_sigterm() -> std::io::Result<()> {
    Ok(())
}
