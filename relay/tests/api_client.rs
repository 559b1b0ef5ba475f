//! ApiClient over real loopback HTTP: a scripted server answers with api.php's own answers (tests/fixtures,
//! captured from MediaWiki 1.39) or HTTP errors, and records each request. Checks the query, the User-Agent,
//! retries with backoff (Retry-After honoured), giving up, no retry of a real API error, one request at a time.

use rcemit_relay::api::{ApiClient, ApiError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PAGE: &str = include_str!("fixtures/rc_page_1.39.xml");
const MAXLAG: &str = include_str!("fixtures/maxlag_1.39.xml");
const BAD_START: &str = include_str!("fixtures/badtimestamp_1.39.xml");

/// One scripted answer: status, extra header lines, body.
type Answer = (u16, &'static str, &'static str);

struct Server {
    url: String,
    /// The request heads received, in order.
    requests: Arc<Mutex<Vec<String>>>,
    /// The most requests in progress at once.
    peak: Arc<AtomicUsize>,
}

/// Answers connections in turn from `script` (the last answer repeats), each after `delay`.
async fn serve(script: Vec<Answer>, delay: Duration) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api.php", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (active, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (log, top) = (requests.clone(), peak.clone());
    tokio::spawn(async move {
        let script = Arc::new(script);
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let (log, script, active, top) =
                (log.clone(), script.clone(), active.clone(), top.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                top.fetch_max(now, Ordering::SeqCst);
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(String::from_utf8_lossy(&head).into_owned());
                    log.len() - 1
                };
                tokio::time::sleep(delay).await;
                let (status, headers, body) = script[n.min(script.len() - 1)];
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/xml; charset=utf-8\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                active.fetch_sub(1, Ordering::SeqCst);
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    Server {
        url,
        requests,
        peak,
    }
}

fn client(url: &str, attempts: u32) -> ApiClient {
    ApiClient::new(
        url,
        "rcemit-relay-test/1 (test@example.org)",
        Duration::from_secs(5),
    )
    .unwrap()
    .with_retries(attempts, Duration::from_millis(50))
}

#[tokio::test]
async fn retries_transient_failures_then_returns_the_page() {
    let server = serve(
        vec![
            (503, "", "busy"),
            (200, "Retry-After: 1\r\n", MAXLAG),
            (200, "", PAGE),
        ],
        Duration::ZERO,
    )
    .await;
    let api = client(&server.url, 5);
    let started = Instant::now();
    let page = api
        .recent_changes("2026-12-01T07:36:01Z", Some("20261201073601|4"), 3)
        .await
        .unwrap();
    assert_eq!(page.changes.len(), 3);
    assert_eq!(api.requests(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    let requests = server.requests.lock().unwrap();
    let head = &requests[2];
    for part in [
        "action=query",
        "format=xml",
        "maxlag=5",
        "list=recentchanges",
        "rcdir=newer",
        "rcprop=user%7Ccomment%7Cflags%7Ctimestamp%7Ctitle%7Cids%7Csizes%7Credirect%7Cloginfo%7Ctags",
        "rcstart=2026-12-01T07%3A36%3A01Z",
        "rclimit=3",
        "rccontinue=20261201073601%7C4",
    ] {
        assert!(head.contains(part), "{part} missing from {head}");
    }
    assert!(
        head.to_ascii_lowercase()
            .contains("user-agent: rcemit-relay-test/1 (test@example.org)"),
        "{head}"
    );
}

#[tokio::test]
async fn gives_up_after_the_attempts() {
    let server = serve(vec![(502, "", "<html>bad gateway</html>")], Duration::ZERO).await;
    let api = client(&server.url, 3);
    let err = api
        .recent_changes("2026-12-01T00:00:00Z", None, 500)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Status(502)), "{err}");
    assert_eq!(api.requests(), 3);
    assert_eq!(err.to_string(), "api.php answered HTTP status 502");
}

#[tokio::test]
async fn api_errors_are_not_retried() {
    let server = serve(vec![(200, "", BAD_START)], Duration::ZERO).await;
    let api = client(&server.url, 5);
    let err = api
        .recent_changes("2026-12-01T00:00:00Z", None, 500)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::Api { code, .. } if code == "badtimestamp"),
        "{err}"
    );
    assert_eq!(api.requests(), 1);
}

#[tokio::test]
async fn one_request_at_a_time() {
    let server = serve(vec![(200, "", PAGE)], Duration::from_millis(100)).await;
    let api = client(&server.url, 1);
    let (a, b, c) = tokio::join!(
        api.recent_changes("2026-12-01T00:00:00Z", None, 3),
        api.recent_changes("2026-12-01T00:00:00Z", None, 3),
        api.recent_changes("2026-12-01T00:00:00Z", None, 3)
    );
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(server.requests.lock().unwrap().len(), 3);
    assert_eq!(server.peak.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_server_is_an_http_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = client(&format!("http://127.0.0.1:{port}/api.php"), 2);
    let err = api.wikiid().await.unwrap_err();
    assert!(matches!(err, ApiError::Http(_)), "{err}");
    assert_eq!(api.requests(), 2);
    assert!(matches!(
        ApiClient::new("ftp://x/api.php", "ua", Duration::from_secs(1)),
        Err(ApiError::Setup(_))
    ));
}
