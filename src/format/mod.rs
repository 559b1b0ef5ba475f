//! The four output formats, one file each. Every formatter is a pure function of (event, feed context).

use crate::context::FeedContext;
use crate::event::Event;

pub(crate) mod api_log_params;
mod api_result;
mod api_xml;
mod char_refs;
mod html_entities;
pub mod irc;
pub mod json;
#[cfg(test)]
pub(crate) mod php_oracle;
mod php_value;
mod rc_packet;
mod urls;
pub mod xml;
mod xml_chars;
pub mod xmlrc;

/// An output format a feed can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The API's `<rc>` element as the XMLRC extension sent it (default).
    Xmlrc,
    /// Core's JSONRCFeedFormatter packet.
    Json,
    /// Core's XMLRCFeedFormatter packet.
    Xml,
    /// Core's IRCColourfulRCFeedFormatter line.
    Irc,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Xmlrc, Format::Json, Format::Xml, Format::Irc];

    /// Parses a feed's `format` option.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "xmlrc" => Some(Self::Xmlrc),
            "json" => Some(Self::Json),
            "xml" => Some(Self::Xml),
            "irc" => Some(Self::Irc),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Xmlrc => "xmlrc",
            Self::Json => "json",
            Self::Xml => "xml",
            Self::Irc => "irc",
        }
    }

    /// Formats one event. `None` means this format has nothing to say about the change (IRC ignores
    /// categorisation), which is not an error.
    pub fn render(self, event: &Event, ctx: &FeedContext) -> Option<Vec<u8>> {
        match self {
            Self::Xmlrc => Some(xmlrc::format(event, ctx)),
            Self::Json => Some(json::format(event, ctx)),
            Self::Xml => Some(xml::format(event, ctx)),
            Self::Irc => irc::format(event, ctx),
        }
    }
}
