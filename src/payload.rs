//! The wire encoding PHP hands to Rust for one recent change (payload version 3), specified in
//! docs/payload.md: a magic and version byte, twelve little-endian 64-bit integers (ids, lengths, flags) and
//! fourteen length-prefixed strings. PHP builds it with a single `pack()` call and no escaping, so it costs well
//! under a microsecond on the request thread.
//!
//! Decoding never panics: a malformed payload is a [`DecodeError`] whose [`DecodeError::reason`] names the
//! cause for counters and logs. Invalid UTF-8 inside strings is not an error: it is replaced by U+FFFD.

use std::borrow::Cow;
use std::fmt;

use crate::event::{days_from_civil, ChangeType, Event, LogInfo, Patrolled};
use crate::format::api_log_params;

/// First three bytes of every payload.
pub const MAGIC: &[u8; 3] = b"RCE";
/// The payload version this library decodes (the fourth byte).
pub const VERSION: u8 = 3;
/// Number of 64-bit integers after the magic.
pub const INT_COUNT: usize = 12;
/// Number of length-prefixed strings after the integers.
pub const STRING_COUNT: usize = 14;

/// The edit was made by a bot (`rc_bot`).
pub const FLAG_BOT: u64 = 1;
/// The edit is marked minor (`rc_minor`).
pub const FLAG_MINOR: u64 = 1 << 1;
/// The page is a redirect after the change.
pub const FLAG_REDIRECT: u64 = 1 << 2;
/// `rc_old_len` is NULL.
pub const FLAG_OLD_LEN_NULL: u64 = 1 << 3;
/// `rc_new_len` is NULL.
pub const FLAG_NEW_LEN_NULL: u64 = 1 << 4;
/// The `sha1` string is present (it may legitimately be empty).
pub const FLAG_HAS_SHA1: u64 = 1 << 5;
/// The `parsed_comment` string is present (it may legitimately be empty).
pub const FLAG_HAS_PARSED_COMMENT: u64 = 1 << 6;
/// The `notify_url` string is present: MediaWiki's URL of the change (after the `IRCLineURL` hook).
pub const FLAG_HAS_NOTIFY_URL: u64 = 1 << 7;
/// The `title_url` string is present: MediaWiki's `Title::getCanonicalURL()` (after the URL hooks).
pub const FLAG_HAS_TITLE_URL: u64 = 1 << 8;
/// PHP failed to compute an optional part this payload should carry; it is sent without it.
pub const FLAG_PART_FAILED: u64 = 1 << 9;
/// The log params string holds the params as stored (`rc_params` unserialised, keys such as `4::target`
/// kept); the library strips the keys for core's packets.
pub const FLAG_PARAMS_KEYED: u64 = 1 << 10;
/// The library derives the API's log params from the stored params ([`api_log_params`]); the API params
/// string is empty. Set only with [`FLAG_PARAMS_KEYED`] or [`FLAG_PARAMS_SERIALIZED`].
pub const FLAG_API_PARAMS_IN_LIBRARY: u64 = 1 << 11;
/// The log params string is `rc_params` exactly as stored (PHP's `serialize()` of an array); the library
/// unserialises it as core does ([`crate::php_unserialize`]), then as with [`FLAG_PARAMS_KEYED`].
pub const FLAG_PARAMS_SERIALIZED: u64 = 1 << 12;
const KNOWN_FLAGS: u64 = (1 << 13) - 1;

