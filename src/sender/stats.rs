//! Process-wide counters of the sender, and the plain struct the C ABI copies them into.
//!
//! Every event accepted by `emit` ends in exactly one outcome counter, so
//! `enqueued == sent + dropped_oversize + invalid_payload + send_errors + unresolved + skipped + format_panics
//! + in flight`: a consumer can tell loss from silence.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the counters. All values count since the sender of this process started; a child process
/// after `fork()` starts again from zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct rcemit_stats {
    /// Events accepted by emit (put on the queue).
    pub enqueued: u64,
    /// Datagrams handed to the kernel.
    pub sent: u64,
    /// Bytes in those datagrams.
    pub bytes_sent: u64,
    /// Events refused by emit because the queue was full (by count or by bytes).
    pub dropped_queue_full: u64,
    /// Events dropped because they exceed the feed's datagram limit even with shortened comments.
    pub dropped_oversize: u64,
    /// Events sent with a shortened comment to fit the datagram limit.
    pub shortened: u64,
    /// Events whose payload could not be decoded (or was over the payload size cap at emit).
    pub invalid_payload: u64,
    /// Events for which the format produces no datagram (IRC ignores categorisation).
    pub skipped: u64,
    /// Events whose formatting panicked (a bug; the event is dropped, the sender keeps running).
    pub format_panics: u64,
    /// Datagrams the kernel refused (e.g. an ICMP port unreachable reported on a later send).
    pub send_errors: u64,
    /// Failed host name resolutions (each attempt counts once).
    pub dns_failures: u64,
    /// Events lost because their destination host name has never resolved.
    pub unresolved: u64,
    /// Times the sender thread was started again after it died.
    pub sender_restarts: u64,
    /// Times the sender thread could not be started at all.
    pub spawn_failures: u64,
    /// Events waiting in the queue right now.
    pub queue_depth: u64,
    /// The queue's capacity in events.
    pub queue_capacity: u64,
    /// Payload bytes waiting in the queue right now.
    pub queue_bytes: u64,
    /// Feeds opened in this process.
    pub feeds: u64,
    /// Changes sent without an optional part (sha1, parsedcomment, the API's log params) because MediaWiki
    /// failed to compute it; the PHP side logs the first failure of each kind. Counted once per distinct
    /// payload, however many feeds receive it.
    pub part_failures: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Counters {
    pub enqueued: AtomicU64,
    pub sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_oversize: AtomicU64,
    pub shortened: AtomicU64,
    pub invalid_payload: AtomicU64,
    pub skipped: AtomicU64,
    pub format_panics: AtomicU64,
    pub send_errors: AtomicU64,
    pub dns_failures: AtomicU64,
    pub unresolved: AtomicU64,
    pub sender_restarts: AtomicU64,
    pub spawn_failures: AtomicU64,
    pub queue_bytes: AtomicU64,
    pub part_failures: AtomicU64,
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Counters {
    /// Copies the counters; the gauges the counters do not hold are passed in.
    pub fn snapshot(
        &self,
        queue_depth: usize,
        queue_capacity: usize,
        feeds: usize,
    ) -> rcemit_stats {
        let get = |c: &AtomicU64| c.load(Relaxed);
        rcemit_stats {
            enqueued: get(&self.enqueued),
            sent: get(&self.sent),
            bytes_sent: get(&self.bytes_sent),
            dropped_queue_full: get(&self.dropped_queue_full),
            dropped_oversize: get(&self.dropped_oversize),
            shortened: get(&self.shortened),
            invalid_payload: get(&self.invalid_payload),
            skipped: get(&self.skipped),
            format_panics: get(&self.format_panics),
            send_errors: get(&self.send_errors),
            dns_failures: get(&self.dns_failures),
            unresolved: get(&self.unresolved),
            sender_restarts: get(&self.sender_restarts),
            spawn_failures: get(&self.spawn_failures),
            queue_depth: queue_depth as u64,
            queue_capacity: queue_capacity as u64,
            queue_bytes: get(&self.queue_bytes),
            feeds: feeds as u64,
            part_failures: get(&self.part_failures),
        }
    }
}
