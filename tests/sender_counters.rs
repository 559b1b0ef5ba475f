//! Exact counter accounting of the process-wide sender. One test function in its own binary, so no other
//! test shares the sender and every delta is exact: queue full while the sender is held, invalid payloads,
//! an unresolvable host, an unreachable port, oversize events, a crashed sender thread, shutdown.

mod common;

use std::time::Duration;

use common::{config, edit, listener, uri};
use rcemit::feed::Feed;
use rcemit::payload;
use rcemit::sender::stats::rcemit_stats;
use rcemit::sender::{self, EmitError};
use rcemit::testing::sender as test_hooks;
use serde_json::Value;

const FLUSH: Duration = Duration::from_secs(5);
const CAPACITY: usize = 32;

fn open(config: &Value) -> u32 {
    sender::open_feed(Feed::from_json(&serde_json::to_vec(config).unwrap()).unwrap()).unwrap()
}

fn delta(before: &rcemit_stats, after: &rcemit_stats) -> rcemit_stats {
    let d = |f: fn(&rcemit_stats) -> u64| f(after) - f(before);
    rcemit_stats {
        enqueued: d(|s| s.enqueued),
        sent: d(|s| s.sent),
        bytes_sent: d(|s| s.bytes_sent),
        dropped_queue_full: d(|s| s.dropped_queue_full),
        dropped_oversize: d(|s| s.dropped_oversize),
        shortened: d(|s| s.shortened),
        invalid_payload: d(|s| s.invalid_payload),
        skipped: d(|s| s.skipped),
        format_panics: d(|s| s.format_panics),
        send_errors: d(|s| s.send_errors),
        dns_failures: d(|s| s.dns_failures),
        unresolved: d(|s| s.unresolved),
        sender_restarts: d(|s| s.sender_restarts),
        spawn_failures: d(|s| s.spawn_failures),
        ..rcemit_stats::default()
    }
}

/// Every accepted event has exactly one outcome.
fn outcomes(d: &rcemit_stats) -> u64 {
    d.sent
        + d.dropped_oversize
        + d.invalid_payload
        + d.skipped
        + d.format_panics
        + d.send_errors
        + d.unresolved
}

/// Runs `f`, flushes, and returns the counter deltas.
fn measured(f: impl FnOnce()) -> rcemit_stats {
    let before = sender::stats();
    f();
    assert!(sender::flush(FLUSH), "flush timed out");
    let after = sender::stats();
    assert_eq!(after.queue_depth, 0);
    assert_eq!(after.queue_bytes, 0);
    delta(&before, &after)
}

#[test]
fn every_event_is_accounted_for() {
    assert_eq!(
        sender::stats(),
        rcemit_stats {
            queue_capacity: 10_000,
            ..Default::default()
        }
    );
    sender::set_queue_capacity(CAPACITY).unwrap();
    let socket = listener("127.0.0.1");
    let feed = open(&config(&uri(&socket, None), "json"));
    let good = payload::encode(&edit());

    // The first emit starts the sender with the configured capacity; afterwards it is fixed.
    let d = measured(|| sender::emit(feed, &good).unwrap());
    assert_eq!((d.enqueued, outcomes(&d)), (1, 1));
    assert_eq!(sender::stats().queue_capacity, CAPACITY as u64);
    assert!(sender::set_queue_capacity(CAPACITY * 2).is_err());
    assert!(sender::set_queue_capacity(CAPACITY).is_ok());

    // Queue full: with the sender held, exactly CAPACITY events fit, the rest are refused and counted, and
    // emit returns at once every time.
    let d = measured(|| {
        let gate = test_hooks::pause_sender(FLUSH).expect("sender paused");
        let results: Vec<_> = (0..CAPACITY + 10)
            .map(|_| sender::emit(feed, &good))
            .collect();
        assert!(results[..CAPACITY].iter().all(Result::is_ok));
        assert!(results[CAPACITY..]
            .iter()
            .all(|r| *r == Err(EmitError::QueueFull)));
        assert_eq!(sender::stats().queue_depth, CAPACITY as u64);
        drop(gate);
    });
    assert_eq!(d.enqueued, CAPACITY as u64);
    assert_eq!(d.dropped_queue_full, 10);
    assert_eq!(outcomes(&d), CAPACITY as u64);

    // Undecodable payloads are counted on the sender, not refused by emit; oversize ones by emit.
    let d = measured(|| {
        sender::emit(feed, b"not a payload").unwrap();
        sender::emit(feed, &good[..good.len() - 1]).unwrap();
        let huge = vec![0u8; sender::MAX_PAYLOAD + 1];
        assert_eq!(sender::emit(feed, &huge), Err(EmitError::TooLarge));
    });
    assert_eq!((d.enqueued, d.invalid_payload), (2, 3));

    // An unresolvable host: every event is counted lost, the name is looked up once per retry period.
    let nowhere = open(&config("udp://rcemit-test.invalid:9390", "json"));
    let d = measured(|| {
        for _ in 0..5 {
            sender::emit(nowhere, &good).unwrap();
        }
    });
    assert_eq!((d.enqueued, d.unresolved, d.dns_failures), (5, 5, 1));

    // An unreachable port: sends never fail the caller; the kernel reports the ICMP error on a later send.
    let closed = listener("127.0.0.1");
    let closed_uri = uri(&closed, None);
    drop(closed);
    let unreachable = open(&config(&closed_uri, "json"));
    let d = measured(|| {
        for _ in 0..5 {
            sender::emit(unreachable, &good).unwrap();
        }
    });
    assert_eq!(d.enqueued, 5);
    assert_eq!(outcomes(&d), 5);
    assert_eq!(d.sent + d.send_errors, 5);
    assert!(d.send_errors >= 1, "no ICMP error reported: {d:?}");

    // A sender thread that dies is restarted on the next emit, counted, and keeps the queue.
    let d = measured(|| {
        assert!(test_hooks::crash_sender());
        let deadline = std::time::Instant::now() + FLUSH;
        // The crash takes effect asynchronously; the restart waits out a short pause between restarts.
        while sender::stats().sender_restarts == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            sender::emit(feed, &good).unwrap();
        }
    });
    assert_eq!(d.sender_restarts, 1);
    assert_eq!(outcomes(&d), d.enqueued);

    // Shutdown stops the thread after draining; the next emit starts a new one without counting a restart.
    assert!(sender::shutdown(FLUSH));
    let d = measured(|| sender::emit(feed, &good).unwrap());
    assert_eq!((d.enqueued, outcomes(&d), d.sender_restarts), (1, 1, 0));
}