/// Why a payload was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Does not start with "RCE".
    BadMagic,
    /// Starts with "RCE" but carries another version byte.
    UnsupportedVersion(u8),
    /// Ends inside the named field.
    Truncated(&'static str),
    /// Bytes remain after the last field.
    TrailingBytes(usize),
    /// `rc_type` is not edit, new, log or categorize.
    BadChangeType(i64),
    /// `rc_patrolled` is not 0, 1 or 2.
    BadPatrolled(i64),
    /// Unknown bits are set in `flags`.
    BadFlags(u64),
    /// The timestamp is not 14 digits of a valid UTC date and time.
    BadTimestamp,
    /// A log-params field is not valid JSON.
    BadLogParams(&'static str),
}

impl DecodeError {
    /// A short stable name, for counters and log lines.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadMagic => "bad_magic",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Truncated(_) => "truncated",
            Self::TrailingBytes(_) => "trailing_bytes",
            Self::BadChangeType(_) => "bad_change_type",
            Self::BadPatrolled(_) => "bad_patrolled",
            Self::BadFlags(_) => "bad_flags",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadLogParams(_) => "bad_log_params",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(f, "payload does not start with \"RCE\""),
            Self::UnsupportedVersion(v) => {
                write!(
                    f,
                    "payload version {v} is not supported (this library reads version {VERSION})"
                )
            }
            Self::Truncated(field) => write!(f, "payload ends inside field {field}"),
            Self::TrailingBytes(n) => write!(f, "payload has {n} bytes after its last field"),
            Self::BadChangeType(t) => write!(
                f,
                "rc_type {t} is not edit (0), new (1), log (3) or categorize (6)"
            ),
            Self::BadPatrolled(p) => write!(f, "rc_patrolled {p} is not 0, 1 or 2"),
            Self::BadFlags(bits) => write!(f, "unknown flag bits {bits:#x}"),
            Self::BadTimestamp => write!(f, "timestamp is not a valid YYYYMMDDHHMMSS UTC time"),
            Self::BadLogParams(field) => write!(f, "{field} is not valid JSON"),
        }
    }
}

impl std::error::Error for DecodeError {}

const INT_NAMES: [&str; INT_COUNT] = [
    "rc_id",
    "rc_type",
    "namespace",
    "page_id",
    "this_oldid",
    "last_oldid",
    "user_id",
    "old_len",
    "new_len",
    "log_id",
    "rc_patrolled",
    "flags",
];

const STRING_NAMES: [&str; STRING_COUNT] = [
    "timestamp",
    "title",
    "user",
    "comment",
    "log_type",
    "log_action",
    "action_comment",
    "log_params_raw",
    "log_params_api",
    "tags",
    "sha1",
    "parsed_comment",
    "notify_url",
    "title_url",
];

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated(field));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let bytes = self.take(8, field)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.take(4, field)?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        self.take(len, field)
    }
}

fn text(bytes: &[u8]) -> String {
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => s.to_owned(),
        Cow::Owned(s) => s,
    }
}

/// Parses `YYYYMMDDHHMMSS` (MediaWiki's TS_MW, always UTC) into Unix seconds.
pub fn parse_ts_mw(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != 14 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (i64::from(num(0..4)), num(4..6), num(6..8));
    let (hour, minute, second) = (num(8..10), num(10..12), num(12..14));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day == 0
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * 86_400
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second),
    )
}

fn json(bytes: &[u8], field: &'static str) -> Result<Option<serde_json::Value>, DecodeError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|_| DecodeError::BadLogParams(field))
}

fn tags(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut reader = Reader { rest: bytes };
    let mut tags = Vec::new();
    while !reader.rest.is_empty() {
        tags.push(text(reader.bytes("tags")?));
    }
    Ok(tags)
}

