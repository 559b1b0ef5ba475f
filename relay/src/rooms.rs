//! MUC stanzas: joining a room, and configuring one the bridge just created (XEP-0045 §10.1). The room must
//! be persistent, public, moderated (only the bridge speaks; everybody else joins as a visitor) and archived.
//!
//! The config form is fetched first and only fields the server offers are submitted, because the servers
//! differ (DESIGN.md §10): Prosody archives with `muc#roomconfig_enablearchiving`, ejabberd with `mam`;
//! ejabberd makes newcomers participants unless `members_by_default` is 0, and rejects empty booleans.

use xmpp_parsers::data_forms::{DataForm, DataFormType, Field};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::muc::muc::History;
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::muc::{Muc, MucUser};
use xmpp_parsers::presence::{Presence, Type as PresenceType};

pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
const ROOMCONFIG: &str = "http://jabber.org/protocol/muc#roomconfig";
const DATA_FORMS: &str = "jabber:x:data";
/// Either of these fields makes the room archived (MAM).
const ARCHIVING: [&str; 2] = ["muc#roomconfig_enablearchiving", "mam"];

/// Joins `occupant` (room/nick) without asking for history: the bridge only speaks.
pub fn join(occupant: &FullJid) -> Presence {
    Presence::available()
        .with_to(occupant.clone())
        .with_payload(Muc::new().with_history(History::new().with_maxstanzas(0)))
}

/// What a presence from a room tells the bridge.
#[derive(Debug, PartialEq, Eq)]
pub enum RoomPresence {
    /// Our own presence: joined; `created` when the room is new and locked until configured.
    Joined { created: bool },
    /// We left or were removed (kicked, banned, room destroyed).
    Left,
    /// The join failed.
    Error(String),
    /// Somebody else's presence.
    Other,
}

/// The condition names of a stanza's `<error>` payload (e.g. `forbidden`), for logs; `None` without one.
pub fn error_condition(payloads: &[Element]) -> Option<String> {
    payloads.iter().find(|p| p.name() == "error").map(|e| {
        e.children()
            .map(|c| c.name().to_owned())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

pub fn classify(presence: &Presence) -> RoomPresence {
    if presence.type_ == PresenceType::Error {
        return RoomPresence::Error(error_condition(&presence.payloads).unwrap_or_default());
    }
    let Some(user) = presence
        .payloads
        .iter()
        .find_map(|p| MucUser::try_from(p.clone()).ok())
    else {
        return RoomPresence::Other;
    };
    if !user.status.contains(&Status::SelfPresence) {
        return RoomPresence::Other;
    }
    if presence.type_ == PresenceType::Unavailable {
        return RoomPresence::Left;
    }
    RoomPresence::Joined {
        created: user.status.contains(&Status::RoomHasBeenCreated),
    }
}

pub fn config_request(room: &BareJid, id: String) -> Iq {
    Iq::Get {
        from: None,
        to: Some(room.clone().into()),
        id,
        payload: Element::bare("query", MUC_OWNER),
    }
}

/// Fills the form the server sent with the bridge's settings. Returns the submission and the settings the
/// server did not offer (logged: the room may then miss a property).
pub fn config_submit(
    room: &BareJid,
    id: String,
    reply: &Element,
    wiki: &str,
) -> Result<(Iq, Vec<String>), String> {
    let x = reply
        .get_child("x", DATA_FORMS)
        .ok_or("the owner reply holds no data form")?;
    let form = DataForm::try_from(x.clone()).map_err(|e| format!("unreadable config form: {e}"))?;
    let wanted = |var: &str| -> Option<String> {
        Some(
            match var {
                "muc#roomconfig_persistentroom"
                | "muc#roomconfig_publicroom"
                | "muc#roomconfig_moderatedroom" => "1",
                "muc#roomconfig_membersonly"
                | "members_by_default"
                | "muc#roomconfig_allowinvites" => "0",
                "muc#roomconfig_changesubject" => "0",
                v if ARCHIVING.contains(&v) => "1",
                "muc#roomconfig_roomname" => wiki,
                "muc#roomconfig_roomdesc" => return Some(format!("Recent changes of {wiki}")),
                _ => return None,
            }
            .to_owned(),
        )
    };
    let mut fields = Vec::new();
    for field in &form.fields {
        let Some(var) = field.var.as_deref() else {
            continue;
        };
        if var == "FORM_TYPE" {
            continue;
        }
        if let Some(value) = wanted(var) {
            fields.push(Field::new(var, field.type_.clone()).with_value(&value));
        }
    }
    let offered = |var: &str| fields.iter().any(|f: &Field| f.var.as_deref() == Some(var));
    let mut missing: Vec<String> = [
        "muc#roomconfig_persistentroom",
        "muc#roomconfig_publicroom",
        "muc#roomconfig_moderatedroom",
    ]
    .into_iter()
    .filter(|v| !offered(v))
    .map(str::to_owned)
    .collect();
    if !ARCHIVING.iter().any(|v| offered(v)) {
        missing.push("archiving (muc#roomconfig_enablearchiving or mam)".into());
    }
    let submit = DataForm::new(DataFormType::Submit, ROOMCONFIG, fields);
    let payload = Element::builder("query", MUC_OWNER)
        .append(Element::from(submit))
        .build();
    Ok((
        Iq::Set {
            from: None,
            to: Some(Jid::from(room.clone())),
            id,
            payload,
        },
        missing,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submits_only_offered_fields_with_one_and_zero() {
        let reply: Element = r#"<query xmlns="http://jabber.org/protocol/muc#owner"><x xmlns="jabber:x:data" type="form"><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var="muc#roomconfig_persistentroom" type="boolean"><value>0</value></field><field var="muc#roomconfig_publicroom" type="boolean"/><field var="muc#roomconfig_moderatedroom" type="boolean"/><field var="members_by_default" type="boolean"><value>1</value></field><field var="mam" type="boolean"/><field var="muc#roomconfig_maxusers" type="list-single"/></x></query>"#.parse().unwrap();
        let room: BareJid = "w@muc.localhost".parse().unwrap();
        let (iq, missing) = config_submit(&room, "c1".into(), &reply, "w").unwrap();
        assert!(missing.is_empty(), "{missing:?}");
        let Iq::Set { payload, .. } = iq else {
            panic!()
        };
        let form = DataForm::try_from(payload.get_child("x", DATA_FORMS).unwrap().clone()).unwrap();
        let value = |v: &str| {
            form.fields
                .iter()
                .find(|f| f.var.as_deref() == Some(v))
                .map(|f| f.values.clone())
        };
        assert_eq!(
            value("muc#roomconfig_persistentroom"),
            Some(vec!["1".into()])
        );
        assert_eq!(value("members_by_default"), Some(vec!["0".into()]));
        assert_eq!(value("mam"), Some(vec!["1".into()]));
        assert_eq!(value("muc#roomconfig_maxusers"), None);
        assert_eq!(form.form_type(), Some(ROOMCONFIG));
    }
}
