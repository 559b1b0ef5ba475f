//! The `[xmpp]` section both subcommands share: the account, where to connect and how, and the one way a
//! session's stream is made from it (connector.rs's connectors, tokio-xmpp's StanzaStream).

use crate::connector;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::stanzastream::StanzaStream;
use tokio_xmpp::xmlstream::Timeouts;
use xmpp_parsers::jid::{BareJid, Jid};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppFile {
    jid: String,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    server: Option<String>,
    #[serde(default)]
    tls: Tls,
    #[serde(default = "default_nick")]
    nick: String,
}

/// How the XMPP connection is secured. Plaintext exists for loopback test servers only.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    #[default]
    Starttls,
    None,
}

/// A checked `[xmpp]` section.
#[derive(Debug, Clone)]
pub struct Account {
    pub jid: BareJid,
    pub password: String,
    /// "host:port"; `None`: DNS SRV of the JID's domain.
    pub server: Option<String>,
    pub tls: Tls,
    pub nick: String,
}

fn default_nick() -> String {
    "rcemit".into()
}

impl XmppFile {
    /// Checks the section and reads the password (`env` looks up environment variables).
    pub fn check(self, env: impl Fn(&str) -> Option<String>) -> Result<Account, String> {
        let x = self;
        let jid: BareJid = x
            .jid
            .parse()
            .map_err(|e| format!("xmpp.jid {:?}: {e}", x.jid))?;
        if jid.node().is_none() {
            return Err(format!(
                "xmpp.jid {:?} needs a user part (user@domain)",
                x.jid
            ));
        }
        let password = match (&x.password_file, &x.password_env) {
            (Some(file), None) => std::fs::read_to_string(file)
                .map_err(|e| format!("xmpp.password_file {}: {e}", file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            (None, Some(var)) => env(var)
                .ok_or_else(|| format!("xmpp.password_env: the variable {var} is not set"))?,
            _ => return Err("xmpp: set exactly one of password_file and password_env".into()),
        };
        if password.is_empty() {
            return Err("xmpp: the password is empty".into());
        }
        if x.tls == Tls::None {
            // Plaintext sends the password in the clear: only to a literal loopback address.
            let loopback = x
                .server
                .as_deref()
                .and_then(|s| s.parse::<SocketAddr>().ok())
                .is_some_and(|a| a.ip().is_loopback());
            if !loopback {
                return Err(
                    "xmpp.tls = \"none\" needs xmpp.server to be a loopback address with a port, e.g. \"127.0.0.1:5222\""
                        .into(),
                );
            }
        }
        if let Some(server) = &x.server {
            split_host_port(server)
                .ok_or_else(|| format!("xmpp.server {server:?} is not host:port"))?;
        }
        if x.nick.is_empty() {
            return Err("xmpp.nick is empty".into());
        }
        Ok(Account {
            jid,
            password,
            server: x.server,
            tls: x.tls,
            nick: x.nick,
        })
    }
}

impl Account {
    /// A fresh stream; tokio-xmpp connects, authenticates and binds in the background.
    pub fn stream(&self, queue: usize) -> StanzaStream {
        let dns = match &self.server {
            Some(server) if server.parse::<SocketAddr>().is_ok() => DnsConfig::addr(server),
            Some(server) => {
                let (host, port) = split_host_port(server).expect("checked by XmppFile::check");
                DnsConfig::no_srv(host, port)
            }
            None => DnsConfig::srv_default_client(self.jid.domain().as_str()),
        };
        let jid = Jid::from(self.jid.clone());
        let password = self.password.clone();
        let timeouts = Timeouts::tight();
        tracing::info!(jid = %self.jid, server = ?self.server, tls = ?self.tls, "connecting");
        match self.tls {
            Tls::Starttls => {
                StanzaStream::new_c2s(connector::StartTls(dns), jid, password, timeouts, queue)
            }
            Tls::None => {
                StanzaStream::new_c2s(connector::Plain(dns), jid, password, timeouts, queue)
            }
        }
    }
}

pub fn split_host_port(server: &str) -> Option<(&str, u16)> {
    let (host, port) = server.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host, port.parse().ok()?)).filter(|(h, _)| !h.is_empty())
}
