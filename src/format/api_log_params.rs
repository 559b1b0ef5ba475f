//! The API's log params of a log row (`LogFormatter::formatParametersForApi()`, what api.php prints as
//! `<logparams>`), derived on the sender thread from the params as stored (`rc_params` unserialised, keys such
//! as `4::target` kept), for core's log types whose API form needs no wiki lookup. The result is the JSON PHP's
//! `json_encode()` gives for the formatter's array, ApiResult metadata (`_element`, `_type`) included, so it
//! takes the same path to the element as params computed by PHP ([`super::api_result`]).
//!
//! [`api`] knows the formatters core registers in `$wgLogActionsHandlers` (MediaWiki 1.39 and 1.43 alike):
//! `LogFormatter` itself and the subclasses that keep its API form (managetags, contentmodel, newusers), and
//! `ProtectLogFormatter`, `DeleteLogFormatter`, `UploadLogFormatter`, `RightsLogFormatter`,
//! `PatrolLogFormatter`, `BlockLogFormatter`, and `MoveLogFormatter` and `MergeLogFormatter`, whose one title
//! needs the wiki's namespace names: PHP sends its namespace number (`title_ns`, payload field 9). It answers
//! `None` where the API form needs what only the wiki knows (a message's text, a user name's normal form, more
//! than one title: import, `move_prot`, a partial block's pages) or a value it cannot read; PHP computes those
//! (`PayloadBuilder::apiKind()`, `blockDurationReadable()`, `serialisedTitleNamespace()` and `storedReadable()`
//! send such rows with the params already formatted), so `None` here means PHP and this file disagree, and the
//! change is counted in `part_failures`.

use serde_json::{Map, Number, Value as Json};

use crate::event::{civil_from_unix, days_from_civil, iso8601};
use crate::payload::parse_ts_mw;

type Array = Map<String, Json>;

/// The API's log params for a log row of `log_type`/`action`, from its stored params (`keyed`: a JSON array or
/// object), the row's timestamp (Unix seconds) and, for move and merge rows, the namespace of their title
/// param as PHP resolved it (`title_ns`); `None` when this file does not know the type or cannot reproduce the
/// value.
pub fn api(
    log_type: &str,
    action: &str,
    keyed: &Json,
    timestamp: i64,
    title_ns: Option<i64>,
) -> Option<Json> {
    let mut params = to_array(keyed)?;
    // DatabaseLogEntry::getParameters() keeps the associated revision apart.
    params.shift_remove("associated_rev_id");
    let formatted = match (log_type, action) {
        ("managetags", "create" | "delete" | "activate" | "deactivate")
        | ("contentmodel", "change" | "new")
        | ("newusers", "newusers" | "create" | "create2" | "byemail" | "autocreate") => {
            base(params)?
        }
        ("protect", "protect" | "modify" | "unprotect") => protect(params)?,
        (
            "delete" | "suppress",
            "delete" | "delete_redir" | "delete_redir2" | "restore" | "revision" | "event",
        ) => delete(action, params)?,
        ("upload", "upload" | "overwrite" | "revert") => base(remap(
            params,
            &[("img_timestamp", ":timestamp:img_timestamp")],
        ))?,
        ("rights", "rights" | "autopromote") => rights(params)?,
        ("patrol", "patrol" | "autopatrol") => base(remap_list(
            params,
            &["4:number:curid", "5:number:previd", "6:bool:auto"],
            &[
                ("4::curid", "4:number:curid"),
                ("5::previd", "5:number:previd"),
                ("6::auto", "6:bool:auto"),
            ],
        ))?,
        ("block" | "suppress", "block" | "reblock" | "unblock") => {
            block(action, params, timestamp)?
        }
        ("move", "move" | "move_redir") => {
            let mut params = remap_list(
                params,
                &["4:title:target", "5:bool:suppressredirect"],
                &[
                    ("4::target", "4:title:target"),
                    ("5::noredir", "5:bool:suppressredirect"),
                ],
            );
            if !isset(&params, "5:bool:suppressredirect") {
                params.insert("5:bool:suppressredirect".into(), false.into());
            }
            titled(params, title_ns?)?
        }
        ("merge", "merge") => titled(
            remap_list(
                params,
                &["4:title:dest", "5:timestamp:mergepoint"],
                &[
                    ("4::dest", "4:title:dest"),
                    ("5::mergepoint", "5:timestamp:mergepoint"),
                ],
            ),
            title_ns?,
        )?,
        _ => return None,
    };
    Some(Json::Object(formatted))
}

