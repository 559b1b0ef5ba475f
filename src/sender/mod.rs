//! The process-wide background sender: the caller's side is [`emit`] (check the handle, copy the payload,
//! `try_send`, return); everything else — decoding, formatting, DNS, sockets — happens on the thread named
//! `rcemit-sender`, started lazily by the first emit.
//!
//! Files: [`registry`] (feed handles), [`runtime`] (queue, the thread and its lifecycle, fork), [`pipeline`]
//! (decode, render, fit, send one event), [`destinations`] (sockets, DNS), [`stats`] (counters), [`fork`]
//! (fork detection), [`exit`] (flush at exit).

pub mod destinations;
pub mod exit;
pub mod fork;
pub mod pipeline;
pub mod registry;
pub mod runtime;
pub mod stats;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Sender};

use crate::feed::Feed;
use runtime::Task;
use stats::{bump, rcemit_stats};

/// Largest payload emit accepts (far above any real change; a guard against garbage lengths).
pub const MAX_PAYLOAD: usize = 4 << 20;
/// Most payload bytes the queue holds at once, whatever its capacity in events.
pub const MAX_QUEUE_BYTES: u64 = 64 << 20;

/// Why emit refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitError {
    /// The handle is not one [`open_feed`] returned.
    UnknownFeed,
    /// The payload is over [`MAX_PAYLOAD`] (counted as an invalid payload).
    TooLarge,
    /// The queue is full (counted as dropped).
    QueueFull,
}

/// Registers a feed and returns its handle (equal feeds share one).
pub fn open_feed(feed: Feed) -> Result<u32, registry::RegistryFull> {
    registry::open(feed)
}

/// Queues one payload for one feed without waiting, and wakes the sender. The payload is copied; it is
/// decoded on the sender.
pub fn emit(feed: u32, payload: &[u8]) -> Result<(), EmitError> {
    enqueue(feed, payload)?.wake();
    Ok(())
}

/// Like [`emit`] without waking the sender, so the caller pays no system call: the event leaves at the next
/// [`wake`], [`emit`], [`flush`], or by [`runtime::IDLE_CHECK`] at the latest. For a web request that queues
/// its changes and wakes the sender once after its response.
pub fn queue(feed: u32, payload: &[u8]) -> Result<(), EmitError> {
    enqueue(feed, payload).map(|_| ())
}

/// Wakes the sender so that what [`queue`] put on the queue leaves now. Cheap when it is already awake;
/// nothing happens before this process's first emit.
pub fn wake() {
    if let Some(runtime) = runtime::existing() {
        runtime.wake();
    }
}

/// Checks and queues one event; the runtime it went to.
fn enqueue(feed: u32, payload: &[u8]) -> Result<&'static runtime::Runtime, EmitError> {
    if registry::get(feed).is_none() {
        return Err(EmitError::UnknownFeed);
    }
    let runtime = runtime::current();
    let counters = runtime.counters();
    if payload.len() > MAX_PAYLOAD {
        bump(&counters.invalid_payload);
        return Err(EmitError::TooLarge);
    }
    let len = payload.len() as u64;
    bump(&counters.enqueued);
    let queued_bytes = counters.queue_bytes.fetch_add(len, Relaxed);
    let accepted = queued_bytes + len <= MAX_QUEUE_BYTES
        && runtime.try_send(Task::Event {
            feed,
            payload: payload.into(),
        });
    if !accepted {
        counters.queue_bytes.fetch_sub(len, Relaxed);
        counters.enqueued.fetch_sub(1, Relaxed);
        bump(&counters.dropped_queue_full);
        return Err(EmitError::QueueFull);
    }
    Ok(runtime)
}

/// Waits until everything queued before the call has been sent, at most `timeout`. Returns false on
/// timeout. Returns true at once when this process has not emitted anything.
pub fn flush(timeout: Duration) -> bool {
    request(timeout, |done| Task::Flush { done })
}

/// Like [`flush`], then stops the sender thread; a later emit starts a new one.
pub fn shutdown(timeout: Duration) -> bool {
    request(timeout, |done| Task::Shutdown { done })
}

fn request(timeout: Duration, task: impl FnOnce(Sender<()>) -> Task) -> bool {
    let deadline = Instant::now() + timeout;
    if runtime::existing().is_none() {
        return true;
    }
    let runtime = runtime::current();
    let (done, replied) = bounded(1);
    runtime.send_deadline(task(done), deadline) && replied.recv_deadline(deadline).is_ok()
}

/// A snapshot of the process-wide counters (zeros before the first emit of this process).
pub fn stats() -> rcemit_stats {
    let feeds = registry::count();
    match runtime::existing() {
        Some(runtime) => {
            runtime
                .counters()
                .snapshot(runtime.queue_depth(), runtime.capacity(), feeds)
        }
        None => rcemit_stats {
            queue_capacity: runtime::configured_capacity() as u64,
            feeds: feeds as u64,
            ..rcemit_stats::default()
        },
    }
}

/// Sets the queue capacity (events) before the sender starts; 0 restores the default. Refused once the
/// sender of this process runs with another capacity, and above [`runtime::MAX_CAPACITY`].
pub fn set_queue_capacity(capacity: usize) -> Result<(), String> {
    if capacity > runtime::MAX_CAPACITY {
        return Err(format!(
            "queue capacity {capacity} is over the maximum {}",
            runtime::MAX_CAPACITY
        ));
    }
    runtime::set_capacity(capacity).map_err(|running| {
        format!("the sender already runs with a queue of {running} events; set the capacity before the first emit")
    })
}
