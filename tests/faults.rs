//! Faults on the way out, beyond tests/sender_counters.rs (which covers a full queue by count, an `.invalid`
//! host, a closed port and a crashed thread once each): a receiver that goes away and comes back on the same
//! port (the connected socket keeps working after its ICMP errors), a name that fails and later resolves, a
//! queue full by bytes, the largest datagram the size limit allows and one above it, and a sender that dies
//! with events queued behind the crash. Each step asserts counters and what arrived, never durations: the
//! caller is never blocked, the process survives, every lost event is counted under its reason.
//!
//! One test function in its own binary, so the process-wide sender's counters change only here.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{config, edit, listener, recv, uri};
use rcemit::feed::{Feed, MAX_DATAGRAM};
use rcemit::payload;
use rcemit::sender::stats::rcemit_stats;
use rcemit::sender::{self, destinations, EmitError, MAX_PAYLOAD, MAX_QUEUE_BYTES};
use rcemit::testing::sender as test_hooks;
use serde_json::Value;

const FLUSH: Duration = Duration::from_secs(5);
/// The one host name the test resolver knows.
const NAME: &str = "relay.rcemit-test";
static NAME_RESOLVES: AtomicBool = AtomicBool::new(false);

/// Stands in for DNS: `NAME` resolves to 127.0.0.1 once `NAME_RESOLVES` is set; nothing else resolves.
fn test_resolver(host: &str, port: u16) -> Option<SocketAddr> {
    (host == NAME && NAME_RESOLVES.load(Ordering::SeqCst)).then(|| ([127, 0, 0, 1], port).into())
}

fn open(config: &Value) -> u32 {
    sender::open_feed(Feed::from_json(config.to_string().as_bytes()).unwrap()).unwrap()
}

/// Counter changes while `f` runs (and the queue drains); printed under `label`, so a failure shows them.
fn measured(label: &str, f: impl FnOnce()) -> rcemit_stats {
    let before = sender::stats();
    f();
    assert!(sender::flush(FLUSH), "flush timed out");
    let after = sender::stats();
    assert_eq!((after.queue_depth, after.queue_bytes), (0, 0));
    assert_eq!(after.format_panics, 0);
    let d = |f: fn(&rcemit_stats) -> u64| f(&after) - f(&before);
    let delta = rcemit_stats {
        enqueued: d(|s| s.enqueued),
        sent: d(|s| s.sent),
        dropped_queue_full: d(|s| s.dropped_queue_full),
        dropped_oversize: d(|s| s.dropped_oversize),
        shortened: d(|s| s.shortened),
        invalid_payload: d(|s| s.invalid_payload),
        skipped: d(|s| s.skipped),
        send_errors: d(|s| s.send_errors),
        dns_failures: d(|s| s.dns_failures),
        unresolved: d(|s| s.unresolved),
        sender_restarts: d(|s| s.sender_restarts),
        ..rcemit_stats::default()
    };
    eprintln!("{label}: {delta:?}");
    // Every accepted event has exactly one outcome.
    assert_eq!(
        delta.enqueued,
        delta.sent
            + delta.dropped_oversize
            + delta.invalid_payload
            + delta.skipped
            + delta.send_errors
            + delta.unresolved,
        "{delta:?}"
    );
    delta
}

/// Emits `n` edits one at a time (flushing after each, so each ICMP error is in before the next send).
fn emit_each(feed: u32, n: usize) {
    let bytes = payload::encode(&edit());
    for _ in 0..n {
        sender::emit(feed, &bytes).unwrap();
        assert!(sender::flush(FLUSH));
    }
}

/// Everything waiting on `socket`.
fn drain(socket: &UdpSocket) -> Vec<Vec<u8>> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::iter::from_fn(|| recv(socket)).collect()
}

fn receiver_goes_away_and_comes_back(ip: &str) {
    let receiver = listener(ip);
    let addr = receiver.local_addr().unwrap();
    let feed = open(&config(&uri(&receiver, None), "json"));

    let d = measured(&format!("{ip} up"), || emit_each(feed, 1));
    assert_eq!((d.sent, drain(&receiver).len()), (1, 1), "{ip}: up");

    // Down: the kernel answers with ICMP port unreachable, reported on the connected socket's next send, which
    // is refused and counted; nothing reaches the caller.
    drop(receiver);
    let d = measured(&format!("{ip} down"), || emit_each(feed, 5));
    assert_eq!(d.sent + d.send_errors, 5, "{ip}: down: {d:?}");
    assert!(d.send_errors >= 1, "{ip}: no ICMP error reported: {d:?}");

    // Back on the same port: the same socket delivers again. At most one send fails, on the ICMP error of the
    // last datagram sent while the receiver was away (an odd number of sends above leaves one pending, as each
    // reported error is consumed by the send it fails).
    let receiver = UdpSocket::bind(addr).expect("rebind the receiver's port");
    let d = measured(&format!("{ip} back"), || emit_each(feed, 3));
    let arrived = drain(&receiver);
    assert_eq!(d.sent + d.send_errors, 3, "{ip}: back: {d:?}");
    assert!(d.send_errors <= 1, "{ip}: back: {d:?}");
    assert_eq!(
        arrived.len() as u64,
        d.sent,
        "{ip}: every datagram counted sent arrived"
    );
    let want = Feed::from_json(config(&uri(&receiver, None), "json").to_string().as_bytes())
        .unwrap()
        .render(&edit())
        .unwrap();
    assert!(arrived.iter().all(|datagram| *datagram == want));
}

