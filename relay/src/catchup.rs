//! Gap repair: one task per wiki keeps the wiki's position on disk and, when changes were missed, fetches
//! them from the wiki's api.php and queues them in rcid order, each marked as delayed (XEP-0203).
//!
//! A catch-up runs when:
//! - the change at the head of the room's queue is not the next rcid (a datagram was lost, or the queue
//!   dropped changes while the server was away), after a short grace for late datagrams;
//! - the bridge starts with a saved position (it may have missed changes while it was down);
//! - the XMPP session was re-established;
//! - the feed has been quiet for a while after a live change (the last datagrams of a burst may be lost,
//!   and no later datagram would reveal it).
//!
//! While a gap is open the room holds the changes after it (queue.rs), so the room sees rcids in
//! increasing order; live changes that arrive during a catch-up are queued in place, and whichever copy of a
//! change comes second (live or fetched) is refused as a duplicate. Ids api.php does not list (deleted,
//! filtered) or lists with hidden parts (revision deletion, suppression) are explained gaps: counted, never
//! published. Without an api.php the gap is counted as unrepaired once the grace has passed.

use crate::api::{self, ApiClient, RawRc};
use crate::datagram;
use crate::metrics::Gap;
use crate::state::{self, Position};
use crate::udp::Shared;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use xmpp_parsers::date::DateTime;
use xmpp_parsers::delay::Delay;

