//! The sender end to end over real UDP on 127.0.0.1 and ::1: every format, prefix framing, shared renders,
//! the size policy, host names. Each datagram must equal the feed's formatter output plus core's framing.

mod common;

use std::time::Duration;

use common::{config, edit, listener, log, recv, uri};
use rcemit::event::Event;
use rcemit::feed::Feed;
use rcemit::{payload, sender};
use serde_json::Value;

const FLUSH: Duration = Duration::from_secs(5);

fn open(config: &Value) -> (u32, Feed) {
    let feed = Feed::from_json(&serde_json::to_vec(config).unwrap()).unwrap();
    (sender::open_feed(feed.clone()).unwrap(), feed)
}

fn nothing_arrives(socket: &std::net::UdpSocket) {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert_eq!(recv(socket), None, "no datagram expected");
}

/// Emits `event` to a new feed listening on `ip` and checks what arrives.
fn check_delivery(ip: &str, format: &str, prefix: Option<&str>, event: &Event) {
    let socket = listener(ip);
    let (handle, feed) = open(&config(&uri(&socket, prefix), format));
    sender::emit(handle, &payload::encode(event)).unwrap();
    assert!(sender::flush(FLUSH));
    match feed.render(event) {
        Some(text) => {
            let got = recv(&socket).unwrap_or_else(|| panic!("{format} on {ip}: no datagram"));
            assert_eq!(got, feed.frame(&text), "{format} on {ip}");
            if let Some(prefix) = prefix {
                let lines: Vec<&[u8]> = got
                    .strip_suffix(b"\n")
                    .unwrap()
                    .split(|&b| b == b'\n')
                    .collect();
                for line in lines {
                    assert!(
                        line.starts_with(format!("{prefix} ").as_bytes()),
                        "{format}: {line:?}"
                    );
                }
            }
        }
        // Nothing to say (IRC and categorisation).
        None => nothing_arrives(&socket),
    }
}

#[test]
fn every_format_over_ipv4() {
    for format in ["xmlrc", "json", "xml", "irc"] {
        for event in [edit(), log()] {
            check_delivery("127.0.0.1", format, None, &event);
        }
    }
}

#[test]
fn every_format_over_ipv6() {
    for format in ["xmlrc", "json", "xml", "irc"] {
        check_delivery("::1", format, None, &edit());
    }
}

#[test]
fn prefix_framing_with_a_tab() {
    for format in ["xmlrc", "json", "xml", "irc"] {
        check_delivery("127.0.0.1", format, Some("#en.wikipedia\t"), &edit());
        check_delivery("::1", format, Some("#en.wikipedia\t"), &log());
    }
}

#[test]
fn feeds_with_equal_context_get_identical_bytes() {
    let (a, b) = (listener("127.0.0.1"), listener("127.0.0.1"));
    let (feed_a, _) = open(&config(&uri(&a, None), "json"));
    let (feed_b, feed) = open(&config(&uri(&b, None), "json"));
    assert_ne!(feed_a, feed_b);
    let bytes = payload::encode(&edit());
    sender::emit(feed_a, &bytes).unwrap();
    sender::emit(feed_b, &bytes).unwrap();
    assert!(sender::flush(FLUSH));
    let text = feed.render(&edit()).unwrap();
    assert_eq!(recv(&a).unwrap(), text);
    assert_eq!(recv(&b).unwrap(), text);
}

#[test]
fn opening_an_equal_feed_returns_the_same_handle() {
    let socket = listener("127.0.0.1");
    let (first, _) = open(&config(&uri(&socket, Some("p")), "irc"));
    let (second, _) = open(&config(&uri(&socket, Some("p")), "irc"));
    assert_eq!(first, second);
}

#[test]
fn oversize_comments_are_shortened_into_valid_datagrams() {
    let socket = listener("127.0.0.1");
    let mut cfg = config(&uri(&socket, Some("#w\t")), "json");
    cfg["max_datagram"] = 400.into();
    let (handle, feed) = open(&cfg);
    let mut event = edit();
    event.comment = "Grüße, ".repeat(300);
    sender::emit(handle, &payload::encode(&event)).unwrap();
    assert!(sender::flush(FLUSH));
    assert!(
        feed.render(&event).unwrap().len() > 400,
        "the event must need shortening"
    );
    let got = recv(&socket).expect("a shortened datagram");
    assert!(got.len() <= 400, "{} bytes", got.len());
    let text = std::str::from_utf8(&got).expect("UTF-8");
    let body = text
        .strip_prefix("#w\t ")
        .unwrap()
        .strip_suffix('\n')
        .unwrap();
    let packet: Value = serde_json::from_str(body).expect("valid JSON");
    let comment = packet["comment"].as_str().unwrap();
    assert!(comment.ends_with("..."), "{comment}");
    assert!(event.comment.starts_with(comment.trim_end_matches("...")));
}

#[test]
fn host_names_are_resolved_on_the_sender() {
    let socket = listener("127.0.0.1");
    let port = socket.local_addr().unwrap().port();
    let (handle, feed) = open(&config(&format!("udp://localhost:{port}"), "json"));
    sender::emit(handle, &payload::encode(&edit())).unwrap();
    assert!(sender::flush(FLUSH));
    assert_eq!(recv(&socket).unwrap(), feed.render(&edit()).unwrap());
}

#[test]
fn garbage_handles_are_unknown_feeds() {
    for handle in [0, 257, 9999, u32::MAX] {
        assert_eq!(
            sender::emit(handle, b"RCE\x01"),
            Err(sender::EmitError::UnknownFeed)
        );
    }
}

/// A change queued without a wake (rcemit_feed_queue) leaves when the sender is woken, and by itself within
/// the sender's idle check when nobody wakes it; both arrive intact.
#[test]
fn queued_changes_leave_on_wake_or_by_themselves() {
    let socket = listener("127.0.0.1");
    let (handle, feed) = open(&config(&uri(&socket, None), "json"));
    let event = edit();
    let expected = feed.frame(&feed.render(&event).unwrap());
    socket.set_read_timeout(Some(FLUSH)).unwrap();

    sender::queue(handle, &payload::encode(&event)).unwrap();
    sender::wake();
    assert_eq!(
        recv(&socket).as_deref(),
        Some(&expected[..]),
        "after a wake"
    );

    let start = std::time::Instant::now();
    sender::queue(handle, &payload::encode(&event)).unwrap();
    assert_eq!(
        recv(&socket).as_deref(),
        Some(&expected[..]),
        "without a wake"
    );
    let waited = start.elapsed();
    assert!(
        waited < sender::runtime::IDLE_CHECK + Duration::from_millis(500),
        "an unwoken change waited {waited:?}"
    );
    assert_eq!(
        sender::queue(9999, &payload::encode(&event)),
        Err(sender::EmitError::UnknownFeed)
    );
}
