//! Payload v3 decoding: round trips and every kind of malformed input.

use rcemit::event::{ChangeType, Event, LogInfo};
use rcemit::payload::{decode, encode, DecodeError, INT_COUNT, STRING_COUNT};
use rcemit::testing::samples::edit;
use serde_json::json;

fn log_event() -> Event {
    Event {
        change_type: ChangeType::Log,
        old_len: None,
        new_len: None,
        log: Some(LogInfo {
            id: 7,
            log_type: "protect".into(),
            action: "protect".into(),
            params_raw: Some(json!({"description": "[edit=sysop]", "cascade": false})),
            params_api: Some(json!({"description": "[edit=sysop]", "_element": "param"})),
            action_comment: "protected [[Test Page]]".into(),
        }),
        tags: vec!["mw-rollback".into(), "custom tag".into()],
        sha1: Some(String::new()),
        parsed_comment: Some("<b>x</b>".into()),
        notify_url: Some("https://hooked.example/?diff=3".into()),
        title_url: Some("https://hooked.example/wiki/Test_Page".into()),
        part_failed: true,
        ..edit()
    }
}

/// Offset of string field `index` (0-based) in an encoded payload, and its length.
fn string_field(payload: &[u8], index: usize) -> (usize, usize) {
    let mut at = 4 + 8 * INT_COUNT;
    for _ in 0..index {
        let len = u32::from_le_bytes(payload[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + len;
    }
    let len = u32::from_le_bytes(payload[at..at + 4].try_into().unwrap()) as usize;
    (at, len)
}

fn replace_string(payload: &[u8], index: usize, bytes: &[u8]) -> Vec<u8> {
    let (at, len) = string_field(payload, index);
    let mut out = payload[..at].to_vec();
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(&payload[at + 4 + len..]);
    out
}

fn replace_int(payload: &[u8], index: usize, value: i64) -> Vec<u8> {
    let mut out = payload.to_vec();
    out[4 + 8 * index..4 + 8 * index + 8].copy_from_slice(&value.to_le_bytes());
    out
}

#[test]
fn round_trips_edit_and_log() {
    for event in [edit(), log_event()] {
        assert_eq!(decode(&encode(&event)).unwrap(), event);
    }
}

#[test]
fn separators_nul_and_length_bytes_inside_strings_stay_in_their_field() {
    let mut event = edit();
    event.title = "A\0B\u{1}C\tD\nE|F\u{7f}".into();
    // A comment that looks like a length prefix followed by another field.
    event.comment = String::from_utf8(vec![5, 0, 0, 0, b'h', b'e', b'l', b'l', b'o']).unwrap();
    event.user = "RCE\u{1}".into();
    let decoded = decode(&encode(&event)).unwrap();
    assert_eq!(decoded, event);
}

#[test]
fn invalid_utf8_is_replaced_not_rejected() {
    let payload = replace_string(&encode(&edit()), 3, b"ok \xff\xfe then \xc3");
    let event = decode(&payload).unwrap();
    assert_eq!(event.comment, "ok \u{fffd}\u{fffd} then \u{fffd}");
    assert_eq!(event.title, "Test Page");
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    for event in [edit(), log_event()] {
        let payload = encode(&event);
        for cut in 0..payload.len() {
            let err = decode(&payload[..cut]).unwrap_err();
            let expected = if cut < 4 { "bad_magic" } else { "truncated" };
            assert_eq!(err.reason(), expected, "cut at {cut}: {err}");
        }
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut payload = encode(&edit());
    payload.extend_from_slice(b"xyz");
    assert_eq!(decode(&payload), Err(DecodeError::TrailingBytes(3)));
}

#[test]
fn header_errors_are_named() {
    let payload = encode(&edit());
    let mut wrong_magic = payload.clone();
    wrong_magic[0] = b'X';
    assert_eq!(decode(&wrong_magic), Err(DecodeError::BadMagic));
    for other in [2, 4] {
        let mut other_version = payload.clone();
        other_version[3] = other;
        assert_eq!(
            decode(&other_version),
            Err(DecodeError::UnsupportedVersion(other))
        );
    }
    assert_eq!(decode(b""), Err(DecodeError::BadMagic));
}

#[test]
fn field_values_out_of_range_are_named() {
    let payload = encode(&edit());
    assert_eq!(
        decode(&replace_int(&payload, 1, 5)),
        Err(DecodeError::BadChangeType(5))
    );
    assert_eq!(
        decode(&replace_int(&payload, 1, -1)),
        Err(DecodeError::BadChangeType(-1))
    );
    assert_eq!(
        decode(&replace_int(&payload, 10, 3)),
        Err(DecodeError::BadPatrolled(3))
    );
    assert_eq!(
        decode(&replace_int(&payload, 11, 1 << 40)),
        Err(DecodeError::BadFlags(1 << 40))
    );
    for ts in [
        &b""[..],
        b"2026112123053",
        b"20261121230533x",
        b"2026112123053x",
        b"20261321230533",
        b"20260230230533",
        b"20261121240000",
    ] {
        assert_eq!(
            decode(&replace_string(&payload, 0, ts)),
            Err(DecodeError::BadTimestamp),
            "{ts:?}"
        );
    }
    // Leap day is valid in 2028, not in 2026.
    assert!(decode(&replace_string(&payload, 0, b"20280229000000")).is_ok());
}

#[test]
fn a_string_length_beyond_the_payload_is_truncation() {
    let payload = encode(&edit());
    let (at, _) = string_field(&payload, 1);
    let mut bad = payload.clone();
    bad[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode(&bad), Err(DecodeError::Truncated("title")));
}

#[test]
fn bad_log_params_json_is_rejected_on_log_rows_only() {
    let log = encode(&log_event());
    assert_eq!(
        decode(&replace_string(&log, 7, b"{not json")),
        Err(DecodeError::BadLogParams("log_params_raw"))
    );
    assert_eq!(
        decode(&replace_string(&log, 8, b"[1,")),
        Err(DecodeError::BadLogParams("log_params_api"))
    );
    // Log fields of a non-log row are not read at all.
    let edit = replace_string(&encode(&edit()), 7, b"{not json");
    assert_eq!(decode(&edit).unwrap().log, None);
}

#[test]
fn tag_list_is_length_prefixed_and_checked() {
    let payload = encode(&log_event());
    let (at, len) = string_field(&payload, 9);
    // Cut the last byte of the last tag while keeping the outer length consistent.
    let inner = payload[at + 4..at + 4 + len - 1].to_vec();
    assert_eq!(
        decode(&replace_string(&payload, 9, &inner)),
        Err(DecodeError::Truncated("tags"))
    );
}

#[test]
fn empty_fields_decode() {
    let mut event = edit();
    event.title.clear();
    event.user.clear();
    event.comment.clear();
    assert_eq!(decode(&encode(&event)).unwrap(), event);
    let all_empty: Vec<u8> = {
        let mut p = b"RCE\x03".to_vec();
        p.extend(std::iter::repeat_n(0u8, 8 * INT_COUNT));
        for _ in 0..STRING_COUNT {
            p.extend_from_slice(&0u32.to_le_bytes());
        }
        p
    };
    // Every field empty: the only complaint is the missing timestamp.
    assert_eq!(decode(&all_empty), Err(DecodeError::BadTimestamp));
}

#[test]
fn huge_comment_and_huge_tag_list_decode() {
    let mut event = edit();
    event.comment = "é".repeat(512 * 1024); // 1 MiB of UTF-8
    event.tags = (0..10_000).map(|i| format!("tag-{i}")).collect();
    let decoded = decode(&encode(&event)).unwrap();
    assert_eq!(decoded.comment.len(), 1024 * 1024);
    assert_eq!(decoded.tags.len(), 10_000);
    assert_eq!(decoded, event);
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic scan of mutations; cargo-fuzz covers this more deeply.
    let base = encode(&log_event());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut p = base.clone();
        let at = (state as usize) % p.len();
        p[at] = (state >> 32) as u8;
        let _ = decode(&p);
    }
}

/// A log payload whose params field holds `stored` (the params as stored) with `flags` added.
fn keyed(log_type: &str, action: &str, stored: &str, flags: u64) -> Event {
    let mut event = log_event();
    event.part_failed = false;
    let info = event.log.as_mut().unwrap();
    info.log_type = log_type.into();
    info.action = action.into();
    info.params_raw = None;
    info.params_api = None;
    let payload = replace_string(&encode(&event), 7, stored.as_bytes());
    let flags_now = i64::from_le_bytes(payload[4 + 8 * 11..4 + 8 * 12].try_into().unwrap());
    decode(&replace_int(&payload, 11, flags_now | flags as i64)).unwrap()
}

/// The golden patrol row (tests/goldens/cases-1.39.json, "patrol"): core's JSON feed and api.php printed these
/// params for it.
fn assert_golden_patrol(event: Event) {
    let log = event.log.unwrap();
    assert!(!event.part_failed);
    assert_eq!(
        log.params_raw,
        Some(json!({"curid": "4", "previd": "3", "auto": 0}))
    );
    assert_eq!(
        log.params_api.unwrap().to_string(),
        r#"{"curid":4,"previd":3,"auto":false,"_element":"param","_type":"assoc"}"#
    );
}

#[test]
fn stored_params_give_core_params_and_the_library_derives_the_api_params() {
    use rcemit::payload::{FLAG_API_PARAMS_IN_LIBRARY, FLAG_PARAMS_KEYED};
    let both = FLAG_PARAMS_KEYED | FLAG_API_PARAMS_IN_LIBRARY;
    // The patrol's params as MediaWiki 1.39 stored them (ids as digit strings), unserialised by PHP.
    assert_golden_patrol(keyed(
        "patrol",
        "patrol",
        r#"{"4::curid":"4","5::previd":"3","6::auto":0}"#,
        both,
    ));
    // Keys stripped to 0, 1, ... in order make a list, as PHP's json_encode prints it; without flag 2048
    // the API params stay PHP's (here: none).
    let event = keyed(
        "someext",
        "act",
        r#"{"4::0":1,"5::1":2}"#,
        FLAG_PARAMS_KEYED,
    );
    assert_eq!(event.log.as_ref().unwrap().params_raw, Some(json!([1, 2])));
    assert_eq!(event.log.unwrap().params_api, None);
    // A move flagged without its title's namespace (field 9): sent without, counted.
    let event = keyed(
        "move",
        "move",
        r#"{"4::target":"A","5::noredir":"0"}"#,
        both,
    );
    assert!(event.part_failed);
    assert_eq!(event.log.unwrap().params_api, None);
}

#[test]
fn a_title_namespace_that_is_not_a_number_is_a_decode_error() {
    use rcemit::payload::{FLAG_API_PARAMS_IN_LIBRARY, FLAG_PARAMS_KEYED};
    let mut event = log_event();
    let info = event.log.as_mut().unwrap();
    info.params_api = None;
    let payload = replace_string(&encode(&event), 7, br#"{"4::target":"Talk:A"}"#);
    let payload = replace_string(&payload, 8, b"1x");
    let flags = FLAG_PARAMS_KEYED | FLAG_API_PARAMS_IN_LIBRARY;
    let flags_now = i64::from_le_bytes(payload[4 + 8 * 11..4 + 8 * 12].try_into().unwrap());
    assert_eq!(
        decode(&replace_int(&payload, 11, flags_now | flags as i64)),
        Err(DecodeError::BadLogParams("log_title_ns"))
    );
}

#[test]
fn serialized_params_are_read_as_core_reads_them() {
    use rcemit::payload::{FLAG_API_PARAMS_IN_LIBRARY, FLAG_PARAMS_SERIALIZED};
    let both = FLAG_PARAMS_SERIALIZED | FLAG_API_PARAMS_IN_LIBRARY;
    // rc_params of the golden patrol row, as MediaWiki 1.39 stored it.
    let stored = r#"a:3:{s:8:"4::curid";s:1:"4";s:9:"5::previd";s:1:"3";s:7:"6::auto";i:0;}"#;
    assert_golden_patrol(keyed("patrol", "patrol", stored, both));
    // What unserialize() refuses is a legacy newline list, as core reads it.
    let event = keyed("move", "move", "a:Target\n1", FLAG_PARAMS_SERIALIZED);
    assert_eq!(
        event.log.unwrap().params_raw,
        Some(json!(["a:Target", "1"]))
    );
}
