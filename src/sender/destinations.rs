//! Sockets and name resolution, owned by the sender thread.
//!
//! Each destination gets one UDP socket, opened on first use and connected to the destination's address, so
//! the kernel reports an ICMP "port unreachable" on a later send (counted as a send error) instead of losing it
//! silently. Host names are resolved here, never on the caller's thread: on first use, again every
//! [`REFRESH`], and after a failure no sooner than [`RETRY`], so an unresolvable name costs one lookup per
//! [`RETRY`], not one per event. IPv4 is preferred, as core's `gethostbyname()` only knows IPv4.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::stats::{bump, Counters};
use crate::feed::uri::Destination;

/// How long a resolved address is used before the name is resolved again.
pub const REFRESH: Duration = Duration::from_secs(60);
/// How long after a failed resolution the next attempt may happen.
pub const RETRY: Duration = Duration::from_secs(5);
/// Longest a send may wait for socket buffer space.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Slot {
    /// The address to send to (for names: the last successful resolution).
    addr: Option<SocketAddr>,
    /// The connected socket and the address it is connected to.
    socket: Option<(SocketAddr, Socket)>,
    /// When the current address was resolved (names only).
    resolved_at: Option<Instant>,
    /// When the last resolution failed.
    failed_at: Option<Instant>,
}

/// All destinations the sender has seen (bounded by the feed registry).
#[derive(Default)]
pub struct Destinations {
    slots: HashMap<Destination, Slot>,
}

impl Destinations {
    /// Makes sure `destination` has an address, resolving its name when due. False when it has none: the
    /// caller counts the event as lost without rendering it.
    pub fn resolve(&mut self, destination: &Destination, counters: &Counters) -> bool {
        let slot = self.slots.entry(destination.clone()).or_default();
        match destination {
            Destination::Addr(addr) => slot.addr = Some(*addr),
            Destination::Name { host, port } => resolve_if_due(slot, host, *port, counters),
        }
        slot.addr.is_some()
    }

    /// Sends one datagram to a destination [`Self::resolve`] said has an address.
    pub fn send(&mut self, destination: &Destination, datagram: &[u8]) -> bool {
        let Some(slot) = self.slots.get_mut(destination) else {
            return false;
        };
        let Some(addr) = slot.addr else {
            return false;
        };
        if slot.socket.as_ref().map(|(a, _)| *a) != Some(addr) {
            slot.socket = open(addr).ok().map(|socket| (addr, socket));
        }
        matches!(&slot.socket, Some((_, socket)) if socket.send(datagram).is_ok())
    }
}

/// Resolves the name again when due. A stale address is kept when a refresh fails.
fn resolve_if_due(slot: &mut Slot, host: &str, port: u16, counters: &Counters) {
    let now = Instant::now();
    let fresh = slot
        .resolved_at
        .is_some_and(|at| now.duration_since(at) < REFRESH);
    let backing_off = slot
        .failed_at
        .is_some_and(|at| now.duration_since(at) < RETRY);
    if fresh || backing_off {
        return;
    }
    match resolve(host, port) {
        Some(addr) => {
            slot.addr = Some(addr);
            slot.resolved_at = Some(now);
            slot.failed_at = None;
        }
        None => {
            bump(&counters.dns_failures);
            slot.failed_at = Some(now);
        }
    }
}

/// A name resolver: host and port to the address to send to.
#[cfg(any(test, feature = "testing"))]
pub type Resolver = fn(&str, u16) -> Option<SocketAddr>;

/// A resolver that replaces the system's for the whole process (tests only; see
/// `testing::sender::replace_resolver`).
#[cfg(any(test, feature = "testing"))]
static RESOLVER: std::sync::OnceLock<Resolver> = std::sync::OnceLock::new();

#[cfg(any(test, feature = "testing"))]
pub(crate) fn replace_resolver(resolver: Resolver) -> bool {
    RESOLVER.set(resolver).is_ok()
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    #[cfg(any(test, feature = "testing"))]
    if let Some(resolver) = RESOLVER.get() {
        return resolver(host, port);
    }
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
}

fn open(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_write_timeout(Some(SEND_TIMEOUT))?;
    socket.connect(&addr.into())?;
    Ok(socket)
}
