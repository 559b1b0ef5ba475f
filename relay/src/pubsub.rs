//! PubSub (XEP-0060) stanzas: the bridge creates a wiki's node (persistent items, at most N kept, open to
//! subscribers, only publishers publish) and publishes each change as an item whose id is the rcid and whose
//! payload is the `<rc>` element; the watcher subscribes, asks for the last N items and reads the pushed ones.
//!
//! On Prosody only an admin may create nodes (mod_pubsub's default `pubsub#node_create` check): the bridge's
//! account must be listed in `admins` (relay/README.md).

use crate::stanza::{attr, RC_NS};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;

pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
const EVENT: &str = "http://jabber.org/protocol/pubsub#event";
const NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";
const DATA_FORMS: &str = "jabber:x:data";

fn set(service: &BareJid, id: String, child: Element, extra: Option<Element>) -> Iq {
    Iq::Set {
        from: None,
        to: Some(Jid::from(service.clone())),
        id,
        payload: Element::builder("pubsub", PUBSUB)
            .append(child)
            .append_all(extra)
            .build(),
    }
}

fn field(var: &str, value: &str) -> Element {
    attr(Element::builder("field", DATA_FORMS), "var", var)
        .append(Element::builder("value", DATA_FORMS).append(value).build())
        .build()
}

/// Creates `node` with its configuration (XEP-0060 §8.1.3).
pub fn create(service: &BareJid, node: &str, max_items: u32, id: String) -> Iq {
    let form = attr(Element::builder("x", DATA_FORMS), "type", "submit")
        .append(field("FORM_TYPE", NODE_CONFIG))
        .append(field("pubsub#persist_items", "1"))
        .append(field("pubsub#max_items", &max_items.to_string()))
        .append(field("pubsub#access_model", "open"))
        .append(field("pubsub#publish_model", "publishers"))
        .build();
    set(
        service,
        id,
        attr(Element::builder("create", PUBSUB), "node", node).build(),
        Some(Element::builder("configure", PUBSUB).append(form).build()),
    )
}

/// Publishes one change: item id = its rcid (a later item with the same id replaces it).
pub fn publish(service: &BareJid, node: &str, rc: &Element, id: String) -> Iq {
    let mut item = Element::builder("item", PUBSUB);
    if let Some(rcid) = rc.attr("rcid") {
        item = attr(item, "id", rcid);
    }
    let publish = attr(Element::builder("publish", PUBSUB), "node", node)
        .append(item.append(rc.clone()).build())
        .build();
    set(service, id, publish, None)
}

pub fn subscribe(service: &BareJid, node: &str, jid: &BareJid, id: String) -> Iq {
    let sub = attr(
        attr(Element::builder("subscribe", PUBSUB), "node", node),
        "jid",
        &jid.to_string(),
    )
    .build();
    set(service, id, sub, None)
}

/// Asks for the newest `max` items of `node`.
pub fn items(service: &BareJid, node: &str, max: usize, id: String) -> Iq {
    let items = attr(
        attr(Element::builder("items", PUBSUB), "node", node),
        "max_items",
        &max.to_string(),
    )
    .build();
    Iq::Get {
        from: None,
        to: Some(Jid::from(service.clone())),
        id,
        payload: Element::builder("pubsub", PUBSUB).append(items).build(),
    }
}

fn rcs_of(items: &Element, ns: &str) -> Vec<Element> {
    items
        .children()
        .filter(|i| i.is("item", ns))
        .filter_map(|i| i.children().find(|c| c.is("rc", RC_NS)).cloned())
        .collect()
}

/// The `<rc>` elements of an items reply (`<pubsub><items>`), in the server's order.
pub fn item_rcs(payload: &Element, node: &str) -> Vec<Element> {
    payload
        .children()
        .filter(|c| c.is("items", PUBSUB) && c.attr("node") == Some(node))
        .flat_map(|items| rcs_of(items, PUBSUB))
        .collect()
}

/// The `<rc>` elements a notification of `service`'s `node` carries; `None` if it is no such notification.
pub fn event_rcs(message: &Message, service: &BareJid, node: &str) -> Option<Vec<Element>> {
    if message.from.as_ref().map(Jid::to_bare).as_ref() != Some(service) {
        return None;
    }
    let event = message.payloads.iter().find(|p| p.is("event", EVENT))?;
    Some(
        event
            .children()
            .filter(|c| c.is("items", EVENT) && c.attr("node") == Some(node))
            .flat_map(|items| rcs_of(items, EVENT))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_uses_the_rcid_as_item_id_and_reads_back() {
        let service: BareJid = "pubsub.localhost".parse().unwrap();
        let rc: Element = r#"<rc xmlns="jabber:client" rcid="7" type="edit"/>"#
            .parse()
            .unwrap();
        let Iq::Set { payload, .. } = publish(&service, "wiki", &rc, "p1".into()) else {
            panic!()
        };
        let item = payload
            .get_child("publish", PUBSUB)
            .unwrap()
            .get_child("item", PUBSUB)
            .unwrap();
        assert_eq!(item.attr("id"), Some("7"));
        let reply: Element = format!(
            r#"<pubsub xmlns="{PUBSUB}"><items node="wiki"><item id="7">{}</item></items></pubsub>"#,
            String::from(&rc)
        )
        .parse()
        .unwrap();
        assert_eq!(item_rcs(&reply, "wiki"), vec![rc]);
        let Iq::Set { payload, .. } = create(&service, "wiki", 50, "c1".into()) else {
            panic!()
        };
        let text = String::from(&payload);
        assert!(text.contains("pubsub#max_items"), "{text}");
        assert!(text.contains("<value>50</value>"), "{text}");
    }
}
