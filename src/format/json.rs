//! `json`: core's `JSONRCFeedFormatter`, i.e. `FormatJson::encode( $packet )`.
//!
//! `FormatJson::encode()` calls `json_encode()` with `JSON_UNESCAPED_SLASHES | JSON_HEX_TAG | JSON_HEX_AMP`:
//! every non-ASCII character becomes `\uXXXX` (lowercase hex, UTF-16 surrogate pairs above U+FFFF), `<` `>`
//! `&` become `\u003C` `\u003E` `\u0026`, `/` and `'` stay as they are, and control characters use the short
//! escapes where JSON has them and `\u00XX` otherwise. serde_json already escapes control characters, `"` and
//! `\` that way, so `PhpJsonFormatter` only changes how the remaining runs of text are written.
//!
//! `log_params` is written from the `serde_json::Value` decoded from PHP's own `json_encode` output: object
//! key order is preserved and number text is copied verbatim (`arbitrary_precision`), so it comes out as
//! core prints the same PHP array.

use std::io;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::ser::Formatter;

use super::rc_packet::{self, Field};
use crate::context::FeedContext;
use crate::event::Event;

/// Formats one change as core's JSON feed packet (no trailing newline, as core).
pub fn format(event: &Event, ctx: &FeedContext) -> Vec<u8> {
    let packet = rc_packet::build(event, ctx);
    let mut out = Vec::with_capacity(1024);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PhpJsonFormatter);
    Packet(&packet)
        .serialize(&mut serializer)
        .expect("serialising string-keyed maps into a Vec cannot fail");
    out
}

struct Packet<'p, 'a>(&'p [(&'static str, Field<'a>)]);

impl Serialize for Packet<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, field) in self.0 {
            match field {
                Field::Null => map.serialize_entry(key, &())?,
                Field::Int(n) => map.serialize_entry(key, n)?,
                Field::Str(s) => map.serialize_entry(key, s)?,
                Field::String(s) => map.serialize_entry(key, s)?,
                Field::Bool(b) => map.serialize_entry(key, b)?,
                Field::OldNew(old, new) => map.serialize_entry(key, &OldNew(*old, *new))?,
                Field::Json(value) => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

/// `{"old":...,"new":...}`, `null` for a missing side.
struct OldNew(Option<i64>, Option<i64>);

impl Serialize for OldNew {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("old", &self.0)?;
        map.serialize_entry("new", &self.1)?;
        map.end()
    }
}

/// serde_json's compact output with PHP `json_encode`'s escaping of the characters serde_json leaves alone.
struct PhpJsonFormatter;

impl Formatter for PhpJsonFormatter {
    /// Number text from `log_params`, written as PHP wrote it, except that a float the PHP side encoded with
    /// `JSON_PRESERVE_ZERO_FRACTION` (`10.0`, `-0.0`) loses the `.0` it added, as `FormatJson` does not set it.
    fn write_number_str<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &str,
    ) -> io::Result<()> {
        let plain = match value.strip_suffix(".0") {
            Some(int) if !int.contains(['.', 'e', 'E']) => int,
            _ => value,
        };
        writer.write_all(plain.as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut done = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() && !matches!(b, b'<' | b'>' | b'&') {
                i += 1;
                continue;
            }
            writer.write_all(&bytes[done..i])?;
            // `i` is a character boundary: it only ever advances by whole characters.
            let Some(c) = fragment[i..].chars().next() else {
                break;
            };
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write_u_escape(writer, *unit, b.is_ascii())?;
            }
            i += c.len_utf8();
            done = i;
        }
        writer.write_all(&bytes[done..])
    }
}

