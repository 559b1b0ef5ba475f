//! Fork detection: a `pthread_atfork` child handler bumps a generation counter, so the emit path notices a
//! fork with one atomic load (~1 ns) instead of a `getpid()` call. The child handler only touches an atomic,
//! which is async-signal-safe, as POSIX requires of code running in a child of a multithreaded process.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Starts at 1 so that 0 can mean "no holder" in the runtime's lock word.
static GENERATION: AtomicU64 = AtomicU64::new(1);
static REGISTERED: AtomicBool = AtomicBool::new(false);

extern "C" fn child_after_fork() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The current process generation: it changes in a child after every `fork()` (once registered).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Installs the handler once per process tree (a child inherits the registration). Called when the first
/// sender starts, never at library load.
pub fn register() {
    if REGISTERED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: registers a handler that only performs an atomic increment.
    unsafe {
        libc::pthread_atfork(None, None, Some(child_after_fork));
    }
}

/// Runs the child handler in this process, as if it were the child of a fork (for tests of the fork path).
#[cfg(test)]
pub fn simulate_fork_in_child() {
    child_after_fork();
}
