//! The per-event pipeline of the sender thread: decode the payload, render it in the feed's format, fit it
//! into a datagram, send it, and count the outcome.
//!
//! Feeds of one render group (same format, equal context) that receive the same payload bytes one after the
//! other (the PHP side calls emit once per feed for each change) share one decode and one render. Nothing
//! here knows about the queue or the thread: [`super::runtime`] owns those and calls in.

use std::sync::atomic::Ordering::Relaxed;

use super::destinations::Destinations;
use super::registry;
use super::stats::{bump, Counters};
use crate::event::Event;
use crate::feed::size::Fit;
use crate::payload;

/// The pipeline's state, owned by one sender thread.
#[derive(Default)]
pub struct Pipeline {
    destinations: Destinations,
    /// The last payload seen and what it decoded to (`None`: invalid).
    last: Option<(Box<[u8]>, Option<Event>)>,
    /// Unframed renders of the last payload, by render group.
    renders: Vec<(u32, Option<Vec<u8>>)>,
}

impl Pipeline {
    /// Sends one change to one feed, counting the outcome in exactly one counter.
    pub fn event(&mut self, handle: u32, payload: Box<[u8]>, counters: &Counters) {
        // Handles were checked by emit, and feeds are never removed.
        let Some(entry) = registry::get(handle) else {
            bump(&counters.invalid_payload);
            return;
        };
        let destination = &entry.feed.uri.destination;
        if !self.destinations.resolve(destination, counters) {
            return bump(&counters.unresolved);
        }
        if self.last.as_ref().map(|(bytes, _)| bytes) != Some(&payload) {
            let event = payload::decode(&payload).ok();
            if event.as_ref().is_some_and(|e| e.part_failed) {
                bump(&counters.part_failures);
            }
            self.last = Some((payload, event));
            self.renders.clear();
        }
        let Some((_, Some(event))) = &self.last else {
            bump(&counters.invalid_payload);
            return;
        };
        let index = match self
            .renders
            .iter()
            .position(|(group, _)| *group == entry.group)
        {
            Some(index) => index,
            None => {
                self.renders.push((entry.group, entry.feed.render(event)));
                self.renders.len() - 1
            }
        };
        let datagram = match entry.feed.datagram(event, self.renders[index].1.as_deref()) {
            Fit::Whole(bytes) => bytes,
            Fit::Shortened(bytes) => {
                bump(&counters.shortened);
                bytes
            }
            Fit::Nothing => return bump(&counters.skipped),
            Fit::Oversize => return bump(&counters.dropped_oversize),
        };
        if self.destinations.send(destination, &datagram) {
            bump(&counters.sent);
            counters
                .bytes_sent
                .fetch_add(datagram.len() as u64, Relaxed);
        } else {
            bump(&counters.send_errors);
        }
    }

    /// Drops the shared decode and renders after a panic left them in doubt.
    pub fn forget(&mut self) {
        self.last = None;
        self.renders.clear();
    }
}
