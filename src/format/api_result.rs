//! `ApiResult::applyTransformations()` as api.php's XML printer calls it (`ApiFormatXml::execute()`):
//! `Custom` turning `BCassoc` into `assoc`, `BC => [ nobool, no*, nosub ]`, `Types => [ ArmorKVP => _name ]`,
//! no stripping. Every array comes out with its `_type` resolved to `assoc` or `array`, and `kvp` arrays
//! become lists of `[ _name => key, * => value ]` items, which is what decides between attributes, child
//! elements and `_idx` attributes when printing.
//!
//! Where PHP would throw (an unknown `_type`, `BCkvp` without `_kvpkeyname`) and api.php would answer with an
//! error instead of the element, this port carries on as if the type were `default` (respectively uses
//! `_name`): a feed has no error to report to, and the output stays well-formed.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value as Json;

use super::php_value::{Array, Key, Value};

const ARMOR_KVP: &str = "_name";
/// The BC value key for armoured kvp items (`'*'`, since the BC transform is on).
const KVP_VALUE_KEY: &str = "*";

/// The PHP value `json_decode( $json, true )` gives, with the transformations applied to every array in it.
pub fn transform(json: &Json) -> Value<'_> {
    match json {
        Json::Array(_) | Json::Object(_) => Value::Array(transform_array(json)),
        scalar => Value::from_json(scalar),
    }
}

/// The transformations for one array (a JSON array or object), recursing into its data but not into its
/// metadata, as PHP does.
fn transform_array(json: &Json) -> Array<'_> {
    let preserve_value = match json {
        Json::Object(map) => map
            .iter()
            .find(|(k, _)| *k == "_preservekeys")
            .map(|(_, v)| v),
        _ => None,
    };
    let mut preserve: Vec<&str> = match preserve_value {
        // `(array)$data['_preservekeys']`: a lone string counts as a one-element list.
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).collect(),
        Some(Json::Object(map)) => map.values().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    };
    preserve.sort_unstable();
    let mut split = Split {
        preserve,
        // Room for the metadata and the `_type` appended at the end, so appending never reallocates.
        metadata: Array(Vec::with_capacity(4)),
        data: Array(Vec::new()),
        all_int: true,
        max_key: -1,
    };
    match json {
        Json::Array(items) => {
            split.data.0.reserve_exact(items.len() + 1);
            for (i, v) in items.iter().enumerate() {
                split.place(Key::Int(i as i64), v);
            }
        }
        Json::Object(map) => {
            split.data.0.reserve_exact(map.len() + 1);
            for (k, v) in map {
                split.place(Key::parse(k.as_str()), v);
            }
        }
        _ => {}
    }
    let Split {
        mut metadata,
        mut data,
        all_int,
        max_key,
        ..
    } = split;

    // `_type` as a string; anything else behaves like 'default' (see the module doc).
    let declared: &'static str = match metadata.get("_type") {
        Some(Value::Str(t)) => match t.as_ref() {
            "BCassoc" => "assoc",               // Custom
            "BCarray" | "default" => "default", // BC
            "array" => "array",
            "assoc" => "assoc",
            "kvp" => "kvp",
            "BCkvp" => "BCkvp",
            _ => "default",
        },
        _ => "default",
    };
    // BCkvp armours with its own key name; kvp with ArmorKVP.
    let armor: Value = match (declared, metadata.get("_kvpkeyname")) {
        ("BCkvp", Some(name)) => name.clone(),
        _ => Value::str(ARMOR_KVP),
    };
    let default_type = if all_int && max_key == data.0.len() as i64 - 1 {
        "array"
    } else {
        "assoc"
    };
    let mut kind = if declared == "default" {
        default_type
    } else {
        declared
    };
    if matches!(kind, "kvp" | "BCkvp") && !armor.is_truthy() {
        kind = "assoc";
    }

    match kind {
        "array" => {
            let mut entries = data.0;
            // Lists (keys 0, 1, 2, ...) are the common case and already in order.
            if !entries
                .iter()
                .enumerate()
                .all(|(i, (k, _))| *k == Key::Int(i as i64))
            {
                merge_sort_by(&mut entries, |a, b| compare_keys(&a.0, &b.0));
            }
            let mut out = Array(
                entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, (_, v))| (Key::Int(i as i64), v))
                    .collect(),
            );
            metadata.set(Key::Str("_type".into()), Value::str("array"));
            append_all(&mut out, metadata);
            out
        }
        "kvp" | "BCkvp" => {
            let key = metadata.get("_kvpkeyname").unwrap_or(&armor).to_key();
            let merge = metadata.get("_kvpmerge").is_some_and(Value::is_truthy);
            let mut out = Array::default();
            for (i, (k, v)) in data.0.into_iter().enumerate() {
                let item = match v {
                    Value::Array(mut item) if merge && merged_type(&item) == "assoc" => {
                        item.add(key.clone(), k.to_value());
                        set_preserve_keys(&mut item, &key);
                        item
                    }
                    v => {
                        let mut item = Array::default();
                        item.set(key.clone(), k.to_value());
                        item.set(Key::Str(KVP_VALUE_KEY.into()), v);
                        item.add(Key::Str("_preservekeys".into()), preserve_list(&key));
                        item.add(Key::Str("_content".into()), Value::str(KVP_VALUE_KEY));
                        item.add(Key::Str("_type".into()), Value::str("assoc"));
                        item
                    }
                };
                out.0.push((Key::Int(i as i64), Value::Array(item)));
            }
            metadata.set(Key::Str("_type".into()), Value::str("array"));
            append_all(&mut out, metadata);
            out
        }
        _ => {
            metadata.set(Key::Str("_type".into()), Value::str("assoc"));
            append_all(&mut data, metadata);
            data
        }
    }
}

