//! Feed configuration: where datagrams go ([`uri`]), how they are framed ([`framing`]), which format and
//! wiki facts render them, and how large they may be ([`size`]).
//!
//! A feed is opened once per process from a small JSON object (see [`Feed::from_json`]); opening is never on
//! the per-edit path, so JSON costs nothing that matters there.

pub mod framing;
pub mod size;
pub mod uri;

use serde::Deserialize;

use crate::context::{FeedContext, PacketLayout, XmlrcProps};
use crate::event::Event;
use crate::format::Format;
use size::Fit;
use uri::FeedUri;

/// Core's `UDPTransport::MAX_PAYLOAD_SIZE`: the largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;
/// The smallest `max_datagram` accepted; anything lower is surely a mistake.
pub const MIN_DATAGRAM: usize = 64;

/// One configured feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub uri: FeedUri,
    pub format: Format,
    pub context: FeedContext,
    /// Largest datagram sent, framing included.
    pub max_datagram: usize,
}

/// The JSON object [`Feed::from_json`] reads. Every key is optional to serde (`null` counts as absent);
/// `uri` is required by [`Feed::from_json`] itself, so that its error names it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    uri: Option<String>,
    format: Option<String>,
    canonical_server: Option<String>,
    server_name: Option<String>,
    script_path: Option<String>,
    script: Option<String>,
    article_path: Option<String>,
    main_page_at_root: Option<String>,
    packet_layout: Option<String>,
    wiki_id: Option<String>,
    special_namespace: Option<String>,
    use_rc_patrol: Option<bool>,
    use_np_patrol: Option<bool>,
    irc_interwiki_prefix: Option<String>,
    channel: Option<String>,
    xmlrc_properties: Option<String>,
    max_datagram: Option<serde_json::Number>,
}

