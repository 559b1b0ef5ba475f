//! The XMPP side: one c2s session (tokio-xmpp's StanzaStream), the rooms' join/configure state, and the
//! sending of queued changes.
//!
//! A change leaves its queue only while its room is joined, and stays tracked until the server acknowledged
//! it (XEP-0198 stream management, when the server offers it) or, without stream management, until
//! tokio-xmpp wrote it to the transport; only then is it counted as published. A server killed mid-stream
//! therefore loses nothing that was only written: it is sent again (at least once, so a change whose ack was
//! lost may appear twice). When the connection is lost, the stream is dropped,
//! every change not yet written goes back to the front of its queue, and a fresh stream is made after an
//! exponential backoff (1 s doubling to 30 s; tokio-xmpp itself retries failed connects the same way).
//!
//! Why a fresh stream instead of tokio-xmpp's own reconnect: that one first tries XEP-0198 resumption, and
//! after a server restart Prosody 0.12 answers `<failed xmlns='urn:xmpp:sm:3'/>` without `h`, which
//! xmpp-parsers 0.23.0 refuses as invalid: tokio-xmpp 6.0.0 then reconnects in a tight loop forever.

use crate::pubsub::Publisher;
use crate::queue::Item;
use crate::rooms::{self, RoomPresence};
use crate::session::{self, next_event, Backoff};
use crate::udp::Shared;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_xmpp::stanzastream::{
    Event, StanzaStage, StanzaState, StanzaStream, StanzaToken, StreamEvent,
};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::stanza_error::StanzaError;

/// tokio-xmpp's queue between this task and the socket; never filled, see MAX_INFLIGHT (with PubSub a change
/// takes two places: its message and its publish IQ).
const STREAM_QUEUE: usize = 1024;
/// Changes handed to tokio-xmpp but not yet written. Below STREAM_QUEUE (joins and IQs need room too), so
/// handing one over never waits.
const MAX_INFLIGHT: usize = 256;
/// How long a room whose join or configuration failed waits before the next attempt.
const ROOM_RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoomState {
    Out,
    Joining,
    Configuring,
    Joined,
    Failed(Instant),
}

#[derive(Debug, Clone, Copy)]
enum IqPurpose {
    ConfigForm(usize),
    ConfigSubmit(usize),
}

struct InFlight {
    room: usize,
    item: Item,
    token: StanzaToken,
}

struct Session {
    shared: Arc<Shared>,
    /// `None` between a lost connection and the next attempt.
    stream: Option<StanzaStream>,
    backoff: Backoff,
    rooms: Vec<RoomState>,
    online: bool,
    /// The stage that makes a change published on this stream: Acked with stream management, else Sent.
    confirm: StanzaStage,
    sessions: u64,
    iqs: HashMap<String, IqPurpose>,
    next_id: u64,
    inflight: HashMap<u64, InFlight>,
    confirmations: FuturesUnordered<BoxFuture<'static, (u64, Option<StanzaState>)>>,
    next_room: usize,
    /// PubSub: each change also published to its wiki's node, when configured (pubsub.rs).
    pubsub: Publisher,
}

/// Runs the session until `shutdown` turns true and the queues are drained (or the drain deadline passes).
pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut s = Session::new(shared.clone());
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        s.send_ready().await;
        if deadline.is_some() && s.inflight.is_empty() && s.queued() == 0 {
            tracing::info!("queues drained");
            break;
        }
        let until =
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            event = next_event(&mut s.stream) => match event {
                Some(event) => s.on_event(event).await,
                None => s.lost(),
            },
            _ = tokio::time::sleep_until(s.backoff.reconnect_at), if s.stream.is_none() => s.connect(),
            Some((seq, state)) = s.confirmations.next(), if !s.confirmations.is_empty() => s.on_confirmation(seq, state),
            _ = shared.pushed.notified() => {}
            _ = retry.tick() => s.retry_rooms().await,
            changed = shutdown.changed(), if deadline.is_none() => {
                if changed.is_err() || *shutdown.borrow() {
                    tracing::info!(queued = s.queued(), deadline_s = shared.config.drain.as_secs_f64(), "draining before exit");
                    deadline = Some(tokio::time::Instant::now() + shared.config.drain);
                }
            }
            _ = tokio::time::sleep_until(until), if deadline.is_some() => {
                tracing::warn!(queued = s.queued(), "drain deadline passed");
                break;
            }
        }
    }
    s.finish().await;
}

