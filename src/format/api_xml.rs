//! `ApiFormatXml::recXmlPrint()` (MediaWiki 1.39) without indentation, for arrays already passed through
//! [`super::api_result::transform`]: scalars become attributes, arrays and `_subelements` child elements,
//! integer keys `<_v>` (or `_element`) children, booleans an empty attribute or nothing, the `_content` key
//! the element's text. Names that are not valid XML are mangled as `ApiFormatXml::mangleName()` does.
//!
//! One deliberate difference: MediaWiki does not mangle names listed in `_preservekeys`; this port keeps them
//! too unless they are not valid XML names, where MediaWiki would print a malformed document.

use std::borrow::Cow;
use std::collections::HashMap;

use super::php_value::{Array, Key, Value};
use super::xml_chars::{push_attr, push_text};

/// PHP's `$map[$name] = $value` on an insertion-ordered map of names (attributes, child elements). Lookups
/// go through a hash index once the map holds more than a few names, so hostile input with many thousands of
/// keys stays linear.
struct NameMap<'a, V> {
    entries: Vec<(Cow<'a, str>, V)>,
    index: HashMap<String, usize>,
    /// For attributes: names differing only by the trailing newline [`mangle`] can leave are one attribute to
    /// an XML parser, so they count as one (PHP would print both, a malformed document).
    fold_newline: bool,
}

const INDEX_FROM: usize = 8;

impl<'a, V> NameMap<'a, V> {
    fn new(fold_newline: bool) -> Self {
        Self {
            entries: Vec::new(),
            index: HashMap::new(),
            fold_newline,
        }
    }

    fn folded<'n>(&self, name: &'n str) -> &'n str {
        match self.fold_newline {
            true => name.strip_suffix('\n').unwrap_or(name),
            false => name,
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        let wanted = self.folded(name);
        if self.entries.len() <= INDEX_FROM {
            self.entries
                .iter()
                .position(|(n, _)| self.folded(n) == wanted)
        } else {
            self.index.get(wanted).copied()
        }
    }

    /// `$map[$name] = $value`.
    fn set(&mut self, name: Cow<'a, str>, value: V) {
        if let Some(i) = self.position(&name) {
            self.entries[i].1 = value;
            return;
        }
        self.entries.push((name, value));
        if self.entries.len() == INDEX_FROM + 1 {
            for i in 0..self.entries.len() {
                let key = self.folded(&self.entries[i].0).to_owned();
                self.index.entry(key).or_insert(i);
            }
        } else if self.entries.len() > INDEX_FROM + 1 {
            let i = self.entries.len() - 1;
            let key = self.folded(&self.entries[i].0).to_owned();
            self.index.insert(key, i);
        }
    }

    /// `$map += [ $name => $value ]`.
    fn add(&mut self, name: Cow<'a, str>, value: V) {
        if self.position(&name).is_none() {
            self.set(name, value);
        }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

type Attrs<'a> = NameMap<'a, Cow<'a, str>>;

/// An `in_array( $key, $list, true )` test for a metadata list, sorted once for binary search.
fn sorted(mut list: Vec<&str>) -> Vec<&str> {
    list.sort_unstable();
    list
}

/// `[ 'content' => $v, '_content' => 'content', '_type' => 'assoc' ]`.
fn content_wrapper<'a>(value: Value<'a>) -> Value<'a> {
    Value::Array(Array(vec![
        (Key::Str("content".into()), value),
        (Key::Str("_content".into()), Value::str("content")),
        (Key::Str("_type".into()), Value::str("assoc")),
    ]))
}

/// Prints `value` as element `name` (or, with `None`, only its children) into `out`.
pub fn print(out: &mut Vec<u8>, name: Option<&str>, value: &Value<'_>) {
    print_with(out, name, value, Attrs::new(true));
}

