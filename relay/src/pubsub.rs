//! PubSub (XEP-0060) stanzas: the bridge creates a wiki's node (persistent items, at most N kept, open to
//! subscribers, only publishers publish) and publishes each change as an item whose id is the rcid and whose
//! payload is the `<rc>` element; the watcher subscribes, asks for the last N items and reads the pushed ones.
//!
//! On Prosody only an admin may create nodes (mod_pubsub's default `pubsub#node_create` check): the bridge's
//! account must be listed in `admins` (relay/README.md).

use crate::config::WikiRoom;
use crate::metrics::Metrics;
use crate::stanza::{attr, RC_NS};
use std::collections::HashMap;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::{DefinedCondition, StanzaError};

pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
const EVENT: &str = "http://jabber.org/protocol/pubsub#event";
const NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";
const DATA_FORMS: &str = "jabber:x:data";

/// Publishes not yet answered, at most: a server that never answers must not grow the map.
const MAX_PENDING: usize = 10_000;

/// What an IQ the bridge sent to a PubSub service was for.
#[derive(Debug, Clone, Copy)]
enum Sent {
    Create(usize),
    Publish(usize),
}

/// The bridge's side: creates the configured nodes once per session and publishes each change, counting
/// what the service confirmed and what it refused.
#[derive(Debug, Default)]
pub struct Publisher {
    pending: HashMap<String, Sent>,
    next_id: u64,
}

impl Publisher {
    fn id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!("rcemit-pubsub-{kind}-{}", self.next_id)
    }

    /// The session is (re)established: create every configured node (a node that exists answers `conflict`).
    pub fn online(&mut self, wikis: &[WikiRoom]) -> Vec<Iq> {
        let mut out = Vec::new();
        for (room, wiki) in wikis.iter().enumerate() {
            if let Some(n) = &wiki.pubsub {
                let id = self.id("create");
                self.pending.insert(id.clone(), Sent::Create(room));
                out.push(create(&n.service, &n.node, n.max_items, id));
            }
        }
        out
    }

    /// The publish IQ for a change just posted to `room`'s room, if its wiki has a node.
    pub fn publish(
        &mut self,
        room: usize,
        wiki: &WikiRoom,
        message: &Message,
        metrics: &Metrics,
    ) -> Option<Iq> {
        let n = wiki.pubsub.as_ref()?;
        let rc = message.payloads.iter().find(|p| p.is("rc", RC_NS))?;
        if self.pending.len() >= MAX_PENDING {
            metrics.pubsub_failed(&wiki.id, "backlog");
            return None;
        }
        let id = self.id("publish");
        self.pending.insert(id.clone(), Sent::Publish(room));
        Some(publish(&n.service, &n.node, rc, id))
    }

    /// An IQ answer; `false` if it is not one of ours.
    pub fn answer(
        &mut self,
        id: &str,
        error: Option<&StanzaError>,
        wikis: &[WikiRoom],
        metrics: &Metrics,
    ) -> bool {
        let Some(sent) = self.pending.remove(id) else {
            return false;
        };
        match (sent, error) {
            (Sent::Create(room), None) => {
                tracing::info!(wiki = %wikis[room].id, "PubSub node created")
            }
            (Sent::Create(room), Some(e)) if e.defined_condition == DefinedCondition::Conflict => {
                tracing::info!(wiki = %wikis[room].id, "PubSub node exists; its configuration is kept")
            }
            (Sent::Create(room), Some(e)) => {
                tracing::warn!(wiki = %wikis[room].id, condition = ?e.defined_condition,
                    text = ?e.texts.values().next(), "cannot create the PubSub node (on Prosody: is the bridge an admin?)")
            }
            (Sent::Publish(room), None) => metrics.pubsub_published(&wikis[room].id),
            (Sent::Publish(room), Some(e)) => {
                metrics.pubsub_failed(&wikis[room].id, "refused");
                tracing::warn!(wiki = %wikis[room].id, condition = ?e.defined_condition, "the PubSub service refused an item");
            }
        }
        true
    }

    /// The connection is gone: unanswered publishes are counted as failed (the room still has the changes).
    pub fn lost(&mut self, wikis: &[WikiRoom], metrics: &Metrics) {
        for (_, sent) in self.pending.drain() {
            if let Sent::Publish(room) = sent {
                metrics.pubsub_failed(&wikis[room].id, "disconnected");
            }
        }
    }
}

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
    // Without an rcid (a patrol) the service names the item.
    if let Some(rcid) = crate::printer::rcid(rc) {
        item = attr(item, "id", &rcid.to_string());
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
