//! Reads one xmlrc datagram: exactly one `<rc>` element, optionally framed like core's UDP feeds (`PREFIX`
//! + `' '` before it and a newline after it). No async and no XMPP here, so the fuzz target can reach it.
//!
//! Only what XML 1.0 allows and XMLRC can print gets through: the five predefined entities and character
//! references, no DOCTYPE, processing instructions, CDATA or comments, no namespace prefixes, and only
//! characters that are legal in XML 1.0 (a stanza carrying anything else would cost the whole XMPP stream).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;

/// Deepest nesting accepted (`<rc><logparams><details><_v>...` needs 5; room for unusual log params).
const MAX_DEPTH: usize = 32;
/// Most elements accepted in one datagram: bounds the work a hostile datagram can cause.
const MAX_ELEMENTS: usize = 4096;

/// An element as read: name, attributes in document order (values unescaped), and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Child>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    Element(Node),
    Text(String),
}

/// Why a datagram was refused; `reason()` is the label of the `rejected` metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    Utf8,
    Doctype,
    Entity(String),
    Malformed(String),
    MissingWikiId,
}

impl Reject {
    pub fn reason(&self) -> &'static str {
        match self {
            Reject::Utf8 => "utf8",
            Reject::Doctype => "doctype",
            Reject::Entity(_) => "entity",
            Reject::Malformed(_) => "malformed",
            Reject::MissingWikiId => "missing_wikiid",
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::Utf8 => f.write_str("not valid UTF-8"),
            Reject::Doctype => f.write_str("contains a DOCTYPE"),
            Reject::Entity(e) => write!(f, "undefined entity or bad character reference: {e}"),
            Reject::Malformed(e) => write!(f, "not one well-formed <rc> element: {e}"),
            Reject::MissingWikiId => f.write_str("the <rc> element has no wikiid attribute"),
        }
    }
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed datagram: the `<rc>` element and the wiki it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub rc: Node,
    pub wikiid: String,
}

/// Parses one datagram (size limits are the caller's: it knows the configured maximum).
pub fn parse(datagram: &[u8]) -> Result<Change, Reject> {
    let text = std::str::from_utf8(datagram).map_err(|_| Reject::Utf8)?;
    let element = unframe(text)?;
    let rc = read_element(element)?;
    if rc.name != "rc" {
        return Err(Reject::Malformed(format!(
            "root element is <{}>, not <rc>",
            rc.name
        )));
    }
    let wikiid = rc.attr("wikiid").ok_or(Reject::MissingWikiId)?.to_owned();
    Ok(Change { rc, wikiid })
}

/// Strips core's framing: an optional trailing newline, and an optional prefix that ends in the space core
/// puts before the element. The element must start right after it.
fn unframe(text: &str) -> Result<&str, Reject> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.starts_with('<') {
        return Ok(text);
    }
    match text.find(" <") {
        Some(at) => Ok(&text[at + 1..]),
        None => Err(Reject::Malformed("no element after the prefix".into())),
    }
}

fn read_element(xml: &str) -> Result<Node, Reject> {
    let mut reader = Reader::from_str(xml);
    // Well-formedness is this module's job: keep quick-xml's end-name check on and never trim text.
    reader.config_mut().check_end_names = true;
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| malformed(&e))?;
        if root.is_some() && !matches!(event, Event::Eof) {
            return Err(Reject::Malformed("content after the <rc> element".into()));
        }
        match event {
            Event::Start(start) => {
                elements += 1;
                let node = open(&start, elements, stack.len())?;
                stack.push(node);
            }
            Event::Empty(start) => {
                elements += 1;
                let node = open(&start, elements, stack.len())?;
                close(&mut stack, &mut root, node);
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| Reject::Malformed("unmatched end tag".into()))?;
                close(&mut stack, &mut root, node);
            }
            Event::Text(text) => {
                let parent = stack
                    .last_mut()
                    .ok_or_else(|| Reject::Malformed("text outside the element".into()))?;
                let raw = std::str::from_utf8(&text).map_err(|_| Reject::Utf8)?;
                let value = unescape(&normalize_newlines(raw))?;
                push_text(parent, value);
            }
            Event::DocType(_) => return Err(Reject::Doctype),
            Event::Eof if root.is_some() => break,
            Event::Eof if stack.is_empty() => {
                return Err(Reject::Malformed("empty datagram".into()))
            }
            Event::Eof => return Err(Reject::Malformed("truncated: unclosed element".into())),
            Event::CData(_) => return Err(Reject::Malformed("CDATA section".into())),
            Event::Comment(_) => return Err(Reject::Malformed("comment".into())),
            Event::PI(_) | Event::Decl(_) => {
                return Err(Reject::Malformed(
                    "processing instruction or XML declaration".into(),
                ))
            }
        }
    }
    root.ok_or_else(|| Reject::Malformed("no element".into()))
}

fn malformed(e: &quick_xml::Error) -> Reject {
    Reject::Malformed(e.to_string())
}

fn close(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Child::Element(node)),
        None => *root = Some(node),
    }
}

fn push_text(parent: &mut Node, value: String) {
    if value.is_empty() {
        return;
    }
    // quick-xml may split text around references; keep one text node, as a DOM parser would.
    if let Some(Child::Text(prev)) = parent.children.last_mut() {
        prev.push_str(&value);
    } else {
        parent.children.push(Child::Text(value));
    }
}

