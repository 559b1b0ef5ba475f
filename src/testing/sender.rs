//! Hooks into the background sender for tests of its behaviour under pressure; not part of the C ABI.

use std::time::Duration;

use crossbeam_channel::{bounded, Sender};

use crate::sender::destinations;
use crate::sender::runtime::{self, Task};

pub use destinations::Resolver;

/// Holds the sender thread until the returned sender is dropped (at most 30 s); returns once the thread is
/// holding, so the queue is empty and nothing drains it. `None` if the sender did not confirm.
pub fn pause_sender(timeout: Duration) -> Option<Sender<()>> {
    let (started, confirmed) = bounded(1);
    let (gate, held) = bounded(0);
    let deadline = std::time::Instant::now() + timeout;
    let task = Task::Pause {
        started,
        gate: held,
    };
    if !runtime::current().send_deadline(task, deadline) {
        return None;
    }
    confirmed.recv_deadline(deadline).ok()?;
    Some(gate)
}

/// Makes the sender thread panic outside its per-event guard.
pub fn crash_sender() -> bool {
    let runtime = runtime::current();
    let queued = runtime.try_send(Task::Crash);
    runtime.wake();
    queued
}

/// Makes the sender resolve names with `resolver` instead of the system resolver, for the rest of the
/// process; false if one was set already. For names that fail and later resolve, which the system resolver
/// cannot show without editing /etc/hosts.
pub fn replace_resolver(resolver: Resolver) -> bool {
    destinations::replace_resolver(resolver)
}