/// How often the task looks at its room.
const TICK: Duration = Duration::from_millis(250);
/// How often the position is written at most (each write is an fsync).
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// api.php's largest page for a user without apihighlimits.
const PAGE: u32 = 500;
/// After a failed catch-up, the next attempt waits this long, doubling up to RETRY_MAX.
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Loads every wiki's saved position into its room (before the first datagram is taken).
pub fn restore(shared: &Shared) -> Result<(), String> {
    if let Some(dir) = &shared.config.catchup.state_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("catchup.state_dir {}: {e}", dir.display()))?;
    }
    for room in 0..shared.config.wikis.len() {
        let Some(path) = state_path(shared, room) else {
            continue;
        };
        if let Some(pos) = state::load(&path)? {
            tracing::info!(wiki = %shared.config.wikis[room].id, rcid = pos.rcid, timestamp = %pos.timestamp,
                "resuming after the saved position");
            let mut queues = shared.lock();
            queues.advance(room, pos.rcid, &pos.timestamp);
            queues.confirm(room, pos.rcid, &pos.timestamp);
            drop(queues);
            shared.recheck[room].store(true, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn state_path(shared: &Shared, room: usize) -> Option<PathBuf> {
    let dir = shared.config.catchup.state_dir.as_ref()?;
    Some(dir.join(format!("{}.json", shared.config.wikis[room].id)))
}

/// Runs until `stop` turns true, then saves the position a last time.
pub async fn supervise(shared: Arc<Shared>, room: usize, mut stop: watch::Receiver<bool>) {
    let mut task = Task::new(shared, room);
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        task.save(false);
        task.step().await;
    }
    task.save(true);
}

struct Task {
    shared: Arc<Shared>,
    room: usize,
    wiki: String,
    api: Option<ApiClient>,
    state: Option<PathBuf>,
    saved: Option<Position>,
    saved_at: Instant,
    /// The open gap's first missing rcid and when it was seen.
    gap: Option<(u64, Instant)>,
    /// Live changes counted at the last look, when that count last moved, and whether the quiet check ran
    /// since.
    live: u64,
    live_at: Instant,
    quiet_checked: bool,
    /// A catch-up is wanted without a gap (restart, reconnect, quiet feed, or the last round was cut short).
    wanted: bool,
    retry_at: Instant,
    retry: Duration,
    failing_since: Option<Instant>,
}

impl Task {
    fn new(shared: Arc<Shared>, room: usize) -> Task {
        let wiki = &shared.config.wikis[room];
        let c = &shared.config.catchup;
        let api = wiki.api_url.as_deref().and_then(|url| {
            ApiClient::new(url, &c.user_agent, c.http_timeout)
                .map_err(|e| tracing::error!(wiki = %wiki.id, error = %e, "api.php client: gaps will not be repaired"))
                .ok()
        });
        let state = state_path(&shared, room);
        let saved = shared.lock().confirmed(room).map(|h| Position {
            rcid: h.rcid,
            timestamp: h.timestamp,
        });
        Task {
            wiki: wiki.id.clone(),
            shared,
            room,
            api,
            state,
            saved,
            saved_at: Instant::now(),
            gap: None,
            live: 0,
            live_at: Instant::now(),
            quiet_checked: true,
            wanted: false,
            retry_at: Instant::now(),
            retry: RETRY_MIN,
            failing_since: None,
        }
    }

    /// Writes the confirmed position when it moved (at most once per SAVE_EVERY unless `now`).
    fn save(&mut self, now: bool) {
        let Some(path) = &self.state else {
            return;
        };
        if !now && self.saved_at.elapsed() < SAVE_EVERY {
            return;
        }
        let Some(h) = self.shared.lock().confirmed(self.room) else {
            return;
        };
        let pos = Position {
            rcid: h.rcid,
            timestamp: h.timestamp,
        };
        if self.saved.as_ref() == Some(&pos) {
            return;
        }
        self.saved_at = Instant::now();
        match state::save(path, &pos) {
            Ok(()) => self.saved = Some(pos),
            Err(e) => tracing::warn!(wiki = %self.wiki, error = %e, "cannot save the position"),
        }
    }

    async fn step(&mut self) {
        let shared = self.shared.clone();
        let c = &shared.config.catchup;
        if self.shared.recheck[self.room].swap(false, Ordering::Relaxed) {
            self.wanted = true;
        }
        let live = self.shared.live[self.room].load(Ordering::Relaxed);
        if live != self.live {
            self.live = live;
            self.live_at = Instant::now();
            self.quiet_checked = false;
        } else if !self.quiet_checked && self.live_at.elapsed() >= c.quiet_check {
            self.quiet_checked = true;
            self.wanted = true;
        }
        let gap = self.shared.lock().gap(self.room);
        match (gap, self.gap) {
            (Some((first, _)), Some((seen, _))) if first == seen => {}
            (Some((first, head)), _) => {
                tracing::info!(wiki = %self.wiki, first, before = head, "gap in rcids");
                self.shared.metrics.gap(Gap::Detected, &self.wiki, 1);
                self.gap = Some((first, Instant::now()));
            }
            (None, _) => self.gap = None,
        }
        let due = self.gap.filter(|(_, seen)| seen.elapsed() >= c.grace);
        if due.is_none() && !self.wanted {
            return;
        }
        // api.php is asked from the newest timestamp handed over; a feed whose rcprop leaves timestamps out
        // gives none.
        let timed = self
            .shared
            .lock()
            .horizon(self.room)
            .is_some_and(|h| !h.timestamp.is_empty());
        if self.api.is_none() || !timed {
            self.wanted = false;
            if due.is_some() {
                self.give_up(if timed {
                    "no api_url configured"
                } else {
                    "the changes carry no timestamp"
                });
            }
            return;
        }
        // Open-ended catch-ups wait for room in the queue; a gap cannot wait: the changes after it hold the
        // queue until it is filled.
        let joined = self.shared.joined[self.room].load(Ordering::Relaxed);
        if !joined || Instant::now() < self.retry_at || (due.is_none() && !self.has_room()) {
            return;
        }
        let until = gap.filter(|_| due.is_some()).map(|(_, head)| head);
        let started = Instant::now();
        let result = self.catch_up(until).await;
        self.shared
            .metrics
            .catchup(&self.wiki, result.is_ok(), started.elapsed().as_secs_f64());
        match result {
            Ok(done) => {
                self.wanted = !done;
                self.retry = RETRY_MIN;
                self.failing_since = None;
                if due.is_some() && self.shared.lock().gap(self.room).is_none() {
                    self.shared.metrics.gap(Gap::Repaired, &self.wiki, 1);
                    self.gap = None;
                }
            }
            Err(e) => {
                let since = *self.failing_since.get_or_insert(started);
                tracing::warn!(wiki = %self.wiki, error = %e, retry_in_s = self.retry.as_secs_f64(), "catch-up failed");
                self.retry_at = Instant::now() + self.retry;
                self.retry = (self.retry * 2).min(RETRY_MAX);
                if due.is_some() && since.elapsed() >= c.max_hold {
                    self.give_up("api.php kept failing");
                }
            }
        }
    }

    /// Lets the changes after the open gap go: the missing ones are counted as unrepaired.
    fn give_up(&mut self, why: &str) {
        let mut queues = self.shared.lock();
        if let (Some((first, head)), Some(h)) = (queues.gap(self.room), queues.horizon(self.room)) {
            queues.advance(self.room, head - 1, &h.timestamp);
            drop(queues);
            tracing::warn!(wiki = %self.wiki, first, last = head - 1, why, "gap given up");
            self.shared
                .metrics
                .gap(Gap::Unrepaired, &self.wiki, head - first);
        }
        self.gap = None;
        self.shared.pushed.notify_one();
    }

    /// Fetches what came after the room's horizon (up to the change `until`, when a gap ends there) and
    /// queues it. Returns whether the round reached its end (false: cut short by the window or a full
    /// queue, another round follows).
    async fn catch_up(&mut self, until: Option<u64>) -> Result<bool, String> {
        let (start, forgotten) = {
            let queues = self.shared.lock();
            (queues.resume_point(self.room), queues.forgotten(self.room))
        };
        let Some(start) = start else {
            // Nothing published yet and no saved position: nothing to resume from.
            return Ok(true);
        };

        let api = self.api.as_ref().expect("checked by step()");
        let c = &self.shared.config.catchup;
        tracing::info!(wiki = %self.wiki, after = start.rcid, since = %start.timestamp, ?until, "catch-up from api.php");
        let (mut cont, mut backfilled) = (None, 0u64);
        // The ids api.php listed without hidden parts: the rest of the covered range is explained.
        let mut listed = HashSet::new();
        let (mut covered, mut covered_ts) = (start.rcid, start.timestamp.clone());
        let complete = loop {
            self.shared.metrics.gap(Gap::ApiRequests, &self.wiki, 1);
            let page = api
                .recent_changes(&start.timestamp, cont.as_deref(), PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let mut cut = false;
            for rc in page.changes {
                // Rows of the start's second come again; older ids were dealt with.
                if rc.rcid <= start.rcid {
                    continue;
                }
                covered = covered.max(rc.rcid);
                if rc.timestamp > covered_ts {
                    covered_ts = rc.timestamp.clone();
                }
                if rc.hidden {
                    tracing::info!(wiki = %self.wiki, rcid = rc.rcid, "change with hidden parts: not published");
                    continue;
                }
                listed.insert(rc.rcid);
                if self.queue(&rc, until.is_none())? {
                    backfilled += 1;
                }
                if listed.len() >= c.max_changes || (until.is_none() && !self.has_room()) {
                    cut = true;
                    break;
                }
            }
            if cut {
                break false;
            }
            match page.cont {
                Some(next) if until.is_none_or(|u| covered < u) => cont = Some(next),
                _ => break true,
            }
        };
        // A gap ending at `until` is covered up to it even when api.php lists nothing more: the ids between
        // are not listed (deleted, filtered, or never committed).
        if complete {
            if let Some(u) = until {
                covered = covered.max(u - 1);
            }
        }
        let mut queues = self.shared.lock();
        if queues.forgotten(self.room) != forgotten {
            // The queue dropped changes behind the horizon meanwhile (it overflowed): this round covers
            // nothing, the next one starts before them.
            drop(queues);
            tracing::info!(wiki = %self.wiki, backfilled, "the queue dropped changes during the catch-up; again");
            self.shared
                .metrics
                .gap(Gap::Backfilled, &self.wiki, backfilled);
            return Ok(false);
        }
        listed.extend(queues.rcids_between(self.room, start.rcid, covered));
        let explained = (covered - start.rcid).saturating_sub(listed.len() as u64);
        queues.advance(self.room, covered, &covered_ts);
        self.shared.gauge(&queues, self.room);
        drop(queues);
        self.shared
            .metrics
            .gap(Gap::Backfilled, &self.wiki, backfilled);
        self.shared
            .metrics
            .gap(Gap::Explained, &self.wiki, explained);
        tracing::info!(wiki = %self.wiki, backfilled, explained, covered, complete, "catch-up done");
        self.shared.pushed.notify_one();
        Ok(complete)
    }

    /// Whether the room's queue has room for a catch-up: below half its bounds, so that fetched changes
    /// never push out what is queued (nor each other) while the server is away.
    fn has_room(&self) -> bool {
        let queues = self.shared.lock();
        let cfg = &self.shared.config;
        queues.len(self.room) < cfg.queue_max_messages / 2
            && queues.bytes(self.room) < cfg.queue_max_bytes / 2
    }

    /// Queues one fetched change with its delay mark (`bounded`: see `Shared::push`); false when the room had
    /// it already.
    fn queue(&self, rc: &RawRc, bounded: bool) -> Result<bool, String> {
        let text = api::xmlrc_datagram(&rc.xml, &self.wiki);
        let change = datagram::parse(text.as_bytes())
            .map_err(|e| format!("api.php's change {} does not parse: {e}", rc.rcid))?;
        let stamp: DateTime = rc.timestamp.parse().map_err(|e| {
            format!(
                "api.php's change {}: timestamp {:?}: {e}",
                rc.rcid, rc.timestamp
            )
        })?;
        let delay = Delay {
            from: Some(self.shared.config.account.jid.clone().into()),
            stamp,
            data: Some("fetched from api.php".into()),
        };
        let item = self
            .shared
            .item(self.room, &change, text.len(), Some(delay))
            .map_err(|reason| format!("api.php's change {}: {reason}", rc.rcid))?;
        Ok(self.shared.push(self.room, item, bounded))
    }
}
