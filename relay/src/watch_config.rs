//! The watcher's TOML file (relay/watch.example.toml) and the command-line flags that override it.

use crate::account::{Account, XmppFile};
use crate::config::LogFormat;
use crate::printer::Format;
use serde::Deserialize;
use std::path::Path;
use xmpp_parsers::jid::{BareJid, FullJid};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    xmpp: XmppFile,
    #[serde(default)]
    watch: WatchFile,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WatchFile {
    room: Option<String>,
    pubsub_service: Option<String>,
    pubsub_node: Option<String>,
    format: Option<String>,
    since: Option<String>,
    after_rcid: Option<u64>,
    last: Option<usize>,
    #[serde(default)]
    log_format: LogFormat,
    log_level: Option<String>,
}

/// Where the changes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A room, joined as a visitor with this occupant JID (room/nick).
    Room(FullJid),
    Pubsub {
        service: BareJid,
        node: String,
    },
}

/// What is printed before the live changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    None,
    /// The room's archive from this XEP-0082 date-time on.
    Since(String),
    /// The room's archive after this rcid.
    AfterRcid(u64),
    /// The node's newest N items.
    Last(usize),
}

#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub account: Account,
    pub source: Source,
    pub history: History,
    pub format: Format,
    /// Print the history and exit (room: without joining).
    pub history_only: bool,
    pub log_format: LogFormat,
    pub log_level: String,
}

/// The flags (each overrides the file's setting of the same name).
#[derive(Debug, Default)]
pub struct Flags {
    pub room: Option<String>,
    pub node: Option<String>,
    pub format: Option<String>,
    pub since: Option<String>,
    pub after_rcid: Option<u64>,
    pub last: Option<usize>,
    pub history_only: bool,
}

impl WatchConfig {
    pub fn load(path: &Path, flags: Flags) -> Result<WatchConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        WatchConfig::check(file, flags, |name| std::env::var(name).ok())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn check(
        file: File,
        flags: Flags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<WatchConfig, String> {
        let account = file.xmpp.check(env)?;
        let w = file.watch;
        let source = match (flags.room.or(w.room), flags.node, w.pubsub_service, w.pubsub_node) {
            (Some(room), None, _, _) => {
                let room: BareJid = room.parse().map_err(|e| format!("room {room:?}: {e}"))?;
                if room.node().is_none() {
                    return Err(format!("room {room} needs a room name (room@service)"));
                }
                Source::Room(
                    room.with_resource_str(&account.nick)
                        .map_err(|e| format!("xmpp.nick {:?}: {e}", account.nick))?,
                )
            }
            (None, Some(flag), _, _) => {
                let (service, node) = flag
                    .split_once('/')
                    .ok_or("--node needs SERVICE/NODE, e.g. pubsub.example.org/enwiki")?;
                pubsub_source(service, node)?
            }
            (None, None, Some(service), Some(node)) => pubsub_source(&service, &node)?,
            _ => return Err("name exactly one source: watch.room (--room), or watch.pubsub_service and watch.pubsub_node (--node)".into()),
        };
        let since = flags.since.or(w.since);
        let after = flags.after_rcid.or(w.after_rcid);
        let last = flags.last.or(w.last);
        let history =
            match (&source, since, after, last) {
                (_, None, None, None) => History::None,
                (Source::Room(_), Some(t), None, None) => {
                    if !looks_like_datetime(&t) {
                        return Err(format!(
                            "since {t:?} is not an XEP-0082 date-time (e.g. 2026-12-01T08:00:00Z)"
                        ));
                    }
                    History::Since(t)
                }
                (Source::Room(_), None, Some(n), None) => History::AfterRcid(n),
                (Source::Pubsub { .. }, None, None, Some(n)) => History::Last(n),
                (Source::Room(_), ..) => return Err(
                    "a room's history is either since TIME or after RCID (--last is for PubSub)"
                        .into(),
                ),
                (Source::Pubsub { .. }, ..) => {
                    return Err(
                        "a PubSub node's history is --last N (since and after_rcid are for rooms)"
                            .into(),
                    )
                }
            };
        if flags.history_only && history == History::None {
            return Err("--history-only needs a history (--since, --after-rcid or --last)".into());
        }
        let format = match flags.format.or(w.format).as_deref() {
            None | Some("json") => Format::Json,
            Some("xml") => Format::Xml,
            Some(other) => return Err(format!("format {other:?}: use \"json\" or \"xml\"")),
        };
        Ok(WatchConfig {
            account,
            source,
            history,
            format,
            history_only: flags.history_only,
            log_format: w.log_format,
            log_level: w.log_level.unwrap_or_else(|| "info,tokio_xmpp=warn".into()),
        })
    }
}

fn pubsub_source(service: &str, node: &str) -> Result<Source, String> {
    if node.is_empty() {
        return Err("the PubSub node name is empty".into());
    }
    Ok(Source::Pubsub {
        service: service
            .parse()
            .map_err(|e| format!("pubsub service {service:?}: {e}"))?,
        node: node.to_owned(),
    })
}

/// YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm): the server checks the rest.
fn looks_like_datetime(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (t.ends_with('Z') || b[b.len() - 6] == b'+' || b[b.len() - 6] == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "xmpp = { jid = \"watcher@localhost\", password_env = \"PW\", server = \"127.0.0.1:5222\", tls = \"none\" }\n";

    fn check(extra: &str, flags: Flags) -> Result<WatchConfig, String> {
        let file = toml::from_str(&format!("{BASE}{extra}")).map_err(|e| e.to_string())?;
        WatchConfig::check(file, flags, |v| (v == "PW").then(|| "pw".to_owned()))
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../watch.example.toml").replace(
            "password_file = \"/home/reader/.config/rcemit-watch/password\"",
            "password_env = \"PW\"",
        );
        let file = toml::from_str(&text).unwrap();
        let c = WatchConfig::check(file, Flags::default(), |_| Some("pw".into())).unwrap();
        assert_eq!(c.history, History::None);
        assert_eq!(c.format, Format::Json);
    }

    #[test]
    fn flags_override_the_file_and_history_fits_the_source() {
        let c = check(
            "[watch]\nroom = \"w@muc.localhost\"\nsince = \"2026-12-01T08:00:00Z\"\n",
            Flags::default(),
        )
        .unwrap();
        assert_eq!(
            c.source,
            Source::Room("w@muc.localhost/rcemit".parse().unwrap())
        );
        assert_eq!(c.history, History::Since("2026-12-01T08:00:00Z".into()));
        let flags = Flags {
            node: Some("pubsub.localhost/w".into()),
            last: Some(5),
            ..Flags::default()
        };
        let c = check("", flags).unwrap();
        assert_eq!(c.history, History::Last(5));
        assert!(check(
            "[watch]\nroom = \"w@muc.localhost\"\nlast = 3\n",
            Flags::default()
        )
        .is_err());
        assert!(check(
            "[watch]\nroom = \"w@muc.localhost\"\nsince = \"yesterday\"\n",
            Flags::default()
        )
        .is_err());
        assert!(check("", Flags::default()).is_err());
    }
}