/// `\uXXXX`; PHP writes hex in lowercase except for its fixed `\u003C`, `\u003E`, `\u0026` strings.
fn write_u_escape<W: ?Sized + io::Write>(writer: &mut W, unit: u16, upper: bool) -> io::Result<()> {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let nibble = |shift: u16| digits[usize::from((unit >> shift) & 0xF)];
    writer.write_all(&[b'\\', b'u', nibble(12), nibble(8), nibble(4), nibble(0)])
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::php_oracle::{self, Mode};
    use super::*;
    use crate::event::Patrolled;
    use crate::testing::hostile::HOSTILE;
    use crate::testing::{random as random_input, samples};

    /// Seeds the random cases ("json" in ASCII).
    const SEED: u64 = 0x6a73_6f6e;

    fn parse(bytes: &[u8]) -> serde_json::Map<String, Value> {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => map,
            other => panic!(
                "not a JSON object: {other:?}\n{}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }

    /// Events covering every packet shape, option and escaping rule.
    fn fixed_cases() -> Vec<(Event, FeedContext)> {
        let mut hostile = samples::edit();
        hostile.title = HOSTILE.into();
        hostile.comment = HOSTILE.repeat(3);
        hostile.user = HOSTILE.into();
        hostile.old_len = None;
        let mut unpatrolled = samples::new_page();
        unpatrolled.patrolled = Patrolled::Unpatrolled;
        let hostile_params =
            serde_json::json!({ "a": HOSTILE, HOSTILE: [HOSTILE, 1.5, -0.0, 1e300, null, true] });
        let mut cases = Vec::new();
        for ctx in random_input::feeds() {
            for event in [
                samples::edit(),
                samples::new_page(),
                unpatrolled.clone(),
                hostile.clone(),
                samples::log(Some(samples::protect_params())),
                samples::log(None),
                samples::log(Some(serde_json::json!([]))),
                samples::log(Some(serde_json::json!(["a", "b\nc"]))),
                samples::log(Some(hostile_params.clone())),
                samples::categorize(),
                samples::unsaved_patrol(),
            ] {
                cases.push((event, ctx.clone()));
            }
        }
        cases
    }

    fn assert_matches_core(cases: Vec<(Event, FeedContext)>) {
        let outputs = php_oracle::feed_packets(Mode::Json, cases);
        for ((event, ctx), want) in &outputs {
            let want = want.as_ref().expect("FormatJson::encode does not throw");
            let got = format(event, ctx);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want),
                "{event:?}"
            );
        }
    }

    #[test]
    fn matches_core_format_json() {
        assert_matches_core(fixed_cases());
    }

    #[test]
    fn matches_core_format_json_on_random_hostile_input() {
        assert_matches_core(random_input::cases(SEED, 1500));
    }

    #[test]
    fn parses_back_to_the_same_strings_and_keys() {
        for (event, ctx) in fixed_cases()
            .into_iter()
            .chain(random_input::cases(SEED, 1500))
        {
            let out = format(&event, &ctx);
            assert!(out.is_ascii(), "json_encode escapes all non-ASCII");
            let map = parse(&out);
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            let want: Vec<&str> = rc_packet::build(&event, &ctx)
                .iter()
                .map(|(k, _)| *k)
                .collect();
            assert_eq!(keys, want, "no key forged or lost");
            assert_eq!(map["title"], event.title.as_str());
            assert_eq!(map["comment"], event.comment.as_str());
            assert_eq!(map["user"], event.user.as_str());
            if let Some(log) = &event.log {
                assert_eq!(map["log_action_comment"], log.action_comment.as_str());
                assert_eq!(
                    map.get("log_params").map(numbers_as_f64),
                    log.params_raw.as_ref().map(numbers_as_f64)
                );
            }
        }
    }

    /// The value with every number replaced by its f64 value (`10.0` and `10` are the same PHP float).
    fn numbers_as_f64(value: &Value) -> Value {
        match value {
            Value::Number(n) => Value::from(n.as_f64().expect("finite number")),
            Value::Array(items) => Value::Array(items.iter().map(numbers_as_f64).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), numbers_as_f64(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn one_mebibyte_comment_round_trips() {
        let mut event = samples::edit();
        event.comment = HOSTILE.repeat((1 << 20) / HOSTILE.len());
        let map = parse(&format(&event, &samples::context()));
        assert_eq!(map["comment"], event.comment.as_str());
    }
}
