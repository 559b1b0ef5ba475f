//! Builds the groupchat message for one change: XMLRC's `<body>` plus the `<rc>` element as received.
//!
//! Namespace: XMLRC put an un-namespaced `<rc>` into a `jabber:client` stanza, so it inherited
//! `jabber:client`. minidom needs an explicit namespace on every element, and `jabber:client` is the one
//! that reproduces XMLRC's bytes (`<rc ...>` with no `xmlns` of its own) and keeps clients that look the
//! element up by its local name `rc` working.

use crate::datagram::{Child, Node};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::message::{Lang, Message};
use xmpp_parsers::minidom::rxml::NcName;
use xmpp_parsers::minidom::{Element, ElementBuilder};

pub const RC_NS: &str = "jabber:client";

/// The `<rc>` element (and its children) in `jabber:client`; `None` if a name is not an NCName, which
/// datagram.rs already refuses.
pub fn rc_element(node: &Node) -> Option<Element> {
    let mut builder = Element::builder(&node.name, RC_NS);
    for (key, value) in &node.attrs {
        builder = builder.attr(NcName::try_from(key.as_str()).ok()?, value.as_str());
    }
    for child in &node.children {
        builder = match child {
            Child::Element(node) => builder.append(rc_element(node)?),
            Child::Text(text) => builder.append(text.as_str()),
        };
    }
    Some(builder.build())
}

/// Adds an attribute whose name is a literal (so always an NCName).
pub fn attr(builder: ElementBuilder, name: &'static str, value: &str) -> ElementBuilder {
    builder.attr(NcName::try_from(name).expect("a literal NCName"), value)
}

/// One groupchat message to `room` carrying `body` and the `<rc>` element.
pub fn message(room: &BareJid, body: String, rc: Element) -> Message {
    Message::groupchat(Some(room.clone().into()))
        .with_body(Lang::new(), body)
        .with_payloads(vec![rc])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagram::parse;

    #[test]
    fn rc_keeps_attributes_children_and_text_in_jabber_client() {
        let xml = r#"<rc type="log" title="A &amp; B" wikiid="w"><logparams n="1"><g>x &lt; y</g></logparams><tags /></rc>"#;
        let rc = rc_element(&parse(xml.as_bytes()).unwrap().rc).unwrap();
        assert_eq!(rc.ns(), RC_NS);
        assert_eq!(rc.attr("title"), Some("A & B"));
        let params = rc.get_child("logparams", RC_NS).unwrap();
        assert_eq!(params.get_child("g", RC_NS).unwrap().text(), "x < y");
        let room: BareJid = "wiki@muc.localhost".parse().unwrap();
        let msg: Element = message(&room, "b".into(), rc).into();
        let mut out = Vec::new();
        msg.write_to(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("<rc "), "{out}");
        assert!(!out.contains("<rc xmlns"), "{out}");
    }

    #[test]
    fn newlines_and_tabs_in_attributes_leave_as_character_references() {
        let xml = r#"<rc comment="a&#10;b&#9;c" wikiid="w"/>"#;
        let rc = rc_element(&parse(xml.as_bytes()).unwrap().rc).unwrap();
        let mut out = Vec::new();
        rc.write_to(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("a&#xa;b&#x9;c"), "{out}");
    }
}
