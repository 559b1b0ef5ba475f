//! `xml`: core's `XMLRCFeedFormatter`, i.e. `ApiFormatXml::recXmlPrint( 'recentchange', $packet, 0 )`.
//!
//! `print` is a port of `recXmlPrint()` (MediaWiki 1.39) over `Val`, a model of the PHP array it walks:
//! each element starts on a new line indented two spaces per level (so the output starts with `"\n  "`),
//! scalars become attributes (`true` as an empty attribute, `false` and `null` omitted), arrays become child
//! elements, integer keys become `<_v>` children, and the ApiResult metadata keys (`_element`, `_content`,
//! `_type`, `_subelements`, `_preservekeys`, `_BC_bools`, `_BC_subelements`) are honoured, since arbitrary
//! `log_params` may contain them. Element and attribute names go through `mangleName()`.
//!
//! Deliberate differences from core, only where core would emit a document no XML parser accepts:
//! characters XML 1.0 forbids are replaced by U+FFFD (see `xml_chars`); a `_preservekeys` name that
//! is not an XML name is mangled rather than printed raw; and a key `a\n` (which core prints unmangled because
//! PCRE's `$` matches before a final newline) is mangled when the element also has an attribute `a`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::php_value::php_float_string;
use super::rc_packet::{self, Field};
use super::xml_chars::{push_attr, push_text};
use crate::context::FeedContext;
use crate::event::Event;

/// Formats one change as core's XML feed packet (no trailing newline, as core).
///
/// The packet's own level is printed directly, as `print` would print it (its keys are fixed, valid names
/// without metadata meaning): scalars as attributes in packet order, then the arrays as child elements. Only
/// `log_params` needs the general printer.
pub fn format(event: &Event, ctx: &FeedContext) -> Vec<u8> {
    let packet = rc_packet::build(event, ctx);
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"\n  <recentchange");
    let mut has_children = false;
    for (key, field) in &packet {
        let value = match *field {
            Field::Int(n) => Val::Int(n),
            Field::Str(s) => Val::Str(s),
            Field::Bool(true) | Field::Json(Value::Bool(true)) => Val::Str(""),
            Field::Bool(false) | Field::Null | Field::Json(Value::Bool(false) | Value::Null) => {
                continue
            }
            Field::OldNew(..) | Field::Json(Value::Array(_) | Value::Object(_)) => {
                has_children = true;
                continue;
            }
            Field::Json(scalar) => Val::from_json(scalar),
        };
        push_attribute(&mut out, key, &value);
    }
    if !has_children {
        out.extend_from_slice(b" />");
        return out;
    }
    out.push(b'>');
    for (key, field) in &packet {
        match *field {
            Field::OldNew(old, new) => {
                out.extend_from_slice(b"\n    <");
                out.extend_from_slice(key.as_bytes());
                for (side, value) in [("old", old), ("new", new)] {
                    if let Some(n) = value {
                        push_attribute(&mut out, side, &Val::Int(n));
                    }
                }
                out.extend_from_slice(b" />");
            }
            Field::Json(array @ (Value::Array(_) | Value::Object(_))) => {
                print(&mut out, Some(key), &Val::from_json(array), 2, Vec::new());
            }
            _ => {}
        }
    }
    out.extend_from_slice(b"\n  </recentchange>");
    out
}

/// A PHP array key: PHP turns canonical decimal integer strings into integer keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Int(i64),
    Str(&'a str),
}

