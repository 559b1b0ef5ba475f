//! `rcemit`: command-line companion.
//!
//! ```text
//! rcemit listen [ADDR] [--count N] [--seconds S] [--raw]
//! ```
//! Binds a UDP socket (default 127.0.0.1:9390, `[::1]:PORT` for IPv6) and prints each datagram as it arrives,
//! in readable form: IRC colour codes are rendered as `{colour}` markers (never stripped naively, so the digits
//! of an IP user name after a colour code stay), other control characters as `\xNN`. `--raw` writes the bytes
//! unchanged. Stops after N datagrams or S seconds without one (default: runs until interrupted).

use std::io::Write;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: rcemit listen [ADDR] [--count N] [--seconds S] [--raw]";

struct Listen {
    addr: String,
    count: Option<u64>,
    idle: Option<Duration>,
    raw: bool,
}

fn parse_listen(mut args: impl Iterator<Item = String>) -> Result<Listen, String> {
    let mut listen = Listen {
        addr: "127.0.0.1:9390".into(),
        count: None,
        idle: None,
        raw: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--count" => {
                let v = value("--count")?;
                listen.count = Some(
                    v.parse()
                        .map_err(|_| format!("--count: not a number: {v}"))?,
                );
            }
            "--seconds" => {
                let v = value("--seconds")?;
                let secs: f64 = v
                    .parse()
                    .map_err(|_| format!("--seconds: not a number: {v}"))?;
                if !(secs > 0.0 && secs.is_finite()) {
                    return Err(format!("--seconds must be positive: {v}"));
                }
                listen.idle = Some(Duration::from_secs_f64(secs));
            }
            "--raw" => listen.raw = true,
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => listen.addr = other.to_owned(),
        }
    }
    Ok(listen)
}

/// Renders a datagram for a terminal: IRC formatting codes become markers, other controls are escaped.
fn readable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x03' => {
                // mIRC colour: up to two digits, optionally a comma and up to two background digits.
                let mut code = String::new();
                while code.len() < 2 && chars.peek().is_some_and(char::is_ascii_digit) {
                    code.push(chars.next().unwrap_or_default());
                }
                out.push_str(if code.is_empty() { "{/}" } else { "{" });
                if !code.is_empty() {
                    out.push_str(&code);
                    out.push('}');
                }
            }
            '\x02' => out.push_str("{b}"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn listen(opts: Listen) -> Result<(), String> {
    let socket =
        UdpSocket::bind(&opts.addr).map_err(|e| format!("cannot bind {}: {e}", opts.addr))?;
    socket
        .set_read_timeout(opts.idle)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "rcemit: listening on {}",
        socket.local_addr().map_err(|e| e.to_string())?
    );
    let mut buf = vec![0u8; 65_536];
    let mut seen = 0u64;
    let stdout = std::io::stdout();
    while opts.count.is_none_or(|n| seen < n) {
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                eprintln!(
                    "rcemit: no datagram for {:?}, stopping after {seen}",
                    opts.idle.unwrap_or_default()
                );
                break;
            }
            Err(e) => return Err(format!("receive failed: {e}")),
        };
        seen += 1;
        let mut out = stdout.lock();
        let written = if opts.raw {
            out.write_all(&buf[..len])
        } else {
            writeln!(
                out,
                "[{seen}] {len} bytes from {from}: {}",
                readable(&buf[..len])
            )
        };
        written
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("listen") => parse_listen(args).and_then(listen),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rcemit: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn colour_codes_keep_following_digits() {
        // An IP user name right after a colour code: only two digits belong to the code.
        assert_eq!(readable(b"\x0303127.0.0.1\x03 x"), "{03}127.0.0.1{/} x");
        assert_eq!(readable(b"\x034 !N\x0310"), "{4} !N{10}");
        assert_eq!(readable(b"(\x02-600\x02)\n"), "({b}-600{b})\\n");
        assert_eq!(readable(b"#wiki\t \x00"), "#wiki\\t \\x00");
    }
}
