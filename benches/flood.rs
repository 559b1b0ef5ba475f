//! Flood benchmark (goal, README "Performance": bounded memory): 1,000,000 emits through the C ABI at a receiver that does not
//! exist (a loopback port nobody listens on), as fast as one thread can call.
//!
//! Prints, and exits non-zero when a goal is missed:
//! - the caller's latency per emit, first vs last 100,000 emits (p50, p99, p99.9, max): must stay flat, as
//!   a full queue refuses at once instead of blocking;
//! - RSS growth (VmRSS before the first emit vs after the flood and after the drain): under 16 MiB;
//! - the counters, which must add up exactly once the sender has drained (rcemit_flush, bounded):
//!   accepted + refused == emitted, and every accepted event ends in exactly one outcome counter.
//!
//! Run: `cargo bench --bench flood`.

use std::ffi::c_char;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Instant;

use rcemit::ffi::{
    rcemit_feed_emit, rcemit_feed_open, rcemit_flush, rcemit_result, rcemit_stats_read,
};
use rcemit::payload;
use rcemit::sender::stats::rcemit_stats;

use common::edit;

mod common;

const EMITS: usize = 1_000_000;
const WINDOW: usize = 100_000;
const RSS_LIMIT_KIB: i64 = 16 * 1024;
const FLUSH_TIMEOUT_MS: u32 = 60_000;

/// A loopback UDP port that was free a moment ago; nobody listens on it during the flood.
fn dead_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    socket.local_addr().expect("local address").port()
}

/// This process's resident set in KiB (`field` is "VmRSS" or "VmHWM").
fn status_kib(field: &str) -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn stats() -> rcemit_stats {
    let mut out = rcemit_stats::default();
    // SAFETY: `out` is a valid, writable rcemit_stats.
    let code = unsafe {
        rcemit_stats_read(
            &mut out,
            std::mem::size_of::<rcemit::sender::stats::rcemit_stats>(),
        )
    };
    assert_eq!(code, rcemit_result::Ok, "rcemit_stats_read");
    out
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// "p50 … p99 … p99.9 … max" of a window of nanosecond samples.
fn describe(window: &mut [u32]) -> (u32, String) {
    window.sort_unstable();
    let p99 = percentile(window, 0.99);
    let text = format!(
        "p50 {:>6} ns  p99 {:>6} ns  p99.9 {:>7} ns  max {:>9} ns",
        percentile(window, 0.5),
        p99,
        percentile(window, 0.999),
        window[window.len() - 1]
    );
    (p99, text)
}

fn main() -> ExitCode {
    let config = serde_json::json!({
        "uri": format!("udp://127.0.0.1:{}", dead_port()), "format": "xmlrc",
        "canonical_server": "https://en.wikipedia.org", "server_name": "en.wikipedia.org",
        "script_path": "/w", "script": "/w/index.php", "wiki_id": "enwiki", "use_rc_patrol": true,
    })
    .to_string();
    let mut feed = 0u32;
    // SAFETY: `config` is `len` readable bytes; `feed` is writable.
    let code = unsafe { rcemit_feed_open(config.as_ptr().cast(), config.len(), &mut feed) };
    assert_eq!(code, rcemit_result::Ok, "rcemit_feed_open");
    let bytes = payload::encode(&edit());

    // Everything the loop needs is allocated and touched before the baseline.
    let mut first = vec![0u32; WINDOW];
    let mut last = vec![0u32; WINDOW];
    let (mut accepted, mut refused, mut other) = (0u64, 0u64, 0u64);
    let rss_before = status_kib("VmRSS");
    let stats_before = stats();

    let started = Instant::now();
    for i in 0..EMITS {
        let t0 = Instant::now();
        // SAFETY: `bytes` is `len` readable bytes that do not change during the call.
        let code = unsafe { rcemit_feed_emit(feed, bytes.as_ptr().cast::<c_char>(), bytes.len()) };
        let ns = t0.elapsed().as_nanos().min(u32::MAX.into()) as u32;
        match code {
            rcemit_result::Ok => accepted += 1,
            rcemit_result::QueueFull => refused += 1,
            _ => other += 1,
        }
        if i < WINDOW {
            first[i] = ns;
        } else if i >= EMITS - WINDOW {
            last[i - (EMITS - WINDOW)] = ns;
        }
    }
    let flood_secs = started.elapsed().as_secs_f64();
    let rss_flooded = status_kib("VmRSS");
    let drained = rcemit_flush(FLUSH_TIMEOUT_MS) == rcemit_result::Ok;
    let rss_drained = status_kib("VmRSS");
    let s = stats();
    let d = |f: fn(&rcemit_stats) -> u64| f(&s) - f(&stats_before);

    println!(
        "flood: {EMITS} emits of a {}-byte payload (xmlrc) to 127.0.0.1, where nobody listens, in \
         {flood_secs:.3} s ({:.0} emits/s)",
        bytes.len(),
        EMITS as f64 / flood_secs
    );
    let (p99_first, first_text) = describe(&mut first);
    let (p99_last, last_text) = describe(&mut last);
    let ratio = f64::from(p99_last) / f64::from(p99_first.max(1));
    println!("caller latency, first {WINDOW}: {first_text}");
    println!("caller latency, last  {WINDOW}: {last_text}");
    println!("p99 last/first: {ratio:.2} (flat: at most 2)");
    let growth = (rss_flooded.max(rss_drained) - rss_before).max(0);
    println!(
        "VmRSS: {rss_before} KiB before, {rss_flooded} KiB after the flood, {rss_drained} KiB after the drain; \
         growth {growth} KiB (limit {RSS_LIMIT_KIB} KiB); VmHWM {} KiB",
        status_kib("VmHWM")
    );

    let outcomes = d(|s| s.sent)
        + d(|s| s.send_errors)
        + d(|s| s.dropped_oversize)
        + d(|s| s.invalid_payload)
        + d(|s| s.unresolved)
        + d(|s| s.skipped)
        + d(|s| s.format_panics);
    println!(
        "caller: accepted {accepted}, refused queue-full {refused}, other {other}; \
         counters: enqueued {}, dropped_queue_full {}, sent {}, send_errors {}, dropped_oversize {}, \
         invalid_payload {}, unresolved {}, skipped {}, format_panics {}; queue_depth {}; drained {drained}",
        d(|s| s.enqueued),
        d(|s| s.dropped_queue_full),
        d(|s| s.sent),
        d(|s| s.send_errors),
        d(|s| s.dropped_oversize),
        d(|s| s.invalid_payload),
        d(|s| s.unresolved),
        d(|s| s.skipped),
        d(|s| s.format_panics),
        s.queue_depth
    );
    let adds_up = drained
        && other == 0
        && accepted + refused == EMITS as u64
        && d(|s| s.enqueued) == accepted
        && d(|s| s.dropped_queue_full) == refused
        && outcomes == accepted
        && s.queue_depth == 0;
    println!(
        "counters add up (accepted + refused == emitted, enqueued == outcomes): {}",
        if adds_up { "yes" } else { "NO" }
    );

    let ok = adds_up && growth < RSS_LIMIT_KIB && ratio <= 2.0;
    if ok {
        ExitCode::SUCCESS
    } else {
        println!("flood: a goal was missed");
        ExitCode::FAILURE
    }
}