/// A PHP array from its JSON form: a list gets the keys 0, 1, ...
fn to_array(json: &Json) -> Option<Array> {
    match json {
        Json::Object(map) => Some(map.clone()),
        Json::Array(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// PHP's `isset( $array[$key] )`: present and not null.
fn isset(params: &Array, key: &str) -> bool {
    params.get(key).is_some_and(|v| !v.is_null())
}

/// The formatters' `foreach ( $map as $index => $key )` renaming: every set `$index` moves to the end under
/// `$key` (`$params[$key] = $params[$index]; unset( $params[$index] )`).
fn remap(mut params: Array, map: &[(&str, &str)]) -> Array {
    for (index, key) in map {
        if isset(&params, index) {
            let value = params[*index].clone();
            params.insert((*key).to_owned(), value);
            if index != key {
                params.shift_remove(*index);
            }
        }
    }
    params
}

/// [`remap`] for a map whose first entries are a list (`'4:number:curid', ...`: the keys 0, 1, ... of legacy
/// rows) followed by named entries.
fn remap_list(params: Array, list: &[&str], named: &[(&str, &str)]) -> Array {
    let indexed: Vec<(String, &str)> = list
        .iter()
        .enumerate()
        .map(|(i, k)| (i.to_string(), *k))
        .collect();
    let mut map: Vec<(&str, &str)> = indexed.iter().map(|(i, k)| (i.as_str(), *k)).collect();
    map.extend_from_slice(named);
    remap(params, &map)
}

/// `LogFormatter::formatParametersForApi()` over params already remapped by `getParametersForApi()`.
fn base(params: Array) -> Option<Array> {
    format(params, None)
}

/// [`base`] for params with exactly one title (type `title` or `title-link`), whose namespace is `ns`: it
/// becomes `<name>_ns` and `<name>_title` (`ApiQueryBase::addTitleInfo()`), the text as stored, which is the
/// title's prefixed text (MovePage and MergeHistory store `getPrefixedText()`).
fn titled(params: Array, ns: i64) -> Option<Array> {
    let titles = params
        .keys()
        .filter(|key| {
            let parts: Vec<&str> = key.splitn(3, ':').collect();
            parts.len() == 3 && is_title_kind(parts[1])
        })
        .count();
    (titles == 1).then_some(())?;
    format(params, Some(ns))
}

fn is_title_kind(kind: &str) -> bool {
    matches!(
        kind.trim().to_ascii_lowercase().as_str(),
        "title" | "title-link"
    )
}

fn format(params: Array, title_ns: Option<i64>) -> Option<Array> {
    let mut out = Array::new();
    for (key, value) in params {
        let parts: Vec<&str> = key.splitn(3, ':').collect();
        if parts.len() != 3 {
            out.insert(key, value);
            continue;
        }
        let formatted = match (title_ns, value) {
            (Some(ns), Json::String(text)) if is_title_kind(parts[1]) => Array::from_iter([
                (format!("{}_ns", parts[2]), ns.into()),
                (format!("{}_title", parts[2]), text.into()),
            ]),
            (_, value) => value_for_api(parts[2], parts[1], value)?,
        };
        // `$logParams += ...`: keys already there stay.
        for (name, formatted) in formatted {
            out.entry(name).or_insert(formatted);
        }
    }
    out.insert("_element".into(), "param".into());
    out.insert("_type".into(), "assoc".into());
    Some(out)
}

/// `LogFormatter::formatParameterValueForApi()`; `None` for the types that need the wiki (titles, messages,
/// user names).
fn value_for_api(name: &str, kind: &str, value: Json) -> Option<Array> {
    let value = match kind.trim().to_ascii_lowercase().as_str() {
        "bool" => Json::Bool(truthy(&value)),
        "number" => number(&value)?,
        kind @ ("array" | "assoc" | "kvp") => match to_array_if_array(&value) {
            Some(mut array) => {
                array.insert("_type".into(), kind.into());
                Json::Object(array)
            }
            None => value,
        },
        "timestamp" => iso_timestamp(&value)?,
        "msg" | "msg-content" | "title" | "title-link" | "user" | "user-link" => return None,
        _ => value,
    };
    Some(Array::from_iter([(name.to_owned(), value)]))
}

fn to_array_if_array(value: &Json) -> Option<Array> {
    matches!(value, Json::Array(_) | Json::Object(_)).then(|| to_array(value))?
}

/// PHP's `(bool)` of a decoded JSON value.
fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !(s.is_empty() || s == "0"),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

/// `is_int( $v ) || ctype_digit( (string)$v ) ? (int)$v : (float)$v`, for the values core stores (integers
/// and digit strings); anything else is left to PHP.
fn number(value: &Json) -> Option<Json> {
    match value {
        Json::Number(n) if n.is_i64() => Some(value.clone()),
        Json::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().ok().map(|n| Json::Number(Number::from(n)))
        }
        Json::Bool(b) => Some(Json::Number(Number::from(i64::from(*b)))),
        _ => None,
    }
}

/// `wfTimestamp( TS_ISO_8601, $value )` for the forms core stores: `TS_MW` (14 digits) and Unix seconds.
fn iso_timestamp(value: &Json) -> Option<Json> {
    let secs = match value {
        Json::String(s) if s.len() == 14 => parse_ts_mw(s.as_bytes())?,
        Json::String(s) if (1..=13).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()?
        }
        Json::Number(n) => n.as_i64()?,
        _ => return None,
    };
    Some(Json::String(iso8601(secs)))
}

/// `wfIsInfinity()`.
fn is_infinity(value: &Json) -> bool {
    matches!(
        value.as_str(),
        Some("infinite" | "indefinite" | "infinity" | "never")
    )
}

/// ProtectLogFormatter: the description, cascade flag and details; each detail's expiry as
/// `Language::formatExpiry( $expiry, TS_ISO_8601, 'infinite' )`.
fn protect(params: Array) -> Option<Array> {
    let mut params = remap(
        params,
        &[
            ("0", "4::description"),
            ("1", "5:bool:cascade"),
            ("details", ":array:details"),
        ],
    );
    if let Some(Json::String(cascade)) = params.get("5:bool:cascade") {
        let on = cascade == "cascade";
        params.insert("5:bool:cascade".into(), Json::Bool(on));
    }
    let mut out = base(params)?;
    if let Some(Json::Object(details)) = out.get_mut("details") {
        for (key, detail) in details.iter_mut() {
            if key.starts_with('_') {
                continue;
            }
            // `isset( $detail['expiry'] )`: a null expiry stays null.
            if let Some(expiry) = detail
                .as_object_mut()
                .and_then(|d| d.get_mut("expiry"))
                .filter(|e| !e.is_null())
            {
                *expiry = format_expiry(expiry, "infinite", false)?;
            }
        }
    }
    Some(out)
}

/// `Language::formatExpiry()` (`$loose`) or `ApiResult::formatExpiry()`: infinite values (the database's
/// `infinity` included) become `$infinity`, others an ISO 8601 timestamp.
fn format_expiry(expiry: &Json, infinity: &str, api: bool) -> Option<Json> {
    let empty = match expiry {
        Json::Null => true,
        Json::String(s) => s.is_empty(),
        // `$expiry == ''` of Language (loose) is also true for false; ApiResult tests `=== false`.
        Json::Bool(false) => true,
        _ => false,
    };
    let infinite = if api {
        is_infinity(expiry)
    } else {
        expiry.as_str() == Some("infinity")
    };
    if empty || infinite {
        return Some(Json::String(infinity.to_owned()));
    }
    iso_timestamp(expiry)
}

/// DeleteLogFormatter: revision and log deletion (type, ids, old and new visibility bits) and undeletion
/// counts; every other delete action has no API params.
fn delete(action: &str, params: Array) -> Option<Array> {
    let mut out = Array::new();
    if action == "event" || action == "revision" {
        let mut raw = params;
        if action == "event" {
            // array_unshift( $rawParams, 'logging' ): integer keys are renumbered after it.
            let mut shifted = Array::new();
            shifted.insert("0".into(), "logging".into());
            let mut next = 1;
            for (key, value) in raw {
                if key.parse::<i64>().is_ok() {
                    shifted.insert(next.to_string(), value);
                    next += 1;
                } else {
                    shifted.insert(key, value);
                }
            }
            raw = shifted;
        }
        let raw = remap_list(
            raw,
            &["4::type", "5::ids", "6::ofield", "7::nfield"],
            &[
                ("4::ids", "5::ids"),
                ("5::ofield", "6::ofield"),
                ("6::nfield", "7::nfield"),
            ],
        );
        let ids = match raw.get("5::ids")? {
            Json::String(s) => {
                Json::Array(s.split(',').map(|id| Json::String(id.to_owned())).collect())
            }
            ids @ (Json::Array(_) | Json::Object(_)) => ids.clone(),
            _ => return None,
        };
        let mut formatted = Array::new();
        formatted.insert(
            "::type".into(),
            raw.get("4::type").cloned().unwrap_or(Json::Null),
        );
        formatted.insert(":array:ids".into(), ids);
        for (field, key) in [("6::ofield", ":assoc:old"), ("7::nfield", ":assoc:new")] {
            if isset(&raw, field) {
                let bits = bit_field(&raw[field])?;
                let mut value = Array::new();
                value.insert("bitmask".into(), Json::Number(bits.into()));
                for (bit, name) in [
                    (1, "content"),
                    (2, "comment"),
                    (4, "user"),
                    (8, "restricted"),
                ] {
                    value.insert(name.into(), Json::Bool(bits & bit != 0));
                }
                formatted.insert(key.into(), Json::Object(value));
            }
        }
        out = formatted;
    } else if action == "restore" && isset(&params, ":assoc:count") {
        out.insert(":assoc:count".into(), params[":assoc:count"].clone());
    }
    let mut out = base(out)?;
    if let Some(Json::Object(ids)) = out.get_mut("ids") {
        ids.insert("_element".into(), "id".into());
    }
    Some(out)
}

/// DeleteLogFormatter::parseBitField(): `ofield=2134` or the number (PHP's `(int)` of digit strings).
fn bit_field(value: &Json) -> Option<i64> {
    match value {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => {
            let digits = match s.find("field=") {
                Some(1) => s.split('=').nth(1).unwrap_or(""),
                _ => s.as_str(),
            };
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            Some(digits[..end].parse().unwrap_or(0))
        }
        _ => None,
    }
}

/// RightsLogFormatter: old and new groups as lists, each group's metadata with its expiry.
fn rights(params: Array) -> Option<Array> {
    let mut params = remap_list(
        params,
        &["4:array:oldgroups", "5:array:newgroups"],
        &[
            ("4::oldgroups", "4:array:oldgroups"),
            ("5::newgroups", "5:array:newgroups"),
        ],
    );
    for (groups_key, metadata_key) in [
        ("4:array:oldgroups", "oldmetadata"),
        ("5:array:newgroups", "newmetadata"),
    ] {
        if !isset(&params, groups_key) {
            continue;
        }
        let groups = group_array(&params[groups_key])?;
        let metadata = params
            .shift_remove(metadata_key)
            .map(|m| to_array_if_array(&m))
            .unwrap_or_default();
        let mut combined = Vec::with_capacity(groups.len());
        for (index, group) in &groups {
            let mut entry = Array::new();
            entry.insert("group".into(), group.clone());
            if let Some(Json::Object(extra)) = metadata.as_ref().and_then(|m| m.get(index)) {
                for (k, v) in extra {
                    entry.entry(k.clone()).or_insert_with(|| v.clone());
                }
            } else if let Some(Json::Array(extra)) = metadata.as_ref().and_then(|m| m.get(index)) {
                for (k, v) in extra.iter().enumerate() {
                    entry.entry(k.to_string()).or_insert_with(|| v.clone());
                }
            }
            let expiry = entry.get("expiry").cloned().unwrap_or(Json::Null);
            entry.insert("expiry".into(), format_expiry(&expiry, "infinity", true)?);
            combined.push(Json::Object(entry));
        }
        params.insert(
            groups_key.into(),
            Json::Object(groups.into_iter().collect()),
        );
        params.insert(metadata_key.into(), Json::Array(combined));
    }
    let mut out = base(params)?;
    for key in ["oldgroups", "newgroups", "oldmetadata", "newmetadata"] {
        if let Some(value) = out.get_mut(key) {
            let mut array = to_array_if_array(value)?;
            if key.ends_with("metadata") {
                array.insert("_type".into(), "array".into());
            }
            array.insert("_element".into(), "g".into());
            *value = Json::Object(array);
        }
    }
    Some(out)
}

/// RightsLogFormatter::makeGroupArray(): a comma-separated string of old rows becomes a list.
fn group_array(groups: &Json) -> Option<Array> {
    match groups {
        Json::String(s) if s.is_empty() => Some(Array::new()),
        Json::String(s) => to_array(&Json::Array(
            s.split(',')
                .map(|g| Json::String(php_trim(g).to_owned()))
                .collect(),
        )),
        Json::Array(_) | Json::Object(_) => to_array(groups),
        _ => None,
    }
}

/// PHP's `trim()` with its default characters.
fn php_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B'])
}

