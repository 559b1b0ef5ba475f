//! Shared by the integration tests: sample events (variants of `rcemit::testing::samples`), loopback
//! listeners, feed configs.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::UdpSocket;
use std::time::Duration;

use rcemit::event::{Event, LogInfo, Patrolled};
use rcemit::testing::samples;
use serde_json::json;

/// The sample edit with non-ASCII text and markup in its summary, a SHA-1 and another tag.
pub fn edit() -> Event {
    Event {
        comment: "second ä € 😀 <b>&amp;</b>".into(),
        sha1: Some("ac60e3c6f6e1da6d1fc98a9ca0d6f0f4ef3d0f7e".into()),
        tags: vec!["mw-rollback".into()],
        ..samples::edit()
    }
}

/// A block log entry with raw and API params.
pub fn log() -> Event {
    Event {
        rc_id: 7,
        namespace: 2,
        title: "User:Vandal".into(),
        page_id: 0,
        patrolled: Patrolled::Unpatrolled,
        timestamp: 1_795_302_400,
        comment: "spam".into(),
        log: Some(LogInfo {
            id: 5,
            log_type: "block".into(),
            action: "block".into(),
            params_raw: Some(json!({"duration": "infinite", "flags": "nocreate"})),
            params_api: Some(json!({"duration": "infinite", "flags": ["nocreate"]})),
            action_comment: "blocked [[User:Vandal]] with an expiration time of infinite: spam"
                .into(),
        }),
        ..samples::log(None)
    }
}

/// A UDP listener on a loopback address with a bounded read timeout.
pub fn listener(ip: &str) -> UdpSocket {
    let socket = UdpSocket::bind((ip, 0)).expect("bind loopback");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

/// The `udp://` uri of a listener, with an optional prefix.
pub fn uri(socket: &UdpSocket, prefix: Option<&str>) -> String {
    let addr = socket.local_addr().unwrap();
    let host = match addr {
        std::net::SocketAddr::V4(a) => a.ip().to_string(),
        std::net::SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    match prefix {
        Some(p) => format!("udp://{host}:{}/{p}", addr.port()),
        None => format!("udp://{host}:{}", addr.port()),
    }
}

pub fn config(uri: &str, format: &str) -> serde_json::Value {
    json!({
        "uri": uri,
        "format": format,
        "canonical_server": "http://localhost",
        "server_name": "localhost",
        "script_path": "/w",
        "script": "/w/index.php",
        "wiki_id": "testwiki",
        "use_rc_patrol": true,
    })
}

/// Receives one datagram, or `None` after the read timeout.
pub fn recv(socket: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 70_000];
    let n = socket.recv(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}