impl<'a> Key<'a> {
    fn from_php_string(key: &'a str) -> Self {
        let digits = key.strip_prefix('-').unwrap_or(key);
        let canonical = match digits.as_bytes() {
            [b'0'] => digits.len() == key.len(),
            [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        match key.parse() {
            Ok(n) if canonical => Key::Int(n),
            _ => Key::Str(key),
        }
    }

    fn is_metadata(self) -> bool {
        matches!(self, Key::Str(s) if s.starts_with('_'))
    }

    /// The key a value equals under PHP's `===` (only integers and strings can equal a key).
    fn of_val(value: &Val<'a>) -> Option<Self> {
        match *value {
            Val::Int(n) => Some(Key::Int(n)),
            Val::Str(s) => Some(Key::Str(s)),
            _ => None,
        }
    }

    fn text(self) -> Cow<'a, str> {
        match self {
            Key::Int(n) => Cow::Owned(n.to_string()),
            Key::Str(s) => Cow::Borrowed(s),
        }
    }
}

/// A PHP value as `recXmlPrint()` sees it.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// A float, as the number text `json_encode` wrote for it.
    Float(&'a str),
    Str(&'a str),
    Array(Vec<(Key<'a>, Val<'a>)>),
}

impl<'a> Val<'a> {
    /// What `json_decode( ..., true )` gives for `json_encode` output (objects and arrays alike become PHP
    /// arrays, which is also what `recXmlPrint()` casts objects to).
    fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            // `json_encode` writes integers as digits, floats with `.`/`e` (`10.0` with
            // `JSON_PRESERVE_ZERO_FRACTION`), except -0.0, which it may write as `-0`. Without that flag an
            // integral float of 15+ digits (1e14) arrives as digits and prints as such, where core says 1.0E+14.
            Value::Number(n) => match n.as_str() {
                "-0" => Val::Float("-0"),
                text => text.parse().map_or(Val::Float(text), Val::Int),
            },
            Value::String(s) => Val::Str(s),
            Value::Array(items) => Val::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Key::Int(i as i64), Val::from_json(v)))
                    .collect(),
            ),
            Value::Object(map) => Val::Array(
                map.iter()
                    .map(|(k, v)| (Key::from_php_string(k), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// PHP's string conversion of a scalar (arrays never reach it).
    fn php_string(&self) -> Cow<'a, str> {
        match self {
            Val::Null | Val::Bool(false) | Val::Array(_) => Cow::Borrowed(""),
            Val::Bool(true) => Cow::Borrowed("1"),
            Val::Int(n) => Cow::Owned(n.to_string()),
            // JSON number text always parses (overflow gives infinity, as in PHP's json_decode).
            Val::Float(text) => Cow::Owned(php_float_string(text.parse().unwrap_or(f64::NAN))),
            Val::Str(s) => Cow::Borrowed(s),
        }
    }

    fn entries(&self) -> &[(Key<'a>, Val<'a>)] {
        match self {
            Val::Array(entries) => entries,
            _ => &[],
        }
    }
}

/// Attributes as `recXmlPrint()` collects them: names, and scalar values printed as PHP strings.
type Attrs<'v, 'a> = Vec<(Cow<'a, str>, Cow<'v, Val<'a>>)>;

/// Names in insertion order with the semantics of `$map[$name] = $value` (a repeated name keeps its first
/// position). Names only repeat when `_preservekeys` lets raw names through, so only then is there an index.
struct NameMap<'a, T> {
    items: Vec<(Cow<'a, str>, T)>,
    index: Option<HashMap<Cow<'a, str>, usize>>,
}

impl<'a, T> NameMap<'a, T> {
    fn new(items: Vec<(Cow<'a, str>, T)>, may_repeat: bool) -> Self {
        let index = may_repeat.then(|| {
            items
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (n.clone(), i))
                .collect()
        });
        Self { items, index }
    }

    fn set(&mut self, name: Cow<'a, str>, value: T) {
        if let Some(index) = &mut self.index {
            if let Some(&i) = index.get(&name) {
                self.items[i].1 = value;
                return;
            }
            index.insert(name.clone(), self.items.len());
        }
        self.items.push((name, value));
    }

    fn contains(&self, name: &str) -> bool {
        match &self.index {
            Some(index) => index.contains_key(name),
            None => self.items.iter().any(|(n, _)| n == name),
        }
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A metadata list (`_subelements`, `_preservekeys`, `_BC_bools`) for PHP's `in_array( $key, $list, true )`,
/// sorted so that lookups stay logarithmic however long the list is.
#[derive(Default)]
struct KeySet<'a>(Vec<Key<'a>>);

impl<'a> KeySet<'a> {
    fn of(list: &Val<'a>) -> Self {
        let mut keys: Vec<Key<'a>> = list
            .entries()
            .iter()
            .filter_map(|(_, v)| Key::of_val(v))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Self(keys)
    }

    fn extend(&mut self, other: KeySet<'a>) {
        self.0.extend(other.0);
        self.0.sort_unstable();
        self.0.dedup();
    }

    fn contains(&self, key: Key) -> bool {
        !self.0.is_empty() && self.0.binary_search(&key).is_ok()
    }
}

/// A child element collected by `recXmlPrint()`: an array printed as such, or a scalar (or the content
/// array) wrapped as `[ 'content' => $v, '_content' => 'content', '_type' => 'assoc' ]`.
enum Child<'v, 'a> {
    Array(&'v Val<'a>),
    Wrapped(Cow<'v, Val<'a>>),
}

/// The ApiResult metadata of one array.
struct Meta<'v, 'a> {
    content_key: Option<&'v Val<'a>>,
    subelements: KeySet<'a>,
    preserve: KeySet<'a>,
    element: Option<&'v Val<'a>>,
    bc_bools: KeySet<'a>,
    typed: bool,
}

impl<'v, 'a> Meta<'v, 'a> {
    fn of(entries: &'v [(Key<'a>, Val<'a>)]) -> Self {
        let mut meta = Meta {
            content_key: None,
            subelements: KeySet::default(),
            preserve: KeySet::default(),
            element: None,
            bc_bools: KeySet::default(),
            typed: false,
        };
        let mut bc_subelements = KeySet::default();
        let list = KeySet::of;
        for (key, value) in entries {
            let Key::Str(name) = key else { continue };
            if !name.starts_with('_') || matches!(value, Val::Null) {
                continue;
            }
            match *name {
                "_content" => meta.content_key = Some(value),
                "_subelements" => meta.subelements = list(value),
                "_BC_subelements" => bc_subelements = list(value),
                "_preservekeys" => meta.preserve = list(value),
                "_element" => meta.element = Some(value),
                "_BC_bools" => meta.bc_bools = list(value),
                "_type" => meta.typed = !matches!(value, Val::Str("array")),
                _ => {}
            }
        }
        meta.subelements.extend(bc_subelements);
        meta
    }

    fn is_content_key(&self, key: Key) -> bool {
        match self.content_key {
            Some(content_key) => Key::of_val(content_key) == Some(key),
            None => key == Key::Str("*"),
        }
    }

    /// `mangleName( $key, $preserveKeys )`.
    fn name_of(&self, key: Key<'a>) -> Cow<'a, str> {
        mangle_name(key.text(), self.preserve.contains(key))
    }
}

/// `ApiFormatXml::recXmlPrint()`. `name` is `None` for the content array of an element.
fn print<'v, 'a>(
    out: &mut Vec<u8>,
    name: Option<&str>,
    value: &'v Val<'a>,
    indent: usize,
    mut attrs: Attrs<'v, 'a>,
) {
    let indent = if name.is_some() { indent + 2 } else { indent };
    let Val::Array(entries) = value else {
        // Scalars; `recXmlPrint()` is never called with a scalar and no name.
        if let Some(name) = name {
            newline(out, indent);
            element(out, name, &attrs, value);
        }
        return;
    };
    let meta = Meta::of(entries);
    let indexed_tag: Cow<str> = match meta.element {
        Some(tag) => mangle_name(
            tag.php_string(),
            Key::of_val(tag).is_some_and(|k| meta.preserve.contains(k)),
        ),
        None => Cow::Borrowed("_v"),
    };

    let mut content_value: Option<Cow<'v, Val<'a>>> = None;
    let may_repeat = !meta.preserve.0.is_empty();
    attrs.reserve(entries.len());
    let mut attrs = NameMap::new(attrs, may_repeat);
    let mut children: NameMap<'a, Child<'v, 'a>> = NameMap::new(Vec::new(), may_repeat);
    let mut indexed: Vec<(i64, Cow<'v, Val<'a>>)> = Vec::new();
    for (key, original) in entries {
        let key = *key;
        if key.is_metadata() && !meta.preserve.contains(key) {
            continue;
        }
        let v = match original {
            Val::Bool(b) if !meta.bc_bools.contains(key) => {
                Cow::Owned(Val::Str(if *b { "true" } else { "false" }))
            }
            _ => Cow::Borrowed(original),
        };
        if name.is_some() && meta.is_content_key(key) {
            content_value = Some(v);
        } else if let Key::Int(i) = key {
            indexed.push((i, v));
        } else if let Cow::Borrowed(array @ Val::Array(_)) = v {
            children.set(meta.name_of(key), Child::Array(array));
        } else if name.is_none() || meta.subelements.contains(key) {
            children.set(meta.name_of(key), Child::Wrapped(v));
        } else if let Val::Bool(b) = original {
            if *b {
                attrs.set(meta.name_of(key), Cow::Owned(Val::Str("")));
            }
        } else if !matches!(*v, Val::Null) {
            attrs.set(meta.name_of(key), v);
        }
    }

    // `$content !== null`: a null content value counts as no content at all.
    let mut content = content_value.filter(|c| !matches!(**c, Val::Null));
    if let Some(c) = content.take() {
        let content_name = meta.name_of(
            meta.content_key
                .and_then(Key::of_val)
                .unwrap_or(Key::Str("*")),
        );
        if !children.is_empty() || !indexed.is_empty() {
            children.set(content_name, Child::Wrapped(c));
        } else {
            content = Some(c);
        }
    }

    match (content, name) {
        (Some(c), Some(name)) if !matches!(*c, Val::Array(_)) => {
            // Scalar content: `xml:space="preserve"` unless an attribute of that name exists already.
            if !attrs.contains("xml:space") {
                attrs.set(Cow::Borrowed("xml:space"), Cow::Owned(Val::Str("preserve")));
            }
            newline(out, indent);
            element(out, name, &attrs.items, &c);
        }
        (Some(c), _) => {
            if let Some(name) = name {
                newline(out, indent);
                open_tag(out, name, &attrs.items);
            }
            print(out, None, &c, indent, Vec::new());
            if let Some(name) = name {
                newline(out, indent);
                close_tag(out, name);
            }
        }
        (None, _) if children.is_empty() && indexed.is_empty() => {
            if let Some(name) = name {
                newline(out, indent);
                element(out, name, &attrs.items, &Val::Null);
            }
        }
        (None, _) => {
            if let Some(name) = name {
                newline(out, indent);
                open_tag(out, name, &attrs.items);
            }
            for (child_name, child) in &children.items {
                match child {
                    Child::Array(array) => print(out, Some(child_name), array, indent, Vec::new()),
                    Child::Wrapped(v) => print_wrapped(out, child_name, v, indent),
                }
            }
            for (i, v) in &indexed {
                let idx = if meta.typed {
                    vec![(Cow::Borrowed("_idx"), Cow::Owned(Val::Int(*i)))]
                } else {
                    Vec::new()
                };
                print(out, Some(&indexed_tag), v, indent, idx);
            }
            if let Some(name) = name {
                newline(out, indent);
                close_tag(out, name);
            }
        }
    }
}

/// `recXmlPrint( $name, [ 'content' => $v, '_content' => 'content', '_type' => 'assoc' ], $indent )`.
fn print_wrapped(out: &mut Vec<u8>, name: &str, value: &Val, indent: usize) {
    let value = match value {
        Val::Bool(b) => &Val::Str(if *b { "true" } else { "false" }),
        other => other,
    };
    match value {
        Val::Null => {
            newline(out, indent + 2);
            element(out, name, &[], &Val::Null);
        }
        Val::Array(_) => {
            newline(out, indent + 2);
            open_tag(out, name, &[]);
            print(out, None, value, indent + 2, Vec::new());
            newline(out, indent + 2);
            close_tag(out, name);
        }
        scalar => {
            newline(out, indent + 2);
            let preserve = [(Cow::Borrowed("xml:space"), Cow::Owned(Val::Str("preserve")))];
            element(out, name, &preserve, scalar);
        }
    }
}

fn newline(out: &mut Vec<u8>, indent: usize) {
    out.push(b'\n');
    out.resize(out.len() + indent, b' ');
}

fn open_tag(out: &mut Vec<u8>, name: &str, attrs: &[(Cow<str>, Cow<Val>)]) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    // `a\n` is the attribute `a` to a parser: such a name is mangled if that would repeat an attribute.
    fn bare(name: &str) -> &str {
        name.strip_suffix('\n').unwrap_or(name)
    }
    let repeated: Option<HashSet<&str>> = attrs.iter().any(|(n, _)| n.ends_with('\n')).then(|| {
        let mut seen = HashSet::new();
        attrs
            .iter()
            .map(|(n, _)| bare(n))
            .filter(|n| !seen.insert(*n))
            .collect()
    });
    for (attr, value) in attrs {
        if attr.ends_with('\n') && repeated.as_ref().is_some_and(|r| r.contains(bare(attr))) {
            push_attribute(out, &mangle_always(attr), value);
        } else {
            push_attribute(out, attr, value);
        }
    }
    out.push(b'>');
}

/// ` name="value"`, the value escaped by `Sanitizer::encodeAttribute()`.
fn push_attribute(out: &mut Vec<u8>, name: &str, value: &Val) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    match value {
        Val::Str(s) => push_attr(out, s),
        Val::Int(n) => push_int(out, *n),
        other => push_attr(out, &other.php_string()),
    }
    out.push(b'"');
}

/// `Xml::element( $name, $attrs, $contents )` for scalar contents: null (no contents) and `''` give a short
/// tag; anything else, even text that converts to `''` such as `false`, an open and a close tag.
fn element(out: &mut Vec<u8>, name: &str, attrs: &[(Cow<str>, Cow<Val>)], contents: &Val) {
    open_tag(out, name, attrs);
    if matches!(contents, Val::Null | Val::Str("")) {
        out.pop();
        out.extend_from_slice(b" />");
    } else {
        match contents {
            Val::Str(s) => push_text(out, s),
            Val::Int(n) => push_int(out, *n),
            other => push_text(out, &other.php_string()),
        }
        close_tag(out, name);
    }
}

/// Decimal digits of `n` (nothing to escape), without allocating.
fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

fn close_tag(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

/// `ApiFormatXml::mangleName()`: valid names as they are, others `_` + the name with `.` and every character
/// not allowed in a name written as `.HEX.`. Like PCRE's `$` in core's check, a valid name may end in one
/// newline, which XML reads as white space after the name.
fn mangle_name<'n>(name: Cow<'n, str>, preserved: bool) -> Cow<'n, str> {
    let bare = name.strip_suffix('\n').unwrap_or(&name);
    if preserved && is_xml_name(bare) {
        return name;
    }
    if name.is_empty() {
        return Cow::Borrowed("_");
    }
    let ascii_name = |b: &[u8]| {
        b.first()
            .is_some_and(|&c| ASCII_NAME[usize::from(c)] == NAME_START)
            && b.iter().all(|&c| ASCII_NAME[usize::from(c)] != 0)
    };
    let mut chars = bare.chars();
    if ascii_name(bare.as_bytes())
        || (chars.next().is_some_and(is_name_start) && chars.all(is_name_char))
    {
        return name;
    }
    Cow::Owned(mangle_always(&name))
}

fn mangle_always(name: &str) -> String {
    let mut mangled = String::with_capacity(name.len() + 8);
    mangled.push('_');
    for c in name.chars() {
        if c == '.' {
            mangled.push_str(".2E.");
        } else if is_name_char(c) {
            mangled.push(c);
        } else {
            mangled.push_str(&format!(".{:X}.", u32::from(c)));
        }
    }
    mangled
}

const NAME_START: u8 = 2;

/// Byte classes for the common all-ASCII name: [`NAME_START`] for letters, 1 for the other ASCII name
/// characters (digits, `_ - .`), 0 for everything else including non-ASCII bytes.
static ASCII_NAME: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() {
            NAME_START
        } else if c.is_ascii_digit() || c == b'_' || c == b'-' || c == b'.' {
            1
        } else {
            0
        };
        b += 1;
    }
    table
};