/// One array being split into data (transformed recursively) and metadata (kept as is).
struct Split<'a> {
    preserve: Vec<&'a str>,
    metadata: Array<'a>,
    data: Array<'a>,
    all_int: bool,
    max_key: i64,
}

impl<'a> Split<'a> {
    fn place(&mut self, k: Key<'a>, v: &'a Json) {
        let preserved =
            matches!(&k, Key::Str(s) if self.preserve.binary_search(&s.as_ref()).is_ok());
        if k.is_metadata() && !preserved {
            self.metadata.0.push((k, Value::from_json(v)));
            return;
        }
        match k {
            Key::Str(_) => self.all_int = false,
            Key::Int(n) => self.max_key = self.max_key.max(n),
        }
        self.data.0.push((k, transform(v)));
    }
}

/// The type a kvp value merges as (`_kvpmerge`): its `_type`, or what its keys say.
fn merged_type<'s>(item: &'s Array<'_>) -> Cow<'s, str> {
    match item.get("_type") {
        Some(t) => t.to_php_string(),
        None => {
            let mut keys: Vec<i64> = Vec::with_capacity(item.0.len());
            for (k, _) in &item.0 {
                match k {
                    Key::Int(n) => keys.push(*n),
                    Key::Str(_) => return Cow::Borrowed("assoc"),
                }
            }
            keys.sort_unstable();
            let is_list = keys.iter().enumerate().all(|(i, k)| *k == i as i64);
            Cow::Borrowed(if is_list { "array" } else { "assoc" })
        }
    }
}

fn preserve_list<'a>(key: &Key<'a>) -> Value<'a> {
    Value::Array(Array(vec![(Key::Int(0), key.to_value())]))
}

/// `ApiResult::setPreserveKeysList( $item, [ $key ] )`.
fn set_preserve_keys<'a>(item: &mut Array<'a>, key: &Key<'a>) {
    let slot = item
        .0
        .iter_mut()
        .find(|(k, v)| k.is("_preservekeys") && *v != Value::Null);
    match slot {
        Some((_, Value::Array(list))) => {
            let next = list.0.iter().filter_map(|(k, _)| match k {
                Key::Int(n) => Some(*n + 1),
                Key::Str(_) => None,
            });
            let next = next.max().unwrap_or(0).max(0);
            list.0.push((Key::Int(next), key.to_value()));
        }
        Some((_, scalar)) => {
            let old = std::mem::replace(scalar, Value::Null);
            *scalar = Value::Array(Array(vec![
                (Key::Int(0), old),
                (Key::Int(1), key.to_value()),
            ]));
        }
        None => item.set(Key::Str("_preservekeys".into()), preserve_list(key)),
    }
}

