//! The `xmlrc` format: the `<rc .../>` element api.php (MediaWiki 1.39, `list=recentchanges&format=xml`,
//! default formatversion) prints for the change with the feed's `rcprop` set, plus a last `wikiid`
//! attribute, as the XMLRC extension sent it.
//!
//! The element's own fields follow `ApiQueryRecentChanges::extractRowInfo()` in its order; `<logparams>` goes
//! through the same result transformations and printer api.php uses ([`super::api_result`],
//! [`super::api_xml`]). Escaping is MediaWiki's; characters XML 1.0 forbids become U+FFFD
//! ([`super::xml_chars`]). Changes reaching a feed are never hidden (`rc_deleted` is 0), so the
//! `*hidden`/`suppressed` flags never appear.
//!
//! `unpatrolled` is computed as for a user allowed to patrol (api.php refuses `rcprop=patrolled` to others),
//! assuming the default `$wgUseFilePatrol = true` for uploads.

use super::api_result;
use super::api_xml;
use super::php_value::Value;
use super::xml_chars::{push_attr, push_int, push_text};
use crate::context::FeedContext;
use crate::event::{civil_from_unix, iso8601, ChangeType, Event, Patrolled};

fn attr(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    push_attr(out, value);
    out.push(b'"');
}

/// `wfTimestamp( TS_ISO_8601, ... )` (what [`crate::event::iso8601`] returns), written without `fmt`.
fn push_iso8601(out: &mut Vec<u8>, secs: i64) {
    let (year, month, day, hour, minute, second) = civil_from_unix(secs);
    if (0..=9999).contains(&year) {
        let pad2 = |out: &mut Vec<u8>, n: u32| {
            out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8])
        };
        pad2(out, (year / 100) as u32);
        pad2(out, (year % 100) as u32);
        for (sep, n) in [
            (b'-', month),
            (b'-', day),
            (b'T', hour),
            (b':', minute),
            (b':', second),
        ] {
            out.push(sep);
            pad2(out, n);
        }
        out.push(b'Z');
    } else {
        out.extend_from_slice(iso8601(secs).as_bytes());
    }
}

fn int_attr(out: &mut Vec<u8>, name: &str, value: i64) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    push_int(out, value);
    out.push(b'"');
}

/// A true boolean is an empty attribute; false is left out.
fn flag_attr(out: &mut Vec<u8>, name: &str, on: bool) {
    if on {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"\"");
    }
}

