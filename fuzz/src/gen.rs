//! Events, feed contexts and feeds built from fuzz bytes with `arbitrary::Unstructured`.
//!
//! Text is assembled from pieces: characters and byte runs straight from the fuzz input (invalid UTF-8
//! becomes U+FFFD, as payload decoding does), long runs of one character (to reach the size policy), and a
//! dictionary of the strings most likely to break a format (markup, quotes, line breaks, characters XML
//! forbids, IRC colour codes, MediaWiki's ApiResult metadata keys). Values are as the payload decoder can
//! produce them (timestamps in years 0000..=9999, log fields on log rows only).

use arbitrary::{Result, Unstructured};
use rcemit::context::{FeedContext, PacketLayout, XmlrcProps};
use rcemit::event::{days_from_civil, ChangeType, Event, LogInfo, Patrolled};
use rcemit::feed::uri::{Destination, FeedUri};
use rcemit::feed::{Feed, MAX_DATAGRAM, MIN_DATAGRAM};
use rcemit::format::Format;
use rcemit::testing::hostile::{KEYS, PIECES};
use serde_json::{Map, Value};

const TYPES: &[&str] = &[
    "array", "assoc", "kvp", "BCarray", "BCassoc", "BCkvp", "default",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1.5",
    "-0.0",
    "1e999",
    "-1e999",
    "1E+2",
    "0.1",
    "123456789012345678901234567890",
    "9223372036854775808",
    "-9223372036854775809",
    "4.9e-324",
];

/// Free text from the fuzz input.
pub fn text(u: &mut Unstructured) -> Result<String> {
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=12)? {
        match u.int_in_range(0..=4)? {
            0 | 1 => s.push_str(u.choose(PIECES)?),
            2 => s.push(u.arbitrary::<char>()?),
            3 => {
                let n = u.int_in_range(0..=16)?.min(u.len());
                s.push_str(&String::from_utf8_lossy(u.bytes(n)?));
            }
            _ => {
                let c = match u.arbitrary::<bool>()? {
                    true => u.arbitrary::<char>()?,
                    false => *u.choose(&['x', 'ä', '€', '😀', '&', '<', '"'])?,
                };
                let n = u.int_in_range(1..=3000)?;
                s.extend(std::iter::repeat_n(c, n));
            }
        }
    }
    Ok(s)
}

fn text_or(u: &mut Unstructured, usual: &[&str]) -> Result<String> {
    Ok(match u.ratio(1, 3)? {
        true => text(u)?,
        false => u.choose(usual)?.to_string(),
    })
}

fn int(u: &mut Unstructured) -> Result<i64> {
    Ok(match u.int_in_range(0..=3)? {
        0 => u.arbitrary()?,
        1 => *u.choose(&[i64::MIN, -1, 0, i64::MAX])?,
        _ => u.int_in_range(-5..=100_000)?,
    })
}

fn value(u: &mut Unstructured, depth: u32) -> Result<Value> {
    let top = if depth >= 4 { 4 } else { 7 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(int(u)?),
        3 => serde_json::from_str(u.choose(NUMBERS)?).expect("valid JSON numbers"),
        4 => Value::String(text(u)?),
        5 => {
            let mut list = Vec::new();
            for _ in 0..u.int_in_range(0..=4)? {
                list.push(value(u, depth + 1)?);
            }
            Value::Array(list)
        }
        _ => {
            let mut map = Map::new();
            for _ in 0..u.int_in_range(0..=6)? {
                let key = text_or(u, KEYS)?;
                let item = match key.as_str() {
                    "_type" if u.ratio(3, 4)? => Value::from(*u.choose(TYPES)?),
                    "_preservekeys" | "_subelements" | "_BC_bools" | "_BC_subelements"
                        if u.ratio(3, 4)? =>
                    {
                        let mut names = Vec::new();
                        for _ in 0..u.int_in_range(0..=3)? {
                            names.push(Value::from(text_or(u, KEYS)?));
                        }
                        Value::Array(names)
                    }
                    "_element" | "_kvpkeyname" | "_name" | "_content" if u.ratio(3, 4)? => {
                        Value::from(text_or(u, KEYS)?)
                    }
                    _ => value(u, depth + 1)?,
                };
                map.insert(key, item);
            }
            Value::Object(map)
        }
    })
}

fn params(u: &mut Unstructured) -> Result<Option<Value>> {
    Ok(match u.int_in_range(0..=3)? {
        0 => None,
        1 => Some(value(u, 0)?),
        _ => Some(value(u, 3)?)
            .filter(Value::is_object)
            .or(Some(Value::Object(Map::new()))),
    })
}

/// Unix seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of TS_MW timestamps.
fn timestamp(u: &mut Unstructured) -> Result<i64> {
    let first = days_from_civil(0, 1, 1) * 86_400;
    let last = days_from_civil(9999, 12, 31) * 86_400 + 86_399;
    Ok(match u.ratio(1, 2)? {
        true => u.int_in_range(first..=last)?,
        false => 1_795_302_333,
    })
}