fn name_fails_then_resolves() {
    assert!(test_hooks::replace_resolver(test_resolver));
    let receiver = listener("127.0.0.1");
    let port = receiver.local_addr().unwrap().port();
    let feed = open(&config(&format!("udp://{NAME}:{port}"), "json"));

    // Not resolvable: every event is lost and counted, one lookup per retry period, not per event.
    let bytes = payload::encode(&edit());
    let d = measured("name unresolvable", || {
        (0..3).for_each(|_| sender::emit(feed, &bytes).unwrap())
    });
    assert_eq!((d.unresolved, d.dns_failures, d.sent), (3, 1, 0));

    // The name now resolves, but the failure is recent: no new lookup happens for these events.
    NAME_RESOLVES.store(true, Ordering::SeqCst);
    let d = measured("name resolves, failure recent", || {
        (0..2).for_each(|_| sender::emit(feed, &bytes).unwrap())
    });
    assert_eq!(d.dns_failures, 0);
    assert_eq!(d.unresolved + d.sent, 2);

    // After the retry period the next event resolves the name and is delivered.
    std::thread::sleep(destinations::RETRY + Duration::from_millis(200));
    let d = measured("name resolves after the retry period", || {
        emit_each(feed, 1)
    });
    assert_eq!((d.sent, d.unresolved, d.dns_failures), (1, 0, 0));
    assert!(!drain(&receiver).is_empty());
}

fn queue_full_by_bytes() {
    let receiver = listener("127.0.0.1");
    let feed = open(&config(&uri(&receiver, None), "json"));
    let huge = vec![0u8; MAX_PAYLOAD];
    let fit = (MAX_QUEUE_BYTES / MAX_PAYLOAD as u64) as usize;
    let d = measured("queue full by bytes", || {
        let gate = test_hooks::pause_sender(FLUSH).expect("sender paused");
        for _ in 0..fit {
            sender::emit(feed, &huge).unwrap();
        }
        assert_eq!(sender::stats().queue_bytes, MAX_QUEUE_BYTES);
        // Far below the queue's event capacity, but over its byte bound.
        assert_eq!(sender::emit(feed, &huge), Err(EmitError::QueueFull));
        assert_eq!(
            sender::emit(feed, b"RCE"),
            Err(EmitError::QueueFull),
            "the bound is exact"
        );
        // A flush with the sender held gives up at its deadline.
        assert!(!sender::flush(Duration::from_millis(50)));
        drop(gate);
    });
    assert_eq!(d.enqueued, fit as u64);
    assert_eq!(d.dropped_queue_full, 2);
    assert_eq!(d.invalid_payload, fit as u64);
}

/// The size limit is at most 65507 bytes (core's UDPTransport::MAX_PAYLOAD_SIZE), which both loopbacks carry
/// whole, so a send never fails with EMSGSIZE: the largest datagram arrives intact over IPv4 and IPv6, and
/// an event that cannot be made to fit is refused as oversize before any send.
fn largest_datagrams(ip: &str) {
    let receiver = listener(ip);
    let feed = open(&config(&uri(&receiver, None), "json"));
    let mut event = edit();
    event.comment = "x".repeat(2 * MAX_DATAGRAM);
    let d = measured(&format!("{ip} largest datagram"), || {
        sender::emit(feed, &payload::encode(&event)).unwrap()
    });
    assert_eq!((d.sent, d.shortened, d.send_errors), (1, 1, 0), "{ip}");
    let arrived = drain(&receiver);
    assert_eq!(arrived.len(), 1);
    assert_eq!(
        arrived[0].len(),
        MAX_DATAGRAM,
        "{ip}: ASCII shortens to the exact limit"
    );
    let packet: Value = serde_json::from_slice(&arrived[0]).expect("whole JSON");
    assert!(packet["comment"].as_str().unwrap().ends_with("..."));

    // A title cannot be shortened.
    event.title = "x".repeat(MAX_DATAGRAM);
    let d = measured(&format!("{ip} oversize title"), || {
        sender::emit(feed, &payload::encode(&event)).unwrap()
    });
    assert_eq!(
        (d.dropped_oversize, d.sent, d.send_errors),
        (1, 0, 0),
        "{ip}"
    );
    assert!(drain(&receiver).is_empty());
}

fn sender_dies_with_events_queued() {
    let receiver = listener("127.0.0.1");
    let feed = open(&config(&uri(&receiver, None), "irc"));
    let bytes = payload::encode(&edit());
    let d = measured("sender dies with events queued", || {
        let gate = test_hooks::pause_sender(FLUSH).expect("sender paused");
        assert!(test_hooks::crash_sender());
        for _ in 0..5 {
            sender::emit(feed, &bytes).unwrap();
        }
        drop(gate);
        // The crash takes effect asynchronously, and a dead thread is restarted by an emit at most once per
        // RESTART_PAUSE; until then events wait in the queue.
        let deadline = Instant::now() + FLUSH;
        while sender::stats().sender_restarts == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            sender::emit(feed, &bytes).unwrap();
        }
    });
    assert_eq!(d.sender_restarts, 1);
    assert_eq!(d.sent, d.enqueued, "{d:?}");
    assert_eq!(drain(&receiver).len() as u64, d.enqueued);
}

#[test]
fn faults_are_counted_and_survived() {
    receiver_goes_away_and_comes_back("127.0.0.1");
    receiver_goes_away_and_comes_back("::1");
    name_fails_then_resolves();
    queue_full_by_bytes();
    largest_datagrams("127.0.0.1");
    largest_datagrams("::1");
    sender_dies_with_events_queued();
}
