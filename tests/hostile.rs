//! Hostile text cannot forge structure: for every format, a title, user name, summary, parsed summary, log
//! action comment, log type/action, tag or log parameter holding quotes, markup, `]]>`, tabs, line breaks,
//! NUL, every C0 control, U+FFFE/U+FFFF, IRC colour codes or invalid UTF-8 gives output that real parsers
//! (the strict quick-xml reader rcemit::testing::xml_tree, serde_json) read as the same structure (same elements,
//! attributes, keys, in the same order) as a plain value, and carries the value itself where the format can
//! (JSON exactly; XML attribute values with only XML-forbidden characters replaced by U+FFFD). IRC output is
//! exactly one line, and with the usual `#channel<TAB>` prefix the first tab of the datagram is the
//! prefix's, so an RC2UDP-style relay (split at the first tab, then strip CR/LF) always finds the channel.

mod common;

use common::{edit, log};
use rcemit::context::{FeedContext, PacketLayout, XmlrcProps};
use rcemit::event::Event;
use rcemit::feed::framing::frame;
use rcemit::feed::size::Fit;
use rcemit::feed::Feed;
use rcemit::format::Format;
use rcemit::payload;
use rcemit::testing::hostile;
use rcemit::testing::xml_tree::{self, is_xml_char};
use serde_json::{json, Value};

const PLAIN: &str = "plain";
const PREFIX: &[u8] = b"#en.wikipedia\t";

/// A context with every xmlrc property on, so every field is in the `<rc>` element.
fn context() -> FeedContext {
    FeedContext {
        canonical_server: "http://localhost".into(),
        server_name: "localhost".into(),
        script_path: "/w".into(),
        script: "/w/index.php".into(),
        article_path: "/wiki/$1".into(),
        main_page_at_root: None,
        packet_layout: PacketLayout::Mw141,
        wiki_id: "testwiki".into(),
        special_namespace: "Special".into(),
        use_rc_patrol: true,
        use_np_patrol: true,
        irc_interwiki_prefix: Some("en".into()),
        channel: Some("#en.wikipedia".into()),
        xmlrc_props: XmlrcProps::parse(
            "user|userid|comment|parsedcomment|flags|timestamp|title|ids|sizes|redirect|patrolled|loginfo|tags|sha1",
        )
        .unwrap(),
    }
}

/// A place a hostile string can go.
struct Field {
    name: &'static str,
    base: fn() -> Event,
    set: fn(&mut Event, &str),
}

fn fields() -> Vec<Field> {
    vec![
        Field {
            name: "title",
            base: edit,
            set: |e, s| e.title = s.into(),
        },
        Field {
            name: "user",
            base: edit,
            set: |e, s| e.user = s.into(),
        },
        Field {
            name: "comment",
            base: edit,
            set: |e, s| e.comment = s.into(),
        },
        Field {
            name: "parsed_comment",
            base: edit,
            set: |e, s| e.parsed_comment = Some(s.into()),
        },
        Field {
            name: "sha1",
            base: edit,
            set: |e, s| e.sha1 = Some(s.into()),
        },
        Field {
            name: "tag",
            base: edit,
            set: |e, s| e.tags = vec![s.into(), "second".into()],
        },
        Field {
            name: "log title",
            base: log,
            set: |e, s| e.title = s.into(),
        },
        Field {
            name: "log comment",
            base: log,
            set: |e, s| e.comment = s.into(),
        },
        Field {
            name: "action_comment",
            base: log,
            set: |e, s| e.log.as_mut().unwrap().action_comment = s.into(),
        },
        Field {
            name: "log_type",
            base: log,
            set: |e, s| e.log.as_mut().unwrap().log_type = s.into(),
        },
        Field {
            name: "log_action",
            base: log,
            set: |e, s| e.log.as_mut().unwrap().action = s.into(),
        },
        Field {
            name: "log param values",
            base: log,
            set: |e, s| {
                let log = e.log.as_mut().unwrap();
                log.params_raw = Some(json!({"duration": s, "flags": s, "4::target": s}));
                log.params_api = Some(json!({"duration": s, "flags": [s, s], "target": s}));
            },
        },
    ]
}

fn with(field: &Field, value: &str) -> Event {
    let mut event = (field.base)();
    (field.set)(&mut event, value);
    event
}

/// What an XML attribute value must read back as: the value with XML-forbidden characters as U+FFFD.
fn xml_clean(value: &str) -> String {
    value
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect()
}

fn xml(format: Format, event: &Event) -> xml_tree::Element {
    let text = format.render(event, &context()).unwrap();
    xml_tree::parse(&text).unwrap_or_else(|e| {
        panic!(
            "{} not well-formed: {e}\n{}",
            format.name(),
            String::from_utf8_lossy(&text)
        )
    })
}