impl Session {
    fn new(shared: Arc<Shared>) -> Session {
        let rooms = vec![RoomState::Out; shared.config.wikis.len()];
        let mut session = Session {
            shared,
            stream: None,
            backoff: Backoff::default(),
            rooms,
            online: false,
            confirm: StanzaStage::Sent,
            sessions: 0,
            iqs: HashMap::new(),
            next_id: 0,
            inflight: HashMap::new(),
            confirmations: FuturesUnordered::new(),
            next_room: 0,
            pubsub: Publisher::default(),
        };
        session.connect();
        session
    }

    /// Makes a fresh stream; tokio-xmpp connects, authenticates and binds in the background.
    fn connect(&mut self) {
        self.stream = Some(self.shared.config.account.stream(STREAM_QUEUE));
    }

    /// The connection is gone: drop the stream (so nothing it still holds is sent later), put back what was
    /// not written, and schedule the next attempt.
    fn lost(&mut self) {
        self.stream = None;
        self.pubsub
            .lost(&self.shared.config.wikis, &self.shared.metrics);
        self.online = false;
        self.requeue_unsent();
        for room in 0..self.rooms.len() {
            self.set_room(room, RoomState::Out);
        }
        self.backoff.lost();
    }

    fn queued(&self) -> usize {
        self.shared.lock().total()
    }

