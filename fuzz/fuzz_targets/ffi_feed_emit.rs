//! rcemit_feed_emit() on arbitrary payloads (raw bytes, or an arbitrary event encoded as PHP would) for four
//! feeds, one per format, two of them framed: emit answers OK, the sender drains it, no formatter panics,
//! and every accepted event ends in exactly one outcome counter.
#![no_main]

use std::net::UdpSocket;
use std::sync::OnceLock;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rcemit::ffi::{
    rcemit_feed_emit, rcemit_feed_open, rcemit_flush, rcemit_result, rcemit_stats_read,
};
use rcemit::payload;
use rcemit::sender::stats::rcemit_stats;
use rcemit_fuzz::gen;

/// The feeds and the socket they send to (never read: the kernel drops what does not fit its buffer).
fn feeds() -> &'static (UdpSocket, Vec<u32>) {
    static FEEDS: OnceLock<(UdpSocket, Vec<u32>)> = OnceLock::new();
    FEEDS.get_or_init(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
        let port = socket.local_addr().unwrap().port();
        let handles = [
            ("xmlrc", ""),
            ("json", "/#en.wikipedia\t"),
            ("xml", "/#w"),
            ("irc", ""),
        ]
        .iter()
        .map(|(format, prefix)| {
            let config = serde_json::json!({
                "uri": format!("udp://127.0.0.1:{port}{prefix}"),
                "format": format,
                "canonical_server": "http://localhost",
                "script_path": "/w",
                "script": "/w/index.php",
                "wiki_id": "fuzzwiki",
                "use_rc_patrol": true,
                "max_datagram": 1400,
            })
            .to_string();
            let mut handle = 0;
            // SAFETY: a valid buffer and a valid output.
            let code =
                unsafe { rcemit_feed_open(config.as_ptr().cast(), config.len(), &mut handle) };
            assert_eq!(code, rcemit_result::Ok);
            handle
        })
        .collect();
        (socket, handles)
    })
}

fn stats() -> rcemit_stats {
    let mut stats = rcemit_stats::default();
    // SAFETY: a valid output.
    assert_eq!(
        unsafe { rcemit_stats_read(&mut stats, std::mem::size_of_val(&stats)) },
        rcemit_result::Ok
    );
    stats
}

fuzz_target!(|data: &[u8]| {
    let (_, handles) = feeds();
    let mut u = Unstructured::new(data);
    let Ok(which) = u.choose_index(handles.len()) else {
        return;
    };
    let bytes = match u.ratio(1, 2) {
        Ok(true) => match gen::event(&mut u) {
            Ok(event) => payload::encode(&event),
            Err(_) => return,
        },
        _ => u.take_rest().to_vec(),
    };
    // SAFETY: a valid buffer.
    let code = unsafe { rcemit_feed_emit(handles[which], bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(code, rcemit_result::Ok);
    assert_eq!(rcemit_flush(10_000), rcemit_result::Ok);
    let s = stats();
    assert_eq!(
        s.format_panics, 0,
        "a formatter panicked on the sender thread"
    );
    assert_eq!((s.queue_depth, s.queue_bytes), (0, 0));
    let outcomes = s.sent
        + s.dropped_oversize
        + s.invalid_payload
        + s.skipped
        + s.format_panics
        + s.send_errors
        + s.unresolved;
    assert_eq!(s.enqueued, outcomes, "an event without an outcome: {s:?}");
});