/// Decodes one payload into an owned [`Event`].
pub fn decode(payload: &[u8]) -> Result<Event, DecodeError> {
    let mut reader = Reader { rest: payload };
    let magic = reader.take(4, "magic").map_err(|_| DecodeError::BadMagic)?;
    if &magic[..3] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if magic[3] != VERSION {
        return Err(DecodeError::UnsupportedVersion(magic[3]));
    }
    let mut ints = [0u64; INT_COUNT];
    for (slot, name) in ints.iter_mut().zip(INT_NAMES) {
        *slot = reader.u64(name)?;
    }
    let mut strings: [&[u8]; STRING_COUNT] = [&[]; STRING_COUNT];
    for (slot, name) in strings.iter_mut().zip(STRING_NAMES) {
        *slot = reader.bytes(name)?;
    }
    if !reader.rest.is_empty() {
        return Err(DecodeError::TrailingBytes(reader.rest.len()));
    }

    let [rc_id, rc_type, namespace, page_id, this_oldid, last_oldid, user_id, old_len, new_len, log_id, patrolled, flags] =
        ints;
    let [timestamp, title, user, comment, log_type, log_action, action_comment, params_raw, params_api, tag_list, sha1, parsed_comment, notify_url, title_url] =
        strings;

    let change_type = ChangeType::from_rc_type(rc_type as i64)
        .ok_or(DecodeError::BadChangeType(rc_type as i64))?;
    let patrolled = Patrolled::from_rc_patrolled(patrolled as i64)
        .ok_or(DecodeError::BadPatrolled(patrolled as i64))?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(DecodeError::BadFlags(flags & !KNOWN_FLAGS));
    }
    let timestamp = parse_ts_mw(timestamp).ok_or(DecodeError::BadTimestamp)?;
    let has = |flag: u64| flags & flag != 0;

    let mut part_failed = has(FLAG_PART_FAILED);
    let log = if change_type == ChangeType::Log {
        let (log_type, action) = (text(log_type), text(log_action));
        // With flag 2048 field 9 is not JSON: empty, or the namespace of a move's or merge's title.
        let in_library = has(FLAG_API_PARAMS_IN_LIBRARY);
        let title_ns = if in_library && !params_api.is_empty() {
            let ns = std::str::from_utf8(params_api).ok();
            Some(
                ns.and_then(|ns| ns.parse::<i64>().ok())
                    .ok_or(DecodeError::BadLogParams("log_title_ns"))?,
            )
        } else {
            None
        };
        let mut params_api = if in_library {
            None
        } else {
            json(params_api, "log_params_api")?
        };
        let mut params_raw = if has(FLAG_PARAMS_SERIALIZED) {
            Some(stored_params(params_raw))
        } else {
            json(params_raw, "log_params_raw")?
        };
        if has(FLAG_PARAMS_KEYED) || has(FLAG_PARAMS_SERIALIZED) {
            if in_library {
                params_api = params_raw.as_ref().and_then(|keyed| {
                    api_log_params::api(&log_type, &action, keyed, timestamp, title_ns)
                });
                // PHP asked for what this library cannot do: sent without, counted.
                part_failed |= params_api.is_none();
            }
            params_raw = params_raw.as_ref().map(strip_keys);
        }
        Some(LogInfo {
            id: log_id as i64,
            log_type,
            action,
            params_raw,
            params_api,
            action_comment: text(action_comment),
        })
    } else {
        None
    };

    Ok(Event {
        rc_id: rc_id as i64,
        change_type,
        namespace: namespace as i64,
        title: text(title),
        page_id: page_id as i64,
        this_oldid: this_oldid as i64,
        last_oldid: last_oldid as i64,
        user: text(user),
        user_id: user_id as i64,
        bot: has(FLAG_BOT),
        minor: has(FLAG_MINOR),
        redirect: has(FLAG_REDIRECT),
        patrolled,
        old_len: (!has(FLAG_OLD_LEN_NULL)).then_some(old_len as i64),
        new_len: (!has(FLAG_NEW_LEN_NULL)).then_some(new_len as i64),
        timestamp,
        comment: text(comment),
        parsed_comment: has(FLAG_HAS_PARSED_COMMENT).then(|| text(parsed_comment)),
        sha1: has(FLAG_HAS_SHA1).then(|| text(sha1)),
        notify_url: has(FLAG_HAS_NOTIFY_URL).then(|| text(notify_url)),
        title_url: has(FLAG_HAS_TITLE_URL).then(|| text(title_url)),
        part_failed,
        log,
        tags: tags(tag_list)?,
    })
}

/// `rc_params` as RecentChange::parseParams() and MachineReadableRCFeedFormatter::getLine() read it: the
/// unserialised array, or, where `unserialize()` fails, the legacy form: lines.
fn stored_params(rc_params: &[u8]) -> serde_json::Value {
    crate::php_unserialize::unserialize(rc_params).unwrap_or_else(|| {
        serde_json::Value::Array(
            rc_params
                .split(|&b| b == b'\n')
                .map(|line| serde_json::Value::String(text(line)))
                .collect(),
        )
    })
}

