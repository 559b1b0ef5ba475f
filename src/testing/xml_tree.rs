//! A strict XML 1.0 reader for tests and fuzz targets: reads a whole document with quick-xml into a tree, or
//! returns the first well-formedness error. quick-xml alone is lenient on purpose (it does not check names,
//! `<` in attribute values, `]]>` in text, characters XML forbids, or that exactly one root element exists),
//! so those checks are added here. The one strict reader of the unit tests, tests/ and fuzz/.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// An element: its name, its attributes in document order (values unescaped) and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data, unescaped (adjacent text and CDATA sections merged).
    Text(String),
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn attr_names(&self) -> Vec<&str> {
        self.attrs.iter().map(|(key, _)| key.as_str()).collect()
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// All text content of this element and its descendants, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
            }
        }
        out
    }

    /// The element's shape: names of itself and every descendant element with their attribute names, and
    /// where text is (`#`), without the values. Two documents with equal shapes differ only in attribute
    /// values and the content of text nodes.
    pub fn shape(&self) -> String {
        let mut out = format!("<{}", self.name);
        for (key, _) in &self.attrs {
            out.push(' ');
            out.push_str(key);
        }
        out.push('>');
        for node in &self.children {
            match node {
                Node::Element(e) => out.push_str(&e.shape()),
                Node::Text(_) => out.push('#'),
            }
        }
        out.push_str("</>");
        out
    }
}

/// The XML 1.0 `Char` production (surrogates cannot occur in a `str`).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}'
        | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// The XML 1.0 (fifth edition) `Name` production.
pub fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start)
        && chars.all(|c| {
            is_name_start(c)
                || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
        })
}

fn checked_chars(what: &str, text: &str) -> Result<(), String> {
    match text.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(format!(
            "{what} holds U+{:04X}, which XML 1.0 forbids",
            c as u32
        )),
        None => Ok(()),
    }
}

fn element(start: &BytesStart) -> Result<Element, String> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|e| e.to_string())?
        .to_owned();
    if !is_xml_name(&name) {
        return Err(format!("element name {name:?} is not an XML name"));
    }
    let mut attrs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // quick-xml's own uniqueness check is quadratic; elements here may have tens of thousands of attributes.
    for attr in start.attributes().with_checks(false) {
        let attr = attr.map_err(|e| format!("<{name}>: bad attribute: {e}"))?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|e| e.to_string())?
            .to_owned();
        if !is_xml_name(&key) {
            return Err(format!(
                "<{name}>: attribute name {key:?} is not an XML name"
            ));
        }
        if attr.value.contains(&b'<') {
            return Err(format!("<{name} {key}>: raw '<' in an attribute value"));
        }
        let value = attr
            .unescape_value()
            .map_err(|e| format!("<{name} {key}>: bad reference: {e}"))?
            .into_owned();
        checked_chars(&format!("<{name} {key}>"), &value)?;
        if !seen.insert(key.clone()) {
            return Err(format!("<{name}>: duplicate attribute {key:?}"));
        }
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

fn push_text(parent: &mut Element, text: &str) {
    if text.is_empty() {
        return;
    }
    match parent.children.last_mut() {
        Some(Node::Text(last)) => last.push_str(text),
        _ => parent.children.push(Node::Text(text.to_owned())),
    }
}

/// Parses `xml` (which must be UTF-8, without a declaration or anything but whitespace around one root
/// element) into its root element, checking well-formedness to the end.
pub fn parse(xml: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("not UTF-8: {e}"))?;
    checked_chars("the document", text)?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        let finished = match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err("a second root element".into());
                }
                stack.push(element(&start)?);
                None
            }
            Event::Empty(start) => Some(element(&start)?),
            Event::End(_) => Some(stack.pop().ok_or("an end tag without a start")?),
            Event::Text(raw) => {
                if raw.windows(3).any(|w| w == b"]]>") {
                    return Err("\"]]>\" in character data".into());
                }
                let content = raw
                    .unescape()
                    .map_err(|e| format!("bad reference in text: {e}"))?;
                checked_chars("text", &content)?;
                match stack.last_mut() {
                    Some(parent) => push_text(parent, &content),
                    None if content.trim_matches([' ', '\t', '\r', '\n']).is_empty() => {}
                    None => return Err(format!("text outside the root element: {content:?}")),
                }
                None
            }
            Event::CData(data) => {
                let content = std::str::from_utf8(&data).map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(parent) => push_text(parent, content),
                    None => return Err("CDATA outside the root element".into()),
                }
                None
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(format!("<{}> is never closed", open.name));
                }
                return root.ok_or_else(|| "no root element".into());
            }
            other => {
                return Err(format!(
                    "unexpected {other:?} (no rcemit format writes one)"
                ))
            }
        };
        if let Some(done) = finished {
            match stack.last_mut() {
                Some(parent) => parent.children.push(Node::Element(done)),
                None if root.is_none() => root = Some(done),
                None => return Err("a second root element".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn refuses_what_quick_xml_lets_through() {
        for bad in [
            &b"<a>"[..],
            b"<a></b>",
            b"<a/><b/>",
            b"x<a/>",
            b"<a x=\"1\" x=\"2\"/>",
            b"<a x=\"<\"/>",
            b"<a>]]></a>",
            b"<a>&#1;</a>",
            b"<a x=\"&#0;\"/>",
            b"<a>&nbsp;</a>",
            b"<a>\x01</a>",
            b"<1a/>",
            b"<a 1x=\"\"/>",
            b"<a>\xff</a>",
            b"",
        ] {
            assert!(
                parse(bad).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(bad)
            );
        }
        let root = parse(b"\n <a x=\"&quot;&#039;&#9;\">t&amp;<b/>u</a>\n").unwrap();
        assert_eq!(root.attrs, vec![("x".to_string(), "\"'\t".to_string())]);
        assert_eq!(root.text(), "t&u");
        assert_eq!(root.shape(), "<a x>#<b></>#</>");
        assert_eq!(parse(b"<a>\n <b/></a>").unwrap().shape(), "<a>#<b></></>");
    }
}