fn open(start: &BytesStart<'_>, elements: usize, depth: usize) -> Result<Node, Reject> {
    if depth >= MAX_DEPTH {
        return Err(Reject::Malformed(format!("nested deeper than {MAX_DEPTH}")));
    }
    if elements > MAX_ELEMENTS {
        return Err(Reject::Malformed(format!(
            "more than {MAX_ELEMENTS} elements"
        )));
    }
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| Reject::Utf8)?
        .to_owned();
    check_name(&name)?;
    let mut attrs: Vec<(String, String)> = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| Reject::Malformed(e.to_string()))?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|_| Reject::Utf8)?
            .to_owned();
        check_name(&key)?;
        if key == "xmlns" {
            return Err(Reject::Malformed("namespace declaration".into()));
        }
        let raw = std::str::from_utf8(&attr.value).map_err(|_| Reject::Utf8)?;
        let value = unescape(&normalize_attribute(raw))?;
        attrs.push((key, value));
    }
    Ok(Node {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Names must be NCNames (no prefixes: XMLRC never used namespaces), ASCII only so that the check is exact.
fn check_name(name: &str) -> Result<(), Reject> {
    let mut chars = name.chars();
    let ok_first = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
    if ok_first && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        Ok(())
    } else {
        Err(Reject::Malformed(format!(
            "unsupported element or attribute name {name:?}"
        )))
    }
}

/// XML 1.0 line-end normalisation (§2.11). Borrows in the usual case (no CR), to spare an allocation.
fn normalize_newlines(raw: &str) -> Cow<'_, str> {
    if raw.contains('\r') {
        Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(raw)
    }
}

/// XML 1.0 attribute-value normalisation for CDATA attributes (§3.3.3): literal whitespace becomes a space;
/// character references (`&#10;`, as MediaWiki writes newlines) are kept. Borrows when there is none.
fn normalize_attribute(raw: &str) -> Cow<'_, str> {
    if raw.contains(['\r', '\n', '\t']) {
        Cow::Owned(normalize_newlines(raw).replace(['\n', '\t'], " "))
    } else {
        Cow::Borrowed(raw)
    }
}

fn unescape(raw: &str) -> Result<String, Reject> {
    if raw.contains('<') {
        return Err(Reject::Malformed("'<' in an attribute value".into()));
    }
    let value = quick_xml::escape::unescape(raw).map_err(|e| Reject::Entity(e.to_string()))?;
    if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
        return Err(Reject::Entity(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            c as u32
        )));
    }
    Ok(value.into_owned())
}

/// XML 1.0 `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDIT: &str = r#"<rc type="edit" ns="0" title="Tom &amp; Jerry&#039;s" pageid="3" revid="4" old_revid="3" rcid="4" user="Editor" minor="" oldlen="35" newlen="57" timestamp="2026-11-22T00:33:40Z" comment="tab&#9;here, newline&#10;there" wikiid="wiki"><tags><tag>mw-replace</tag></tags></rc>"#;

    #[test]
    fn reads_an_element_with_children_and_references() {
        let c = parse(EDIT.as_bytes()).unwrap();
        assert_eq!(c.wikiid, "wiki");
        assert_eq!(c.rc.attr("title"), Some("Tom & Jerry's"));
        assert_eq!(c.rc.attr("comment"), Some("tab\there, newline\nthere"));
        assert_eq!(c.rc.attrs.len(), 14);
        let Child::Element(tags) = &c.rc.children[0] else {
            panic!()
        };
        let Child::Element(tag) = &tags.children[0] else {
            panic!()
        };
        assert_eq!(tag.children, vec![Child::Text("mw-replace".into())]);
    }

    #[test]
    fn strips_core_prefix_framing() {
        let framed = format!("#en.wikipedia\t {EDIT}\n");
        assert_eq!(
            parse(framed.as_bytes()).unwrap(),
            parse(EDIT.as_bytes()).unwrap()
        );
        assert_eq!(
            parse(format!("{EDIT}\n").as_bytes()).unwrap().wikiid,
            "wiki"
        );
    }

    #[test]
    fn rejects_hostile_input_by_reason() {
        let reason = |d: &[u8]| parse(d).unwrap_err().reason();
        assert_eq!(reason(&EDIT.as_bytes()[..EDIT.len() - 6]), "malformed");
        assert_eq!(reason(br#"<rc title="&nbsp;" wikiid="w"/>"#), "entity");
        assert_eq!(reason(br#"<rc title="&#0;" wikiid="w"/>"#), "entity");
        assert_eq!(reason(b"<rc title=\"\xff\" wikiid=\"w\"/>"), "utf8");
        assert_eq!(
            reason(br#"<!DOCTYPE rc [<!ENTITY x "y">]><rc wikiid="w"/>"#),
            "doctype"
        );
        assert_eq!(reason(br#"<rc wikiid="w"/><rc wikiid="w"/>"#), "malformed");
        assert_eq!(reason(br#"<rc wikiid="w" wikiid="v"/>"#), "malformed");
        assert_eq!(reason(br#"<rc a:b="1" wikiid="w"/>"#), "malformed");
        assert_eq!(reason(br#"<rc xmlns="urn:x" wikiid="w"/>"#), "malformed");
        assert_eq!(reason(br#"<rc wikiid="w"><![CDATA[x]]></rc>"#), "malformed");
        assert_eq!(reason(br#"<foo wikiid="w"/>"#), "malformed");
        assert_eq!(reason(br#"<rc title="x"/>"#), "missing_wikiid");
        assert_eq!(reason(b""), "malformed");
        assert_eq!(reason(b"<rc wikiid=\"w\">a</rd>"), "malformed");
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(
            reason(format!("<rc wikiid=\"w\">{deep}</rc>").as_bytes()),
            "malformed"
        );
    }

    #[test]
    fn normalises_literal_whitespace_in_attributes() {
        let c = parse(b"<rc comment=\"a\nb\tc\" wikiid=\"w\"/>").unwrap();
        assert_eq!(c.rc.attr("comment"), Some("a b c"));
    }
}
