//! One `<rc>` element as the JSON object api.php prints for the same change with `format=json&formatversion=2`
//! and XMLRC's rcprop set (FORMATS.md `xmlrc`), plus `wikiid`.
//!
//! api.php's XML drops what its JSON keeps: every value is a string, a false boolean is an absent attribute,
//! and an empty element may be `[]` or `{}`. The types therefore come from tables, taken from core's API
//! modules (ApiQueryRecentChanges, the LogFormatter subclasses' getParametersForApi) and checked against
//! api.php's own JSON by tests/relay/watch_test.py for every log type a scripted wiki produces.

use serde_json::{Map, Number, Value};
use xmpp_parsers::minidom::Element;

/// `<rc>` attributes that are integers.
const RC_INTS: &[&str] = &[
    "ns",
    "pageid",
    "revid",
    "old_revid",
    "rcid",
    "oldlen",
    "newlen",
    "logid",
    "userid",
];
/// Flags api.php always prints (false when the XML attribute is absent).
const RC_FLAGS: &[&str] = &["new", "minor", "bot", "redirect"];
/// Flags api.php prints only when true.
const RC_ONLY_TRUE: &[&str] = &[
    "anon",
    "temp",
    "userhidden",
    "commenthidden",
    "actionhidden",
    "sha1hidden",
    "suppressed",
    "patrolled",
    "unpatrolled",
    "autopatrolled",
];

/// Log parameter paths (keys joined by `.`, list items as `[]`) that are integers, in any log type.
const PARAM_INTS: &[&str] = &[
    "target_ns",
    "dest_ns",
    "count",
    "count.revisions",
    "count.files",
    "userid",
    "curid",
    "previd",
    "ids[]",
    "old.bitmask",
    "new.bitmask",
    "restrictions.pages[].page_ns",
    "restrictions.namespaces[]",
];
/// Log parameter paths that are lists even when empty.
const PARAM_LISTS: &[&str] = &[
    "details",
    "flags",
    "ids",
    "oldgroups",
    "newgroups",
    "oldmetadata",
    "newmetadata",
    "restrictions.pages",
    "restrictions.namespaces",
];
/// Booleans api.php always prints, per log type and action (`*`: any action): false when absent in the XML.
const PARAM_FLAGS: &[(&str, &str, &str)] = &[
    ("move", "*", "suppressredirect"),
    ("protect", "protect", "cascade"),
    ("protect", "modify", "cascade"),
    ("block", "block", "sitewide"),
    ("block", "reblock", "sitewide"),
    ("patrol", "*", "auto"),
    ("delete", "revision", "old.content"),
    ("delete", "revision", "old.comment"),
    ("delete", "revision", "old.user"),
    ("delete", "revision", "old.restricted"),
    ("delete", "revision", "new.content"),
    ("delete", "revision", "new.comment"),
    ("delete", "revision", "new.user"),
    ("delete", "revision", "new.restricted"),
    ("delete", "event", "old.content"),
    ("delete", "event", "old.comment"),
    ("delete", "event", "old.user"),
    ("delete", "event", "old.restricted"),
    ("delete", "event", "new.content"),
    ("delete", "event", "new.comment"),
    ("delete", "event", "new.user"),
    ("delete", "event", "new.restricted"),
];

/// The change as api.php's formatversion=2 object (plus `wikiid`).
pub fn rc_json(rc: &Element) -> Value {
    let mut out = Map::new();
    for (name, value) in attributes(rc) {
        let typed = if RC_INTS.contains(&name.as_str()) {
            number(value)
        } else if RC_FLAGS.contains(&name.as_str()) || RC_ONLY_TRUE.contains(&name.as_str()) {
            Value::Bool(true)
        } else {
            Value::String(value.to_owned())
        };
        out.insert(name, typed);
    }
    for flag in RC_FLAGS {
        out.entry(*flag).or_insert(Value::Bool(false));
    }
    let logtype = rc.attr("logtype").unwrap_or_default();
    let logaction = rc.attr("logaction").unwrap_or_default();
    for child in rc.children() {
        let value = match child.name() {
            "tags" => Value::Array(child.children().map(|t| Value::String(t.text())).collect()),
            "logparams" => params(child, "", (logtype, logaction)),
            _ => generic(child, "", (logtype, logaction)),
        };
        out.insert(child.name().to_owned(), value);
    }
    Value::Object(out)
}

