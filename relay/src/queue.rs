//! Per-room bounded queues (by count and bytes), kept in rcid order, and each room's *horizon*: the highest
//! rcid such that every change up to it was handed to the XMPP stream, is queued, or is known to be missing
//! for a reason (see catchup.rs). A queued change leaves only in order: when the change at the head is not
//! the next rcid after the horizon, the room holds it until the gap is repaired or explained.
//!
//! A room that cannot be joined only fills its own queue; when full, the oldest change goes (a live feed
//! values the newest), counted as dropped{reason="queue_full"}; the catch-up brings it back later when the
//! wiki has an api.php.

use std::collections::VecDeque;
use xmpp_parsers::message::Message;

/// One change ready to send.
#[derive(Debug, Clone)]
pub struct Item {
    pub message: Message,
    /// What the change costs the queue: the datagram's size plus the body's.
    pub bytes: usize,
    /// The change's rcid and timestamp; `None` when the feed's rcprop set leaves them out (no ordering and
    /// no gap repair for such changes).
    pub rcid: Option<u64>,
    pub timestamp: Option<String>,
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
    horizon: Option<Horizon>,
    /// The newest change the server confirmed: what the state file keeps across restarts.
    confirmed: Option<Horizon>,
    /// How often a dropped change moved the horizon back (a catch-up that saw it move must not cover it).
    forgotten: u64,
}

impl RoomQueue {
    /// A dropped change is no longer dealt with: when it was behind the horizon (fetched earlier, or put back
    /// after a lost connection), the horizon goes back to just before it, so that a gap shows again and a
    /// catch-up fetches it, from its own time at the latest.
    fn forget(&mut self, item: &Item) {
        let (Some(rcid), Some(h)) = (item.rcid, self.horizon.as_mut()) else {
            return;
        };
        if rcid <= h.rcid {
            self.forgotten += 1;
            h.rcid = rcid - 1;
            if let Some(ts) = item.timestamp.as_ref().filter(|ts| **ts < h.timestamp) {
                h.timestamp = ts.clone();
            }
        }
    }
}

/// Every rcid up to `rcid` is dealt with; `timestamp` is the newest timestamp among those changes (where a
/// catch-up starts: api.php lists by timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Horizon {
    pub rcid: u64,
    pub timestamp: String,
}

impl Horizon {
    /// Moves forward to `rcid` and `timestamp` where they are newer (ISO 8601 UTC compares as text). A change
    /// without a timestamp (a feed whose rcprop leaves it out) moves the rcid only; the timestamp stays empty
    /// until one comes, and a catch-up needs one.
    fn raise(slot: &mut Option<Horizon>, rcid: u64, timestamp: Option<&str>) {
        let h = slot.get_or_insert_with(|| Horizon {
            rcid,
            timestamp: String::new(),
        });
        h.rcid = h.rcid.max(rcid);
        if let Some(ts) = timestamp.filter(|ts| *ts > h.timestamp.as_str()) {
            h.timestamp = ts.to_owned();
        }
    }
}

/// A change this far behind the horizon is no late copy: the wiki's rcids started again (a reinstalled wiki, or
/// another wiki sending under the same id). The room then starts over from it.
pub const RESTART_BELOW: u64 = 100_000;

/// What `push` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Older changes dropped to make room.
    pub dropped: u64,
    /// The change was already queued or behind the horizon, and was not queued again.
    pub duplicate: bool,
    /// The change was RESTART_BELOW or more behind the horizon: the horizon and the position were reset.
    pub restarted: bool,
}

impl Queues {
    pub fn new(rooms: usize, max_messages: usize, max_bytes: usize) -> Queues {
        Queues {
            rooms: (0..rooms).map(|_| RoomQueue::default()).collect(),
            max_messages,
            max_bytes,
        }
    }

    /// Inserts in rcid order (appends when the change has no rcid), then drops the oldest changes beyond the
    /// bounds.
    pub fn push(&mut self, room: usize, item: Item) -> Pushed {
        self.insert(room, item, true)
    }