/// Core's `log_params` (MachineReadableRCFeedFormatter::getLine()) from the params as stored: a key with a
/// colon loses everything up to its last part (`4::target` -> `target`, `4:title:target` -> `target`), and
/// the array prints as PHP's `json_encode()` does (a list when its keys are 0, 1, ... in order).
fn strip_keys(keyed: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value};
    let Value::Object(map) = keyed else {
        return keyed.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let key = if key.contains(':') {
            key.splitn(3, ':').nth(2).unwrap_or("").to_owned()
        } else {
            key.clone()
        };
        out.insert(key, value.clone());
    }
    if out.keys().enumerate().all(|(i, k)| *k == i.to_string()) {
        return Value::Array(out.into_iter().map(|(_, v)| v).collect());
    }
    Value::Object(out)
}

/// Encodes an [`Event`] the way the PHP side does; used by tests, benchmarks and the command-line tool.
pub fn encode(event: &Event) -> Vec<u8> {
    let log = event.log.as_ref();
    let mut flags = 0;
    for (on, flag) in [
        (event.bot, FLAG_BOT),
        (event.minor, FLAG_MINOR),
        (event.redirect, FLAG_REDIRECT),
        (event.old_len.is_none(), FLAG_OLD_LEN_NULL),
        (event.new_len.is_none(), FLAG_NEW_LEN_NULL),
        (event.sha1.is_some(), FLAG_HAS_SHA1),
        (event.parsed_comment.is_some(), FLAG_HAS_PARSED_COMMENT),
        (event.notify_url.is_some(), FLAG_HAS_NOTIFY_URL),
        (event.title_url.is_some(), FLAG_HAS_TITLE_URL),
        (event.part_failed, FLAG_PART_FAILED),
    ] {
        if on {
            flags |= flag;
        }
    }
    let rc_type: i64 = match event.change_type {
        ChangeType::Edit => 0,
        ChangeType::New => 1,
        ChangeType::Log => 3,
        ChangeType::Categorize => 6,
    };
    let patrolled: i64 = match event.patrolled {
        Patrolled::Unpatrolled => 0,
        Patrolled::Patrolled => 1,
        Patrolled::Autopatrolled => 2,
    };
    let ints: [i64; INT_COUNT] = [
        event.rc_id,
        rc_type,
        event.namespace,
        event.page_id,
        event.this_oldid,
        event.last_oldid,
        event.user_id,
        event.old_len.unwrap_or(0),
        event.new_len.unwrap_or(0),
        log.map_or(0, |l| l.id),
        patrolled,
        flags as i64,
    ];
    let mut tag_list = Vec::new();
    for tag in &event.tags {
        push_bytes(&mut tag_list, tag.as_bytes());
    }
    let json_of =
        |value: Option<&serde_json::Value>| value.map(|v| v.to_string()).unwrap_or_default();
    let (y, mo, d, h, mi, s) = crate::event::civil_from_unix(event.timestamp);
    let strings: [Vec<u8>; STRING_COUNT] = [
        format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}").into_bytes(),
        event.title.clone().into_bytes(),
        event.user.clone().into_bytes(),
        event.comment.clone().into_bytes(),
        log.map(|l| l.log_type.clone())
            .unwrap_or_default()
            .into_bytes(),
        log.map(|l| l.action.clone())
            .unwrap_or_default()
            .into_bytes(),
        log.map(|l| l.action_comment.clone())
            .unwrap_or_default()
            .into_bytes(),
        json_of(log.and_then(|l| l.params_raw.as_ref())).into_bytes(),
        json_of(log.and_then(|l| l.params_api.as_ref())).into_bytes(),
        tag_list,
        event.sha1.clone().unwrap_or_default().into_bytes(),
        event
            .parsed_comment
            .clone()
            .unwrap_or_default()
            .into_bytes(),
        event.notify_url.clone().unwrap_or_default().into_bytes(),
        event.title_url.clone().unwrap_or_default().into_bytes(),
    ];
    let mut out =
        Vec::with_capacity(4 + 8 * INT_COUNT + strings.iter().map(|s| 4 + s.len()).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    for value in ints {
        out.extend_from_slice(&value.to_le_bytes());
    }
    for string in &strings {
        push_bytes(&mut out, string);
    }
    out
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}
