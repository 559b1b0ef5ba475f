//! rcemit-relay: bridges RcEmit's xmlrc datagrams into per-wiki XMPP rooms. The modules without async
//! (datagram, body, stanza) are what the fuzz target and benchmarks reach.

pub mod body;
pub mod config;
pub mod datagram;
pub mod metrics;
pub mod queue;
pub mod rooms;
pub mod stanza;
pub mod udp;
pub mod xmpp;
