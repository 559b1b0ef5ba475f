//! rcemit-relay: bridges RcEmit's xmlrc datagrams into per-wiki XMPP rooms. The modules without async
//! (datagram, body, stanza) are what the fuzz target and benchmarks reach.

pub mod body;
pub mod datagram;
pub mod stanza;
