//! Delivery at process exit: a short-lived PHP CLI process (a maintenance script, the job runner that emits
//! categorisation changes) can exit right after queueing its last change, before the sender thread has sent it.
//! An `atexit` handler, registered when the first sender starts (never at load), waits for the queue to drain,
//! bounded by [`EXIT_FLUSH_TIMEOUT`], so exit never hangs on a dead network.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Longest a process exit waits for queued events to be sent.
pub const EXIT_FLUSH_TIMEOUT: Duration = Duration::from_millis(500);

static REGISTERED: AtomicBool = AtomicBool::new(false);

extern "C" fn flush_at_exit() {
    // A panic must not unwind into libc's exit(); the flush is best effort.
    let _ = std::panic::catch_unwind(|| super::flush(EXIT_FLUSH_TIMEOUT));
}

/// Installs the handler once per process tree (a forked child inherits it and flushes its own sender, if any).
pub fn register() {
    if REGISTERED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: registers a plain function that catches every panic; the library is never unloaded (build.rs
    // links it with -z nodelete), so the handler's code is still mapped when exit() runs it.
    unsafe {
        libc::atexit(flush_at_exit);
    }
}
