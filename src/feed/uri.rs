//! Core's UDP feed address grammar, as `UDPTransport::newFromString()` in MediaWiki 1.39 reads it:
//!
//! ```text
//! udp:[//][v6addr]:port[/prefix]      brackets around hex digits and colons only
//! udp:[//]host:port[/prefix]          host from [a-zA-Z0-9.-]; an IPv4 address or a name to resolve
//! ```
//!
//! The prefix is everything after the first `/` following the port; `udp://h:1/` has an empty prefix, which
//! still turns framing on (core tests `$prefix !== false`). Like PCRE's `$`, one final newline is ignored;
//! any other newline is refused, since core's `.` never matches one.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where a feed's datagrams go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// An address literal: no resolution needed.
    Addr(SocketAddr),
    /// A host name, resolved on the sender thread (IPv4 preferred, as core's `gethostbyname`).
    Name { host: String, port: u16 },
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(addr) => write!(f, "{addr}"),
            Self::Name { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// A parsed `udp://` feed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUri {
    pub destination: Destination,
    /// `None`: no framing. `Some` (possibly empty): each line gets prefix + space, trailing newline ensured.
    pub prefix: Option<Vec<u8>>,
}

impl FeedUri {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let body = uri.strip_suffix('\n').unwrap_or(uri);
        if body.contains('\n') {
            return Err("uri contains a newline".into());
        }
        let rest = body
            .strip_prefix("udp:")
            .ok_or_else(|| format!("uri \"{uri}\" does not start with udp://"))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (hostport, prefix) = match rest.split_once('/') {
            Some((hostport, prefix)) => (hostport, Some(prefix.as_bytes().to_vec())),
            None => (rest, None),
        };
        let destination =
            parse_host_port(hostport).map_err(|why| format!("uri \"{uri}\": {why}"))?;
        Ok(Self {
            destination,
            prefix,
        })
    }
}

fn parse_host_port(hostport: &str) -> Result<Destination, String> {
    let (host, port) = hostport.rsplit_once(':').ok_or("expected host:port")?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port \"{port}\" is not a number"));
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p != 0 => p,
        _ => return Err(format!("port {port} is not in 1..65535")),
    };
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format!("\"[{inner}]\" is not a bracketed IPv6 address"));
        }
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| format!("\"{inner}\" is not a valid IPv6 address"))?;
        return Ok(Destination::Addr(SocketAddr::new(IpAddr::V6(ip), port)));
    }
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(format!(
            "host \"{host}\" is neither a name ([a-zA-Z0-9.-]) nor a bracketed IPv6 address"
        ));
    }
    Ok(match host.parse::<Ipv4Addr>() {
        Ok(ip) => Destination::Addr(SocketAddr::new(IpAddr::V4(ip), port)),
        Err(_) => Destination::Name {
            host: host.to_owned(),
            port,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str) -> FeedUri {
        FeedUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
    }

    #[test]
    fn ipv4_with_and_without_slashes() {
        let want = Destination::Addr("127.0.0.1:9390".parse().unwrap());
        assert_eq!(ok("udp://127.0.0.1:9390").destination, want);
        assert_eq!(ok("udp:127.0.0.1:9390").destination, want);
        assert_eq!(ok("udp://127.0.0.1:9390").prefix, None);
    }

    #[test]
    fn bracketed_ipv6() {
        let uri = ok("udp://[::1]:9390/#x");
        assert_eq!(
            uri.destination,
            Destination::Addr("[::1]:9390".parse().unwrap())
        );
        assert_eq!(uri.prefix.as_deref(), Some(&b"#x"[..]));
        assert_eq!(
            ok("udp://[2001:DB8::7]:1").destination,
            Destination::Addr("[2001:db8::7]:1".parse().unwrap())
        );
    }

    #[test]
    fn hostnames_are_kept_for_the_sender_to_resolve() {
        let uri = ok("udp://irc-relay.example.org:9390/#en.wikipedia\t");
        assert_eq!(
            uri.destination,
            Destination::Name {
                host: "irc-relay.example.org".into(),
                port: 9390
            }
        );
        assert_eq!(uri.prefix.as_deref(), Some(&b"#en.wikipedia\t"[..]));
        // Not an IPv4 address, so core resolves it as a name too.
        assert!(matches!(
            ok("udp://1.2.3.999:5").destination,
            Destination::Name { .. }
        ));
    }

    #[test]
    fn prefix_is_everything_after_the_first_slash() {
        assert_eq!(ok("udp://h:1/a/b c").prefix.as_deref(), Some(&b"a/b c"[..]));
        // An empty prefix still frames (core compares with `false`).
        assert_eq!(ok("udp://h:1/").prefix.as_deref(), Some(&b""[..]));
        // PCRE's `$` ignores one final newline; `\r` is an ordinary prefix byte.
        assert_eq!(ok("udp://h:1/ab\n").prefix.as_deref(), Some(&b"ab"[..]));
        assert_eq!(ok("udp://h:1/a\rb").prefix.as_deref(), Some(&b"a\rb"[..]));
    }

    #[test]
    fn refuses_what_core_refuses_and_bad_ports() {
        for bad in [
            "",
            "tcp://h:1",
            "udp://h",
            "udp://h:",
            "udp://h:x",
            "udp://:1",
            "udp://h_x:1",
            "udp://h:1/a\nb",
            "udp://[::1:1",
            "udp://[::g]:1",
            "udp://[1.2.3.4]:1",
            "udp://[:::]:1",
            "udp://h:0",
            "udp://h:65536",
            "udp://h:+1",
        ] {
            assert!(FeedUri::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
