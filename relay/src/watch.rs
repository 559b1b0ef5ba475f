//! The `watch` subcommand's session: joins a room as a visitor (or subscribes to a PubSub node), prints the
//! history first (the room's archive through MAM, or the node's newest items), then the live changes.
//!
//! Live changes that arrive while the history is fetched are held and merged in: the printer prints each
//! rcid once, in increasing order. After a lost connection the watcher reconnects (backoff 1 s doubling to
//! 30 s), rejoins, and fetches from the archive everything after the last rcid it printed (or, if it printed
//! nothing yet, since it first joined), so a disconnect loses nothing the room archived. A PubSub watcher
//! fetches the newest items again instead (the node keeps a bounded number: a longer outage shows as a gap).

use crate::mam::{self, Page};
use crate::printer::{rcid, Printer};
use crate::pubsub;
use crate::rooms::{self, RoomPresence};
use crate::session::{self, next_event, Backoff};
use crate::watch_config::{History, Source, WatchConfig};
use std::io::Stdout;
use std::time::{Duration, SystemTime};
use tokio_xmpp::stanzastream::{Event, StanzaStream, StreamEvent};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;

const STREAM_QUEUE: usize = 64;
/// Messages per archive page (servers cap it: Prosody at 50 by default).
const PAGE: usize = 50;
/// Most archived changes held while paging backwards to an rcid; beyond it the older ones are given up (a gap).
const MAX_BACKLOG: usize = 50_000;
/// Most live changes held while the history is fetched; beyond it they are dropped (a gap, counted).
const MAX_HELD: usize = 10_000;
/// Items asked for after a reconnect in PubSub mode (the node keeps at most its max_items anyway).
const RECONNECT_ITEMS: usize = 1000;
const REJOIN: Duration = Duration::from_secs(10);

/// What the session waits for.
#[derive(Debug)]
enum Phase {
    Offline,
    /// Room: our self-presence.
    Joining,
    /// Room: an archive page (the IQ id is also the queryid).
    Archive {
        id: String,
        backwards_after: Option<u64>,
    },
    /// PubSub: the subscription, then the items.
    Subscribing(String),
    Items(String),
    Live,
    /// Room: joining again at this time (refused or removed).
    Rejoin(tokio::time::Instant),
}

struct Watcher {
    cfg: WatchConfig,
    out: Printer<Stdout>,
    stream: Option<StanzaStream>,
    backoff: Backoff,
    phase: Phase,
    sessions: u64,
    /// Live changes received while the history is fetched.
    held: Vec<Element>,
    /// The current archive page, and (paging backwards) the pages collected so far, oldest first.
    page: Vec<Element>,
    backlog: Vec<Element>,
    /// The archive's `start` for a catch-up when nothing was printed yet.
    since: Option<String>,
    dropped: u64,
    next_id: u64,
    done: bool,
    /// Why a --history-only run could not print the history (it then exits 1).
    failure: Option<String>,
}

/// Runs until `stop` resolves (or, with history_only, the history is printed). Errors: stdout is gone, or
/// the history asked for with history_only could not be read.
pub async fn run(
    cfg: WatchConfig,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let after = match cfg.history {
        History::AfterRcid(n) => Some(n),
        _ => None,
    };
    let since = match &cfg.history {
        History::Since(t) => Some(t.clone()),
        _ => None,
    };
    let mut w = Watcher {
        out: Printer::new(std::io::stdout(), cfg.format, after),
        cfg,
        stream: None,
        backoff: Backoff::default(),
        phase: Phase::Offline,
        sessions: 0,
        held: Vec::new(),
        page: Vec::new(),
        backlog: Vec::new(),
        since,
        dropped: 0,
        next_id: 0,
        done: false,
        failure: None,
    };
    tokio::pin!(stop);
    let result = loop {
        if w.done {
            break w.failure.take().map_or(Ok(()), Err);
        }
        let rejoin_at = match w.phase {
            Phase::Rejoin(at) => Some(at),
            _ => None,
        };
        let step = tokio::select! {
            event = next_event(&mut w.stream) => match event {
                Some(event) => w.on_event(event).await,
                None => { w.lost(); Ok(()) }
            },
            _ = tokio::time::sleep_until(w.backoff.reconnect_at), if w.stream.is_none() => {
                w.stream = Some(w.cfg.account.stream(STREAM_QUEUE));
                Ok(())
            }
            _ = tokio::time::sleep_until(rejoin_at.unwrap_or_else(tokio::time::Instant::now)), if rejoin_at.is_some() => {
                w.join().await;
                Ok(())
            }
            _ = &mut stop => break Ok(()),
        };
        if let Err(e) = step {
            break Err(format!("cannot write to stdout: {e}"));
        }
    };
    tracing::info!(
        printed = w.out.printed,
        duplicates = w.out.duplicates,
        gaps = w.out.gaps,
        missing = w.out.missing,
        dropped = w.dropped,
        last_rcid = ?w.out.last(),
        "stopped"
    );
    if let Some(stream) = w.stream.take() {
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.close()).await;
    }
    result
}

