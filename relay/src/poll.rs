//! `poll` (XMLRC's rc2udp): reads a wiki's recent changes from api.php and sends each as the xmlrc datagram
//! RcEmit would have sent, resuming from a state file.
//!
//! Order and resumption: api.php's rcdir=newer lists rows by (timestamp, rcid); the position is the last row
//! handled in that order. A poll asks rcstart = the position's timestamp (api.php includes that second again) and
//! skips rows at or before the position in (timestamp, rcid) order, so a row with a later timestamp is sent even
//! when its rcid is lower (clocks of several app servers disagree), and nothing is sent twice. A row that commits
//! after a poll with a timestamp before the position is not seen (every rcstart-based reader shares this).
//! Rows with hidden parts (revision deletion, suppression) advance the position but are not sent: the bridge
//! publishes no such change and RcEmit never sends one (it sends at save time, before anything can be hidden).

use crate::api::{xmlrc_datagram, ApiClient, RawRc};
use crate::state::{self, Position};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Where to begin when there is no state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// After the newest change: nothing old is sent.
    Now,
    /// From this timestamp (YYYY-MM-DDTHH:MM:SSZ) on, inclusive.
    At(String),
}

#[derive(Debug, Clone)]
pub struct PollOptions {
    pub api: String,
    pub to: String,
    pub state: PathBuf,
    pub interval: Duration,
    pub start: Start,
    pub wikiid: Option<String>,
    pub contact: Option<String>,
    pub once: bool,
    /// rclimit per request (500 by default; smaller to exercise continuation).
    pub page_limit: u32,
    pub timeout: Duration,
}

/// What one poll did.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    hidden: u64,
    send_errors: u64,
    pages: u64,
}

/// Polls until `stop` turns true (or once). Errors of one poll are logged and retried at the next interval;
/// with `once` they end the run.
pub async fn run(opts: PollOptions, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let ua = crate::api::user_agent(opts.contact.as_deref());
    let client = ApiClient::new(&opts.api, &ua, opts.timeout).map_err(|e| e.to_string())?;
    let target = resolve(&opts.to).await?;
    let bind: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse()
    } else {
        "0.0.0.0:0".parse()
    }
    .map_err(|e| format!("{e}"))?;
    // Unconnected: a connected UDP socket would report an earlier ICMP "port unreachable" on the next send.
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    let wikiid = match &opts.wikiid {
        Some(id) => id.clone(),
        None => match cancellable(client.wikiid(), &mut stop).await {
            Some(id) => id.map_err(|e| format!("siteinfo: {e}"))?,
            None => return Ok(()),
        },
    };
    tracing::info!(api = %opts.api, to = %target, %wikiid, user_agent = %ua, "polling");
    let mut pos = match state::load(&opts.state)? {
        Some(pos) => pos,
        None => {
            let Some(pos) = initial_position(&client, &opts.start, &mut stop).await? else {
                return Ok(());
            };
            state::save(&opts.state, &pos)?;
            tracing::info!(rcid = pos.rcid, timestamp = %pos.timestamp, "no state file: starting here");
            pos
        }
    };
    loop {
        let started = Instant::now();
        let before = client.requests();
        let mut tally = Tally::default();
        let result = poll_once(
            &client, &socket, target, &wikiid, &opts, &mut pos, &mut tally, &mut stop,
        )
        .await;
        let elapsed = started.elapsed();
        tracing::info!(
            sent = tally.sent,
            hidden = tally.hidden,
            send_errors = tally.send_errors,
            pages = tally.pages,
            requests = client.requests() - before,
            seconds = elapsed.as_secs_f64(),
            rcid = pos.rcid,
            timestamp = %pos.timestamp,
            "poll done"
        );
        match result {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) if opts.once => return Err(e),
            Err(e) => tracing::error!("poll failed, retrying at the next interval: {e}"),
        }
        if opts.once {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.interval) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Follows the continuation to the end; sends each new change in order and saves the position after each page.
/// Ok(true) when stopped. Only requests are cancelled by `stop`: a page's sends and its save always complete.
#[allow(clippy::too_many_arguments)]
async fn poll_once(
    client: &ApiClient,
    socket: &UdpSocket,
    target: SocketAddr,
    wikiid: &str,
    opts: &PollOptions,
    pos: &mut Position,
    tally: &mut Tally,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, String> {
    let start = pos.timestamp.clone();
    let mut cont: Option<String> = None;
    loop {
        let request = client.recent_changes(&start, cont.as_deref(), opts.page_limit);
        let Some(page) = cancellable(request, stop).await else {
            return Ok(true);
        };
        let page = page.map_err(|e| e.to_string())?;
        tally.pages += 1;
        let before = pos.clone();
        for rc in &page.changes {
            if !is_after(rc, pos) {
                continue;
            }
            if rc.hidden {
                tally.hidden += 1;
                tracing::debug!(rcid = rc.rcid, "hidden parts: not sent");
            } else {
                let datagram = xmlrc_datagram(&rc.xml, wikiid);
                match socket.send_to(datagram.as_bytes(), target).await {
                    Ok(_) => tally.sent += 1,
                    Err(e) => {
                        tally.send_errors += 1;
                        tracing::warn!(rcid = rc.rcid, bytes = datagram.len(), error = %e, "datagram not sent");
                    }
                }
            }
            *pos = Position {
                rcid: rc.rcid,
                timestamp: rc.timestamp.clone(),
            };
        }
        if *pos != before {
            state::save(&opts.state, pos)?;
        }
        match page.cont {
            // A continuation that does not move would loop for ever.
            Some(next) if cont.as_deref() == Some(next.as_str()) => {
                return Err(format!("api.php repeated its continuation {next:?}"));
            }
            Some(next) => cont = Some(next),
            None => return Ok(false),
        }
    }
}

/// After the position in api.php's rcdir=newer order, (timestamp, rcid).
fn is_after(rc: &RawRc, pos: &Position) -> bool {
    (rc.timestamp.as_str(), rc.rcid) > (pos.timestamp.as_str(), pos.rcid)
}

async fn initial_position(
    client: &ApiClient,
    start: &Start,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Position>, String> {
    match start {
        // rcid 0 at the timestamp: every row of that second on is after it.
        Start::At(timestamp) => Ok(Some(Position {
            rcid: 0,
            timestamp: timestamp.clone(),
        })),
        Start::Now => {
            let Some(newest) = cancellable(client.newest_change(), stop).await else {
                return Ok(None);
            };
            // An empty wiki: everything to come is new.
            let empty = Position {
                rcid: 0,
                timestamp: "1970-01-01T00:00:00Z".into(),
            };
            Ok(Some(
                newest
                    .map_err(|e| format!("newest change: {e}"))?
                    .map_or(empty, |rc| Position {
                        rcid: rc.rcid,
                        timestamp: rc.timestamp,
                    }),
            ))
        }
    }
}

/// `f`'s output, or None when `stop` turns true first.
async fn cancellable<F: std::future::Future>(
    f: F,
    stop: &mut watch::Receiver<bool>,
) -> Option<F::Output> {
    if *stop.borrow() {
        return None;
    }
    tokio::select! {
        out = f => Some(out),
        _ = stop.changed() => None,
    }
}

async fn resolve(to: &str) -> Result<SocketAddr, String> {
    tokio::net::lookup_host(to)
        .await
        .map_err(|e| format!("cannot resolve --to {to:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--to {to:?} resolves to no address"))
}