/// `recXmlPrint( $name, $value, null, $attributes )`.
fn print_with<'a>(
    out: &mut Vec<u8>,
    name: Option<&str>,
    value: &Value<'a>,
    mut attributes: Attrs<'a>,
) {
    let Value::Array(arr) = value else {
        if let Some(name) = name {
            match value {
                // Xml::element( $name, $attributes ) for null, short tag for ''.
                Value::Null => element(out, name, &attributes, Contents::Short),
                Value::Str(s) if s.is_empty() => element(out, name, &attributes, Contents::Short),
                scalar => element(
                    out,
                    name,
                    &attributes,
                    Contents::Text(&scalar.to_php_string()),
                ),
            }
        }
        return;
    };

    // The metadata recXmlPrint reads (`$value['_content'] ?? '*'` and so on), found in one pass.
    let (mut content_key, mut tag_name, mut array_type) = (None, None, None);
    let (mut subelement_keys, mut preserve, mut bc_bools) = (Vec::new(), Vec::new(), Vec::new());
    for (k, v) in &arr.0 {
        let Key::Str(name) = k else { continue };
        if !name.starts_with('_') || matches!(v, Value::Null) {
            continue;
        }
        match name.as_ref() {
            "_content" => content_key = Some(v),
            "_element" => tag_name = Some(v),
            "_type" => array_type = Some(v),
            "_subelements" | "_BC_subelements" => subelement_keys.extend(v.string_items()),
            "_preservekeys" => preserve = v.string_items(),
            "_BC_bools" => bc_bools = v.string_items(),
            _ => {}
        }
    }
    let content_key = content_key.cloned().unwrap_or(Value::str("*"));
    let subelement_keys = sorted(subelement_keys);
    let preserve = sorted(preserve);
    let bc_bools = sorted(bc_bools);
    let indexed_tag: Cow<str> = match tag_name {
        Some(tag) if tag.is_scalar() => mangle(tag.to_php_string(), &preserve),
        _ => Cow::Borrowed("_v"),
    };
    let index_subelements = matches!(array_type, Some(t) if *t != Value::str("array"));

    let mut content: Option<Cow<Value<'a>>> = None;
    let mut subelements: NameMap<'a, Cow<Value<'a>>> = NameMap::new(false);
    let mut indexed: Vec<(i64, Cow<Value<'a>>)> = Vec::new();
    for (k, orig) in &arr.0 {
        let listed =
            |list: &[&str]| matches!(k, Key::Str(s) if list.binary_search(&s.as_ref()).is_ok());
        if k.is_metadata() && !listed(&preserve) {
            continue;
        }
        let v = match orig {
            Value::Bool(b) if !listed(&bc_bools) => {
                Cow::Owned(Value::str(if *b { "true" } else { "false" }))
            }
            _ => Cow::Borrowed(orig),
        };
        if name.is_some() && key_is(k, &content_key) {
            content = Some(v);
            continue;
        }
        let s = match k {
            Key::Int(i) => {
                indexed.push((*i, v));
                continue;
            }
            Key::Str(s) => s,
        };
        if matches!(*v, Value::Array(_)) {
            subelements.set(mangle(s.clone(), &preserve), v);
        } else if name.is_none() || subelement_keys.binary_search(&s.as_ref()).is_ok() {
            let wrapped = content_wrapper(v.into_owned());
            subelements.set(mangle(s.clone(), &preserve), Cow::Owned(wrapped));
        } else {
            match orig {
                Value::Bool(true) => {
                    attributes.set(mangle(s.clone(), &preserve), Cow::Borrowed(""))
                }
                Value::Bool(false) | Value::Null => {}
                _ => attributes.set(mangle(s.clone(), &preserve), v.to_php_string()),
            }
        }
    }

    if let Some(c) = content.take() {
        if !matches!(*c, Value::Null) {
            if !subelements.is_empty() || !indexed.is_empty() {
                let name = mangle(content_key.to_php_string(), &preserve);
                subelements.set(name, Cow::Owned(content_wrapper(c.into_owned())));
            } else {
                if c.is_scalar() {
                    attributes.add(Cow::Borrowed("xml:space"), Cow::Borrowed("preserve"));
                }
                content = Some(c);
            }
        }
    }

    match (name, content) {
        (Some(name), Some(c)) if c.is_scalar() => {
            // Xml::element() writes a short tag only for the empty string, not for false.
            let text = match &*c {
                Value::Str(s) if s.is_empty() => None,
                other => Some(other.to_php_string()),
            };
            match text {
                None => element(out, name, &attributes, Contents::Short),
                Some(t) => element(out, name, &attributes, Contents::Text(&t)),
            }
        }
        (name, Some(c)) => {
            if let Some(name) = name {
                element(out, name, &attributes, Contents::Open);
            }
            print_with(out, None, &c, Attrs::new(true));
            if let Some(name) = name {
                close(out, name);
            }
        }
        (name, None) if subelements.is_empty() && indexed.is_empty() => {
            if let Some(name) = name {
                element(out, name, &attributes, Contents::Short);
            }
        }
        (name, None) => {
            if let Some(name) = name {
                element(out, name, &attributes, Contents::Open);
            }
            for (k, v) in &subelements.entries {
                print_with(out, Some(k), v, Attrs::new(true));
            }
            for (k, v) in &indexed {
                let mut attrs = Attrs::new(true);
                if index_subelements {
                    attrs.set(Cow::Borrowed("_idx"), Cow::Owned(k.to_string()));
                }
                print_with(out, Some(&indexed_tag), v, attrs);
            }
            if let Some(name) = name {
                close(out, name);
            }
        }
    }
}

/// `$k === $value`: an integer key equals only an integer, a string key only a string.
fn key_is(k: &Key<'_>, value: &Value<'_>) -> bool {
    match (k, value) {
        (Key::Int(a), Value::Int(b)) => a == b,
        (Key::Str(a), Value::Str(b)) => a == b,
        _ => false,
    }
}

/// What `Xml::element()` is asked to write after the start tag.
enum Contents<'t> {
    /// `null`: the start tag only.
    Open,
    /// `''`: a short tag, `<name />`.
    Short,
    /// Escaped text and the end tag (`<name></name>` when the text is empty but was not `''`, e.g. `false`).
    Text(&'t str),
}

/// `Xml::element( $name, $attributes, $contents )`.
fn element(out: &mut Vec<u8>, name: &str, attributes: &Attrs<'_>, contents: Contents<'_>) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    for (attr, value) in &attributes.entries {
        out.push(b' ');
        out.extend_from_slice(attr.as_bytes());
        out.extend_from_slice(b"=\"");
        push_attr(out, value);
        out.push(b'"');
    }
    match contents {
        Contents::Open => out.push(b'>'),
        Contents::Short => out.extend_from_slice(b" />"),
        Contents::Text(text) => {
            out.push(b'>');
            push_text(out, text);
            close(out, name);
        }
    }
}

