//! The sender thread: takes tasks off the queue, decodes, renders, frames and sends.
//!
//! Feeds of one render group (same format, equal context) that receive the same payload bytes one after the
//! other (the PHP side calls emit once per feed for each change) share one decode and one render.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::destinations::Destinations;
use super::registry;
use super::runtime::Runtime;
use super::stats::{bump, Counters};
use crate::event::Event;
use crate::feed::size::Fit;
use crate::payload;

/// Longest a test's pause can hold the sender.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// One unit of work for the sender thread.
pub enum Task {
    /// Send one change to one feed (the payload is still undecoded).
    Event { feed: u32, payload: Box<[u8]> },
    /// Reply once everything queued before this task is done. The caller waits on the reply with its own
    /// deadline; the reply channel has room for the reply, so the sender never waits on a caller.
    Flush { done: Sender<()> },
    /// Like `Flush`, then the thread exits. A later emit starts a new one.
    Shutdown { done: Sender<()> },
    /// Test hook: say so on `started`, then hold the thread until `gate` closes (at most [`MAX_PAUSE`]).
    Pause {
        started: Sender<()>,
        gate: Receiver<()>,
    },
    /// Test hook: the thread panics outside any per-event guard, as a bug in the loop itself would.
    Crash,
}

/// Marks the runtime as without a thread however the loop ends (return or panic).
struct AliveGuard(&'static Runtime, u64);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.thread_ended(self.1);
    }
}

/// The body of sender thread `id`.
pub fn run(runtime: &'static Runtime, id: u64, tasks: Receiver<Task>) {
    let _alive = AliveGuard(runtime, id);
    yield_to_requests();
    let counters = &runtime.counters;
    let mut worker = Worker::default();
    while let Ok(task) = tasks.recv() {
        match task {
            Task::Event { feed, payload } => {
                counters
                    .queue_bytes
                    .fetch_sub(payload.len() as u64, Relaxed);
                let handled =
                    catch_unwind(AssertUnwindSafe(|| worker.event(feed, payload, counters)));
                if handled.is_err() {
                    bump(&counters.format_panics);
                    worker.forget();
                }
            }
            Task::Flush { done } => {
                let _ = done.try_send(());
            }
            Task::Shutdown { done } => {
                // Before replying: an emit right after the reply must start a new thread.
                runtime.stopped.store(true, Relaxed);
                runtime.thread_ended(id);
                let _ = done.try_send(());
                return;
            }
            Task::Pause { started, gate } => {
                let _ = started.try_send(());
                let _ = gate.recv_timeout(MAX_PAUSE);
            }
            Task::Crash => panic!("rcemit-sender: crash requested by a test hook"),
        }
    }
}

#[derive(Default)]
struct Worker {
    destinations: Destinations,
    /// The last payload seen and what it decoded to (`None`: invalid).
    last: Option<(Box<[u8]>, Option<Event>)>,
    /// Unframed renders of the last payload, by render group.
    renders: Vec<(u32, Option<Vec<u8>>)>,
}

impl Worker {
    fn event(&mut self, handle: u32, payload: Box<[u8]>, counters: &Counters) {
        // Handles were checked by emit, and feeds are never removed.
        let Some(entry) = registry::get(handle) else {
            bump(&counters.invalid_payload);
            return;
        };
        let destination = &entry.feed.uri.destination;
        if !self.destinations.resolve(destination, counters) {
            return bump(&counters.unresolved);
        }
        if self.last.as_ref().map(|(bytes, _)| bytes) != Some(&payload) {
            let event = payload::decode(&payload).ok();
            if event.as_ref().is_some_and(|e| e.part_failed) {
                bump(&counters.part_failures);
            }
            self.last = Some((payload, event));
            self.renders.clear();
        }
        let Some((_, Some(event))) = &self.last else {
            bump(&counters.invalid_payload);
            return;
        };
        let index = match self
            .renders
            .iter()
            .position(|(group, _)| *group == entry.group)
        {
            Some(index) => index,
            None => {
                self.renders.push((entry.group, entry.feed.render(event)));
                self.renders.len() - 1
            }
        };
        let datagram = match entry.feed.datagram(event, self.renders[index].1.as_deref()) {
            Fit::Whole(bytes) => bytes,
            Fit::Shortened(bytes) => {
                bump(&counters.shortened);
                bytes
            }
            Fit::Nothing => return bump(&counters.skipped),
            Fit::Oversize => return bump(&counters.dropped_oversize),
        };
        if self.destinations.send(destination, &datagram) {
            bump(&counters.sent);
            counters
                .bytes_sent
                .fetch_add(datagram.len() as u64, Relaxed);
        } else {
            bump(&counters.send_errors);
        }
    }

    /// Drops the shared decode and renders after a panic left them in doubt.
    fn forget(&mut self) {
        self.last = None;
        self.renders.clear();
    }
}

/// Puts this thread in Linux's SCHED_BATCH class: the request thread that wakes it (a futex wake on every
/// emit after a pause) is then not preempted by it on the spot, so the wake costs the request a system call
/// rather than a context switch; the sender still gets its fair share of CPU a moment later. Best effort: on
/// failure (or another OS) the thread keeps the normal class.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 means the calling thread; SCHED_BATCH needs no privilege and priority 0.
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
        }
    }
}
