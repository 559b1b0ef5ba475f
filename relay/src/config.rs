//! The bridge's one TOML file (see relay/bridge.example.toml). Everything is checked here, before any socket
//! is opened, so that `--check-config` and a real start refuse the same mistakes with the same messages.

use crate::account::{Account, XmppFile};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
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
    #[serde(default)]
    catchup: Catchup,
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
struct Catchup {
    state_dir: Option<PathBuf>,
    #[serde(default = "default_grace")]
    gap_grace_seconds: f64,
    #[serde(default = "default_quiet")]
    quiet_check_seconds: f64,
    #[serde(default = "default_hold")]
    max_hold_seconds: f64,
    #[serde(default = "default_window")]
    max_changes: usize,
    #[serde(default = "default_http_timeout")]
    http_timeout_seconds: f64,
    contact: Option<String>,
}

impl Default for Catchup {
    fn default() -> Self {
        Catchup {
            state_dir: None,
            gap_grace_seconds: default_grace(),
            quiet_check_seconds: default_quiet(),
            max_hold_seconds: default_hold(),
            max_changes: default_window(),
            http_timeout_seconds: default_http_timeout(),
            contact: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wiki {
    id: String,
    room: String,
    index_url: String,
    api_url: Option<String>,
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
fn default_grace() -> f64 {
    2.0
}
fn default_quiet() -> f64 {
    30.0
}
fn default_hold() -> f64 {
    300.0
}
fn default_window() -> usize {
    10_000
}
fn default_http_timeout() -> f64 {
    30.0
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
    pub catchup: CatchupConfig,
    pub wikis: Vec<WikiRoom>,
}

/// Gap repair (catchup.rs).
#[derive(Debug, Clone)]
pub struct CatchupConfig {
    /// Where each wiki's last published position is kept (`<id>.json`); `None`: not kept across restarts.
    pub state_dir: Option<PathBuf>,
    /// How long a gap waits for its changes to arrive late before a catch-up asks api.php.
    pub grace: Duration,
    /// After this long without a live change, one catch-up looks for changes whose datagrams were lost.
    pub quiet_check: Duration,
    /// How long changes after a gap are held while api.php fails, before the gap is given up.
    pub max_hold: Duration,
    /// Most changes one catch-up fetches; the rest follows in the next round.
    pub max_changes: usize,
    pub http_timeout: Duration,
    /// api.php's User-Agent: product, version and this contact (Wikimedia's policy asks for one).
    pub user_agent: String,
}

#[derive(Debug, Clone)]
pub struct WikiRoom {
    pub id: String,
    pub room: BareJid,
    /// The room JID with the bridge's nick.
    pub occupant: FullJid,
    pub index_url: String,
    /// The wiki's api.php, for catch-up; `None`: gaps are counted, not repaired.
    pub api_url: Option<String>,
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
            if !is_http(&w.index_url) {
                return Err(format!("wiki {:?}: index_url must be an http(s) URL", w.id));
            }
            if let Some(api) = &w.api_url {
                if !is_http(api) {
                    return Err(format!("wiki {:?}: api_url must be an http(s) URL", w.id));
                }
                if file.catchup.state_dir.is_none() {
                    return Err(format!(
                        "wiki {:?} has an api_url: catchup.state_dir is needed to resume after a restart",
                        w.id
                    ));
                }
            }
            // The wiki id names its state file.
            if w.id.is_empty()
                || !w
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                || w.id.starts_with('.')
            {
                return Err(format!(
                    "wiki {:?}: the id may only hold ASCII letters, digits, '-', '_' and '.' (not first)",
                    w.id
                ));
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
                api_url: w.api_url,
                pubsub,
            });
        }
        let c = file.catchup;
        let seconds = |name: &str, v: f64, max: f64| {
            if v > 0.0 && v <= max {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!("catchup.{name} must be above 0 and at most {max}"))
            }
        };
        if c.max_changes == 0 {
            return Err("catchup.max_changes must be positive".into());
        }
        let catchup = CatchupConfig {
            grace: seconds("gap_grace_seconds", c.gap_grace_seconds, 600.0)?,
            quiet_check: seconds("quiet_check_seconds", c.quiet_check_seconds, 86_400.0)?,
            max_hold: seconds("max_hold_seconds", c.max_hold_seconds, 86_400.0)?,
            http_timeout: seconds("http_timeout_seconds", c.http_timeout_seconds, 600.0)?,
            max_changes: c.max_changes,
            user_agent: crate::api::user_agent(c.contact.as_deref()),
            state_dir: c.state_dir,
        };
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
            catchup,
            wikis,
        })
    }

    /// Whether a datagram from `ip` is accepted (IPv4-mapped IPv6 sources count as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|net| net.contains(&ip))
    }
}

fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
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

    #[test]
    fn catchup_needs_a_state_dir_and_safe_wiki_ids() {
        let api = BASE.replace(
            "index_url = \"http://127.0.0.1:8080/index.php\"",
            "index_url = \"http://127.0.0.1:8080/index.php\"\napi_url = \"http://127.0.0.1:8080/api.php\"",
        );
        assert!(check(&api).unwrap_err().contains("catchup.state_dir"));
        let with_dir = api.replace("[[wiki]]", "[catchup]\nstate_dir = \"/tmp/s\"\n[[wiki]]");
        let c = check(&with_dir).unwrap();
        assert_eq!(
            c.wikis[0].api_url.as_deref(),
            Some("http://127.0.0.1:8080/api.php")
        );
        assert_eq!(c.catchup.grace, Duration::from_secs(2));
        assert!(c.catchup.user_agent.starts_with("rcemit-relay/"));
        assert!(check(
            &with_dir
                .replace("api.php\"", "api.php\"\n")
                .replace("http://127.0.0.1:8080/api", "ftp://x/api")
        )
        .unwrap_err()
        .contains("api_url"));
        assert!(
            check(&with_dir.replace("[catchup]", "[catchup]\ngap_grace_seconds = 0"))
                .unwrap_err()
                .contains("gap_grace_seconds")
        );
        assert!(check(&BASE.replace("id = \"wiki\"", "id = \"../x\""))
            .unwrap_err()
            .contains("ASCII"));
    }
}