impl Feed {
    /// Reads a feed from a JSON object. Keys (all but `uri` optional):
    /// `uri` (core's `udp://` syntax), `format` (`xmlrc` default, `json`, `xml`, `irc`), the strings
    /// `canonical_server`, `server_name`, `script_path`, `script`, `article_path`, `wiki_id`,
    /// `special_namespace` (default `Special`), `packet_layout` (`"1.39"`, the default, for MediaWiki 1.39 and
    /// 1.40; `"1.41"` for 1.41 and later), the string-or-null `main_page_at_root`, the booleans
    /// `use_rc_patrol`, `use_np_patrol`, the strings-or-null `irc_interwiki_prefix`, `channel`,
    /// `xmlrc_properties` (an API-style `a|b|c` list), and the integer `max_datagram` (64..=65507, default
    /// 65507). Unknown keys and wrong types are errors naming the key.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let json: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("feed config is not valid JSON: {e}"))?;
        if !json.is_object() {
            return Err("feed config must be a JSON object".into());
        }
        let config: Config = serde_path_to_error::deserialize(json)
            .map_err(|e| format!("feed config key \"{}\": {}", e.path(), e.inner()))?;
        let uri = config.uri.ok_or("feed config key \"uri\" is required")?;
        let uri = FeedUri::parse(&uri).map_err(|e| format!("feed config key \"uri\": {e}"))?;
        let format = match config.format {
            None => Format::Xmlrc,
            Some(name) => Format::parse(&name).ok_or_else(|| {
                format!(
                    "feed config key \"format\": \"{name}\" is not one of xmlrc, json, xml, irc"
                )
            })?,
        };
        let packet_layout = match config.packet_layout {
            None => PacketLayout::default(),
            Some(name) => PacketLayout::parse(&name).ok_or_else(|| {
                format!("feed config key \"packet_layout\": \"{name}\" is not one of 1.39, 1.41")
            })?,
        };
        let xmlrc_props = match config.xmlrc_properties {
            None => XmlrcProps::default(),
            Some(list) => XmlrcProps::parse(&list)
                .map_err(|e| format!("feed config key \"xmlrc_properties\": {e}"))?,
        };
        let max_datagram = match config.max_datagram {
            None => MAX_DATAGRAM,
            Some(n) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (MIN_DATAGRAM..=MAX_DATAGRAM).contains(n))
                .ok_or_else(|| {
                    format!(
                        "feed config key \"max_datagram\": {n} is not an integer in {MIN_DATAGRAM}..={MAX_DATAGRAM}"
                    )
                })?,
        };
        let context = FeedContext {
            canonical_server: config.canonical_server.unwrap_or_default(),
            server_name: config.server_name.unwrap_or_default(),
            script_path: config.script_path.unwrap_or_default(),
            script: config.script.unwrap_or_default(),
            article_path: config.article_path.unwrap_or_default(),
            main_page_at_root: config.main_page_at_root,
            packet_layout,
            wiki_id: config.wiki_id.unwrap_or_default(),
            special_namespace: config.special_namespace.unwrap_or_else(|| "Special".into()),
            use_rc_patrol: config.use_rc_patrol.unwrap_or_default(),
            use_np_patrol: config.use_np_patrol.unwrap_or_default(),
            irc_interwiki_prefix: config.irc_interwiki_prefix,
            channel: config.channel,
            xmlrc_props,
        };
        Ok(Self {
            uri,
            format,
            context,
            max_datagram,
        })
    }

    /// Renders an event in this feed's format, unframed. Feeds with the same format and context produce the
    /// same bytes, so the sender may share this between them.
    pub fn render(&self, event: &Event) -> Option<Vec<u8>> {
        self.format.render(event, &self.context)
    }

    /// Frames rendered text for this feed's destination.
    pub fn frame(&self, text: &[u8]) -> Vec<u8> {
        framing::frame(self.uri.prefix.as_deref(), text)
    }

    /// The datagram for `event`, given its unframed render (`rendered`, possibly shared), within this feed's
    /// size limit.
    pub fn datagram(&self, event: &Event, rendered: Option<&[u8]>) -> Fit {
        size::fit(
            event,
            rendered.map(|text| self.frame(text)),
            self.max_datagram,
            |shorter| self.render(shorter).map(|text| self.frame(&text)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uri::Destination;

    #[test]
    fn minimal_config_takes_defaults() {
        let feed = Feed::from_json(br#"{"uri": "udp://127.0.0.1:9390"}"#).unwrap();
        assert_eq!(feed.format, Format::Xmlrc);
        assert_eq!(feed.max_datagram, MAX_DATAGRAM);
        assert_eq!(feed.context.special_namespace, "Special");
        assert_eq!(feed.context.xmlrc_props, XmlrcProps::default());
        assert_eq!(feed.uri.prefix, None);
    }

    #[test]
    fn full_config() {
        let json = br##"{"uri": "udp://relay.example:9390/#en.wikipedia\t", "format": "irc",
            "canonical_server": "https://en.wikipedia.org", "server_name": "en.wikipedia.org",
            "script_path": "/w", "script": "/w/index.php", "wiki_id": "enwiki",
            "special_namespace": "Spezial", "use_rc_patrol": true, "use_np_patrol": false,
            "irc_interwiki_prefix": "en", "channel": null, "xmlrc_properties": "user|title",
            "max_datagram": 1400, "article_path": "/wiki/$1", "main_page_at_root": "Main Page",
            "packet_layout": "1.41"}"##;
        let feed = Feed::from_json(json).unwrap();
        assert_eq!(feed.format, Format::Irc);
        assert_eq!(feed.max_datagram, 1400);
        assert_eq!(
            feed.uri.destination,
            Destination::Name {
                host: "relay.example".into(),
                port: 9390
            }
        );
        assert_eq!(feed.uri.prefix.as_deref(), Some(&b"#en.wikipedia\t"[..]));
        assert_eq!(feed.context.irc_interwiki_prefix.as_deref(), Some("en"));
        assert_eq!(feed.context.article_path, "/wiki/$1");
        assert_eq!(feed.context.main_page_at_root.as_deref(), Some("Main Page"));
        assert_eq!(feed.context.packet_layout, PacketLayout::Mw141);
        assert!(feed.context.use_rc_patrol && !feed.context.use_np_patrol);
        assert_eq!(
            feed.context.xmlrc_props,
            XmlrcProps::parse("user|title").unwrap()
        );
    }

    #[test]
    fn errors_name_the_key() {
        for (json, key) in [
            (r#"{}"#, "\"uri\""),
            (r#"{"uri": 5}"#, "\"uri\""),
            (r#"{"uri": "http://x:1"}"#, "\"uri\""),
            (r#"{"uri": "udp://h:1", "colour": 1}"#, "`colour`"),
            (r#"{"uri": "udp://h:1", "format": "yaml"}"#, "\"format\""),
            (
                r#"{"uri": "udp://h:1", "packet_layout": "1.40"}"#,
                "\"packet_layout\"",
            ),
            (
                r#"{"uri": "udp://h:1", "use_rc_patrol": 1}"#,
                "\"use_rc_patrol\"",
            ),
            (
                r#"{"uri": "udp://h:1", "max_datagram": 65508}"#,
                "\"max_datagram\"",
            ),
            (
                r#"{"uri": "udp://h:1", "max_datagram": 1.5}"#,
                "\"max_datagram\"",
            ),
            (
                r#"{"uri": "udp://h:1", "xmlrc_properties": "user|bogus"}"#,
                "\"xmlrc_properties\"",
            ),
        ] {
            let err = Feed::from_json(json.as_bytes()).unwrap_err();
            assert!(err.contains(key), "{json}: {err}");
        }
        assert!(Feed::from_json(b"[1]").is_err());
        assert!(Feed::from_json(b"{").is_err());
    }
}