    fn id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!("rcemit-{kind}-{}", self.next_id)
    }

    /// Hands a stanza to the stream; `None` when there is no stream (the caller keeps what it needs).
    async fn send(&mut self, stanza: impl Into<Stanza>) -> Option<StanzaToken> {
        Some(self.stream.as_ref()?.send(Box::new(stanza.into())).await)
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Stream(StreamEvent::Reset {
                bound_jid,
                features,
            }) => {
                self.sessions += 1;
                if self.sessions > 1 {
                    self.shared.metrics.reconnects.inc();
                    // Whatever the queues lost meanwhile (dropped when full) is fetched again.
                    for recheck in &self.shared.recheck {
                        recheck.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                tracing::info!(%bound_jid, session = self.sessions, "online; joining rooms");
                self.requeue_unsent();
                self.online = true;
                self.backoff.online();
                // tokio-xmpp enables stream management whenever the server offers it.
                self.confirm = match features.stream_management {
                    Some(_) => StanzaStage::Acked,
                    None => StanzaStage::Sent,
                };
                for room in 0..self.rooms.len() {
                    self.join(room).await;
                }
                for iq in self.pubsub.online(&self.shared.config.wikis) {
                    self.send(iq).await;
                }
            }
            Event::Stream(StreamEvent::Suspended) => self.lost(),
            // Never happens: a suspended stream is dropped before it could resume.
            Event::Stream(StreamEvent::Resumed) => {}
            Event::Stanza(stanza) => self.on_stanza(stanza).await,
        }
    }

    async fn join(&mut self, room: usize) {
        let occupant = self.shared.config.wikis[room].occupant.clone();
        self.set_room(room, RoomState::Joining);
        self.send(rooms::join(&occupant)).await;
    }

    fn set_room(&mut self, room: usize, state: RoomState) {
        self.rooms[room] = state;
        self.shared.joined[room].store(
            state == RoomState::Joined,
            std::sync::atomic::Ordering::Relaxed,
        );
        let joined = self
            .rooms
            .iter()
            .filter(|r| **r == RoomState::Joined)
            .count();
        self.shared.metrics.rooms_joined.set(joined as i64);
    }

    fn room_of(&self, from: Option<&Jid>) -> Option<usize> {
        let bare = from?.to_bare();
        self.shared.config.wikis.iter().position(|w| w.room == bare)
    }

    async fn on_stanza(&mut self, stanza: Stanza) {
        match stanza {
            Stanza::Presence(presence) => {
                let Some(room) = self.room_of(presence.from.as_ref()) else {
                    return;
                };
                let wiki = self.shared.config.wikis[room].id.clone();
                match rooms::classify(&presence) {
                    RoomPresence::Joined { created: true } => {
                        tracing::info!(%wiki, "room created; configuring it");
                        self.set_room(room, RoomState::Configuring);
                        let id = self.id("config-form");
                        self.iqs.insert(id.clone(), IqPurpose::ConfigForm(room));
                        let iq = rooms::config_request(&self.shared.config.wikis[room].room, id);
                        self.send(iq).await;
                    }
                    RoomPresence::Joined { created: false } => {
                        if self.rooms[room] != RoomState::Configuring {
                            tracing::info!(%wiki, "room joined");
                            self.set_room(room, RoomState::Joined);
                        }
                    }
                    RoomPresence::Left => {
                        tracing::warn!(%wiki, "removed from the room; rejoining later");
                        self.set_room(room, RoomState::Failed(Instant::now()));
                    }
                    RoomPresence::Error(why) => {
                        tracing::warn!(%wiki, error = %why, "joining the room failed; retrying later");
                        self.set_room(room, RoomState::Failed(Instant::now()));
                    }
                    RoomPresence::Other => {}
                }
            }
            Stanza::Iq(iq) => self.on_iq(iq).await,
            Stanza::Message(message) if message.type_ == MessageType::Error => {
                let room = self.room_of(message.from.as_ref());
                let wiki = room
                    .map(|r| self.shared.config.wikis[r].id.clone())
                    .unwrap_or_default();
                let error = rooms::error_condition(&message.payloads);
                tracing::warn!(%wiki, error = ?error, "the server refused a message");
            }
            Stanza::Message(_) => {}
        }
    }

    async fn on_iq(&mut self, iq: Iq) {
        match iq {
            Iq::Result { id, .. } if self.pubsub_answer(&id, None) => {}
            Iq::Error { id, error, .. } if self.pubsub_answer(&id, Some(&error)) => {}
            Iq::Result { id, payload, .. } => {
                let Some(purpose) = self.iqs.remove(&id) else {
                    return;
                };
                match purpose {
                    IqPurpose::ConfigForm(room) => self.submit_config(room, payload).await,
                    IqPurpose::ConfigSubmit(room) => {
                        tracing::info!(wiki = %self.shared.config.wikis[room].id, "room configured and joined");
                        self.set_room(room, RoomState::Joined);
                    }
                }
            }
            Iq::Error { id, error, .. } => {
                let Some(IqPurpose::ConfigForm(room) | IqPurpose::ConfigSubmit(room)) =
                    self.iqs.remove(&id)
                else {
                    return;
                };
                tracing::warn!(wiki = %self.shared.config.wikis[room].id, condition = ?error.defined_condition,
                    text = ?error.texts.values().next(), "room configuration refused; retrying later");
                self.set_room(room, RoomState::Failed(Instant::now()));
            }
            Iq::Get {
                from, id, payload, ..
            } => {
                let reply = session::answer_get(from, id, payload);
                self.send(reply).await;
            }
            Iq::Set { from, id, .. } => {
                let reply = session::unsupported(from, id);
                self.send(reply).await;
            }
        }
    }

    fn pubsub_answer(&mut self, id: &str, error: Option<&StanzaError>) -> bool {
        let config = &self.shared.config;
        self.pubsub
            .answer(id, error, &config.wikis, &self.shared.metrics)
    }

    async fn submit_config(&mut self, room: usize, form: Option<xmpp_parsers::minidom::Element>) {
        let wiki = self.shared.config.wikis[room].clone();
        let id = self.id("config-submit");
        let submitted = form
            .ok_or_else(|| "empty owner reply".to_owned())
            .and_then(|form| rooms::config_submit(&wiki.room, id.clone(), &form, &wiki.id));
        match submitted {
            Ok((iq, missing)) => {
                if !missing.is_empty() {
                    tracing::warn!(wiki = %wiki.id, ?missing, "the server's room form lacks settings the bridge wants");
                }
                self.iqs.insert(id, IqPurpose::ConfigSubmit(room));
                self.send(iq).await;
            }
            Err(e) => {
                tracing::warn!(wiki = %wiki.id, error = %e, "cannot configure the room; retrying later");
                self.set_room(room, RoomState::Failed(Instant::now()));
            }
        }
    }

    async fn retry_rooms(&mut self) {
        if !self.online {
            return;
        }
        for room in 0..self.rooms.len() {
            if matches!(self.rooms[room], RoomState::Failed(at) if at.elapsed() >= ROOM_RETRY) {
                self.join(room).await;
            }
        }
    }

    /// Hands queued changes of joined rooms to tokio-xmpp, one per room in turn, so a room with a long
    /// backlog never starves the others.
    async fn send_ready(&mut self) {
        if !self.online {
            return;
        }
        let rooms = self.rooms.len();
        let mut idle = 0;
        while self.inflight.len() < MAX_INFLIGHT && idle < rooms {
            let room = self.next_room;
            self.next_room = (self.next_room + 1) % rooms;
            let item = if self.rooms[room] == RoomState::Joined {
                let mut queues = self.shared.lock();
                let item = queues.pop(room);
                self.shared.gauge(&queues, room);
                item
            } else {
                None
            };
            let Some(item) = item else {
                idle += 1;
                continue;
            };
            idle = 0;
            // `online` implies a stream, so this hand-over always succeeds.
            let Some(token) = self.send(item.message.clone()).await else {
                let mut queues = self.shared.lock();
                queues.requeue(room, item);
                return;
            };
            self.next_id += 1;
            let seq = self.next_id;
            let mut waiter = token.clone();
            let stage = self.confirm;
            self.confirmations
                .push(Box::pin(async move { (seq, waiter.wait_for(stage).await) }));
            let wiki = &self.shared.config.wikis[room];
            if let Some(iq) = self
                .pubsub
                .publish(room, wiki, &item.message, &self.shared.metrics)
            {
                self.send(iq).await;
            }
            self.inflight.insert(seq, InFlight { room, item, token });
        }
    }

    fn on_confirmation(&mut self, seq: u64, state: Option<StanzaState>) {
        let Some(entry) = self.inflight.remove(&seq) else {
            return;
        };
        match state {
            Some(state) if confirmed(self.confirm, &state) => self.published(&entry),
            _ => self.requeue(vec![(seq, entry)]),
        }
    }

    /// After a lost connection: what was confirmed counts as published, the rest goes back to its queue.
    fn requeue_unsent(&mut self) {
        let mut unsent = Vec::new();
        let inflight: Vec<_> = self.inflight.drain().collect();
        for (seq, entry) in inflight {
            if confirmed(self.confirm, &entry.token.state()) {
                self.published(&entry);
            } else {
                unsent.push((seq, entry));
            }
        }
        self.requeue(unsent);
    }

    /// Counts a confirmed change, and moves the position the state file keeps.
    fn published(&self, entry: &InFlight) {
        self.shared
            .metrics
            .published(&self.shared.config.wikis[entry.room].id);
        if let (Some(rcid), Some(timestamp)) = (entry.item.rcid, &entry.item.timestamp) {
            self.shared.lock().confirm(entry.room, rcid, timestamp);
        }
    }

    fn requeue(&mut self, mut entries: Vec<(u64, InFlight)>) {
        if entries.is_empty() {
            return;
        }
        // Newest first, each to the front: the original order comes back.
        entries.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        let mut queues = self.shared.lock();
        let mut dropped = 0;
        for (_, entry) in entries {
            dropped += queues.requeue(entry.room, entry.item);
            self.shared.gauge(&queues, entry.room);
        }
        drop(queues);
        if dropped > 0 {
            self.shared.metrics.dropped("queue_full", dropped);
        }
    }

    /// Counts what could not be sent before the deadline and closes the stream politely (bounded).
    async fn finish(mut self) {
        self.requeue_unsent();
        let left = self.discard_queued();
        if left > 0 {
            self.shared.metrics.dropped("shutdown", left);
            tracing::warn!(dropped = left, "changes not published before the deadline");
        }
        if let Some(stream) = self.stream.take() {
            if tokio::time::timeout(Duration::from_secs(3), stream.close())
                .await
                .is_err()
            {
                tracing::warn!("closing the XMPP stream timed out");
            }
        }
    }
}

impl Session {
    fn discard_queued(&self) -> u64 {
        let mut queues = self.shared.lock();
        let mut left = 0;
        for room in 0..self.rooms.len() {
            left += queues.clear(room);
            self.shared.gauge(&queues, room);
        }
        left
    }
}

/// Whether a change reached the stage that counts as published on a stream confirming at `stage`.
fn confirmed(stage: StanzaStage, state: &StanzaState) -> bool {
    match state {
        StanzaState::Acked { .. } => true,
        StanzaState::Sent { .. } => stage == StanzaStage::Sent,
        _ => false,
    }
}