fn json_packet(event: &Event) -> Value {
    let text = Format::Json.render(event, &context()).unwrap();
    assert!(!text.contains(&b'\n'), "a json packet is one line");
    serde_json::from_slice(&text).expect("json parses")
}

/// Keys in order, recursively, without values.
fn json_shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Array(map.iter().map(|(k, v)| json!([k, json_shape(v)])).collect())
        }
        Value::Array(list) => Value::Array(list.iter().map(json_shape).collect()),
        _ => Value::Null,
    }
}

/// The IRC line, framed with a `#channel<TAB>` prefix: exactly one line, the prefix's tab first, no CR.
fn irc_datagram(event: &Event) -> Vec<u8> {
    let line = Format::Irc.render(event, &context()).unwrap();
    let datagram = frame(Some(PREFIX), &line);
    assert_eq!(datagram.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(datagram.last(), Some(&b'\n'));
    assert!(
        !datagram.contains(&b'\r'),
        "{:?}",
        String::from_utf8_lossy(&datagram)
    );
    let tab = datagram.iter().position(|&b| b == b'\t');
    assert_eq!(tab, Some(PREFIX.len() - 1), "the first tab is the prefix's");
    assert!(
        !line.starts_with(b"\t"),
        "without a prefix no line starts with a tab"
    );
    datagram
}

#[test]
fn no_field_can_forge_xml_structure() {
    for format in [Format::Xmlrc, Format::Xml] {
        for field in fields() {
            let baseline = xml(format, &with(&field, PLAIN)).shape();
            for value in hostile::strings() {
                let root = xml(format, &with(&field, &value));
                assert_eq!(
                    root.shape(),
                    baseline,
                    "{} {}: {value:?}",
                    format.name(),
                    field.name
                );
            }
        }
    }
}

#[test]
fn xml_attribute_values_carry_the_text() {
    // (field, xmlrc attribute, xml attribute)
    let checks: [(&str, &str, &str); 5] = [
        ("title", "title", "title"),
        ("user", "user", "user"),
        ("comment", "comment", "comment"),
        ("log comment", "comment", "comment"),
        ("action_comment", "", "log_action_comment"),
    ];
    for field in fields() {
        let Some((_, rc_attr, packet_attr)) = checks.iter().find(|(f, _, _)| *f == field.name)
        else {
            continue;
        };
        for value in hostile::strings() {
            let event = with(&field, &value);
            for (format, attr) in [(Format::Xmlrc, rc_attr), (Format::Xml, packet_attr)] {
                if attr.is_empty() {
                    continue;
                }
                let root = xml(format, &event);
                assert_eq!(
                    root.attr(attr),
                    Some(xml_clean(&value).as_str()),
                    "{} {}",
                    format.name(),
                    field.name
                );
            }
        }
    }
}

#[test]
fn no_field_can_forge_json_keys_and_values_arrive_intact() {
    for field in fields() {
        let baseline = json_shape(&json_packet(&with(&field, PLAIN)));
        for value in hostile::strings() {
            let packet = json_packet(&with(&field, &value));
            assert_eq!(json_shape(&packet), baseline, "{}: {value:?}", field.name);
            let key = match field.name {
                "title" => "title",
                "user" => "user",
                "comment" | "log comment" => "comment",
                "action_comment" => "log_action_comment",
                "log_type" => "log_type",
                "log_action" => "log_action",
                _ => continue,
            };
            assert_eq!(packet[key], Value::from(value.as_str()), "{}", field.name);
        }
    }
}

#[test]
fn no_field_can_forge_a_second_irc_line() {
    for field in fields() {
        for value in hostile::strings() {
            irc_datagram(&with(&field, &value));
        }
    }
}

#[test]
fn framed_xml_and_json_lines_all_carry_the_prefix() {
    for format in [Format::Xmlrc, Format::Xml, Format::Json] {
        for value in hostile::strings() {
            let event = with(&fields()[2], &value);
            let text = format.render(&event, &context()).unwrap();
            let datagram = frame(Some(PREFIX), &text);
            let body = datagram.strip_suffix(b"\n").unwrap();
            for line in body.split(|&b| b == b'\n') {
                assert!(line.starts_with(b"#en.wikipedia\t "), "{}", format.name());
            }
            if format == Format::Json {
                assert_eq!(body.iter().filter(|&&b| b == b'\n').count(), 0);
            }
        }
    }
}

#[test]
fn hostile_log_param_keys_stay_well_formed() {
    // Keys become element and attribute names in the XML formats (mangled where XML does not allow them)
    // and stay keys, exactly, in JSON.
    for value in hostile::strings() {
        let mut event = log();
        let params = json!({ value.clone(): value, "4::target": {(value.clone() + "x"): [value]} });
        let info = event.log.as_mut().unwrap();
        info.params_raw = Some(params.clone());
        info.params_api = Some(params.clone());
        xml(Format::Xmlrc, &event);
        xml(Format::Xml, &event);
        assert_eq!(json_packet(&event)["log_params"], params);
        irc_datagram(&event);
    }
}

/// Replaces string field `index` of an encoded payload with raw bytes (the layout of src/payload.rs).
fn with_raw_string(encoded: &[u8], index: usize, raw: &[u8]) -> Vec<u8> {
    let mut at = 4 + 8 * payload::INT_COUNT;
    let mut out = encoded[..at].to_vec();
    for i in 0..payload::STRING_COUNT {
        let len = u32::from_le_bytes(encoded[at..at + 4].try_into().unwrap()) as usize;
        let bytes = if i == index {
            raw
        } else {
            &encoded[at + 4..at + 4 + len]
        };
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
        at += 4 + len;
    }
    out
}

#[test]
fn invalid_utf8_in_the_payload_becomes_u_fffd_in_every_format() {
    let invalid: [&[u8]; 6] = [
        b"\xff\xfe",
        b"a\xed\xa0\x80b",           // a UTF-16 surrogate encoded as UTF-8
        b"\xed\xa0\xbd\xed\xb8\x80", // a surrogate pair encoded as CESU-8
        b"\xc0\xaf",                 // overlong '/'
        b"a\xf4\x90\x80\x80",        // above U+10FFFF
        b"\xe2\x82",                 // truncated sequence
    ];
    let encoded = payload::encode(&log());
    // title (1), user (2), comment (3), action_comment (6)
    for index in [1, 2, 3, 6] {
        for raw in invalid {
            let event = payload::decode(&with_raw_string(&encoded, index, raw)).unwrap();
            let text = String::from_utf8_lossy(raw);
            assert!(text.contains('\u{FFFD}'));
            for format in Format::ALL {
                let out = format.render(&event, &context()).unwrap();
                assert!(std::str::from_utf8(&out).is_ok(), "{}", format.name());
                match format {
                    Format::Xmlrc | Format::Xml => {
                        xml_tree::parse(&out).unwrap();
                    }
                    Format::Json => {
                        serde_json::from_slice::<Value>(&out).unwrap();
                    }
                    Format::Irc => {
                        irc_datagram(&event);
                    }
                }
            }
        }
    }
}

#[test]
fn long_hostile_summaries_are_shortened_into_well_formed_datagrams() {
    let long = "ä€😀<&\"'>]]>\n\t\0".repeat(3000);
    for format in Format::ALL {
        for prefix in [None, Some("#en.wikipedia\t")] {
            let uri = match prefix {
                Some(p) => format!("udp://127.0.0.1:9/{p}"),
                None => "udp://127.0.0.1:9".into(),
            };
            let config = json!({"uri": uri, "format": format.name(), "max_datagram": 1400});
            let mut feed = Feed::from_json(config.to_string().as_bytes()).unwrap();
            feed.context = context();
            let mut event = edit();
            event.comment = long.clone();
            event.parsed_comment = Some(long.clone());
            let Fit::Shortened(datagram) = feed.datagram(&event, feed.render(&event).as_deref())
            else {
                panic!("{}: expected a shortened datagram", format.name());
            };
            assert!(datagram.len() <= 1400);
            let body: Vec<u8> = match prefix {
                Some(p) => {
                    let lead = format!("{p} ");
                    let body = datagram.strip_suffix(b"\n").unwrap();
                    body.split(|&b| b == b'\n')
                        .map(|line| line.strip_prefix(lead.as_bytes()).unwrap())
                        .collect::<Vec<_>>()
                        .join(&b'\n')
                }
                None => datagram.clone(),
            };
            match format {
                Format::Xmlrc | Format::Xml => {
                    let root = xml_tree::parse(&body).unwrap();
                    let full = xml(format, &event).shape();
                    assert_eq!(root.shape(), full, "{}", format.name());
                    assert!(root.attr("comment").unwrap().ends_with("..."));
                }
                Format::Json => {
                    let packet: Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(json_shape(&packet), json_shape(&json_packet(&event)));
                    assert!(packet["comment"].as_str().unwrap().ends_with("..."));
                }
                Format::Irc => {
                    assert_eq!(datagram.iter().filter(|&&b| b == b'\n').count(), 1);
                }
            }
        }
    }
}