/// BlockLogFormatter: duration, flags (a list), the computed expiry and restrictions without pages.
fn block(action: &str, params: Array, timestamp: i64) -> Option<Array> {
    let mut params = remap_list(
        params,
        &["5::duration", "6:array:flags"],
        &[("6::flags", "6:array:flags")],
    );
    ksort(&mut params);
    if action == "block" || action == "reblock" {
        if !params.contains_key("5::duration") {
            params.insert("5::duration".into(), "infinity".into());
        }
        if !params.contains_key("6:array:flags") {
            params.insert("6:array:flags".into(), Json::Array(Vec::new()));
        }
        if let Json::String(flags) = &params["6:array:flags"] {
            let list = if flags.is_empty() {
                Vec::new()
            } else {
                flags
                    .split(',')
                    .map(|f| Json::String(f.to_owned()))
                    .collect()
            };
            params.insert("6:array:flags".into(), Json::Array(list));
        }
        if is_infinity(&params["5::duration"]) {
            params.insert("5::duration".into(), "infinity".into());
        } else {
            let expiry = relative_time(params["5::duration"].as_str()?, timestamp)?;
            if expiry > 0 {
                params.insert(":timestamp:expiry".into(), Json::Number(expiry.into()));
            }
        }
    }
    let mut out = base(params)?;
    if let Some(value) = out.get_mut("flags") {
        let mut flags = to_array_if_array(value)?;
        flags.insert("_element".into(), "f".into());
        *value = Json::Object(flags);
    }
    if let Some(Json::Object(restrictions)) = out.get_mut("restrictions") {
        if restrictions.get("pages").is_some_and(|p| !p.is_null()) {
            // Page titles need the wiki (formatParameterValueForApi( 'page', 'title-link', ... )).
            return None;
        }
        if let Some(value) = restrictions.get_mut("namespaces").filter(|v| !v.is_null()) {
            let mut namespaces = to_array_if_array(value)?;
            namespaces.insert("_element".into(), "ns".into());
            *value = Json::Object(namespaces);
        }
    }
    Some(out)
}

