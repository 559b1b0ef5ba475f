//! Prometheus metrics and the loopback `/metrics` endpoint. The HTTP side is deliberately minimal: one
//! request per connection, `GET /metrics` or 404, nothing else is parsed.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
pub struct Metrics {
    registry: Registry,
    pub received: Counter,
    rejected: Family<Labels, Counter>,
    published: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    queue_depth: Family<Labels, Gauge>,
    queue_bytes: Family<Labels, Gauge>,
    pub reconnects: Counter,
    pub rooms_joined: Gauge,
    pubsub_published: Family<Labels, Counter>,
    pubsub_failed: Family<Labels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics::default();
        let r = &mut m.registry;
        r.register(
            "rcemit_relay_received",
            "Datagrams read from the UDP sockets",
            m.received.clone(),
        );
        r.register(
            "rcemit_relay_rejected",
            "Datagrams refused, by reason",
            m.rejected.clone(),
        );
        r.register(
            "rcemit_relay_published",
            "Messages written to the XMPP stream, by wiki",
            m.published.clone(),
        );
        r.register(
            "rcemit_relay_dropped",
            "Accepted changes never published, by reason",
            m.dropped.clone(),
        );
        r.register(
            "rcemit_relay_queue_depth",
            "Changes waiting for their room, by wiki",
            m.queue_depth.clone(),
        );
        r.register(
            "rcemit_relay_queue_bytes",
            "Bytes waiting for their room, by wiki",
            m.queue_bytes.clone(),
        );
        r.register(
            "rcemit_relay_reconnects",
            "XMPP sessions re-established after a loss",
            m.reconnects.clone(),
        );
        r.register(
            "rcemit_relay_rooms_joined",
            "Rooms currently joined",
            m.rooms_joined.clone(),
        );
        r.register(
            "rcemit_relay_pubsub_published",
            "Items the PubSub service confirmed, by wiki",
            m.pubsub_published.clone(),
        );
        r.register(
            "rcemit_relay_pubsub_failed",
            "Items not published (refused, disconnected, backlog), by wiki and reason",
            m.pubsub_failed.clone(),
        );
        m
    }

    pub fn pubsub_published(&self, wiki: &str) {
        self.pubsub_published
            .get_or_create(&vec![("wiki", wiki.to_owned())])
            .inc();
    }

    pub fn pubsub_failed(&self, wiki: &str, reason: &'static str) {
        self.pubsub_failed
            .get_or_create(&vec![
                ("wiki", wiki.to_owned()),
                ("reason", reason.to_owned()),
            ])
            .inc();
    }

    pub fn rejected(&self, reason: &'static str) {
        self.rejected
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    pub fn published(&self, wiki: &str) {
        self.published
            .get_or_create(&vec![("wiki", wiki.to_owned())])
            .inc();
    }

    pub fn dropped(&self, reason: &'static str, n: u64) {
        self.dropped
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc_by(n);
    }

    pub fn set_queue(&self, wiki: &str, depth: usize, bytes: usize) {
        let labels = vec![("wiki", wiki.to_owned())];
        self.queue_depth.get_or_create(&labels).set(depth as i64);
        self.queue_bytes.get_or_create(&labels).set(bytes as i64);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Binds the endpoint (loopback, checked by config.rs) before anything starts, so a clash fails the start.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics endpoint listening");
    Ok(listener)
}

/// Serves `/metrics` until the task is aborted.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut len = 0;
            // Read the request head (bounded in size and time); only its first line matters.
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while len < buf.len() {
                    let n = conn.read(&mut buf[len..]).await?;
                    if n == 0 {
                        break;
                    }
                    len += n;
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..len]);
            let (status, body) =
                if head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "only /metrics is served here\n".to_owned())
                };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}
