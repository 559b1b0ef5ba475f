//! xmlrc formatter (being written).

use crate::context::FeedContext;
use crate::event::Event;

pub fn format(_event: &Event, _ctx: &FeedContext) -> Vec<u8> {
    todo!()
}