/// PHP's `ksort()` with its default flags (PHP 8): integer keys and numeric strings compare as numbers,
/// other strings as strings, numbers before non-numeric strings.
fn ksort(params: &mut Array) {
    let mut entries: Vec<(String, Json)> = std::mem::take(params).into_iter().collect();
    entries.sort_by(
        |(a, _), (b, _)| match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => a.cmp(b),
        },
    );
    params.extend(entries);
}

/// `strtotime( $duration, $now )` for `<number> <unit>` (units `sec`/`second`, `min`/`minute`, `hour`,
/// `day`, `week`, `fortnight`, `month`, `year`, optionally plural) in UTC, the form block durations take
/// when chosen from a list. Months and years keep the day of the month and overflow into the next month
/// (31 January + 1 month = 3 March), as PHP does. PHP sends other durations, and any duration when PHP's
/// time zone is not UTC, with the params already formatted.
pub fn relative_time(duration: &str, now: i64) -> Option<i64> {
    let (count, unit) = parse_duration(duration)?;
    let seconds = match unit {
        "sec" | "second" => 1,
        "min" | "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        "fortnight" => 14 * 86_400,
        "month" | "year" => {
            let months = if unit == "year" {
                count.checked_mul(12)?
            } else {
                count
            };
            let (year, month, day, hour, minute, second) = civil_from_unix(now);
            let total = year
                .checked_mul(12)?
                .checked_add(i64::from(month) - 1)?
                .checked_add(months)?;
            let days = days_from_civil(total.div_euclid(12), (total.rem_euclid(12) + 1) as u32, 1)
                + i64::from(day)
                - 1;
            return Some(
                days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second),
            );
        }
        _ => return None,
    };
    now.checked_add(count.checked_mul(seconds)?)
}