    /// Inserts a change that fills a gap at the head of a full queue: beyond the bounds, since dropping the
    /// oldest would drop the change itself (catchup.rs bounds how many it inserts this way).
    pub fn push_over(&mut self, room: usize, item: Item) -> Pushed {
        self.insert(room, item, false)
    }

    fn insert(&mut self, room: usize, item: Item, bounded: bool) -> Pushed {
        let q = &mut self.rooms[room];
        let mut restarted = false;
        let at = match item.rcid {
            None => q.items.len(),
            Some(rcid) => {
                if let Some(h) = &q.horizon {
                    if rcid.saturating_add(RESTART_BELOW) <= h.rcid {
                        q.horizon = None;
                        q.confirmed = None;
                        restarted = true;
                    } else if rcid <= h.rcid {
                        return Pushed {
                            duplicate: true,
                            ..Pushed::default()
                        };
                    }
                }
                // Live changes arrive in order: look from the back.
                let mut at = q.items.len();
                while at > 0 && q.items[at - 1].rcid.is_some_and(|r| r >= rcid) {
                    if q.items[at - 1].rcid == Some(rcid) {
                        return Pushed {
                            duplicate: true,
                            ..Pushed::default()
                        };
                    }
                    at -= 1;
                }
                at
            }
        };
        q.bytes += item.bytes;
        q.items.insert(at, item);
        let mut dropped = 0;
        while bounded
            && (q.items.len() > self.max_messages
                || (q.bytes > self.max_bytes && q.items.len() > 1))
        {
            let old = q.items.pop_front().expect("non-empty: len > 1");
            q.bytes -= old.bytes;
            q.forget(&old);
            dropped += 1;
        }
        Pushed {
            dropped,
            duplicate: false,
            restarted,
        }
    }

    /// Puts back a change that was handed over but not confirmed, at the front (order kept); returns 1 if
    /// the queue was full and its newest change had to go instead.
    pub fn requeue(&mut self, room: usize, item: Item) -> u64 {
        let q = &mut self.rooms[room];
        q.bytes += item.bytes;
        q.items.push_front(item);
        let mut dropped = 0;
        while q.items.len() > self.max_messages || (q.bytes > self.max_bytes && q.items.len() > 1) {
            let newest = q.items.pop_back().expect("non-empty: len > 1");
            q.bytes -= newest.bytes;
            q.forget(&newest);
            dropped += 1;
        }
        dropped
    }

    /// The head change if it may leave now: it has no rcid, the room has no horizon yet, or it is at most
    /// the next rcid after the horizon. Moves the horizon.
    pub fn pop(&mut self, room: usize) -> Option<Item> {
        let q = &mut self.rooms[room];
        let head = q.items.front()?;
        if let (Some(rcid), Some(h)) = (head.rcid, &q.horizon) {
            if rcid > h.rcid + 1 {
                return None;
            }
        }
        let item = q.items.pop_front()?;
        q.bytes -= item.bytes;
        if let Some(rcid) = item.rcid {
            Horizon::raise(&mut q.horizon, rcid, item.timestamp.as_deref());
        }
        Some(item)
    }

    /// The missing rcids before the head, `(first, head)`, when the head must wait for them.
    pub fn gap(&self, room: usize) -> Option<(u64, u64)> {
        let q = &self.rooms[room];
        let head = q.items.front()?.rcid?;
        let h = q.horizon.as_ref()?;
        (head > h.rcid + 1).then_some((h.rcid + 1, head))
    }

    pub fn horizon(&self, room: usize) -> Option<Horizon> {
        self.rooms[room].horizon.clone()
    }

    /// Where a catch-up starts: the horizon, moved over the queued changes that follow it without a gap
    /// (they need not be fetched again).
    pub fn resume_point(&self, room: usize) -> Option<Horizon> {
        let q = &self.rooms[room];
        let mut at = q.horizon.clone()?;
        for item in &q.items {
            match item.rcid {
                Some(rcid) if rcid == at.rcid + 1 => {
                    at.rcid = rcid;
                    if let Some(ts) = item.timestamp.as_ref().filter(|ts| **ts > at.timestamp) {
                        at.timestamp = ts.clone();
                    }
                }
                Some(rcid) if rcid <= at.rcid => {}
                _ => break,
            }
        }
        Some(at)
    }