fn close(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

/// `NameStartChar` of XML 1.0 without `:` and `_` (mangleName's `$nsc`).
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// `NameChar` of XML 1.0 without `:` (mangleName's `$nc`).
fn is_name_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    }
    is_name_start(c)
        || matches!(c, '_' | '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// A well-formed XML 1.0 name (namespace colons allowed, as in `xml:space`).
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == ':' || c == '_' || is_name_start(c))
        && chars.all(|c| c == ':' || is_name_char(c))
}

/// `ApiFormatXml::mangleName()`: keys that are not valid names become `_` plus the key with `.` written as
/// `.2E.` and every other invalid character as `.<hex code point>.`.
fn mangle<'a>(name: Cow<'a, str>, preserve: &[&str]) -> Cow<'a, str> {
    if preserve.binary_search(&name.as_ref()).is_ok() && is_xml_name(&name) {
        return name;
    }
    if name.is_empty() {
        return Cow::Borrowed("_");
    }
    let bytes = name.as_bytes();
    if bytes[0].is_ascii_alphabetic()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return name;
    }
    // PHP tests /^[$nsc][$nc]*$/, and `$` also matches before a final newline: "a\n" passes unmangled
    // (still well-formed, as whitespace after a name).
    let mut chars = name.strip_suffix('\n').unwrap_or(&name).chars();
    if chars.next().is_some_and(is_name_start) && chars.all(is_name_char) {
        return name;
    }
    let mut out = String::with_capacity(name.len() + 8);
    out.push('_');
    for c in name.chars() {
        match c {
            '.' => out.push_str(".2E."),
            c if is_name_char(c) => out.push(c),
            c => out.push_str(&format!(".{:X}.", c as u32)),
        }
    }
    Cow::Owned(out)
}
