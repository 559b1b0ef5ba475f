//! What every datagram must be, whatever the event: XML formats parse with a strict reader to the end and
//! hold no character XML 1.0 forbids, JSON parses with serde_json as one object, IRC is exactly one line
//! ending in `\n`; the framed datagram fits the feed's limit (or the event is refused), and a shortened
//! datagram has the same structure as the full one. Failures panic, which is what the fuzzer reports.

use rcemit::event::{ChangeType, Event};
use rcemit::feed::size::Fit;
use rcemit::feed::Feed;
use rcemit::format::Format;
use serde_json::Value;

use rcemit::testing::xml_tree;

/// The structure of one rendered text: element and attribute names (XML), nested keys (JSON), or nothing
/// for IRC, where there is no structure beyond the single line.
#[derive(Debug, PartialEq, Eq)]
pub enum Shape {
    Xml(String),
    Json(String),
    Line,
}

fn json_shape(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k:?}:{}", json_shape(v)))
                .collect();
            format!("{{{}}}", keys.join(","))
        }
        Value::Array(list) => {
            let items: Vec<String> = list.iter().map(json_shape).collect();
            format!("[{}]", items.join(","))
        }
        _ => "_".into(),
    }
}

/// Checks one unframed render of `format` and returns its structure.
pub fn unframed(format: Format, text: &[u8]) -> Shape {
    match format {
        Format::Xmlrc | Format::Xml => {
            let root = xml_tree::parse(text).unwrap_or_else(|e| {
                panic!(
                    "{} is not well-formed: {e}\n{}",
                    format.name(),
                    String::from_utf8_lossy(text)
                )
            });
            let want = if format == Format::Xml {
                "recentchange"
            } else {
                "rc"
            };
            assert_eq!(root.name, want);
            Shape::Xml(root.shape())
        }
        Format::Json => {
            let value: Value = serde_json::from_slice(text).unwrap_or_else(|e| {
                panic!(
                    "json does not parse: {e}\n{}",
                    String::from_utf8_lossy(text)
                )
            });
            assert!(value.is_object(), "json packet is not an object");
            Shape::Json(json_shape(&value))
        }
        Format::Irc => {
            assert_eq!(
                text.last(),
                Some(&b'\n'),
                "irc line does not end in \\n: {:?}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(
                text.iter().filter(|&&b| b == b'\n').count(),
                1,
                "irc text is more than one line: {:?}",
                String::from_utf8_lossy(text)
            );
            assert!(!text.contains(&b'\r'), "irc line holds \\r");
            Shape::Line
        }
    }
}

/// XML 1.0 forbidden characters as U+FFFD, the one change the XML formats make to a value.
fn xml_clean(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if xml_tree::is_xml_char(c) {
                c
            } else {
                '\u{FFFD}'
            }
        })
        .collect()
}

/// The title, user name and summary come out unchanged wherever the format shows them (XML: with only
/// forbidden characters replaced; JSON: exactly).
fn values_arrive(format: Format, text: &[u8], event: &Event) {
    let fields = [
        ("title", &event.title),
        ("user", &event.user),
        ("comment", &event.comment),
    ];
    match format {
        Format::Xmlrc | Format::Xml => {
            let root = xml_tree::parse(text).expect("checked above");
            for (name, value) in fields {
                if let Some(got) = root.attr(name) {
                    assert_eq!(got, xml_clean(value), "{} attribute {name}", format.name());
                }
            }
        }
        Format::Json => {
            let packet: Value = serde_json::from_slice(text).expect("checked above");
            for (name, value) in fields {
                assert_eq!(packet[name].as_str(), Some(value.as_str()), "json {name}");
            }
        }
        Format::Irc => {}
    }
}

/// Removes core's prefix framing from a datagram, checking that every line carries the prefix. The result
/// ends in `\n` (harmless whitespace after an XML or JSON document).
pub fn unframe(prefix: Option<&[u8]>, datagram: &[u8]) -> Vec<u8> {
    let Some(prefix) = prefix else {
        return datagram.to_vec();
    };
    let body = datagram
        .strip_suffix(b"\n")
        .expect("a framed datagram ends in \\n");
    let mut lead = prefix.to_vec();
    lead.push(b' ');
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|line| {
            line.strip_prefix(&lead[..]).unwrap_or_else(|| {
                panic!(
                    "line without the prefix: {:?}",
                    String::from_utf8_lossy(line)
                )
            })
        })
        .collect();
    // The text ended in \n, or framing added one; either way the datagram's final \n stands for it.
    let mut text = lines.join(&b'\n');
    text.push(b'\n');
    text
}

/// Renders `event` for `feed`, then checks the render, the datagram the size policy makes of it, and that a
/// shortened datagram keeps the structure of the full render.
pub fn feed_and_event(feed: &Feed, event: &Event) {
    let rendered = feed.render(event);
    assert_eq!(
        rendered.is_none(),
        feed.format == Format::Irc && event.change_type == ChangeType::Categorize,
        "only irc skips, and only categorisation"
    );
    let full_shape = rendered.as_deref().map(|text| unframed(feed.format, text));
    if let Some(text) = rendered.as_deref() {
        values_arrive(feed.format, text, event);
    }
    let prefix = feed.uri.prefix.as_deref();
    match feed.datagram(event, rendered.as_deref()) {
        Fit::Whole(datagram) => {
            assert!(datagram.len() <= feed.max_datagram);
            assert_eq!(Some(&datagram), rendered.map(|t| feed.frame(&t)).as_ref());
            datagram_lines(feed, &datagram);
        }
        Fit::Shortened(datagram) => {
            assert!(
                datagram.len() <= feed.max_datagram,
                "{} > {}",
                datagram.len(),
                feed.max_datagram
            );
            datagram_lines(feed, &datagram);
            let shape = unframed(feed.format, &unframe(prefix, &datagram));
            assert_eq!(Some(shape), full_shape, "shortening changed the structure");
        }
        Fit::Nothing => assert!(full_shape.is_none()),
        Fit::Oversize => {}
    }
}

fn datagram_lines(feed: &Feed, datagram: &[u8]) {
    if feed.uri.prefix.is_some() || feed.format == Format::Irc {
        assert_eq!(datagram.last(), Some(&b'\n'));
    }
    if feed.format == Format::Irc {
        assert_eq!(datagram.iter().filter(|&&b| b == b'\n').count(), 1);
    }
}
