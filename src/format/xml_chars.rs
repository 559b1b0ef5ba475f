//! Character-level XML output shared by the `xml` and `xmlrc` formats: MediaWiki's escaping
//! (`htmlspecialchars` for text, `Sanitizer::encodeAttribute` for attribute values) plus the one rule
//! MediaWiki does not apply on output: characters XML 1.0 forbids are replaced by U+FFFD.
//!
//! Why U+FFFD rather than dropping the character or writing a character reference: XML 1.0 forbids these
//! characters even as references (`&#1;` is not well-formed), a dropped character would silently join the
//! text around it, and U+FFFD is what MediaWiki itself puts in their place when it cleans web input
//! (`UtfNormal\Validator::cleanUp` replaces C0 controls other than tab, LF, CR, and U+FFFE/U+FFFF) and what
//! payload decoding already uses for invalid UTF-8. So for every change made through the web UI or the API the
//! output stays byte-identical to core's; only text that bypassed that cleaning differs, and only where core
//! would have produced a document no XML parser accepts.
//!
//! quick-xml's own `escape` is not used here: it writes `&apos;` where PHP writes `&#039;`, leaves tab and
//! line breaks raw inside attribute values, and knows nothing of forbidden characters.

/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// True for characters the XML 1.0 `Char` production allows (surrogates cannot occur in a `str`); for tests'
/// well-formedness checks.
#[cfg(test)]
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `text` as element content the way `htmlspecialchars( $text, ENT_NOQUOTES )` escapes it
/// (`&` `<` `>`), with forbidden characters replaced.
pub fn push_text(out: &mut Vec<u8>, text: &str) {
    push_escaped(out, text, false);
}

/// Appends `value` as an attribute value (without the quotes) the way `Sanitizer::encodeAttribute()` escapes
/// it (`& < > " '` as `&amp; &lt; &gt; &quot; &#039;`, then tab, LF, CR as `&#9; &#10; &#13;`), with
/// forbidden characters replaced.
pub fn push_attr(out: &mut Vec<u8>, value: &str) {
    push_escaped(out, value, true);
}

/// Appends the decimal digits of `n` (nothing to escape; hot enough to skip `fmt`).
#[inline]
pub fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Bytes that may need replacing: C0 controls (in text except tab, LF, CR), `& < >`, the lead byte of
/// U+FFFE/U+FFFF, and in attributes also `"` and `'`.
const fn special_bytes(attr: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = attr || !matches!(b, 0x09 | 0x0A | 0x0D);
        b += 1;
    }
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[0xEF] = true;
    table[b'"' as usize] = attr;
    table[b'\'' as usize] = attr;
    table
}

static SPECIAL_IN_TEXT: [bool; 256] = special_bytes(false);
static SPECIAL_IN_ATTR: [bool; 256] = special_bytes(true);

fn push_escaped(out: &mut Vec<u8>, text: &str, attr: bool) {
    let special = if attr {
        &SPECIAL_IN_ATTR
    } else {
        &SPECIAL_IN_TEXT
    };
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    let mut done = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !special[usize::from(bytes[i])] {
            i += 1;
            continue;
        }
        let (replacement, width): (&[u8], usize) = match bytes[i] {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'"' if attr => (b"&quot;", 1),
            b'\'' if attr => (b"&#039;", 1),
            b'\t' if attr => (b"&#9;", 1),
            b'\n' if attr => (b"&#10;", 1),
            b'\r' if attr => (b"&#13;", 1),
            b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            0x00..=0x1F => (REPLACEMENT, 1),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF; `text` is valid UTF-8, so the bytes exist.
            0xEF if bytes[i + 1] == 0xBF && matches!(bytes[i + 2], 0xBE | 0xBF) => (REPLACEMENT, 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[done..i]);
        out.extend_from_slice(replacement);
        i += width;
        done = i;
    }
    out.extend_from_slice(&bytes[done..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        let mut out = Vec::new();
        push_text(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    fn attr(s: &str) -> String {
        let mut out = Vec::new();
        push_attr(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_mediawiki() {
        assert_eq!(
            text("a&b<c>d\"e'f\tg\nh\ri"),
            "a&amp;b&lt;c&gt;d\"e'f\tg\nh\ri"
        );
        assert_eq!(
            attr("a&b<c>d\"e'f\tg\nh\ri"),
            "a&amp;b&lt;c&gt;d&quot;e&#039;f&#9;g&#10;h&#13;i"
        );
        assert_eq!(text("ü €𝄞 \u{FFFD}"), "ü €𝄞 \u{FFFD}");
    }

    #[test]
    fn replaces_every_forbidden_character() {
        let mut all = String::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            all.push(c);
        }
        for out in [text(&all), attr(&all)] {
            assert!(out.chars().all(is_xml_char));
        }
        assert_eq!(
            text("\0\u{1}\u{B}\u{1F}\u{FFFE}\u{FFFF}x"),
            "\u{FFFD}".repeat(6) + "x"
        );
        assert_eq!(text("\u{FFFD}\u{FFEF}\u{EFBF}"), "\u{FFFD}\u{FFEF}\u{EFBF}");
    }

    #[test]
    fn forbidden_set_is_xml_1_0() {
        for c in [
            '\0', '\u{8}', '\u{B}', '\u{C}', '\u{E}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(!is_xml_char(c), "{c:?}");
        }
        for c in [
            '\t',
            '\n',
            '\r',
            ' ',
            '\u{7F}',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{10000}',
            '\u{10FFFF}',
        ] {
            assert!(is_xml_char(c), "{c:?}");
        }
    }
}
