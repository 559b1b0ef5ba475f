//! Random hostile input for the formatters' unit tests, deterministic so that failures reproduce.

use serde_json::Value;

use super::hostile::{HOSTILE, KEYS, PIECES};
use super::samples;
use crate::context::{FeedContext, PacketLayout};
use crate::event::Event;

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    /// Up to `max` hostile pieces.
    pub fn text(&mut self, max: usize) -> String {
        (0..self.below(max + 1))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }

    /// A random PHP-array-shaped value as `json_encode` writes it (lists as arrays, maps as objects).
    pub fn params(&mut self, depth: usize) -> Value {
        match self.below(if depth == 0 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 1),
            2 => Value::from(self.below(2000) as i64 - 1000),
            3 | 4 => Value::String(self.text(6)),
            5 => Value::Array((0..self.below(4)).map(|_| self.params(depth - 1)).collect()),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.below(5) + 1 {
                    let key = match self.below(6) {
                        0 => self.below(10).to_string(),
                        1 => KEYS[self.below(KEYS.len())].into(),
                        _ => self.text(3),
                    };
                    map.insert(key, self.params(depth - 1));
                }
                Value::Object(map)
            }
        }
    }
}

/// Feeds covering every packet option: plain, RC patrol with a channel, NP patrol only with an empty script
/// path, a script path of "0" (falsy to PHP), and hostile channel, server and wiki id.
pub fn feeds() -> Vec<FeedContext> {
    let plain = samples::context();
    let mut patrolling = samples::context();
    patrolling.use_rc_patrol = true;
    patrolling.channel = Some("#en.wikipedia".into());
    let mut np_only = samples::context();
    np_only.use_np_patrol = true;
    np_only.script_path = String::new();
    let mut zero_path = samples::context();
    zero_path.script_path = "0".into();
    let mut hostile = samples::context();
    hostile.channel = Some(HOSTILE.into());
    hostile.canonical_server = HOSTILE.into();
    hostile.wiki_id = HOSTILE.into();
    vec![plain, patrolling, np_only, zero_path, hostile]
}

/// `count` changes of every kind with random hostile title, summary, user, log params and feed options.
pub fn cases(seed: u64, count: usize) -> Vec<(Event, FeedContext)> {
    let mut rng = Rng::new(seed);
    let shapes = [
        samples::edit(),
        samples::new_page(),
        samples::log(None),
        samples::categorize(),
    ];
    (0..count)
        .map(|_| {
            let mut event = shapes[rng.below(shapes.len())].clone();
            event.title = rng.text(8);
            event.comment = rng.text(12);
            event.user = rng.text(4);
            if let Some(log) = &mut event.log {
                log.action_comment = rng.text(8);
                log.params_raw = (rng.below(4) > 0).then(|| rng.params(4));
            }
            let mut ctx = samples::context();
            ctx.channel = (rng.below(2) == 0).then(|| rng.text(3));
            ctx.use_rc_patrol = rng.below(2) == 0;
            ctx.packet_layout = [PacketLayout::Mw139, PacketLayout::Mw141][rng.below(2)];
            (event, ctx)
        })
        .collect()
}
