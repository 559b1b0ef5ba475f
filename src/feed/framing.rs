//! Core's prefix framing (`UDPTransport::emit()`): `preg_replace('/^/m', "$prefix ", $text)`, then a trailing
//! newline if missing. PCRE's multiline `^` matches at the start and after every `\n` except one that ends the
//! text. Unlike core, nothing is truncated here: size is the caller's concern ([`super::size`]).

/// Frames `text` for a feed with the given prefix; without a prefix the text goes out unchanged.
pub fn frame(prefix: Option<&[u8]>, text: &[u8]) -> Vec<u8> {
    let Some(prefix) = prefix else {
        return text.to_vec();
    };
    let lines = 1 + text.iter().filter(|&&b| b == b'\n').count();
    let mut out = Vec::with_capacity(text.len() + lines * (prefix.len() + 1) + 1);
    let mut line_start = true;
    for &byte in text {
        if line_start {
            out.extend_from_slice(prefix);
            out.push(b' ');
        }
        out.push(byte);
        line_start = byte == b'\n';
    }
    if text.is_empty() {
        out.extend_from_slice(prefix);
        out.push(b' ');
    }
    if out.last() != Some(&b'\n') {
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::frame;

    // Expected values printed by PHP 8.2: php -r 'var_dump(preg_replace("/^/m", "P ", $t));' (plus core's
    // trailing-newline rule).
    #[test]
    fn matches_core_line_by_line() {
        let p = Some(&b"P"[..]);
        assert_eq!(frame(p, b"a\nb\n"), b"P a\nP b\n");
        assert_eq!(frame(p, b"a\nb"), b"P a\nP b\n");
        assert_eq!(frame(p, b""), b"P \n");
        assert_eq!(frame(p, b"\n"), b"P \n");
        assert_eq!(frame(p, b"\n\nx\n\n"), b"P \nP \nP x\nP \n");
        assert_eq!(frame(p, b"a\rb\r\nc"), b"P a\rb\r\nP c\n");
    }

    #[test]
    fn wikimedia_prefix_with_tab() {
        let line = b"\x0314[[\x0307Foo\x0314]]\x0310 \x03\n";
        let mut want = b"#en.wikipedia\t ".to_vec();
        want.extend_from_slice(line);
        assert_eq!(frame(Some(b"#en.wikipedia\t"), line), want);
    }

    #[test]
    fn xml_packet_gets_a_prefix_on_every_line() {
        let text = b"\n<recentchange>\n  <id>1</id>\n</recentchange>";
        assert_eq!(
            frame(Some(b"#w\t"), text),
            b"#w\t \n#w\t <recentchange>\n#w\t   <id>1</id>\n#w\t </recentchange>\n"
        );
    }

    #[test]
    fn empty_prefix_still_frames_and_no_prefix_does_not() {
        assert_eq!(frame(Some(b""), b"a\nb"), b" a\n b\n");
        assert_eq!(frame(None, b"a\nb"), b"a\nb");
    }
}
