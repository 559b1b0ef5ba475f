//! The bridge's one TOML file (see relay/bridge.example.toml). Everything is checked here, before any socket
//! is opened, so that `--check-config` and a real start refuse the same mistakes with the same messages.

use crate::account::{Account, XmppFile};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;
use xmpp_parsers::jid::{BareJid, FullJid};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    xmpp: XmppFile,
    #[serde(default)]
    udp: Udp,
    #[serde(default)]
    queue: Queue,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    log: Log,
    #[serde(default)]
    shutdown: Shutdown,
    #[serde(default, rename = "wiki")]
    wikis: Vec<Wiki>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Udp {
    #[serde(default = "default_listen")]
    listen: Vec<SocketAddr>,
    #[serde(default = "default_allow")]
    allow: Vec<IpNet>,
    #[serde(default = "default_max_datagram")]
    max_datagram_bytes: usize,
}

impl Default for Udp {
    fn default() -> Self {
        Udp {
            listen: default_listen(),
            allow: default_allow(),
            max_datagram_bytes: default_max_datagram(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Queue {
    #[serde(default = "default_max_messages")]
    max_messages: usize,
    #[serde(default = "default_max_bytes")]
    max_bytes: usize,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            max_messages: default_max_messages(),
            max_bytes: default_max_bytes(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Metrics {
    listen: Option<SocketAddr>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Log {
    #[serde(default)]
    format: LogFormat,
    level: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shutdown {
    #[serde(default = "default_drain")]
    drain_seconds: f64,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            drain_seconds: default_drain(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wiki {
    id: String,
    room: String,
    index_url: String,
    pubsub_service: Option<String>,
    pubsub_node: Option<String>,
    pubsub_max_items: Option<u32>,
}

fn default_listen() -> Vec<SocketAddr> {
    vec![
        "127.0.0.1:9390".parse().expect("literal"),
        "[::1]:9390".parse().expect("literal"),
    ]
}
fn default_allow() -> Vec<IpNet> {
    vec![
        "127.0.0.0/8".parse().expect("literal"),
        "::1/128".parse().expect("literal"),
    ]
}
fn default_max_datagram() -> usize {
    16384
}
fn default_max_messages() -> usize {
    10_000
}
fn default_max_bytes() -> usize {
    16 << 20
}
fn default_drain() -> f64 {
    5.0
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub account: Account,
    pub listen: Vec<SocketAddr>,
    pub allow: Vec<IpNet>,
    pub max_datagram_bytes: usize,
    /// Per room, so that one room that cannot be joined never takes the others' room.
    pub queue_max_messages: usize,
    pub queue_max_bytes: usize,
    pub metrics_listen: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub drain: Duration,
    pub wikis: Vec<WikiRoom>,
}

#[derive(Debug, Clone)]
pub struct WikiRoom {
    pub id: String,
    pub room: BareJid,
    /// The room JID with the bridge's nick.
    pub occupant: FullJid,
    pub index_url: String,
    /// Where each change is also published as an item (XEP-0060), if configured.
    pub pubsub: Option<PubsubNode>,
}

/// A wiki's PubSub node: persistent items, at most `max_items` kept by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubsubNode {
    pub service: BareJid,
    pub node: String,
    pub max_items: u32,
}

/// Default `pubsub_max_items`.
const PUBSUB_MAX_ITEMS: u32 = 1000;

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Config::check(file, |name| std::env::var(name).ok())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn check(file: File, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let account = file.xmpp.check(env)?;
        if file.udp.listen.is_empty() {
            return Err("udp.listen is empty".into());
        }
        if !(64..=65535).contains(&file.udp.max_datagram_bytes) {
            return Err("udp.max_datagram_bytes must be between 64 and 65535".into());
        }
        if file.queue.max_messages == 0 || file.queue.max_bytes == 0 {
            return Err("queue.max_messages and queue.max_bytes must be positive".into());
        }
        if let Some(addr) = file.metrics.listen {
            if !addr.ip().is_loopback() {
                return Err(format!("metrics.listen {addr} is not a loopback address"));
            }
        }
        if !(file.shutdown.drain_seconds >= 0.0 && file.shutdown.drain_seconds <= 3600.0) {
            return Err("shutdown.drain_seconds must be between 0 and 3600".into());
        }
        if file.wikis.is_empty() {
            return Err("no [[wiki]] sections: nothing to bridge".into());
        }
        let mut ids = HashSet::new();
        let mut rooms = HashSet::new();
        let mut wikis = Vec::new();
        for w in file.wikis {
            if !ids.insert(w.id.clone()) {
                return Err(format!("wiki {:?} is configured twice", w.id));
            }
            let room: BareJid = w
                .room
                .parse()
                .map_err(|e| format!("wiki {:?}: room {:?}: {e}", w.id, w.room))?;
            if room.node().is_none() {
                return Err(format!(
                    "wiki {:?}: room {:?} needs a room name (room@service)",
                    w.id, w.room
                ));
            }
            if !rooms.insert(room.clone()) {
                return Err(format!(
                    "wiki {:?}: room {room} serves another wiki already",
                    w.id
                ));
            }
            let occupant = room
                .with_resource_str(&account.nick)
                .map_err(|e| format!("xmpp.nick {:?}: {e}", account.nick))?;
            if !(w.index_url.starts_with("http://") || w.index_url.starts_with("https://")) {
                return Err(format!("wiki {:?}: index_url must be an http(s) URL", w.id));
            }
            let pubsub = match (w.pubsub_service, w.pubsub_node) {
                (Some(service), Some(node)) => Some(PubsubNode {
                    service: service
                        .parse()
                        .map_err(|e| format!("wiki {:?}: pubsub_service {service:?}: {e}", w.id))?,
                    node: Some(node)
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| format!("wiki {:?}: pubsub_node is empty", w.id))?,
                    max_items: match w.pubsub_max_items.unwrap_or(PUBSUB_MAX_ITEMS) {
                        0 => return Err(format!("wiki {:?}: pubsub_max_items is 0", w.id)),
                        n => n,
                    },
                }),
                (None, None) if w.pubsub_max_items.is_none() => None,
                _ => {
                    return Err(format!(
                        "wiki {:?}: pubsub needs both pubsub_service and pubsub_node",
                        w.id
                    ))
                }
            };
            wikis.push(WikiRoom {
                id: w.id,
                room,
                occupant,
                index_url: w.index_url,
                pubsub,
            });
        }
        Ok(Config {
            account,
            listen: file.udp.listen,
            allow: file.udp.allow,
            max_datagram_bytes: file.udp.max_datagram_bytes,
            queue_max_messages: file.queue.max_messages,
            queue_max_bytes: file.queue.max_bytes,
            metrics_listen: file.metrics.listen,
            log_format: file.log.format,
            log_level: file.log.level.unwrap_or_else(|| "info".into()),
            drain: Duration::from_secs_f64(file.shutdown.drain_seconds),
            wikis,
        })
    }

    /// Whether a datagram from `ip` is accepted (IPv4-mapped IPv6 sources count as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Tls;

    fn check(toml_text: &str) -> Result<Config, String> {
        Config::check(toml::from_str(toml_text).map_err(|e| e.to_string())?, |v| {
            (v == "PW").then(|| "secret".to_owned())
        })
    }

    const BASE: &str = r#"
[xmpp]
jid = "bridge@localhost"
password_env = "PW"
server = "127.0.0.1:5222"
tls = "none"
[[wiki]]
id = "wiki"
room = "wiki@muc.localhost"
index_url = "http://127.0.0.1:8080/index.php"
"#;

    #[test]
    fn defaults_are_loopback_only() {
        let c = check(BASE).unwrap();
        assert_eq!(c.account.password, "secret");
        assert!(c.allows("127.0.0.1".parse().unwrap()));
        assert!(c.allows("::1".parse().unwrap()));
        assert!(c.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!c.allows("192.0.2.1".parse().unwrap()));
        assert_eq!(c.wikis[0].occupant.to_string(), "wiki@muc.localhost/rcemit");
    }

    #[test]
    fn pubsub_needs_service_and_node() {
        let with = |extra: &str| check(&format!("{BASE}{extra}"));
        let c = with("pubsub_service = \"pubsub.localhost\"\npubsub_node = \"wiki\"\n").unwrap();
        assert_eq!(
            c.wikis[0].pubsub,
            Some(PubsubNode {
                service: "pubsub.localhost".parse().unwrap(),
                node: "wiki".into(),
                max_items: PUBSUB_MAX_ITEMS
            })
        );
        assert!(with("pubsub_node = \"wiki\"\n")
            .unwrap_err()
            .contains("both"));
        assert!(with("pubsub_max_items = 5\n").unwrap_err().contains("both"));
        let zero = "pubsub_service = \"p.localhost\"\npubsub_node = \"w\"\npubsub_max_items = 0\n";
        assert!(with(zero).unwrap_err().contains("is 0"));
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../bridge.example.toml").replace(
            "password_file = \"/etc/rcemit-relay/password\"",
            "password_env = \"PW\"",
        );
        let c = check(&text).unwrap();
        assert_eq!(c.wikis[0].id, "enwiki");
    }

    #[test]
    fn refuses_plaintext_to_a_remote_server_and_missing_secrets() {
        let remote = BASE.replace("127.0.0.1:5222", "xmpp.example.org:5222");
        assert!(check(&remote).unwrap_err().contains("tls = \"none\""));
        let starttls = remote.replace("tls = \"none\"", "");
        assert_eq!(check(&starttls).unwrap().account.tls, Tls::Starttls);
        assert!(check(&BASE.replace("\"PW\"", "\"NOPE\""))
            .unwrap_err()
            .contains("NOPE is not set"));
        assert!(check(&BASE.replace("password_env = \"PW\"", "")).is_err());
        assert!(check(&format!("{BASE}\n[metrics]\nlisten = \"0.0.0.0:9100\"\n")).is_err());
        let twice = format!(
            "{BASE}[[wiki]]\nid = \"wiki\"\nroom = \"b@muc.localhost\"\nindex_url = \"http://x\"\n"
        );
        assert!(check(&twice).unwrap_err().contains("twice"));
    }
}
