//! The XMPP side: one c2s session (tokio-xmpp's StanzaStream, which reconnects with exponential backoff,
//! 1 s doubling to 30 s), the rooms' join/configure state, and the sending of queued changes.
//!
//! A change leaves its queue only while its room is joined, and stays tracked until tokio-xmpp reports it
//! written to the transport (counted as published). When the connection is lost, every change not yet
//! written goes back to the front of its queue; tokio-xmpp may still write its own copy on the next stream,
//! but that copy arrives before the bridge has rejoined, so the room refuses it and nothing is doubled.

use crate::config::{split_host_port, Tls};
use crate::queue::Item;
use crate::rooms::{self, RoomPresence};
use crate::udp::Shared;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_xmpp::connect::{DnsConfig, StartTlsServerConnector, TcpServerConnector};
use tokio_xmpp::stanzastream::{
    Event, StanzaStage, StanzaState, StanzaStream, StanzaToken, StreamEvent,
};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::ping::Ping;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

/// tokio-xmpp's queue between this task and the socket; never filled, see MAX_INFLIGHT.
const STREAM_QUEUE: usize = 512;
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
    stream: StanzaStream,
    rooms: Vec<RoomState>,
    online: bool,
    sessions: u64,
    iqs: HashMap<String, IqPurpose>,
    next_id: u64,
    inflight: HashMap<u64, InFlight>,
    confirmations: FuturesUnordered<BoxFuture<'static, (u64, Option<StanzaState>)>>,
    next_room: usize,
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
            event = s.stream.next() => match event {
                Some(event) => s.on_event(event).await,
                None => break,
            },
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
        let cfg = &shared.config;
        let dns = match &cfg.server {
            Some(server) if server.parse::<SocketAddr>().is_ok() => DnsConfig::addr(server),
            Some(server) => {
                let (host, port) = split_host_port(server).expect("checked by config.rs");
                DnsConfig::no_srv(host, port)
            }
            None => DnsConfig::srv_default_client(cfg.jid.domain().as_str()),
        };
        let jid = Jid::from(cfg.jid.clone());
        let password = cfg.password.clone();
        let timeouts = Timeouts::tight();
        let stream = match cfg.tls {
            Tls::Starttls => StanzaStream::new_c2s(
                StartTlsServerConnector::from(dns),
                jid,
                password,
                timeouts,
                STREAM_QUEUE,
            ),
            Tls::None => StanzaStream::new_c2s(
                TcpServerConnector::from(dns),
                jid,
                password,
                timeouts,
                STREAM_QUEUE,
            ),
        };
        tracing::info!(jid = %cfg.jid, server = ?cfg.server, tls = ?cfg.tls, "connecting");
        Session {
            rooms: vec![RoomState::Out; cfg.wikis.len()],
            shared,
            stream,
            online: false,
            sessions: 0,
            iqs: HashMap::new(),
            next_id: 0,
            inflight: HashMap::new(),
            confirmations: FuturesUnordered::new(),
            next_room: 0,
        }
    }

    fn queued(&self) -> usize {
        self.shared
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .total()
    }

    fn id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!("rcemit-{kind}-{}", self.next_id)
    }

    async fn send(&mut self, stanza: impl Into<Stanza>) -> StanzaToken {
        self.stream.send(Box::new(stanza.into())).await
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Stream(StreamEvent::Reset { bound_jid, .. }) => {
                self.sessions += 1;
                if self.sessions > 1 {
                    self.shared.metrics.reconnects.inc();
                }
                tracing::info!(%bound_jid, session = self.sessions, "online; joining rooms");
                self.requeue_unsent();
                self.online = true;
                for room in 0..self.rooms.len() {
                    self.join(room).await;
                }
            }
            Event::Stream(StreamEvent::Suspended) => {
                tracing::warn!("connection lost; tokio-xmpp reconnects with backoff");
                self.online = false;
                self.requeue_unsent();
            }
            Event::Stream(StreamEvent::Resumed) => {
                // XEP-0198 resumption: the rooms still know us, and tokio-xmpp resends what was unacked.
                tracing::info!("session resumed");
                self.online = true;
            }
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
                let error = message
                    .payloads
                    .iter()
                    .find(|p| p.name() == "error")
                    .map(|e| {
                        e.children()
                            .map(|c| c.name().to_owned())
                            .collect::<Vec<_>>()
                            .join(" ")
                    });
                tracing::warn!(%wiki, error = ?error, "the server refused a message");
            }
            Stanza::Message(_) => {}
        }
    }

    async fn on_iq(&mut self, iq: Iq) {
        match iq {
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
                let reply = if Ping::try_from(payload).is_ok() {
                    Iq::Result {
                        from: None,
                        to: from,
                        id,
                        payload: None,
                    }
                } else {
                    unsupported(from, id)
                };
                self.send(reply).await;
            }
            Iq::Set { from, id, .. } => {
                let reply = unsupported(from, id);
                self.send(reply).await;
            }
        }
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
                let mut queues = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
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
            let token = self.send(item.message.clone()).await;
            self.next_id += 1;
            let seq = self.next_id;
            let mut waiter = token.clone();
            self.confirmations.push(Box::pin(async move {
                (seq, waiter.wait_for(StanzaStage::Sent).await)
            }));
            self.inflight.insert(seq, InFlight { room, item, token });
        }
    }

    fn on_confirmation(&mut self, seq: u64, state: Option<StanzaState>) {
        let Some(entry) = self.inflight.remove(&seq) else {
            return;
        };
        match state {
            Some(StanzaState::Sent { .. } | StanzaState::Acked { .. }) => {
                self.shared
                    .metrics
                    .published(&self.shared.config.wikis[entry.room].id);
            }
            _ => self.requeue(vec![(seq, entry)]),
        }
    }

    /// After a lost connection: what was written counts as published, the rest goes back to its queue.
    fn requeue_unsent(&mut self) {
        let mut unsent = Vec::new();
        for (seq, entry) in self.inflight.drain() {
            let state = entry.token.state();
            if matches!(state, StanzaState::Sent { .. } | StanzaState::Acked { .. }) {
                self.shared
                    .metrics
                    .published(&self.shared.config.wikis[entry.room].id);
            } else {
                unsent.push((seq, entry));
            }
        }
        self.requeue(unsent);
    }

    fn requeue(&mut self, mut entries: Vec<(u64, InFlight)>) {
        if entries.is_empty() {
            return;
        }
        // Newest first, each to the front: the original order comes back.
        entries.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        let mut queues = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
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
        if tokio::time::timeout(Duration::from_secs(3), self.stream.close())
            .await
            .is_err()
        {
            tracing::warn!("closing the XMPP stream timed out");
        }
    }
}

impl Session {
    fn discard_queued(&self) -> u64 {
        let mut queues = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
        let mut left = 0;
        for room in 0..self.rooms.len() {
            while queues.pop(room).is_some() {
                left += 1;
            }
            self.shared.gauge(&queues, room);
        }
        left
    }
}

fn unsupported(to: Option<Jid>, id: String) -> Iq {
    let error = StanzaError::new(
        ErrorType::Cancel,
        DefinedCondition::ServiceUnavailable,
        "en",
        "not supported",
    );
    Iq::Error {
        from: None,
        to,
        id,
        error,
        payload: None,
    }
}