pub fn format(event: &Event, ctx: &FeedContext) -> Vec<u8> {
    let props = &ctx.xmlrc_props;
    let mut out =
        Vec::with_capacity(1024 + event.title.len() + event.comment.len() + event.user.len());
    out.extend_from_slice(b"<rc");
    attr(&mut out, "type", event.change_type.name());
    if props.title {
        int_attr(&mut out, "ns", event.namespace);
        attr(&mut out, "title", &event.title);
    }
    if props.ids {
        int_attr(&mut out, "pageid", event.page_id);
        int_attr(&mut out, "revid", event.this_oldid);
        int_attr(&mut out, "old_revid", event.last_oldid);
        int_attr(&mut out, "rcid", event.rc_id);
    }
    if props.user || props.userid {
        if props.user {
            attr(&mut out, "user", &event.user);
        }
        if props.userid {
            int_attr(&mut out, "userid", event.user_id);
        }
        flag_attr(&mut out, "anon", event.is_anon());
    }
    let is_new = event.change_type == ChangeType::New;
    if props.flags {
        flag_attr(&mut out, "bot", event.bot);
        flag_attr(&mut out, "new", is_new);
        flag_attr(&mut out, "minor", event.minor);
    }
    if props.sizes {
        int_attr(&mut out, "oldlen", event.old_len.unwrap_or(0));
        int_attr(&mut out, "newlen", event.new_len.unwrap_or(0));
    }
    if props.timestamp {
        out.extend_from_slice(b" timestamp=\"");
        push_iso8601(&mut out, event.timestamp);
        out.push(b'"');
    }
    if props.comment {
        attr(&mut out, "comment", &event.comment);
    }
    if props.parsedcomment {
        if let Some(parsed) = &event.parsed_comment {
            attr(&mut out, "parsedcomment", parsed);
        }
    }
    if props.redirect {
        flag_attr(&mut out, "redirect", event.redirect);
    }
    let log = event
        .log
        .as_ref()
        .filter(|_| event.change_type == ChangeType::Log);
    if props.patrolled {
        let unpatrolled = event.patrolled == Patrolled::Unpatrolled
            && (ctx.use_rc_patrol
                || (is_new && ctx.use_np_patrol)
                || log.is_some_and(|l| l.log_type == "upload"));
        flag_attr(
            &mut out,
            "patrolled",
            event.patrolled != Patrolled::Unpatrolled,
        );
        flag_attr(&mut out, "unpatrolled", unpatrolled);
        flag_attr(
            &mut out,
            "autopatrolled",
            event.patrolled == Patrolled::Autopatrolled,
        );
    }

    // Array values print as child elements after all attributes: logparams, then tags.
    let mut logparams = None;
    if let Some(log) = log.filter(|_| props.loginfo) {
        int_attr(&mut out, "logid", log.id);
        attr(&mut out, "logtype", &log.log_type);
        attr(&mut out, "logaction", &log.action);
        match log.params_api.as_ref().map(api_result::transform) {
            Some(params @ Value::Array(_)) => logparams = Some(params),
            Some(Value::Bool(on)) => flag_attr(&mut out, "logparams", on),
            Some(Value::Null) | None => {}
            Some(scalar) => attr(&mut out, "logparams", &scalar.to_php_string()),
        }
    }
    if props.sha1 {
        // Present whenever the change has a revision (log rows too, e.g. protections), as the API's join gives.
        if let Some(sha1) = &event.sha1 {
            attr(&mut out, "sha1", sha1);
        }
    }
    attr(&mut out, "wikiid", &ctx.wiki_id);

    if logparams.is_none() && !props.tags {
        out.extend_from_slice(b" />");
        return out;
    }
    out.push(b'>');
    if let Some(params) = &logparams {
        api_xml::print(&mut out, Some("logparams"), params, None);
    }
    if props.tags {
        if event.tags.is_empty() {
            out.extend_from_slice(b"<tags />");
        } else {
            out.extend_from_slice(b"<tags>");
            for tag in &event.tags {
                if tag.is_empty() {
                    out.extend_from_slice(b"<tag />");
                } else {
                    out.extend_from_slice(b"<tag>");
                    push_text(&mut out, tag);
                    out.extend_from_slice(b"</tag>");
                }
            }
            out.extend_from_slice(b"</tags>");
        }
    }
    out.extend_from_slice(b"</rc>");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value as Json};

    use super::super::php_oracle;
    use super::super::xml_chars::is_xml_char;
    use super::*;
    use crate::context::XmlrcProps;
    use crate::testing::{random as random_input, samples, xml_tree};

    /// What the element must carry for `text` once forbidden characters are replaced.
    fn sanitized(text: &str) -> String {
        text.chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect()
    }

    /// Parses the element with the strict reader: (attributes of the root `<rc>`, names of all descendants in
    /// document order).
    fn parse(xml: &[u8]) -> (Vec<(String, String)>, Vec<String>) {
        fn names(element: &xml_tree::Element, out: &mut Vec<String>) {
            for child in element.elements() {
                out.push(child.name.clone());
                names(child, out);
            }
        }
        let root = xml_tree::parse(xml)
            .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(xml)));
        assert_eq!(root.name, "rc");
        let mut descendants = Vec::new();
        names(&root, &mut descendants);
        (root.attrs, descendants)
    }

    fn all_props() -> XmlrcProps {
        XmlrcProps::parse("user|userid|comment|parsedcomment|flags|timestamp|title|ids|sizes|redirect|patrolled|loginfo|tags|sha1")
            .unwrap()
    }

    #[test]
    fn hostile_text_cannot_forge_attributes_or_elements() {
        let mut ctx = samples::context();
        ctx.xmlrc_props = all_props();
        let mut rng = random_input::Rng::new(0x5eed);
        let mut texts: Vec<String> = vec![
            crate::testing::hostile::HOSTILE.into(),
            "\" injected=\"1".into(),
            "\"/><rc x=\"".into(),
        ];
        texts.extend((0..200).map(|_| rng.text(12)));
        for text in &texts {
            for mut event in [
                samples::edit(),
                samples::new_page(),
                samples::log(None),
                samples::categorize(),
            ] {
                event.title = text.clone();
                event.user = text.clone();
                event.comment = text.clone();
                event.parsed_comment = Some(text.clone());
                event.sha1 = Some(text.clone());
                event.tags = vec![text.clone(), String::new()];
                if let Some(log) = &mut event.log {
                    log.log_type = text.clone();
                    log.action = text.clone();
                    log.params_api =
                        Some(json!({ "a": text, "0": text, "_element": "p", "_type": "assoc" }));
                }
                ctx.wiki_id = text.clone();
                let xml = format(&event, &ctx);
                let (attrs, children) = parse(&xml);
                let names: Vec<&str> = attrs.iter().map(|(k, _)| k.as_str()).collect();
                let value = |name: &str| {
                    attrs
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                };
                let want = sanitized(text);
                for name in [
                    "title",
                    "user",
                    "comment",
                    "parsedcomment",
                    "sha1",
                    "wikiid",
                ] {
                    assert_eq!(value(name), Some(want.as_str()), "{name} of {text:?}");
                }
                let is_log = event.change_type == ChangeType::Log;
                let expected_names: Vec<&str> = [
                    "type",
                    "ns",
                    "title",
                    "pageid",
                    "revid",
                    "old_revid",
                    "rcid",
                    "user",
                    "userid",
                    "anon",
                    "bot",
                    "new",
                    "minor",
                    "oldlen",
                    "newlen",
                    "timestamp",
                    "comment",
                    "parsedcomment",
                    "redirect",
                    "patrolled",
                    "unpatrolled",
                    "autopatrolled",
                    "logid",
                    "logtype",
                    "logaction",
                    "sha1",
                    "wikiid",
                ]
                .into_iter()
                .filter(|n| names.contains(n) || *n == "logid" && is_log)
                .collect();
                assert_eq!(names, expected_names, "attributes for {text:?}");
                let expected_children: &[&str] = if is_log {
                    &["logparams", "p", "tags", "tag", "tag"]
                } else {
                    &["tags", "tag", "tag"]
                };
                assert_eq!(children, expected_children, "children for {text:?}");
            }
        }
    }

    #[test]
    fn huge_comment_round_trips() {
        let ctx = samples::context();
        let mut event = samples::edit();
        event.comment = "<&\"'\t\n\r\0x".repeat(1 << 17);
        let xml = format(&event, &ctx);
        let (attrs, _) = parse(&xml);
        let comment = attrs
            .iter()
            .find(|(k, _)| k == "comment")
            .map(|(_, v)| v.clone());
        assert_eq!(comment, Some(sanitized(&event.comment)));
    }

    #[test]
    fn many_keys_stay_well_formed() {
        // Tens of thousands of attributes, children and preserved keys, with names that mangle alike.
        let mut map = serde_json::Map::new();
        let mut preserve = Vec::new();
        for i in 0..20_000 {
            map.insert(format!("k {i}"), json!(i));
            map.insert(format!("_k.20.{i}"), json!("preserved"));
            map.insert(format!("c{i}"), json!([i]));
            map.insert(format!("n{i}\n"), json!(true));
            map.insert(format!("n{i}"), json!(false));
            preserve.push(format!("_k.20.{i}"));
        }
        map.insert("_preservekeys".into(), json!(preserve));
        let mut event = samples::log(None);
        event.log.as_mut().unwrap().params_api = Some(Json::Object(map));
        let (_, children) = parse(&format(&event, &samples::context()));
        assert_eq!(children.len(), 1 + 2 * 20_000 + 1);
    }

    #[test]
    fn timestamps_match_iso8601() {
        for secs in [
            0,
            1_795_302_333,
            951_782_400,
            253_402_300_799,
            -1,
            -62_135_596_800,
            253_402_300_800,
            -62_135_596_801,
        ] {
            let mut out = Vec::new();
            push_iso8601(&mut out, secs);
            assert_eq!(String::from_utf8(out).unwrap(), iso8601(secs), "{secs}");
        }
    }

    #[test]
    fn empty_property_set_is_a_short_element() {
        let mut ctx = samples::context();
        ctx.xmlrc_props = XmlrcProps::parse("").unwrap();
        let (attrs, children) = parse(&format(&samples::edit(), &ctx));
        assert_eq!(attrs.len(), 2);
        assert!(children.is_empty());
    }

    /// Values shaped like `LogFormatter::formatParametersForApi()` results of core's formatters, plus the
    /// ApiResult metadata cases the printer distinguishes.
    fn realistic_params() -> Vec<Json> {
        vec![
            json!({ "_element": "param", "_type": "assoc" }),
            json!({ "description": "[edit=sysop] (indefinite)", "cascade": false,
                    "details": [{ "type": "edit", "level": "sysop", "expiry": "infinite", "cascade": false },
                                { "type": "move", "level": "autoconfirmed", "expiry": "2026-12-01T00:00:00Z", "cascade": true }],
                    "_element": "param", "_type": "assoc" }),
            json!({ "target_ns": 0, "target_title": "New \"name\" & <co>", "suppressredirect": true,
                    "_element": "param", "_type": "assoc" }),
            json!({ "duration": "infinity", "flags": { "0": "nocreate", "1": "noautoblock", "_element": "f" },
                    "sitewide": false, "restrictions": { "pages": { "0": { "page_ns": 0, "page_title": "A" }, "_element": "p" },
                    "namespaces": { "0": 4, "_element": "ns" } },
                    "expiry": "2026-12-01T00:00:00Z", "_element": "param", "_type": "assoc" }),
            json!({ "oldgroups": { "_element": "g" }, "newgroups": { "0": "sysop", "1": "bureaucrat", "_element": "g" },
                    "oldmetadata": { "_type": "array", "_element": "g" },
                    "newmetadata": { "0": { "group": "sysop", "expiry": "infinity" }, "1": { "group": "bureaucrat",
                    "expiry": "2027-01-01T00:00:00Z" }, "_type": "array", "_element": "g" }, "_element": "param", "_type": "assoc" }),
            json!({ "type": "revision", "ids": { "0": 12, "1": 15, "_element": "id" }, "old": { "bitmask": 0, "content": false },
                    "new": { "bitmask": 1, "content": true }, "_element": "param", "_type": "assoc" }),
            json!({ "img_sha1": "abc", "img_timestamp": "2026-11-21T23:05:33Z", "_element": "param", "_type": "assoc" }),
            json!({ "curid": 5, "previd": 0, "auto": true, "_element": "param", "_type": "assoc" }),
            json!({ "reason_key": "a", "reason_params": ["x", 1], "reason_text": "A", "_element": "param", "_type": "assoc" }),
            json!({ "kv": { "k1": "v1", "k 2": ["a"], "3": true, "_type": "kvp" }, "_type": "assoc" }),
            json!({ "kv": { "k1": "v1", "k2": { "x": 1 }, "_type": "kvp", "_kvpmerge": true, "_kvpkeyname": "key" } }),
            json!({ "bc": { "a": "b", "_type": "BCkvp", "_kvpkeyname": "name" }, "bca": { "0": "x", "_type": "BCassoc" },
                    "bcr": { "2": "x", "1": "y", "_type": "BCarray" } }),
            json!({ "*": "content text", "attr": "v" }),
            json!({ "*": "content", "child": ["x"] }),
            json!({ "text": "t\n x", "_content": "text", "other": 1 }),
            json!({ "s": "sub", "n": 1, "_subelements": ["s", "n"], "_BC_subelements": ["z"], "z": "bc" }),
            json!({ "b": true, "c": false, "_BC_bools": ["b", "c"], "list": [true, false, null, "", 0, 1.5] }),
            json!({ "_name": "kept", "_preservekeys": ["_name"], "_hidden": "dropped", "": "empty key",
                    "4::target": "legacy", "a.b": "dot", "é": "ok", "1x": "digit" }),
            json!({ "5": "a", "2": "b", "x": "c", "_type": "array" }),
            json!({ "1": "a", "0": "b" }),
            json!({ "n": null, "f": 0.1, "e": 1e25, "i": -7, "nested": [[["deep"]], { "k": [] }] }),
            json!({ "_element": "has space", "0": "x" }),
            json!([]),
            json!(["a", "b"]),
        ]
    }

    /// Replaces what XML 1.0 forbids in MediaWiki's output, as this crate does, so the rest can be compared.
    fn sanitize_php(xml: &str) -> String {
        sanitized(xml)
    }

    fn ours(params: &Json) -> String {
        let mut out = Vec::new();
        api_xml::print(
            &mut out,
            Some("logparams"),
            &api_result::transform(params),
            None,
        );
        String::from_utf8(out).unwrap()
    }

    fn well_formed(xml: &str) -> bool {
        xml_tree::parse(xml.as_bytes()).is_ok()
    }

    #[test]
    fn logparams_match_api_php() {
        let params = realistic_params();
        let expected = php_oracle::logparams_xml(&params);
        for (p, want) in params.iter().zip(expected) {
            let want = want.unwrap_or_else(|| panic!("api.php fails on {p}"));
            assert_eq!(ours(p), sanitize_php(&want), "for {p}");
        }
    }

    #[test]
    fn random_logparams_match_api_php_where_it_is_well_formed() {
        let mut rng = random_input::Rng::new(42);
        let params: Vec<Json> = (0..600)
            .map(|_| json!({ "p": rng.params(4), "q": rng.params(3) }))
            .collect();
        let expected = php_oracle::logparams_xml(&params);
        let mut compared = 0;
        for (p, want) in params.iter().zip(expected) {
            let mine = ours(p);
            assert!(
                well_formed(&mine) && mine.chars().all(is_xml_char),
                "ill-formed {mine:?} for {p}"
            );
            // Where api.php throws or prints a malformed document, only well-formedness is required.
            if let Some(want) = want.map(|w| sanitize_php(&w)).filter(|w| well_formed(w)) {
                assert_eq!(mine, want, "for {p}");
                compared += 1;
            }
        }
        assert!(compared > 400, "only {compared} comparisons");
    }
}