/// `<1 to 5 digits> <unit>[s]`, case-insensitive, as PayloadBuilder's DURATION pattern accepts it.
fn parse_duration(duration: &str) -> Option<(i64, &'static str)> {
    let trimmed = duration.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit())?;
    // At most five digits (PayloadBuilder::DURATION): no arithmetic overflow, no year beyond PHP's range.
    if split > 5 {
        return None;
    }
    let count: i64 = trimmed[..split].parse().ok()?;
    let unit = trimmed[split..].trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('s').unwrap_or(&unit);
    [
        "sec",
        "second",
        "min",
        "minute",
        "hour",
        "day",
        "week",
        "fortnight",
        "month",
        "year",
    ]
    .into_iter()
    .find(|u| *u == unit)
    .map(|u| (count, u))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn other_durations_are_left_to_php() {
        for duration in [
            "1 lightyear",
            "soon",
            "999999 years",
            "next monday",
            "1 day ago",
            "",
        ] {
            assert_eq!(relative_time(duration, 0), None, "{duration}");
        }
    }

    #[test]
    fn relative_durations_equal_php_strtotime() {
        let durations = [
            "1 day",
            "1day",
            "2 Weeks",
            "3 fortnights",
            "10 mins",
            "5 secs",
            "1 hours",
            "1 month",
            "2 months",
            "13 months",
            "1 year",
            "3 years",
            "12345 seconds",
            "0 days",
            " 7  DAYS ",
        ];
        // Month ends, 29 February, a leap second's neighbour, year ends, 1970.
        let instants = [
            0i64,
            951_782_400,
            1_709_164_800,
            1_769_817_600,
            1_767_225_599,
            1_798_761_599,
        ];
        let cases: Vec<(&str, i64)> = durations
            .iter()
            .flat_map(|d| instants.iter().map(move |t| (*d, *t)))
            .collect();
        let inputs: Vec<Json> = cases.iter().map(|(d, t)| json!([d, t])).collect();
        let answers =
            super::super::php_oracle::run(super::super::php_oracle::Mode::Strtotime, &inputs);
        for ((duration, now), answer) in cases.iter().zip(answers) {
            let php = String::from_utf8(answer.expect("strtotime answers")).unwrap();
            let ours = relative_time(duration, *now).map_or("false".to_owned(), |t| t.to_string());
            assert_eq!(ours, php, "strtotime({duration:?}, {now})");
        }
    }

    #[test]
    fn unknown_types_and_wiki_lookups_are_left_to_php() {
        let target = json!({"4::target": "Talk:A", "5::noredir": "0"});
        // A title needs its namespace from PHP; two titles are more than one namespace can answer.
        assert_eq!(api("move", "move", &target, 0, None), None);
        let two = json!({"4::target": "Talk:A", "6:title:other": "B"});
        assert_eq!(api("move", "move", &two, 0, Some(1)), None);
        assert_eq!(
            api(
                "import",
                "upload",
                &json!({"4:number:count": 1}),
                0,
                Some(0)
            ),
            None
        );
        assert_eq!(api("someextension", "act", &json!({}), 0, None), None);
        let partial =
            json!({"5::duration": "1 day", "6::flags": "", "restrictions": {"pages": ["A"]}});
        assert_eq!(api("block", "block", &partial, 0, None), None);
    }
}
