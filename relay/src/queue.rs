//! Per-room bounded queues (by count and bytes). A room that cannot be joined only fills its own queue; when
//! full, the oldest change goes (a live feed values the newest), counted as dropped{reason="queue_full"}.

use std::collections::VecDeque;
use xmpp_parsers::message::Message;

/// One change ready to send.
#[derive(Debug, Clone)]
pub struct Item {
    pub message: Message,
    /// What the change costs the queue: the datagram's size plus the body's.
    pub bytes: usize,
}

#[derive(Debug)]
pub struct Queues {
    rooms: Vec<RoomQueue>,
    max_messages: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct RoomQueue {
    items: VecDeque<Item>,
    bytes: usize,
}

impl Queues {
    pub fn new(rooms: usize, max_messages: usize, max_bytes: usize) -> Queues {
        Queues {
            rooms: (0..rooms).map(|_| RoomQueue::default()).collect(),
            max_messages,
            max_bytes,
        }
    }

    /// Appends; returns how many older changes were dropped to make room.
    pub fn push(&mut self, room: usize, item: Item) -> u64 {
        let q = &mut self.rooms[room];
        q.bytes += item.bytes;
        q.items.push_back(item);
        let mut dropped = 0;
        while q.items.len() > self.max_messages || (q.bytes > self.max_bytes && q.items.len() > 1) {
            let old = q.items.pop_front().expect("non-empty: len > 1");
            q.bytes -= old.bytes;
            dropped += 1;
        }
        dropped
    }

    /// Puts back a change that could not be sent, at the front (order kept); returns 1 if the queue was full
    /// and its newest change had to go instead.
    pub fn requeue(&mut self, room: usize, item: Item) -> u64 {
        let q = &mut self.rooms[room];
        q.bytes += item.bytes;
        q.items.push_front(item);
        let mut dropped = 0;
        while q.items.len() > self.max_messages || (q.bytes > self.max_bytes && q.items.len() > 1) {
            let newest = q.items.pop_back().expect("non-empty: len > 1");
            q.bytes -= newest.bytes;
            dropped += 1;
        }
        dropped
    }

    pub fn pop(&mut self, room: usize) -> Option<Item> {
        let q = &mut self.rooms[room];
        let item = q.items.pop_front()?;
        q.bytes -= item.bytes;
        Some(item)
    }

    pub fn len(&self, room: usize) -> usize {
        self.rooms[room].items.len()
    }

    pub fn bytes(&self, room: usize) -> usize {
        self.rooms[room].bytes
    }

    pub fn total(&self) -> usize {
        self.rooms.iter().map(|q| q.items.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(bytes: usize, id: &str) -> Item {
        let mut message = Message::groupchat(None);
        message.id = Some(xmpp_parsers::message::Id(id.into()));
        Item { message, bytes }
    }

    fn id(item: Item) -> String {
        item.message.id.unwrap().0
    }

    #[test]
    fn bounds_by_count_and_bytes_dropping_the_oldest() {
        let mut q = Queues::new(2, 3, 100);
        for i in 0..5 {
            q.push(0, item(10, &i.to_string()));
        }
        assert_eq!(q.len(0), 3);
        assert_eq!(id(q.pop(0).unwrap()), "2");
        assert_eq!(q.push(1, item(60, "a")), 0);
        assert_eq!(q.push(1, item(60, "b")), 1);
        assert_eq!((q.len(1), q.bytes(1)), (1, 60));
        // One change larger than the byte bound still passes alone.
        assert_eq!(q.push(1, item(500, "c")), 1);
        assert_eq!(id(q.pop(1).unwrap()), "c");
        assert_eq!(q.requeue(0, item(10, "x")), 0);
        assert_eq!(id(q.pop(0).unwrap()), "x");
        assert_eq!(q.total(), 2);
    }
}
