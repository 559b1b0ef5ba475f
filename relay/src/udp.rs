//! UDP input: reads datagrams, refuses what is not acceptable (counted by reason), and queues each change
//! for its wiki's room. Never waits on XMPP: the queue is bounded and a push never blocks.

use crate::body::body;
use crate::config::Config;
use crate::datagram::{self, Change};
use crate::metrics::Metrics;
use crate::queue::{Item, Queues};
use crate::stanza;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

/// What the UDP side shares with the XMPP side.
pub struct Shared {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub queues: Mutex<Queues>,
    /// Woken after every push, so the XMPP side sends without polling.
    pub pushed: Notify,
    /// Per room: live changes queued so far (the catch-up looks for a quiet feed), whether a catch-up
    /// should look for missed changes (set after an XMPP reconnect), and whether the room is joined (catch-ups
    /// wait for it: nothing would drain what they fetch).
    pub live: Vec<AtomicU64>,
    pub recheck: Vec<AtomicBool>,
    pub joined: Vec<AtomicBool>,
    wiki_index: HashMap<String, usize>,
}

impl Shared {
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Shared {
        let wiki_index = config
            .wikis
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), i))
            .collect();
        let queues = Queues::new(
            config.wikis.len(),
            config.queue_max_messages,
            config.queue_max_bytes,
        );
        let rooms = config.wikis.len();
        Shared {
            config,
            metrics,
            queues: Mutex::new(queues),
            pushed: Notify::new(),
            live: (0..rooms).map(|_| AtomicU64::new(0)).collect(),
            recheck: (0..rooms).map(|_| AtomicBool::new(false)).collect(),
            joined: (0..rooms).map(|_| AtomicBool::new(false)).collect(),
            wiki_index,
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Updates the queue gauges of one room; call with the lock held.
    pub fn gauge(&self, queues: &Queues, room: usize) {
        self.metrics.set_queue(
            &self.config.wikis[room].id,
            queues.len(room),
            queues.bytes(room),
        );
    }

    /// Handles one datagram; returns the reason when it was refused.
    pub fn accept(&self, data: &[u8], from: SocketAddr) -> Result<(), &'static str> {
        self.metrics.received.inc();
        let result = self.route(data, from);
        if let Err(reason) = result {
            self.metrics.rejected(reason);
            tracing::debug!(%from, reason, "datagram rejected");
        }
        result
    }

    fn route(&self, data: &[u8], from: SocketAddr) -> Result<(), &'static str> {
        if !self.config.allows(from.ip()) {
            return Err("source");
        }
        if data.len() > self.config.max_datagram_bytes {
            return Err("size");
        }
        let change = datagram::parse(data).map_err(|e| e.reason())?;
        let room = *self.wiki_index.get(&change.wikiid).ok_or("unknown_wiki")?;
        let item = self.item(room, &change, data.len(), None)?;
        self.live[room].fetch_add(1, Ordering::Relaxed);
        self.push(room, item, true);
        Ok(())
    }

    /// The message for one change of `room`'s wiki; `delay`: the XEP-0203 mark of a change published late.
    pub fn item(
        &self,
        room: usize,
        change: &Change,
        datagram_bytes: usize,
        delay: Option<xmpp_parsers::delay::Delay>,
    ) -> Result<Item, &'static str> {
        let wiki = &self.config.wikis[room];
        let text = body(&change.rc, &wiki.index_url);
        let rc = stanza::rc_element(&change.rc).ok_or("malformed")?;
        let bytes = datagram_bytes + text.len();
        let mut message = stanza::message(&wiki.room, text, rc);
        if let Some(delay) = delay {
            message.payloads.push(delay.into());
        }
        Ok(Item {
            message,
            bytes,
            rcid: change.rc.attr("rcid").and_then(|r| r.parse().ok()),
            timestamp: change.rc.attr("timestamp").map(str::to_owned),
        })
    }

    /// Queues a change (`bounded`: dropping the oldest beyond the queue's bounds, see `Queues::push_over`);
    /// returns false when it was a duplicate (already queued or published).
    pub fn push(&self, room: usize, item: Item, bounded: bool) -> bool {
        let mut queues = self.lock();
        let pushed = if bounded {
            queues.push(room, item)
        } else {
            queues.push_over(room, item)
        };
        self.gauge(&queues, room);
        drop(queues);
        if pushed.dropped > 0 {
            self.metrics.dropped("queue_full", pushed.dropped);
        }
        if pushed.restarted {
            let wiki = &self.config.wikis[room].id;
            tracing::warn!(%wiki, "rcids went back by {} or more: the wiki's ids started again; the room starts over", crate::queue::RESTART_BELOW);
            self.metrics.restarted(wiki);
        }
        if pushed.duplicate {
            self.metrics.duplicate(&self.config.wikis[room].id);
        } else {
            self.pushed.notify_one();
        }
        !pushed.duplicate
    }
}

/// Receives on one socket until the task is dropped.
pub async fn receive(socket: UdpSocket, shared: Arc<Shared>) {
    // One byte more than the limit, so an oversize datagram shows as such instead of being cut silently.
    let mut buf = vec![0u8; shared.config.max_datagram_bytes + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let _ = shared.accept(&buf[..n], from);
            }
            // ICMP errors and the like must not end the loop.
            Err(e) => {
                tracing::warn!(error = %e, "UDP receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
