//! Message Archive Management (XEP-0313, urn:xmpp:mam:2) on a room: the query with its `start` filter and
//! Result Set Management paging (XEP-0059), and reading the forwarded messages and the closing `<fin>`.

use crate::stanza::{attr, RC_NS};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;

pub const MAM: &str = "urn:xmpp:mam:2";
const RSM: &str = "http://jabber.org/protocol/rsm";
const FORWARD: &str = "urn:xmpp:forward:0";
const DATA_FORMS: &str = "jabber:x:data";

/// Which page to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// Oldest first: the first page, or the one after this archive id.
    After(Option<String>),
    /// Newest first: the last page, or the one before this archive id.
    Before(Option<String>),
}

/// A query for one page of `room`'s archive, optionally from `start` (XEP-0082 date-time) on.
pub fn query(room: &BareJid, id: String, start: Option<&str>, page: &Page, max: usize) -> Iq {
    let mut query = attr(Element::builder("query", MAM), "queryid", &id);
    if let Some(start) = start {
        let field = |var: &str, value: &str, hidden: bool| {
            let mut f = attr(Element::builder("field", DATA_FORMS), "var", var);
            if hidden {
                f = attr(f, "type", "hidden");
            }
            f.append(Element::builder("value", DATA_FORMS).append(value))
                .build()
        };
        let form = attr(Element::builder("x", DATA_FORMS), "type", "submit")
            .append(field("FORM_TYPE", MAM, true))
            .append(field("start", start, false))
            .build();
        query = query.append(form);
    }
    let cursor = match page {
        Page::After(at) => Element::builder("after", RSM).append(at.as_deref().unwrap_or_default()),
        Page::Before(at) => {
            Element::builder("before", RSM).append(at.as_deref().unwrap_or_default())
        }
    };
    let cursor = match page {
        // An empty <after/> means nothing; only send it with an id.
        Page::After(None) => None,
        _ => Some(cursor.build()),
    };
    let set = Element::builder("set", RSM)
        .append(Element::builder("max", RSM).append(max.to_string()).build())
        .append_all(cursor)
        .build();
    Iq::Set {
        from: None,
        to: Some(room.clone().into()),
        id,
        payload: query.append(set).build(),
    }
}

/// An archived message delivered for query `queryid`: its `<rc>` (`None`: a message without one, e.g. the
/// room's subject).
pub fn result(message: &Message) -> Option<(String, Option<Element>)> {
    let result = message.payloads.iter().find(|p| p.is("result", MAM))?;
    let rc = result
        .get_child("forwarded", FORWARD)
        .and_then(|f| f.get_child("message", RC_NS))
        .and_then(|m| m.get_child("rc", RC_NS))
        .cloned();
    Some((result.attr("queryid").unwrap_or_default().to_owned(), rc))
}

/// The end of a page.
#[derive(Debug, PartialEq, Eq)]
pub struct Fin {
    pub complete: bool,
    /// Archive ids of the page's oldest and newest message.
    pub first: Option<String>,
    pub last: Option<String>,
}

pub fn fin(payload: &Element) -> Option<Fin> {
    if !payload.is("fin", MAM) {
        return None;
    }
    let set = payload.get_child("set", RSM);
    let id = |name: &str| {
        set.and_then(|s| s.get_child(name, RSM))
            .map(Element::text)
            .filter(|t| !t.is_empty())
    };
    Some(Fin {
        complete: matches!(payload.attr("complete"), Some("true" | "1")),
        first: id("first"),
        last: id("last"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_carries_the_start_filter_and_the_cursor() {
        let room: BareJid = "w@muc.localhost".parse().unwrap();
        let iq = query(
            &room,
            "q1".into(),
            Some("2026-01-01T00:00:00Z"),
            &Page::Before(None),
            50,
        );
        let Iq::Set { payload, .. } = iq else {
            panic!()
        };
        let mut text = Vec::new();
        payload.write_to(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("queryid='q1'"), "{text}");
        assert!(
            text.contains("<value>2026-01-01T00:00:00Z</value>"),
            "{text}"
        );
        assert!(text.contains("<max>50</max><before></before>"), "{text}");
        let end: Element = r#"<fin xmlns="urn:xmpp:mam:2" complete="true"><set xmlns="http://jabber.org/protocol/rsm"><first>a</first><last>b</last></set></fin>"#.parse().unwrap();
        assert_eq!(
            fin(&end).unwrap(),
            Fin {
                complete: true,
                first: Some("a".into()),
                last: Some("b".into())
            }
        );
    }
}
