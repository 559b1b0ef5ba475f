//! Prometheus metrics and the loopback `/metrics` endpoint. The HTTP side is deliberately minimal: one
//! request per connection, `GET /metrics` or 404, nothing else is parsed.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Labels = Vec<(&'static str, String)>;
type Durations = Family<Labels, Histogram, fn() -> Histogram>;

/// Per-wiki counters of gap repair (catchup.rs); `Gap::label` names each in the exposition.
#[derive(Debug, Clone, Copy)]
pub enum Gap {
    /// A run of missing rcids seen before a queued change (or after a restart).
    Detected,
    /// A detected gap closed by a catch-up.
    Repaired,
    /// Missing rcids that api.php does not list, or lists with hidden parts (suppressed, deleted): never
    /// published, by design.
    Explained,
    /// Missing rcids given up on: no api.php configured, or it failed for longer than the hold limit.
    Unrepaired,
    /// Changes fetched from api.php and queued, published with a `<delay>`.
    Backfilled,
    /// Requests made to api.php.
    ApiRequests,
}

impl Gap {
    const ALL: [Gap; 6] = [
        Gap::Detected,
        Gap::Repaired,
        Gap::Explained,
        Gap::Unrepaired,
        Gap::Backfilled,
        Gap::ApiRequests,
    ];

    fn name(self) -> (&'static str, &'static str) {
        match self {
            Gap::Detected => (
                "rcemit_relay_gaps_detected",
                "Runs of missing rcids detected, by wiki",
            ),
            Gap::Repaired => (
                "rcemit_relay_gaps_repaired",
                "Detected gaps closed by a catch-up, by wiki",
            ),
            Gap::Explained => (
                "rcemit_relay_gap_changes_explained",
                "Missing rcids api.php does not list or lists hidden (never published), by wiki",
            ),
            Gap::Unrepaired => (
                "rcemit_relay_gap_changes_unrepaired",
                "Missing rcids given up on (no api.php, or it kept failing), by wiki",
            ),
            Gap::Backfilled => (
                "rcemit_relay_backfilled",
                "Changes fetched from api.php and queued with a delay mark, by wiki",
            ),
            Gap::ApiRequests => (
                "rcemit_relay_api_requests",
                "Requests made to api.php, by wiki",
            ),
        }
    }
}

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
    duplicates: Family<Labels, Counter>,
    pubsub_published: Family<Labels, Counter>,
    pubsub_failed: Family<Labels, Counter>,
    restarts: Family<Labels, Counter>,
    gaps: Vec<Family<Labels, Counter>>,
    catchups: Family<Labels, Counter>,
    catchup_seconds: Durations,
}

fn durations() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 9))
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            received: Counter::default(),
            rejected: Family::default(),
            published: Family::default(),
            dropped: Family::default(),
            queue_depth: Family::default(),
            queue_bytes: Family::default(),
            reconnects: Counter::default(),
            rooms_joined: Gauge::default(),
            duplicates: Family::default(),
            restarts: Family::default(),
            pubsub_published: Family::default(),
            pubsub_failed: Family::default(),
            gaps: Gap::ALL.iter().map(|_| Family::default()).collect(),
            catchups: Family::default(),
            catchup_seconds: Durations::new_with_constructor(durations),
        };
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
            "rcemit_relay_duplicates",
            "Changes received again after they were queued or published (not queued twice), by wiki",
            m.duplicates.clone(),
        );
        r.register(
            "rcemit_relay_rcid_restarts",
            "Times a wiki's rcids went back by 100,000 or more and its room started over, by wiki",
            m.restarts.clone(),
        );
        for (gap, family) in Gap::ALL.iter().zip(&m.gaps) {
            let (name, help) = gap.name();
            r.register(name, help, family.clone());
        }
        r.register(
            "rcemit_relay_catchups",
            "Catch-ups from api.php, by wiki and result (ok, error)",
            m.catchups.clone(),
        );
        r.register(
            "rcemit_relay_catchup_duration_seconds",
            "Time one catch-up took, by wiki",
            m.catchup_seconds.clone(),
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

    pub fn duplicate(&self, wiki: &str) {
        self.duplicates
            .get_or_create(&vec![("wiki", wiki.to_owned())])
            .inc();
    }

    pub fn restarted(&self, wiki: &str) {
        self.restarts
            .get_or_create(&vec![("wiki", wiki.to_owned())])
            .inc();
    }

    pub fn gap(&self, gap: Gap, wiki: &str, n: u64) {
        self.gaps[gap as usize]
            .get_or_create(&vec![("wiki", wiki.to_owned())])
            .inc_by(n);
    }

    pub fn catchup(&self, wiki: &str, ok: bool, seconds: f64) {
        let result = if ok { "ok" } else { "error" };
        self.catchups
            .get_or_create(&vec![
                ("wiki", wiki.to_owned()),
                ("result", result.to_owned()),
            ])
            .inc();
        self.catchup_seconds
            .get_or_create(&vec![("wiki", wiki.to_owned())])
            .observe(seconds);
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