/// `$data + $metadata` (keys already present in `data` win). The split made the two disjoint except for
/// `_type`, which is added to the metadata after it and may also be a preserved data key.
fn append_all<'a>(data: &mut Array<'a>, metadata: Array<'a>) {
    let preserved_type = data.0.iter().any(|(k, _)| k.is("_type"));
    data.0.extend(
        metadata
            .0
            .into_iter()
            .filter(|(k, _)| !(preserved_type && k.is("_type"))),
    );
}

/// The comparison ApiResult's `uksort` callback makes (PHP >= 8.2 semantics): a numeric and a non-numeric
/// key compare as strings; otherwise PHP's `<=>`.
fn compare_keys(a: &Key<'_>, b: &Key<'_>) -> Ordering {
    fn text<'k>(k: &'k Key<'_>) -> Cow<'k, str> {
        match k {
            Key::Int(n) => Cow::Owned(n.to_string()),
            Key::Str(s) => Cow::Borrowed(s),
        }
    }
    let number = |k: &Key<'_>| match k {
        Key::Int(n) => Some(*n as f64),
        Key::Str(s) => numeric_value(s),
    };
    let (ta, tb) = (text(a), text(b));
    let trimmed_numeric = |t: &str| numeric_value(t.trim_matches(PHP_TRIM)).is_some();
    if trimmed_numeric(&ta) != trimmed_numeric(&tb) {
        return ta.as_bytes().cmp(tb.as_bytes());
    }
    match (a, b) {
        (Key::Int(x), Key::Int(y)) => x.cmp(y),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            _ => ta.as_bytes().cmp(tb.as_bytes()),
        },
    }
}

/// Characters PHP's `trim()` removes.
const PHP_TRIM: &[char] = &[' ', '\t', '\n', '\r', '\0', '\u{B}'];

/// The value of a PHP 8 numeric string (leading and trailing whitespace allowed), or `None`.
fn numeric_value(s: &str) -> Option<f64> {
    let t = s.trim_matches([' ', '\t', '\n', '\r', '\u{B}', '\u{C}']);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let ok = (!int.is_empty() || !frac.is_empty())
        && digits(int)
        && digits(frac)
        && exponent.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && digits(e)
        });
    if ok {
        t.parse().ok()
    } else {
        None
    }
}

/// A stable merge sort that, unlike the standard library's sorts, tolerates comparators that are not a total
/// order (PHP's mixed key comparison is not transitive), so hostile keys can never cause a panic.
fn merge_sort_by<T, F: Fn(&T, &T) -> Ordering + Copy>(items: &mut Vec<T>, cmp: F) {
    if items.len() < 2 {
        return;
    }
    let right = items.split_off(items.len() / 2);
    let mut left = std::mem::take(items);
    let mut right = right;
    merge_sort_by(&mut left, cmp);
    merge_sort_by(&mut right, cmp);
    items.reserve(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_right = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => cmp(l, r) == Ordering::Greater,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let next = if take_right {
            right.next()
        } else {
            left.next()
        };
        items.extend(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_strings_follow_php_8() {
        for s in ["1", " 1", "1 ", "-1.5", ".5", "1.", "1e5", "+3", "1E-2"] {
            assert!(numeric_value(s).is_some(), "{s:?}");
        }
        for s in ["", " ", ".", "e5", "1e", "0x1A", "inf", "nan", "1 2", "--1"] {
            assert!(numeric_value(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn merge_sort_is_stable_and_total() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        merge_sort_by(&mut v, |a, b| a.0.cmp(&b.0));
        assert_eq!(v, vec![(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
        // A comparator that is not an order must not panic.
        let mut w: Vec<u32> = (0..1000).collect();
        merge_sort_by(&mut w, |a, b| {
            if (a ^ b) % 3 == 0 {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        });
        assert_eq!(w.len(), 1000);
    }
}