/// A change as the payload decoder could produce it.
pub fn event(u: &mut Unstructured) -> Result<Event> {
    let change_type = *u.choose(&[
        ChangeType::Edit,
        ChangeType::New,
        ChangeType::Log,
        ChangeType::Categorize,
    ])?;
    let log = match change_type {
        ChangeType::Log => Some(LogInfo {
            id: int(u)?,
            log_type: text_or(
                u,
                &["block", "protect", "move", "delete", "newusers", "a_b"],
            )?,
            action: text_or(u, &["block", "modify", "move_redir", "delete", "create"])?,
            params_raw: params(u)?,
            params_api: params(u)?,
            action_comment: text(u)?,
        }),
        _ => None,
    };
    Ok(Event {
        rc_id: int(u)?,
        change_type,
        namespace: int(u)?,
        title: text_or(u, &["Main Page", "User:A b", "Talk:X/y", ""])?,
        page_id: int(u)?,
        this_oldid: int(u)?,
        last_oldid: int(u)?,
        user: text_or(u, &["Admin", "127.0.0.1", "2001:db8::1", "A&B"])?,
        user_id: int(u)?,
        bot: u.arbitrary()?,
        minor: u.arbitrary()?,
        redirect: u.arbitrary()?,
        patrolled: *u.choose(&[
            Patrolled::Unpatrolled,
            Patrolled::Patrolled,
            Patrolled::Autopatrolled,
        ])?,
        old_len: if u.arbitrary()? { Some(int(u)?) } else { None },
        new_len: if u.arbitrary()? { Some(int(u)?) } else { None },
        timestamp: timestamp(u)?,
        comment: text(u)?,
        parsed_comment: if u.arbitrary()? { Some(text(u)?) } else { None },
        sha1: match u.int_in_range(0..=2)? {
            0 => None,
            1 => Some("ac60e3c6f6e1da6d1fc98a9ca0d6f0f4ef3d0f7e".into()),
            _ => Some(text(u)?),
        },
        notify_url: optional(u, &["http://localhost/w/index.php?diff=2&oldid=1"])?,
        title_url: optional(u, &["http://localhost/wiki/Main_Page"])?,
        part_failed: u.arbitrary()?,
        log,
        tags: {
            let mut tags = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                tags.push(text_or(u, &["mw-rollback", "visualeditor", ""])?);
            }
            tags
        },
    })
}

fn optional(u: &mut Unstructured, usual: &[&str]) -> Result<Option<String>> {
    Ok(match u.arbitrary()? {
        true => Some(text_or(u, usual)?),
        false => None,
    })
}

/// Wiki facts and feed options, mostly plausible, sometimes hostile (an admin's typo must not break XML).
pub fn context(u: &mut Unstructured) -> Result<FeedContext> {
    Ok(FeedContext {
        canonical_server: text_or(u, &["http://localhost", "https://en.wikipedia.org", ""])?,
        server_name: text_or(u, &["localhost", "en.wikipedia.org"])?,
        script_path: text_or(u, &["/w", ""])?,
        script: text_or(u, &["/w/index.php", "/index.php"])?,
        article_path: text_or(u, &["/wiki/$1", "/w/index.php/$1", "//cdn.example/$1"])?,
        main_page_at_root: optional(u, &["Main Page"])?,
        packet_layout: *u.choose(&[PacketLayout::Mw139, PacketLayout::Mw141])?,
        wiki_id: text_or(u, &["enwiki", "my_wiki-en_"])?,
        special_namespace: text_or(u, &["Special", "Spezial", "Служебная"])?,
        use_rc_patrol: u.arbitrary()?,
        use_np_patrol: u.arbitrary()?,
        irc_interwiki_prefix: optional(u, &["en", "goldwiki"])?,
        channel: optional(u, &["#en.wikipedia", "#golden"])?,
        xmlrc_props: XmlrcProps {
            user: u.arbitrary()?,
            userid: u.arbitrary()?,
            comment: u.arbitrary()?,
            parsedcomment: u.arbitrary()?,
            flags: u.arbitrary()?,
            timestamp: u.arbitrary()?,
            title: u.arbitrary()?,
            ids: u.arbitrary()?,
            sizes: u.arbitrary()?,
            redirect: u.arbitrary()?,
            patrolled: u.arbitrary()?,
            loginfo: u.arbitrary()?,
            tags: u.arbitrary()?,
            sha1: u.arbitrary()?,
        },
    })
}

/// A feed of `format` with an optional prefix (through core's uri grammar) and a datagram limit that is
/// often small enough to need the size policy.
pub fn feed(u: &mut Unstructured, format: Format) -> Result<Feed> {
    let mut uri = FeedUri {
        destination: Destination::Addr(([127, 0, 0, 1], 9).into()),
        prefix: None,
    };
    if u.arbitrary()? {
        let prefix = text_or(u, &["#en.wikipedia\t", "#w", ""])?;
        if let Ok(parsed) = FeedUri::parse(&format!("udp://127.0.0.1:9/{prefix}")) {
            uri = parsed;
        }
    }
    Ok(Feed {
        uri,
        format,
        context: context(u)?,
        max_datagram: match u.ratio(1, 6)? {
            true => MAX_DATAGRAM,
            false => u.int_in_range(MIN_DATAGRAM..=4000)?,
        },
    })
}