/// `mangleName()`'s `$nsc`: XML's NameStartChar without `:` and `_`.
fn is_name_start(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(c,
        'A'..='Z' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// `mangleName()`'s `$nc`: XML's NameChar without `:`.
fn is_name_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    }
    is_name_start(c)
        || matches!(c, '_' | '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// A full XML 1.0 Name (`:` and `_` allowed), for names printed unmangled because they are preserved.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| is_name_start(c) || c == ':' || c == '_')
        && chars.all(|c| is_name_char(c) || c == ':')
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event as XmlEvent;
    use quick_xml::Reader;
    use serde_json::json;

    use super::super::php_oracle::{self, Mode};
    use super::super::samples::{self, Rng, HOSTILE};
    use super::super::xml_chars::is_xml_char;
    use super::*;
    use crate::context::FeedContext;

    /// An element read back: depth, name, attributes (unescaped), text (unescaped, all text nodes joined).
    #[derive(Debug)]
    struct Element {
        depth: usize,
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
    }

    /// Parses `bytes` with quick-xml, failing on anything not well-formed or any forbidden character.
    fn parse(bytes: &[u8]) -> Vec<Element> {
        try_parse(bytes).unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(bytes)))
    }

    fn try_parse(bytes: &[u8]) -> Result<Vec<Element>, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        if let Some(c) = text.chars().find(|&c| !is_xml_char(c)) {
            return Err(format!("forbidden character {c:?}"));
        }
        let mut reader = Reader::from_str(text);
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        loop {
            let event = reader.read_event().map_err(|e| e.to_string())?;
            match event {
                XmlEvent::Eof => break,
                XmlEvent::Start(ref e) | XmlEvent::Empty(ref e) => {
                    let mut attrs = Vec::new();
                    for a in e.attributes() {
                        let a = a.map_err(|e| e.to_string())?;
                        let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                        attrs.push((
                            key,
                            a.unescape_value().map_err(|e| e.to_string())?.into_owned(),
                        ));
                    }
                    let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                    // quick-xml reads `<>` as an element without a name; XML has none.
                    if name.is_empty()
                        || attrs
                            .iter()
                            .any(|(key, _): &(String, String)| key.is_empty())
                    {
                        return Err("empty name".into());
                    }
                    elements.push(Element {
                        depth: open.len(),
                        name,
                        attrs,
                        text: String::new(),
                    });
                    if matches!(event, XmlEvent::Start(_)) {
                        open.push(elements.len() - 1);
                    }
                }
                XmlEvent::End(_) => {
                    open.pop();
                }
                XmlEvent::Text(t) => {
                    let t = t.unescape().map_err(|e| e.to_string())?;
                    match open.last() {
                        Some(&i) => elements[i].text.push_str(&t),
                        None if t.trim().is_empty() => {}
                        None => return Err(format!("text outside the root: {t:?}")),
                    }
                }
                other => return Err(format!("unexpected {other:?}")),
            }
        }
        if !open.is_empty() || elements.iter().filter(|e| e.depth == 0).count() != 1 {
            return Err("not exactly one complete root element".into());
        }
        Ok(elements)
    }

    /// What XML can carry of `text`: forbidden characters replaced, and CR as an XML parser reads it back
    /// from element text (line-end normalisation is not applied by quick-xml, so only the replacement).
    fn carried(text: &str) -> String {
        text.chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect()
    }

    fn attr<'e>(element: &'e Element, name: &str) -> Option<&'e str> {
        element
            .attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn fixed_cases() -> Vec<(Event, FeedContext)> {
        let ctx = samples::context();
        let mut patrolling = samples::context();
        patrolling.use_rc_patrol = true;
        patrolling.channel = Some("#en.wikipedia".into());
        let mut np_only = samples::context();
        np_only.use_np_patrol = true;
        np_only.script_path = "0".into();
        let mut hostile = samples::edit();
        hostile.title = HOSTILE.into();
        hostile.comment = HOSTILE.repeat(3);
        hostile.user = HOSTILE.into();
        hostile.new_len = None;
        let mut hostile_ctx = samples::context();
        hostile_ctx.channel = Some(HOSTILE.into());
        hostile_ctx.wiki_id = HOSTILE.into();
        let params = [
            json!({ "a": HOSTILE, HOSTILE: [HOSTILE, 1.5, -0.0, 10.0, 1e14, 1e300, 0.1, null, true, false, ""] }),
            json!(["a", "", null, true, false, [], {}, ["x"], { "k": "v" }]),
            json!({ "*": "content", "x": 1 }),
            json!({ "*": "content only" }),
            json!({ "*": ["content", "array"] }),
            json!({ "*": { "inner": true }, "other": [1] }),
            json!([{ "*": null, "a": 1 }, { "*": null }, { "*": false, "x": [] }]),
            json!({ "_element": "item", "_type": "kvp", "0": "a", "5": "b", "k": "v" }),
            json!({ "_content": "body", "body": "text", "_preservekeys": ["_keep", "a b"], "_keep": "yes", "a b": 1 }),
            json!({ "_subelements": ["s"], "s": "sub", "_BC_bools": ["t", 0], "t": true, "0": false, "f": false }),
            json!({ "": "empty", "1x": "digit", "a:b": "colon", "é": "ok", "\u{FFFF}": "bad", "a\n": "nl", "-1": 1, "01": 2 }),
            json!({ "_type": "array", "0": "x" }),
            json!({ "a": 1, "a\n": 2, "b\n": 3 }),
            json!({ "_preservekeys": ["a", "_a.20.b"], "a b": 1, "_a.20.b": 2, "c": [], "_c": [] }),
        ];
        let mut cases = Vec::new();
        for ctx in [&ctx, &patrolling, &np_only, &hostile_ctx] {
            let mut events = vec![
                samples::edit(),
                samples::new_page(),
                hostile.clone(),
                samples::log(Some(samples::protect_params())),
                samples::log(None),
                samples::log(Some(json!([]))),
                samples::categorize(),
                samples::unsaved_patrol(),
            ];
            events.extend(params.iter().map(|p| samples::log(Some(p.clone()))));
            cases.extend(events.into_iter().map(|e| (e, ctx.clone())));
        }
        cases
    }

    fn random_cases(count: usize) -> Vec<(Event, FeedContext)> {
        let mut rng = Rng::new(0x786d_6c21);
        let shapes = [
            samples::edit(),
            samples::new_page(),
            samples::log(None),
            samples::categorize(),
        ];
        (0..count)
            .map(|_| {
                let mut event = shapes[rng.below(shapes.len())].clone();
                event.title = rng.text(8);
                event.comment = rng.text(12);
                event.user = rng.text(4);
                if let Some(log) = &mut event.log {
                    log.action_comment = rng.text(8);
                    log.params_raw = (rng.below(4) > 0).then(|| rng.params(4));
                }
                let mut ctx = samples::context();
                ctx.channel = (rng.below(2) == 0).then(|| rng.text(3));
                ctx.use_rc_patrol = rng.below(2) == 0;
                (event, ctx)
            })
            .collect()
    }

    /// Compares with `recXmlPrint()` run by PHP on the same packet, where PHP's output is well-formed once
    /// forbidden characters are replaced (elsewhere core itself produces a broken document). Returns how
    /// many cases were compared.
    fn assert_matches_core(cases: Vec<(Event, FeedContext)>) -> usize {
        let params: Vec<Value> = cases
            .iter()
            .map(|(e, _)| {
                e.log
                    .as_ref()
                    .and_then(|l| l.params_raw.clone())
                    .unwrap_or(Value::Null)
            })
            .collect();
        let Some(canonical) = php_oracle::canonical(&params) else {
            return 0;
        };
        let cases: Vec<(Event, FeedContext)> = cases
            .into_iter()
            .zip(canonical)
            .filter_map(|((mut event, ctx), params)| {
                if let Some(log) = &mut event.log {
                    if log.params_raw.is_some() {
                        log.params_raw = Some(params?);
                    }
                }
                Some((event, ctx))
            })
            .collect();
        let packets: Vec<Value> = cases
            .iter()
            .map(|(e, c)| php_oracle::packet_json(e, c))
            .collect();
        let Some(expected) = php_oracle::run(Mode::Xml, &packets) else {
            return 0;
        };
        let mut compared = 0;
        for ((event, ctx), want) in cases.iter().zip(expected) {
            let Some(want) = want else { continue };
            let want = carried(&String::from_utf8(want).expect("UTF-8"));
            if let Err(e) = try_parse(want.as_bytes()) {
                eprintln!("core's own output is not well-formed ({e}), not compared: {want:?}");
                continue;
            }
            let got = format(event, ctx);
            assert_eq!(String::from_utf8_lossy(&got), want, "{event:?}");
            compared += 1;
        }
        compared
    }

    #[test]
    fn matches_core_xml_feed() {
        let cases = fixed_cases();
        let total = cases.len();
        let compared = assert_matches_core(cases);
        eprintln!("compared {compared} of {total} cases with MediaWiki");
        assert!(
            compared == 0 || compared + 8 >= total,
            "only {compared} of {total} compared"
        );
    }

    #[test]
    fn matches_core_xml_feed_on_random_hostile_input() {
        let compared = assert_matches_core(random_cases(1500));
        eprintln!("compared {compared} of 1500 cases with MediaWiki");
        assert!(compared == 0 || compared > 1400, "only {compared} compared");
    }

    #[test]
    fn always_well_formed_and_never_forged() {
        for (event, ctx) in fixed_cases().into_iter().chain(random_cases(1500)) {
            let elements = parse(&format(&event, &ctx));
            let root = &elements[0];
            assert_eq!(root.name, "recentchange");
            let names: Vec<&str> = root.attrs.iter().map(|(n, _)| n.as_str()).collect();
            let expected: Vec<&str> = rc_packet::build(&event, &ctx)
                .iter()
                .filter(|(_, f)| {
                    matches!(
                        f,
                        Field::Int(_)
                            | Field::Str(_)
                            | Field::Bool(true)
                            | Field::Json(Value::String(_) | Value::Number(_) | Value::Bool(true))
                    )
                })
                .map(|(k, _)| *k)
                .collect();
            assert_eq!(names, expected, "no attribute forged or lost");
            assert_eq!(attr(root, "title"), Some(carried(&event.title).as_str()));
            assert_eq!(
                attr(root, "comment"),
                Some(carried(&event.comment).as_str())
            );
            assert_eq!(attr(root, "user"), Some(carried(&event.user).as_str()));
            let children: Vec<&str> = elements
                .iter()
                .filter(|e| e.depth == 1)
                .map(|e| e.name.as_str())
                .collect();
            let expected: Vec<&str> = rc_packet::build(&event, &ctx)
                .iter()
                .filter(|(_, f)| {
                    matches!(
                        f,
                        Field::OldNew(..) | Field::Json(Value::Array(_) | Value::Object(_))
                    )
                })
                .map(|(k, _)| *k)
                .collect();
            assert_eq!(children, expected, "no element forged or lost");
        }
    }

    #[test]
    fn one_mebibyte_comment_round_trips() {
        let mut event = samples::edit();
        event.comment = HOSTILE.repeat((1 << 20) / HOSTILE.len());
        let elements = parse(&format(&event, &samples::context()));
        assert_eq!(
            attr(&elements[0], "comment"),
            Some(carried(&event.comment).as_str())
        );
    }

    #[test]
    fn long_metadata_lists_are_handled() {
        let mut params = serde_json::Map::new();
        let names: Vec<String> = (0..3000).map(|i| format!("k{i}")).collect();
        for name in &names {
            params.insert(name.clone(), json!(name));
            params.insert(format!("_{name}"), json!(1));
        }
        params.insert("_subelements".into(), json!(names));
        params.insert(
            "_preservekeys".into(),
            json!(names.iter().map(|n| format!("_{n}")).collect::<Vec<_>>()),
        );
        let event = samples::log(Some(Value::Object(params)));
        // Sorted lists keep formatting linear in the key count (quick-xml's own duplicate-attribute check,
        // used by `parse`, is quadratic, hence the modest size).
        let elements = parse(&format(&event, &samples::context()));
        let log_params = elements
            .iter()
            .find(|e| e.name == "log_params")
            .expect("log_params");
        assert_eq!(log_params.attrs.len(), 3000, "the preserved `_k…` keys");
        let subelements = elements
            .iter()
            .filter(|e| e.depth == 2 && e.name.starts_with('k'))
            .count();
        assert_eq!(subelements, 3000);
    }

    #[test]
    fn log_param_text_survives() {
        let event = samples::log(Some(json!({ "list": [HOSTILE], "*": HOSTILE })));
        let elements = parse(&format(&event, &samples::context()));
        let item = elements.iter().find(|e| e.name == "_v").expect("list item");
        assert_eq!(item.text, carried(HOSTILE));
        let content = elements
            .iter()
            .find(|e| e.name == "_.2A.")
            .expect("content element");
        assert_eq!(content.text, carried(HOSTILE));
    }

    #[test]
    fn floats_print_as_php_strings() {
        let literals = [
            "1.5", "-0", "-0.0", "10.0", "1.0e+14", "1.0e+25", "0.1", "1.0e-5", "0.0001",
            "5.0e-324",
        ];
        let expected = php_oracle::float_strings(&literals.map(String::from));
        for (literal, want) in literals.iter().zip(expected) {
            assert_eq!(Val::Float(literal).php_string(), want, "{literal}");
        }
    }
}
