//! rcemit-relay: bridges RcEmit's xmlrc datagrams into per-wiki XMPP rooms. The modules without async
//! (datagram, body, stanza) build without the `bridge` feature: that is what the fuzz target reaches.

pub mod body;
pub mod datagram;
pub mod stanza;

#[cfg(feature = "bridge")]
pub mod account;
#[cfg(feature = "bridge")]
pub mod api;
#[cfg(feature = "bridge")]
pub mod api_page;
#[cfg(feature = "bridge")]
pub mod catchup;
#[cfg(feature = "bridge")]
pub mod config;
#[cfg(feature = "bridge")]
pub mod connector;
#[cfg(feature = "bridge")]
pub mod mam;
#[cfg(feature = "bridge")]
pub mod metrics;
#[cfg(feature = "bridge")]
pub mod poll;
#[cfg(feature = "bridge")]
pub mod printer;
#[cfg(feature = "bridge")]
pub mod pubsub;
#[cfg(feature = "bridge")]
pub mod queue;
#[cfg(feature = "bridge")]
pub mod rcjson;
#[cfg(feature = "bridge")]
pub mod rooms;
#[cfg(feature = "bridge")]
pub mod session;
#[cfg(feature = "bridge")]
pub mod state;
#[cfg(feature = "bridge")]
pub mod udp;
#[cfg(feature = "bridge")]
pub mod watch;
#[cfg(feature = "bridge")]
pub mod watch_config;
#[cfg(feature = "bridge")]
pub mod xmpp;