    /// Sets the horizon (a restart's saved position), or moves it forward past ids that are dealt with
    /// (fetched, explained or given up); never backwards.
    pub fn advance(&mut self, room: usize, rcid: u64, timestamp: &str) {
        Horizon::raise(&mut self.rooms[room].horizon, rcid, Some(timestamp));
    }

    /// Records that the server confirmed a change.
    pub fn confirm(&mut self, room: usize, rcid: u64, timestamp: &str) {
        Horizon::raise(&mut self.rooms[room].confirmed, rcid, Some(timestamp));
    }

    pub fn confirmed(&self, room: usize) -> Option<Horizon> {
        self.rooms[room].confirmed.clone()
    }

    /// Changes so far dropped behind the horizon (see `RoomQueue::forget`).
    pub fn forgotten(&self, room: usize) -> u64 {
        self.rooms[room].forgotten
    }

    /// The queued rcids in (after, upto].
    pub fn rcids_between(
        &self,
        room: usize,
        after: u64,
        upto: u64,
    ) -> impl Iterator<Item = u64> + '_ {
        self.rooms[room]
            .items
            .iter()
            .filter_map(|i| i.rcid)
            .filter(move |r| (after + 1..=upto).contains(r))
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

    /// Empties one room's queue; returns how many changes it held.
    pub fn clear(&mut self, room: usize) -> u64 {
        let q = &mut self.rooms[room];
        let n = q.items.len() as u64;
        q.items.clear();
        q.bytes = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(bytes: usize, id: &str) -> Item {
        let mut message = Message::groupchat(None);
        message.id = Some(xmpp_parsers::message::Id(id.into()));
        Item {
            message,
            bytes,
            rcid: None,
            timestamp: None,
        }
    }

    fn change(rcid: u64) -> Item {
        Item {
            rcid: Some(rcid),
            timestamp: Some(format!("2026-12-01T00:00:{:02}Z", rcid % 60)),
            ..item(10, &rcid.to_string())
        }
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
        assert_eq!(q.push(1, item(60, "a")).dropped, 0);
        assert_eq!(q.push(1, item(60, "b")).dropped, 1);
        assert_eq!((q.len(1), q.bytes(1)), (1, 60));
        // One change larger than the byte bound still passes alone.
        assert_eq!(q.push(1, item(500, "c")).dropped, 1);
        assert_eq!(id(q.pop(1).unwrap()), "c");
        assert_eq!(q.requeue(0, item(10, "x")), 0);
        assert_eq!(id(q.pop(0).unwrap()), "x");
        assert_eq!(q.total(), 2);
    }

    #[test]
    fn a_gap_in_a_full_queue_is_filled_beyond_the_bounds() {
        let mut q = Queues::new(1, 2, 10_000);
        q.advance(0, 1, "2026-12-01T00:00:01Z");
        q.push(0, change(5));
        q.push(0, change(6));
        assert_eq!(
            q.push(0, change(4)).dropped,
            1,
            "a bounded push drops the change itself"
        );
        assert_eq!(q.gap(0), Some((2, 5)));
        for rcid in [2, 3, 4] {
            assert_eq!(q.push_over(0, change(rcid)), Pushed::default());
        }
        assert_eq!(q.len(0), 5);
        let order: Vec<_> = std::iter::from_fn(|| q.pop(0))
            .filter_map(|i| i.rcid)
            .collect();
        assert_eq!(order, [2, 3, 4, 5, 6]);
    }

    #[test]
    fn a_dropped_change_behind_the_horizon_is_a_gap_again() {
        let mut q = Queues::new(1, 3, 10_000);
        q.advance(0, 1, "2026-12-01T00:00:01Z");
        for rcid in [3, 4, 5] {
            q.push(0, change(rcid));
        }
        // A catch-up fills 2 and covers up to 5; then the queue overflows while nothing can leave.
        q.push_over(0, change(2));
        q.advance(0, 5, "2026-12-01T00:00:05Z");
        assert_eq!(q.push(0, change(6)).dropped, 2);
        assert_eq!(
            q.gap(0),
            Some((2, 4)),
            "2 and 3 were dropped: fetch them again"
        );
        assert_eq!(q.resume_point(0).unwrap().timestamp, "2026-12-01T00:00:02Z");
    }

    #[test]
    fn a_change_without_timestamp_still_moves_the_horizon() {
        let mut q = Queues::new(1, 100, 10_000);
        for rcid in [3, 4] {
            q.push(
                0,
                Item {
                    timestamp: None,
                    ..change(rcid)
                },
            );
        }
        q.pop(0);
        assert_eq!(q.pop(0).unwrap().rcid, Some(4), "4 follows 3");
        assert_eq!(q.horizon(0).unwrap().timestamp, "");
    }

    #[test]
    fn keeps_rcid_order_refuses_duplicates_and_holds_at_a_gap() {
        let mut q = Queues::new(1, 100, 10_000);
        for rcid in [5, 7, 6, 9] {
            assert!(!q.push(0, change(rcid)).duplicate);
        }
        assert!(q.push(0, change(7)).duplicate);
        // No horizon yet: the first change leaves, and sets it.
        assert_eq!(q.pop(0).unwrap().rcid, Some(5));
        assert!(q.push(0, change(5)).duplicate, "behind the horizon");
        assert_eq!(q.pop(0).unwrap().rcid, Some(6));
        assert_eq!(q.pop(0).unwrap().rcid, Some(7));
        assert_eq!(q.gap(0), Some((8, 9)));
        assert!(q.pop(0).is_none(), "9 waits for 8");
        assert!(!q.push(0, change(8)).duplicate);
        assert_eq!(q.gap(0), None);
        assert_eq!(
            q.resume_point(0).unwrap().rcid,
            9,
            "8 and 9 follow 7 without a gap"
        );
        assert_eq!(q.pop(0).unwrap().rcid, Some(8));
        assert_eq!(q.pop(0).unwrap().rcid, Some(9));
        assert_eq!(q.horizon(0).unwrap().rcid, 9);
        q.push(0, change(11));
        assert_eq!(q.resume_point(0).unwrap().rcid, 9, "10 is missing");
    }

    #[test]
    fn an_rcid_far_behind_the_horizon_starts_the_room_over() {
        let mut q = Queues::new(1, 100, 10_000);
        q.push(0, change(RESTART_BELOW + 50));
        q.pop(0);
        q.confirm(0, RESTART_BELOW + 50, "2026-12-01T00:00:00Z");
        assert!(q.push(0, change(60)).duplicate, "a late copy");
        let pushed = q.push(0, change(49));
        assert!(pushed.restarted && !pushed.duplicate);
        assert_eq!((q.horizon(0), q.confirmed(0)), (None, None));
        assert_eq!(q.pop(0).unwrap().rcid, Some(49));
    }

    #[test]
    fn advancing_the_horizon_releases_the_head_and_keeps_the_newest_timestamp() {
        let mut q = Queues::new(1, 100, 10_000);
        q.advance(0, 10, "2026-12-01T00:00:10Z");
        q.push(0, change(14));
        assert_eq!(q.gap(0), Some((11, 14)));
        q.advance(0, 13, "2026-12-01T00:00:05Z");
        let h = q.horizon(0).unwrap();
        assert_eq!((h.rcid, h.timestamp.as_str()), (13, "2026-12-01T00:00:10Z"));
        q.advance(0, 2, "2026-12-01T00:00:20Z");
        let h = q.horizon(0).unwrap();
        assert_eq!(
            (h.rcid, h.timestamp.as_str()),
            (13, "2026-12-01T00:00:20Z"),
            "rcid never backwards"
        );
        assert_eq!(q.pop(0).unwrap().rcid, Some(14));
    }
}
