//! `ApiFormatXml::recXmlPrint()` (MediaWiki 1.39), the one printer both XML formats use: core's XML feed
//! prints its packet's `log_params` indented (each element on a new line, two more spaces per level), xmlrc
//! prints `<logparams>` unindented, as api.php does, after [`super::api_result::transform`].
//!
//! It walks a PHP array ([`Value`]): scalars become attributes (`true` as an empty attribute, `false` and
//! `null` omitted), arrays become child elements, integer keys `<_v>` (or `_element`) children, and the
//! ApiResult metadata keys (`_element`, `_content`, `_type`, `_subelements`, `_preservekeys`, `_BC_bools`,
//! `_BC_subelements`) are honoured, since arbitrary log params may contain them. Element and attribute names
//! go through `mangleName()`.
//!
//! Deliberate differences from core, only where core would emit a document no XML parser accepts:
//! characters XML 1.0 forbids are replaced by U+FFFD (see `xml_chars`); a `_preservekeys` name that
//! is not an XML name is mangled rather than printed raw; and a key `a\n` (which core prints unmangled because
//! PCRE's `$` matches before a final newline) is mangled when the element also has an attribute `a`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::php_value::{Key, Value};
use super::xml_chars::{push_attr, push_int, push_text};

/// `recXmlPrint( $name, $value, $indent )`: `name` `None` prints only the children (the content array of an
/// element), `indent` `None` prints no line breaks.
pub fn print(out: &mut Vec<u8>, name: Option<&str>, value: &Value, indent: Option<usize>) {
    print_with(out, name, value, indent, None);
}

/// ` name="value"`, the value escaped by `Sanitizer::encodeAttribute()`.
pub fn push_attribute(out: &mut Vec<u8>, name: &str, value: &Value) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    match value {
        Value::Str(s) => push_attr(out, s),
        Value::Int(n) => push_int(out, *n),
        other => push_attr(out, &other.to_php_string()),
    }
    out.push(b'"');
}

/// A key or value as PHP's `===` compares them with keys (only integers and strings can equal a key),
/// borrowed from the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum K<'v> {
    Int(i64),
    Str(&'v str),
}

impl<'v> K<'v> {
    fn of_key(key: &'v Key) -> Self {
        match key {
            Key::Int(n) => K::Int(*n),
            Key::Str(s) => K::Str(s),
        }
    }

    fn of_val(value: &'v Value) -> Option<Self> {
        match value {
            Value::Int(n) => Some(K::Int(*n)),
            Value::Str(s) => Some(K::Str(s)),
            _ => None,
        }
    }

    fn is_metadata(self) -> bool {
        matches!(self, K::Str(s) if s.starts_with('_'))
    }

    fn text(self) -> Cow<'v, str> {
        match self {
            K::Int(n) => Cow::Owned(n.to_string()),
            K::Str(s) => Cow::Borrowed(s),
        }
    }
}