impl Watcher {
    fn id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!("rcwatch-{kind}-{}", self.next_id)
    }

    async fn send(&mut self, stanza: impl Into<Stanza>) {
        if let Some(stream) = &self.stream {
            stream.send(Box::new(stanza.into())).await;
        }
    }

    fn lost(&mut self) {
        self.stream = None;
        self.phase = Phase::Offline;
        self.held.clear();
        self.page.clear();
        self.backlog.clear();
        self.backoff.lost();
    }

    async fn on_event(&mut self, event: Event) -> std::io::Result<()> {
        match event {
            Event::Stream(StreamEvent::Reset { bound_jid, .. }) => {
                self.sessions += 1;
                self.backoff.online();
                tracing::info!(%bound_jid, session = self.sessions, "online");
                self.start().await;
                Ok(())
            }
            Event::Stream(StreamEvent::Suspended) => {
                self.lost();
                Ok(())
            }
            Event::Stream(StreamEvent::Resumed) => Ok(()),
            Event::Stanza(stanza) => self.on_stanza(stanza).await,
        }
    }

    /// A new session: join (or only read the archive), or subscribe.
    async fn start(&mut self) {
        match self.cfg.source.clone() {
            Source::Room(_) if self.cfg.history_only => self.catch_up().await,
            Source::Room(_) => self.join().await,
            Source::Pubsub { service, node } => {
                // Available presence: the server delivers the node's notifications to this resource.
                self.send(Presence::available()).await;
                let id = self.id("subscribe");
                let iq = pubsub::subscribe(&service, &node, &self.cfg.account.jid, id.clone());
                self.send(iq).await;
                self.phase = Phase::Subscribing(id);
            }
        }
    }

    async fn join(&mut self) {
        let Source::Room(occupant) = &self.cfg.source else {
            return;
        };
        let presence = rooms::join(occupant);
        self.send(presence).await;
        self.phase = Phase::Joining;
    }

    /// Starts the room's catch-up: backwards to the last rcid printed, or forwards from a time, or nothing.
    async fn catch_up(&mut self) {
        if let Some(last) = self.out.last() {
            self.query(None, Page::Before(None), Some(last)).await;
        } else if let Some(since) = self.since.clone() {
            self.query(Some(since), Page::After(None), None).await;
        } else {
            // Nothing asked for: from now on, and a reconnect before the first change catches up from here.
            self.since = Some(now_utc());
            self.go_live()
        }
    }

    async fn query(&mut self, start: Option<String>, page: Page, backwards_after: Option<u64>) {
        let Source::Room(occupant) = &self.cfg.source else {
            return;
        };
        let room = occupant.to_bare();
        let id = self.id("mam");
        let iq = mam::query(&room, id.clone(), start.as_deref(), &page, PAGE);
        self.send(iq).await;
        self.page.clear();
        self.phase = Phase::Archive {
            id,
            backwards_after,
        };
    }

    fn go_live(&mut self) {
        self.phase = Phase::Live;
        if self.cfg.history_only {
            self.done = true;
        }
    }

    /// History printed: the held live changes follow, in rcid order.
    fn flush_held(&mut self) -> std::io::Result<()> {
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|rc| rcid(rc).unwrap_or(0));
        tracing::info!(
            held = held.len(),
            printed = self.out.printed,
            last_rcid = ?self.out.last(),
            "history printed; the changes held meanwhile follow"
        );
        if !self.cfg.history_only {
            for rc in &held {
                self.out.print(rc)?;
            }
        }
        self.go_live();
        Ok(())
    }

    /// Prints the archived changes collected backwards, from the one after the last rcid printed: changes
    /// without an rcid (a patrol) count by their place in the archive, not by a number.
    fn print_backlog(&mut self) -> std::io::Result<()> {
        let backlog = std::mem::take(&mut self.backlog);
        let last = self.out.last().unwrap_or(0);
        let start = backlog
            .iter()
            .rposition(|rc| rcid(rc).is_some_and(|n| n <= last))
            .map_or(0, |i| i + 1);
        for rc in &backlog[start..] {
            self.out.print(rc)?;
        }
        Ok(())
    }

    fn live(&mut self, rc: Element) -> std::io::Result<()> {
        match self.phase {
            Phase::Live => self.out.print(&rc),
            Phase::Offline | Phase::Rejoin(_) => Ok(()),
            _ if self.held.len() >= MAX_HELD => {
                self.dropped += 1;
                tracing::warn!(
                    dropped = self.dropped,
                    "too many live changes during the history fetch; dropping"
                );
                Ok(())
            }
            _ => {
                self.held.push(rc);
                Ok(())
            }
        }
    }

    async fn on_stanza(&mut self, stanza: Stanza) -> std::io::Result<()> {
        match stanza {
            Stanza::Message(m) => self.on_message(m),
            Stanza::Presence(p) => {
                let Source::Room(occupant) = &self.cfg.source else {
                    return Ok(());
                };
                if p.from.as_ref().map(Jid::to_bare) != Some(occupant.to_bare()) {
                    return Ok(());
                }
                match rooms::classify(&p) {
                    RoomPresence::Joined { .. } if matches!(self.phase, Phase::Joining) => {
                        tracing::info!(room = %occupant.to_bare(), "joined");
                        self.catch_up().await;
                    }
                    RoomPresence::Left | RoomPresence::Error(_) => {
                        tracing::warn!(room = %occupant.to_bare(), presence = ?rooms::classify(&p), "not in the room; joining again later");
                        self.held.clear();
                        self.phase = Phase::Rejoin(tokio::time::Instant::now() + REJOIN);
                    }
                    _ => {}
                }
                Ok(())
            }
            Stanza::Iq(iq) => self.on_iq(iq).await,
        }
    }

    fn on_message(&mut self, m: Message) -> std::io::Result<()> {
        if let Some((queryid, rc)) = mam::result(&m) {
            if matches!(&self.phase, Phase::Archive { id, .. } if *id == queryid) {
                self.page.extend(rc);
            }
            return Ok(());
        }
        match &self.cfg.source {
            Source::Room(occupant) => {
                let from_room = m.from.as_ref().map(Jid::to_bare) == Some(occupant.to_bare());
                if m.type_ != MessageType::Groupchat || !from_room {
                    return Ok(());
                }
                let rc = m
                    .payloads
                    .into_iter()
                    .find(|p| p.is("rc", crate::stanza::RC_NS));
                match rc {
                    Some(rc) => self.live(rc),
                    None => Ok(()),
                }
            }
            Source::Pubsub { service, node } => {
                let Some(rcs) = pubsub::event_rcs(&m, service, node) else {
                    return Ok(());
                };
                for rc in rcs {
                    self.live(rc)?;
                }
                Ok(())
            }
        }
    }

    async fn on_iq(&mut self, iq: Iq) -> std::io::Result<()> {
        match iq {
            Iq::Result { id, payload, .. } => self.on_result(id, payload).await,
            Iq::Error { id, error, .. } => {
                let condition = error.defined_condition;
                match &self.phase {
                    Phase::Archive { id: want, .. } if *want == id => {
                        tracing::warn!(
                            ?condition,
                            "the archive query failed; printing live changes only"
                        );
                        if self.cfg.history_only {
                            self.failure = Some(format!("the archive query failed: {condition:?}"));
                        }
                        self.print_backlog()?;
                        self.flush_held()
                    }
                    Phase::Subscribing(want) if *want == id => {
                        tracing::warn!(
                            ?condition,
                            "the subscription was refused; reading the items anyway"
                        );
                        self.items().await;
                        Ok(())
                    }
                    Phase::Items(want) if *want == id => {
                        tracing::warn!(?condition, "the items request failed");
                        if self.cfg.history_only {
                            self.failure = Some(format!("the items request failed: {condition:?}"));
                        }
                        self.flush_held()
                    }
                    _ => Ok(()),
                }
            }
            Iq::Get {
                from, id, payload, ..
            } => {
                self.send(session::answer_get(from, id, payload)).await;
                Ok(())
            }
            Iq::Set { from, id, .. } => {
                self.send(session::unsupported(from, id)).await;
                Ok(())
            }
        }
    }

    async fn items(&mut self) {
        let Source::Pubsub { service, node } = self.cfg.source.clone() else {
            return;
        };
        let max = match self.cfg.history {
            _ if self.out.last().is_some() => RECONNECT_ITEMS,
            History::Last(n) => n,
            _ => 0,
        };
        if max == 0 {
            self.go_live();
            return;
        }
        let id = self.id("items");
        self.send(pubsub::items(&service, &node, max, id.clone()))
            .await;
        self.phase = Phase::Items(id);
    }

    async fn on_result(&mut self, id: String, payload: Option<Element>) -> std::io::Result<()> {
        match std::mem::replace(&mut self.phase, Phase::Live) {
            Phase::Archive {
                id: want,
                backwards_after,
            } if want == id => {
                let fin = payload.as_ref().and_then(mam::fin);
                let page = std::mem::take(&mut self.page);
                let complete = fin.as_ref().is_none_or(|f| f.complete) || page.is_empty();
                match backwards_after {
                    None => {
                        for rc in &page {
                            self.out.print(rc)?;
                        }
                        match fin.and_then(|f| f.last).filter(|_| !complete) {
                            Some(last) => {
                                let start = self.since.clone();
                                self.query(start, Page::After(Some(last)), None).await;
                                Ok(())
                            }
                            None => self.flush_held(),
                        }
                    }
                    Some(after) => {
                        let reached = page.iter().any(|rc| rcid(rc).is_some_and(|n| n <= after));
                        self.backlog.splice(0..0, page);
                        let first = fin.and_then(|f| f.first);
                        if reached
                            || complete
                            || first.is_none()
                            || self.backlog.len() >= MAX_BACKLOG
                        {
                            self.print_backlog()?;
                            self.flush_held()
                        } else {
                            self.query(None, Page::Before(first), Some(after)).await;
                            Ok(())
                        }
                    }
                }
            }
            Phase::Subscribing(want) if want == id => {
                tracing::info!("subscribed");
                self.items().await;
                Ok(())
            }
            Phase::Items(want) if want == id => {
                let Source::Pubsub { node, .. } = &self.cfg.source else {
                    return Ok(());
                };
                let mut rcs = payload
                    .map(|p| pubsub::item_rcs(&p, node))
                    .unwrap_or_default();
                // Once something was printed, an item without an rcid cannot be told new or old: skipped.
                if self.out.last().is_some() {
                    rcs.retain(|rc| rcid(rc).is_some());
                }
                rcs.sort_by_key(|rc| rcid(rc).unwrap_or(0));
                for rc in &rcs {
                    self.out.print(rc)?;
                }
                self.flush_held()
            }
            other => {
                self.phase = other;
                Ok(())
            }
        }
    }
}

/// Now as an XEP-0082 date-time in UTC (whole seconds).
fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_an_xep_0082_date_time() {
        let now = super::now_utc();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
