//! The packet core's `MachineReadableRCFeedFormatter::getLine()` builds, shared by the `json` and `xml`
//! formats: the same keys in the same order with the same PHP value types, so each format only has to print
//! it the way `FormatJson::encode()` or `ApiFormatXml::recXmlPrint()` does.

use serde_json::Value;

use std::borrow::Cow;

use crate::context::{FeedContext, PacketLayout};
use crate::event::{ChangeType, Event, Patrolled};
use crate::format::urls;

/// One packet value, typed as the PHP packet holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Null,
    Int(i64),
    Str(&'a str),
    /// A string computed for this packet (the URLs).
    String(Cow<'a, str>),
    Bool(bool),
    /// `[ 'old' => ..., 'new' => ... ]` of nullable integers (`length`, `revision`).
    OldNew(Option<i64>, Option<i64>),
    /// `log_params`: arbitrary PHP data, as decoded from PHP's `json_encode` output.
    Json(&'a Value),
}

/// The packet's entries in core's order.
pub fn build<'a>(event: &'a Event, ctx: &'a FeedContext) -> Vec<(&'static str, Field<'a>)> {
    let mut packet = Vec::with_capacity(20);
    // A change published to feeds without being saved (`ManualLogEntry::publish( $id, 'udp' )`, e.g. patrol
    // log entries) has no rc_id: core sends null, the payload carries 0 (rc_id 0 never exists).
    let id = match event.rc_id {
        0 => Field::Null,
        id => Field::Int(id),
    };
    let urls = ctx.packet_layout == PacketLayout::Mw141;
    packet.extend([
        ("id", id),
        ("type", Field::Str(event.change_type.name())),
        ("namespace", Field::Int(event.namespace)),
        ("title", Field::Str(&event.title)),
    ]);
    if urls {
        packet.push(("title_url", Field::String(urls::title_url(event, ctx))));
    }
    packet.extend([
        ("comment", Field::Str(&event.comment)),
        ("timestamp", Field::Int(event.timestamp)),
        ("user", Field::Str(&event.user)),
        ("bot", Field::Bool(event.bot)),
    ]);
    if urls {
        let notify_url = urls::notify_url(event, ctx).map_or(Field::Null, Field::String);
        packet.push(("notify_url", notify_url));
    }
    if let Some(channel) = &ctx.channel {
        packet.push(("channel", Field::Str(channel)));
    }
    let kind = event.change_type;
    if matches!(kind, ChangeType::Edit | ChangeType::New) {
        packet.push(("minor", Field::Bool(event.minor)));
        if ctx.use_rc_patrol || (kind == ChangeType::New && ctx.use_np_patrol) {
            // `(bool)rc_patrolled`: autopatrolled (2) counts as patrolled.
            packet.push((
                "patrolled",
                Field::Bool(event.patrolled != Patrolled::Unpatrolled),
            ));
        }
    }
    match kind {
        ChangeType::Edit => packet.extend([
            ("length", Field::OldNew(event.old_len, event.new_len)),
            (
                "revision",
                Field::OldNew(Some(event.last_oldid), Some(event.this_oldid)),
            ),
        ]),
        ChangeType::New => packet.extend([
            ("length", Field::OldNew(None, event.new_len)),
            ("revision", Field::OldNew(None, Some(event.this_oldid))),
        ]),
        ChangeType::Log => {
            if let Some(log) = &event.log {
                packet.extend([
                    ("log_id", Field::Int(log.id)),
                    ("log_type", Field::Str(&log.log_type)),
                    ("log_action", Field::Str(&log.action)),
                ]);
                if let Some(params) = &log.params_raw {
                    packet.push(("log_params", Field::Json(params)));
                }
                packet.push(("log_action_comment", Field::Str(&log.action_comment)));
            }
        }
        ChangeType::Categorize => {}
    }
    // `$scriptPath ?: '/'`: PHP also treats "0" as false.
    let script_path = match ctx.script_path.as_str() {
        "" | "0" => "/",
        path => path,
    };
    packet.extend([
        ("server_url", Field::Str(&ctx.canonical_server)),
        ("server_name", Field::Str(&ctx.server_name)),
        ("server_script_path", Field::Str(script_path)),
        ("wiki", Field::Str(&ctx.wiki_id)),
    ]);
    packet
}