/// Attributes as `recXmlPrint()` collects them: names, and scalar values printed as PHP strings.
type Attrs<'v, 'a> = [(Cow<'v, str>, &'v Value<'a>)];

/// The values `recXmlPrint()` makes up while printing (booleans as text, an empty attribute, `xml:space`).
static TRUE: Value = Value::Str(Cow::Borrowed("true"));
static FALSE: Value = Value::Str(Cow::Borrowed("false"));
static EMPTY: Value = Value::Str(Cow::Borrowed(""));
static PRESERVE: Value = Value::Str(Cow::Borrowed("preserve"));

/// Names in insertion order with the semantics of `$map[$name] = $value` (a repeated name keeps its first
/// position). Names only repeat when `_preservekeys` lets raw names through, so only then is there an index.
struct NameMap<'v, T> {
    items: Vec<(Cow<'v, str>, T)>,
    index: Option<HashMap<Cow<'v, str>, usize>>,
}

impl<'v, T> NameMap<'v, T> {
    fn new(items: Vec<(Cow<'v, str>, T)>, may_repeat: bool) -> Self {
        let index = may_repeat.then(|| {
            items
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (n.clone(), i))
                .collect()
        });
        Self { items, index }
    }

    fn set(&mut self, name: Cow<'v, str>, value: T) {
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
struct KeySet<'v>(Vec<K<'v>>);

impl<'v> KeySet<'v> {
    /// The list's entries; `(array)` of a lone string, as ApiResult casts it, is a one-item list.
    fn of(list: &'v Value) -> Self {
        let mut keys: Vec<K<'v>> = match list {
            Value::Array(array) => array.0.iter().filter_map(|(_, v)| K::of_val(v)).collect(),
            _ => Vec::new(),
        };
        keys.sort_unstable();
        keys.dedup();
        Self(keys)
    }

    fn extend(&mut self, other: KeySet<'v>) {
        self.0.extend(other.0);
        self.0.sort_unstable();
        self.0.dedup();
    }

    fn contains(&self, key: K) -> bool {
        !self.0.is_empty() && self.0.binary_search(&key).is_ok()
    }
}

/// A child element collected by `recXmlPrint()`: an array printed as such, or a scalar (or the content
/// array) wrapped as `[ 'content' => $v, '_content' => 'content', '_type' => 'assoc' ]`.
enum Child<'v, 'a> {
    Array(&'v Value<'a>),
    Wrapped(&'v Value<'a>),
}

/// The ApiResult metadata of one array.
struct Meta<'v, 'a> {
    content_key: Option<&'v Value<'a>>,
    subelements: KeySet<'v>,
    preserve: KeySet<'v>,
    element: Option<&'v Value<'a>>,
    bc_bools: KeySet<'v>,
    typed: bool,
}

impl<'v, 'a> Meta<'v, 'a> {
    fn of(entries: &'v [(Key<'a>, Value<'a>)]) -> Self {
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
            if !name.starts_with('_') || matches!(value, Value::Null) {
                continue;
            }
            match name.as_ref() {
                "_content" => meta.content_key = Some(value),
                "_subelements" => meta.subelements = list(value),
                "_BC_subelements" => bc_subelements = list(value),
                "_preservekeys" => meta.preserve = list(value),
                "_element" => meta.element = Some(value),
                "_BC_bools" => meta.bc_bools = list(value),
                "_type" => meta.typed = !matches!(value, Value::Str(t) if t == "array"),
                _ => {}
            }
        }
        meta.subelements.extend(bc_subelements);
        meta
    }

    fn is_content_key(&self, key: K) -> bool {
        match self.content_key {
            Some(content_key) => K::of_val(content_key) == Some(key),
            None => key == K::Str("*"),
        }
    }

    /// `mangleName( $key, $preserveKeys )`.
    fn name_of(&self, key: K<'v>) -> Cow<'v, str> {
        mangle_name(key.text(), self.preserve.contains(key))
    }
}

/// `recXmlPrint( $name, $value, $indent, $attributes )`, where the attributes are `[ '_idx' => $idx ]` or none.
fn print_with(
    out: &mut Vec<u8>,
    name: Option<&str>,
    value: &Value,
    indent: Option<usize>,
    idx: Option<i64>,
) {
    let indent = match name {
        Some(_) => indent.map(|i| i + 2),
        None => indent,
    };
    let idx = idx.map(Value::Int);
    let idx = idx.as_ref().map(|v| (Cow::Borrowed("_idx"), v));
    let Value::Array(array) = value else {
        // Scalars; `recXmlPrint()` is never called with a scalar and no name.
        if let Some(name) = name {
            newline(out, indent);
            element(out, name, idx.as_slice(), value);
        }
        return;
    };
    let entries = &array.0;
    let meta = Meta::of(entries);
    let indexed_tag: Cow<str> = match meta.element {
        Some(tag) => mangle_name(
            tag.to_php_string(),
            K::of_val(tag).is_some_and(|k| meta.preserve.contains(k)),
        ),
        None => Cow::Borrowed("_v"),
    };

    let mut content_value: Option<&Value> = None;
    let may_repeat = !meta.preserve.0.is_empty();
    let mut attrs = Vec::with_capacity(entries.len() + 1);
    attrs.extend(idx);
    let mut attrs = NameMap::new(attrs, may_repeat);
    let mut children = NameMap::new(Vec::new(), may_repeat);
    let mut indexed = Vec::new();
    for (key, original) in entries {
        let key = K::of_key(key);
        if key.is_metadata() && !meta.preserve.contains(key) {
            continue;
        }
        let v = match original {
            Value::Bool(b) if !meta.bc_bools.contains(key) => bool_string(*b),
            _ => original,
        };
        if name.is_some() && meta.is_content_key(key) {
            content_value = Some(v);
        } else if let K::Int(i) = key {
            indexed.push((i, v));
        } else if let Value::Array(_) = v {
            children.set(meta.name_of(key), Child::Array(v));
        } else if name.is_none() || meta.subelements.contains(key) {
            children.set(meta.name_of(key), Child::Wrapped(v));
        } else if let Value::Bool(b) = original {
            if *b {
                attrs.set(meta.name_of(key), &EMPTY);
            }
        } else if !matches!(v, Value::Null) {
            attrs.set(meta.name_of(key), v);
        }
    }

    // `$content !== null`: a null content value counts as no content at all.
    let mut content = content_value.filter(|c| !matches!(c, Value::Null));
    if let Some(c) = content.take() {
        let content_key = meta.content_key.and_then(K::of_val).unwrap_or(K::Str("*"));
        if !children.is_empty() || !indexed.is_empty() {
            children.set(meta.name_of(content_key), Child::Wrapped(c));
        } else {
            content = Some(c);
        }
    }

    match (content, name) {
        (Some(c), Some(name)) if !matches!(c, Value::Array(_)) => {
            // Scalar content: `xml:space="preserve"` unless an attribute of that name exists already.
            if !attrs.contains("xml:space") {
                attrs.set(Cow::Borrowed("xml:space"), &PRESERVE);
            }
            newline(out, indent);
            element(out, name, &attrs.items, c);
        }
        (Some(c), _) => {
            if let Some(name) = name {
                newline(out, indent);
                open_tag(out, name, &attrs.items);
            }
            print_with(out, None, c, indent, None);
            if let Some(name) = name {
                newline(out, indent);
                close_tag(out, name);
            }
        }
        (None, _) if children.is_empty() && indexed.is_empty() => {
            if let Some(name) = name {
                newline(out, indent);
                element(out, name, &attrs.items, &Value::Null);
            }
        }
        (None, _) => {
            if let Some(name) = name {
                newline(out, indent);
                open_tag(out, name, &attrs.items);
            }
            for (child_name, child) in &children.items {
                match child {
                    Child::Array(array) => print_with(out, Some(child_name), array, indent, None),
                    Child::Wrapped(v) => print_wrapped(out, child_name, v, indent),
                }
            }
            for (i, v) in indexed {
                print_with(out, Some(&indexed_tag), v, indent, meta.typed.then_some(i));
            }
            if let Some(name) = name {
                newline(out, indent);
                close_tag(out, name);
            }
        }
    }
}

/// `$v ? 'true' : 'false'`, how `recXmlPrint()` prints booleans not listed in `_BC_bools`.
fn bool_string(b: bool) -> &'static Value<'static> {
    if b {
        &TRUE
    } else {
        &FALSE
    }
}

/// `recXmlPrint( $name, [ 'content' => $v, '_content' => 'content', '_type' => 'assoc' ], $indent )`.
fn print_wrapped(out: &mut Vec<u8>, name: &str, value: &Value, indent: Option<usize>) {
    let indent = indent.map(|i| i + 2);
    let value = match value {
        Value::Bool(b) => bool_string(*b),
        other => other,
    };
    newline(out, indent);
    match value {
        Value::Null => element(out, name, &[], value),
        Value::Array(_) => {
            open_tag(out, name, &[]);
            print_with(out, None, value, indent, None);
            newline(out, indent);
            close_tag(out, name);
        }
        scalar => {
            let preserve = [(Cow::Borrowed("xml:space"), &PRESERVE)];
            element(out, name, &preserve, scalar);
        }
    }
}

/// `$indstr`: a line break and the indentation, or nothing when printing unindented.
fn newline(out: &mut Vec<u8>, indent: Option<usize>) {
    if let Some(indent) = indent {
        out.push(b'\n');
        out.resize(out.len() + indent, b' ');
    }
}

fn open_tag(out: &mut Vec<u8>, name: &str, attrs: &Attrs) {
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

/// `Xml::element( $name, $attrs, $contents )` for scalar contents: null (no contents) and `''` give a short
/// tag; anything else, even text that converts to `''` such as `false`, an open and a close tag.
fn element(out: &mut Vec<u8>, name: &str, attrs: &Attrs, contents: &Value) {
    open_tag(out, name, attrs);
    match contents {
        Value::Null => short_tag(out),
        Value::Str(s) if s.is_empty() => short_tag(out),
        text => {
            match text {
                Value::Str(s) => push_text(out, s),
                Value::Int(n) => push_int(out, *n),
                other => push_text(out, &other.to_php_string()),
            }
            close_tag(out, name);
        }
    }
}

/// Turns the start tag just written into a short tag (`<name ... />`).
fn short_tag(out: &mut Vec<u8>) {
    out.pop();
    out.extend_from_slice(b" />");
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