fn attributes(e: &Element) -> impl Iterator<Item = (String, &str)> {
    e.attrs()
        .iter()
        .map(|((_, name), value)| (name.to_string(), value.as_str()))
}

/// An integer where api.php has one; a value that is not one stays a string (never silently 0).
fn number(text: &str) -> Value {
    text.parse::<i64>()
        .map(|n| Value::Number(Number::from(n)))
        .unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn is_flag(path: &str, (logtype, logaction): (&str, &str)) -> bool {
    PARAM_FLAGS
        .iter()
        .any(|(t, a, p)| *t == logtype && (*a == "*" || *a == logaction) && *p == path)
}

fn scalar(path: &str, value: &str, log: (&str, &str)) -> Value {
    if PARAM_INTS.contains(&path) {
        number(value)
    } else if is_flag(path, log) {
        Value::Bool(true)
    } else {
        Value::String(value.to_owned())
    }
}

/// `<logparams>` or one of its objects: attributes are scalars, child elements lists or objects.
fn params(e: &Element, path: &str, log: (&str, &str)) -> Value {
    let mut out = Map::new();
    for (name, value) in attributes(e) {
        let typed = scalar(&join(path, &name), value, log);
        out.insert(name, typed);
    }
    for child in e.children() {
        let key = child.name().to_owned();
        let value = generic(child, &join(path, &key), log);
        out.insert(key, value);
    }
    // Booleans api.php prints as false, at this level of the object.
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    for (t, a, p) in PARAM_FLAGS {
        if *t != log.0 || !(*a == "*" || *a == log.1) {
            continue;
        }
        if let Some(key) = p.strip_prefix(prefix.as_str()).filter(|k| !k.contains('.')) {
            out.entry(key).or_insert(Value::Bool(false));
        }
    }
    // A protection's details: each level carries `cascade` unless it protects a missing page (`create`).
    if log.0 == "protect" && path == "details[]" && out.get("type") != Some(&"create".into()) {
        let cascade = out.contains_key("cascade");
        out.insert("cascade".into(), Value::Bool(cascade));
    }
    Value::Object(out)
}

/// A child element: a list (its items all `_v` or the path is a known list), a string (text only), or an
/// object.
fn generic(e: &Element, path: &str, log: (&str, &str)) -> Value {
    let has_attrs = e.attrs().iter().next().is_some();
    let children: Vec<&Element> = e.children().collect();
    let list = PARAM_LISTS.contains(&path)
        || (!has_attrs && !children.is_empty() && children.iter().all(|c| c.name() == "_v"));
    if list {
        let item_path = format!("{path}[]");
        return Value::Array(
            children
                .into_iter()
                .map(|c| item(c, &item_path, log))
                .collect(),
        );
    }
    if !has_attrs && children.is_empty() && !e.text().is_empty() {
        return scalar(path, &e.text(), log);
    }
    params(e, path, log)
}

/// A list item: text-only items are scalars, the rest objects.
fn item(e: &Element, path: &str, log: (&str, &str)) -> Value {
    let has_attrs = e.attrs().iter().next().is_some();
    if !has_attrs && e.children().next().is_none() {
        return scalar(path, &e.text(), log);
    }
    params(e, path, log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn convert(xml: &str) -> Value {
        let e: Element = xml
            .replace("<rc ", "<rc xmlns='jabber:client' ")
            .parse()
            .unwrap();
        rc_json(&e)
    }

    /// api.php 1.39's XML and formatversion=2 JSON for the same rows (tests/relay/watch_test.py checks every
    /// log type of a scripted wiki; these are the tricky ones).
    #[test]
    fn log_params_are_typed_like_api_php_json() {
        let got = convert(
            r#"<rc type="log" ns="0" title="Big Page" pageid="5" revid="0" old_revid="0" rcid="45" user="Admin" oldlen="0" newlen="0" timestamp="2026-12-01T07:33:37Z" comment="hide" logid="35" logtype="delete" logaction="revision" wikiid="w"><logparams type="revision"><ids><id>12</id></ids><old bitmask="0" /><new bitmask="2" comment="" /></logparams><tags /></rc>"#,
        );
        assert_eq!(
            got,
            json!({"type": "log", "ns": 0, "title": "Big Page", "pageid": 5, "revid": 0, "old_revid": 0,
                "rcid": 45, "user": "Admin", "bot": false, "new": false, "minor": false, "oldlen": 0,
                "newlen": 0, "timestamp": "2026-12-01T07:33:37Z", "comment": "hide", "redirect": false,
                "logid": 35, "logtype": "delete", "logaction": "revision", "wikiid": "w",
                "logparams": {"type": "revision", "ids": [12],
                    "old": {"bitmask": 0, "content": false, "comment": false, "user": false, "restricted": false},
                    "new": {"bitmask": 2, "content": false, "comment": true, "user": false, "restricted": false}},
                "tags": []})
        );
        let block = convert(
            r#"<rc type="log" logtype="block" logaction="block" rcid="49"><logparams duration="2 weeks" expiry="2026-12-15T07:33:37Z"><flags /><restrictions><pages><p page_ns="0" page_title="Golden Moved" /></pages><namespaces><ns>1</ns></namespaces></restrictions></logparams><tags><tag>a</tag></tags></rc>"#,
        );
        assert_eq!(
            block["logparams"],
            json!({"duration": "2 weeks", "flags": [], "sitewide": false, "expiry": "2026-12-15T07:33:37Z",
                "restrictions": {"pages": [{"page_ns": 0, "page_title": "Golden Moved"}], "namespaces": [1]}})
        );
        assert_eq!(block["tags"], json!(["a"]));
        let protect = convert(
            r#"<rc type="log" logtype="protect" logaction="protect" redirect=""><logparams description="d"><details><_v type="edit" level="sysop" expiry="infinite" /><_v type="create" level="sysop" expiry="infinite" /></details></logparams></rc>"#,
        );
        assert_eq!(protect["redirect"], json!(true));
        assert_eq!(
            protect["logparams"],
            json!({"description": "d", "cascade": false, "details": [
                {"type": "edit", "level": "sysop", "expiry": "infinite", "cascade": false},
                {"type": "create", "level": "sysop", "expiry": "infinite"}]})
        );
        let rights = convert(
            r#"<rc type="log" logtype="rights" logaction="rights"><logparams><oldgroups /><newgroups><g>sysop</g></newgroups><oldmetadata /><newmetadata><g group="sysop" expiry="infinity" /></newmetadata></logparams></rc>"#,
        );
        assert_eq!(
            rights["logparams"],
            json!({"oldgroups": [], "newgroups": ["sysop"], "oldmetadata": [],
                "newmetadata": [{"group": "sysop", "expiry": "infinity"}]})
        );
        let restore = convert(
            r#"<rc type="log" logtype="delete" logaction="restore" anon=""><logparams><count revisions="1" files="0" /></logparams></rc>"#,
        );
        assert_eq!(
            restore["logparams"],
            json!({"count": {"revisions": 1, "files": 0}})
        );
        assert_eq!(restore["anon"], json!(true));
        assert_eq!(
            convert(r#"<rc type="log" logtype="delete" logaction="delete"><logparams /></rc>"#)
                ["logparams"],
            json!({})
        );
    }

    #[test]
    fn a_bad_number_stays_a_string() {
        assert_eq!(convert(r#"<rc rcid="x1"/>"#)["rcid"], json!("x1"));
    }
}
