//! Emit benchmarks (goals: README "Performance"):
//! 1. caller-thread cost of one `emit` of a 600-byte payload (criterion; goal < 300 ns),
//! 2. sender throughput to a loopback receiver, per format (datagrams/s),
//! 3. event-to-datagram latency at 10,000 events/s (median, p99; goal p99 < 1 ms).
//!
//! Formats whose formatter is not written yet (it panics) are left out and named. Run: `cargo bench --bench
//! emit`; `cargo bench --bench emit -- --quick` for a shorter criterion run.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rcemit::event::{ChangeType, Event, Patrolled};
use rcemit::feed::Feed;
use rcemit::format::Format;
use rcemit::{payload, sender};

const PAYLOAD_BYTES: usize = 600;
/// The queue holds at most 64 MiB of payloads, i.e. about 110,000 of these; timed runs stay below.
const CHUNK: u64 = 50_000;
/// Emits timed between two flushes when measuring the caller's cost: a real queue is nearly empty, so
/// payload copies land in memory the allocator just freed, not in tens of MiB of fresh pages.
const COST_CHUNK: u64 = 1_000;
const FLUSH: Duration = Duration::from_secs(30);

fn event(comment_fill: usize) -> Event {
    Event {
        rc_id: 123_456_789,
        change_type: ChangeType::Edit,
        namespace: 0,
        title: "Benchmark page with a realistic title".into(),
        page_id: 4_242,
        this_oldid: 987_654_321,
        last_oldid: 987_654_320,
        user: "Some editor".into(),
        user_id: 77,
        bot: false,
        minor: true,
        redirect: false,
        patrolled: Patrolled::Autopatrolled,
        old_len: Some(12_345),
        new_len: Some(12_400),
        timestamp: 1_795_302_333,
        comment: "x".repeat(comment_fill),
        parsed_comment: None,
        sha1: Some("ac60e3c6f6e1da6d1fc98a9ca0d6f0f4ef3d0f7e".into()),
        notify_url: None,
        title_url: None,
        part_failed: false,
        log: None,
        tags: vec!["mw-manual-revert".into()],
    }
}

/// A payload of exactly [`PAYLOAD_BYTES`] bytes.
fn payload_600() -> Vec<u8> {
    let base = payload::encode(&event(0)).len();
    let bytes = payload::encode(&event(PAYLOAD_BYTES - base));
    assert_eq!(bytes.len(), PAYLOAD_BYTES);
    bytes
}

fn config(uri: &str, format: Format) -> Feed {
    let json = serde_json::json!({
        "uri": uri, "format": format.name(), "canonical_server": "https://en.wikipedia.org",
        "server_name": "en.wikipedia.org", "script_path": "/w", "script": "/w/index.php",
        "wiki_id": "enwiki", "use_rc_patrol": true,
    });
    Feed::from_json(json.to_string().as_bytes()).unwrap()
}

/// Formats whose formatter runs (a `todo!()` stub panics and is left out).
fn open(feed: Feed) -> u32 {
    sender::open_feed(feed).unwrap()
}

/// A receiver that is never read: the kernel drops what overflows its buffer, sends still succeed.
fn sink() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let uri = format!("udp://{}", socket.local_addr().unwrap());
    (socket, uri)
}

/// How the sender thread is doing while `emit` is timed.
#[derive(Clone, Copy)]
enum Mode {
    /// Held by the test hook: the pure caller-side cost, no wake-up, no competition for the queue.
    Held,
    /// Draining the queue concurrently (a busy wiki).
    Running,
    /// Asleep before every timed emit, which must wake it (one change per request, the common case);
    /// includes ~40 ns of timer overhead.
    Asleep,
}

/// Times `emit` in chunks, flushing between chunks (untimed).
fn emit_cost(c: &mut Criterion, feed: u32, label: &str, mode: Mode) {
    let bytes = payload_600();
    let (held, chunk, name) = match mode {
        Mode::Held => (true, COST_CHUNK, "sender held"),
        Mode::Running => (false, COST_CHUNK, "sender running"),
        Mode::Asleep => (false, 1, "sender asleep"),
    };
    c.bench_function(&format!("emit 600-byte payload, {name} ({label})"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(chunk);
                assert!(sender::flush(FLUSH), "sender did not drain");
                let gate = held
                    .then(|| rcemit::testing::sender::pause_sender(FLUSH).expect("sender held"));
                let start = Instant::now();
                for _ in 0..n {
                    let _ = std::hint::black_box(sender::emit(feed, std::hint::black_box(&bytes)));
                }
                total += start.elapsed();
                drop(gate);
                left -= n;
            }
            total
        })
    });
}

fn throughput(format: Format) {
    let (_sink, uri) = sink();
    let feed = open(config(&uri, format));
    let bytes = payload_600();
    assert!(sender::flush(FLUSH));
    let before = sender::stats();
    let start = Instant::now();
    let mut accepted = 0u64;
    for _ in 0..CHUNK {
        accepted += u64::from(sender::emit(feed, &bytes).is_ok());
    }
    assert!(sender::flush(FLUSH));
    let elapsed = start.elapsed();
    let sent = sender::stats().sent - before.sent;
    println!(
        "throughput {:<6} {:>9.0} datagrams/s  ({sent} of {accepted} accepted sent in {:.3} s)",
        format.name(),
        sent as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn latency(format: Format) {
    const RATE: u32 = 10_000;
    const EVENTS: usize = 20_000;
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    // Room for bursts when the reader is descheduled, so none is lost and arrivals pair with emits in order.
    socket2::SockRef::from(&receiver)
        .set_recv_buffer_size(16 << 20)
        .unwrap();
    let feed = open(config(
        &format!("udp://{}", receiver.local_addr().unwrap()),
        format,
    ));
    let bytes = payload_600();
    assert!(sender::flush(FLUSH));
    let lost_before = sender::stats();

    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        let mut arrivals = Vec::with_capacity(EVENTS);
        while arrivals.len() < EVENTS && receiver.recv(&mut buf).is_ok() {
            arrivals.push(Instant::now());
        }
        arrivals
    });
    let interval = Duration::from_secs(1) / RATE;
    let start = Instant::now();
    let mut emitted = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        // Sleep rather than spin: on a two-core machine a spinning emitter would take the core the sender
        // and the reader need.
        let due = start + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        emitted.push(Instant::now());
        sender::emit(feed, &bytes).unwrap();
    }
    let arrivals = reader.join().unwrap();
    let stats = sender::stats();
    if arrivals.len() != EVENTS {
        println!(
            "latency {}: only {} of {EVENTS} datagrams arrived (send_errors +{}); not measured",
            format.name(),
            arrivals.len(),
            stats.send_errors - lost_before.send_errors
        );
        return;
    }
    let mut latencies: Vec<Duration> = arrivals
        .iter()
        .zip(&emitted)
        .map(|(a, e)| *a - *e)
        .collect();
    latencies.sort();
    println!(
        "latency {:<6} at {RATE} events/s, {EVENTS} events: median {:?}  p99 {:?}  max {:?}",
        format.name(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
}

fn main() {
    sender::set_queue_capacity(2 * CHUNK as usize).unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    // The caller's cost does not depend on the format.
    let (_sink, uri) = sink();
    let (feed, label) = (open(config(&uri, Format::Json)), Format::Json.name());
    for mode in [Mode::Held, Mode::Running, Mode::Asleep] {
        emit_cost(&mut criterion, feed, label, mode);
    }
    criterion.final_summary();

    for format in Format::ALL {
        throughput(format);
    }
    for format in Format::ALL {
        latency(format);
    }
}
