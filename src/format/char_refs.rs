//! `Sanitizer::decodeCharReferences()` of MediaWiki 1.39, which the IRC line applies to titles, user names and
//! comments. It scans for the first of these at each `&`, exactly like its regular expression:
//! `&name;` (name = ASCII letters and digits and any non-ASCII bytes) decoded through HTML5's table and two
//! MediaWiki aliases, left as is when unknown; `&#123;` and `&#x7B;` decoded to the character, or to U+FFFD
//! when the code point is one HTML5 or XML forbids (NUL, CR, C0/C1 controls, surrogates, beyond U+10FFFF).

use std::borrow::Cow;

use super::html_entities::{ALIASES, ENTITIES};

/// Decodes character references as MediaWiki does.
pub fn decode(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'&') else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut pos = first;
    while let Some(found) = bytes[pos..].iter().position(|&b| b == b'&') {
        pos += found;
        let Some((end, decoded)) = reference_at(text, pos + 1) else {
            pos += 1;
            continue;
        };
        out.push_str(&text[done..pos]);
        match decoded {
            Decoded::Char(c) => out.push(c),
            Decoded::Str(s) => out.push_str(s),
            Decoded::Unchanged => out.push_str(&text[pos..end]),
        }
        done = end;
        pos = end;
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

enum Decoded {
    Char(char),
    Str(&'static str),
    Unchanged,
}

/// The reference starting right after an `&` at `start`: where it ends and what it decodes to.
fn reference_at(text: &str, start: usize) -> Option<(usize, Decoded)> {
    let bytes = text.as_bytes();
    let run = |from: usize, accept: fn(u8) -> bool| {
        let len = bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|&&b| accept(b))
            .count();
        (len > 0 && bytes.get(from + len) == Some(&b';')).then_some(from + len)
    };
    // &([A-Za-z0-9\x80-\xff]+;)  — the run ends at an ASCII byte, so it is a whole UTF-8 string.
    if let Some(semi) = run(start, |b| b.is_ascii_alphanumeric() || b >= 0x80) {
        let name = &text[start..=semi];
        return Some((
            semi + 1,
            entity(name).map_or(Decoded::Unchanged, Decoded::Str),
        ));
    }
    if bytes.get(start) != Some(&b'#') {
        return None;
    }
    // &\#([0-9]+);  then  &\#[xX]([0-9A-Fa-f]+);
    let (digits_from, radix) = match bytes.get(start + 1) {
        Some(b'x' | b'X') => (start + 2, 16),
        _ => (start + 1, 10),
    };
    let accept: fn(u8) -> bool = if radix == 16 {
        |b| b.is_ascii_hexdigit()
    } else {
        |b| b.is_ascii_digit()
    };
    let semi = run(digits_from, accept)?;
    // PHP's intval()/hexdec() saturate or turn into floats; either way the value is beyond Unicode.
    let code = u32::from_str_radix(&text[digits_from..semi], radix).unwrap_or(u32::MAX);
    Some((
        semi + 1,
        Decoded::Char(valid_char(code).unwrap_or('\u{FFFD}')),
    ))
}

/// `Sanitizer::validateCodepoint()`.
fn valid_char(code: u32) -> Option<char> {
    let valid = matches!(code, 0x09 | 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    valid.then(|| char::from_u32(code)).flatten()
}

/// `Sanitizer::decodeEntity()` for a name including its `;`.
fn entity(name: &str) -> Option<&'static str> {
    let lookup = |table: &'static [(&'static str, &'static str)], key: &str| {
        table
            .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()))
            .ok()
            .map(|i| table[i].1)
    };
    let name = lookup(ALIASES, name).unwrap_or(name);
    lookup(ENTITIES, name)
}

#[cfg(test)]
mod tests {
    use super::super::php_oracle;
    use super::*;

    #[test]
    fn decodes_like_mediawiki() {
        let mut inputs: Vec<String> = [
            "plain",
            "a&amp;b &lt;x&gt; &quot;q&quot; &apos; &nbsp;|",
            "&#65;&#x42;&#X43;&#0065; &#0; &#13; &#10; &#9; &#12; &#127; &#128; &#159; &#160;",
            "&#xD800; &#xDFFF; &#xFFFE; &#xFFFF; &#x10FFFF; &#x110000; &#99999999999999999999; &#xFFFFFFFFFFFF;",
            "&foo; &amp &; &#; &#x; &#xG; &&amp; &amp;amp; &#65 &AMP; &NewLine;&Tab;",
            "&רלמ; &رلم; &rlm; &é; &ab\u{e9}; &a-b; &a_b;",
            "&nGt; &NotEqualTilde; &acE; &fjlig; &ThickSpace;",
            "[[Foo]] &amp;#38; &#38;amp; trailing &",
            "&#x1F600; &#128512; &lt&gt; &ampx;",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        inputs.extend(ENTITIES.iter().map(|(name, _)| format!("&{name}")));
        let expected = php_oracle::decode_char_references(&inputs);
        for (input, want) in inputs.iter().zip(expected) {
            assert_eq!(decode(input), want, "{input:?}");
        }
    }

    #[test]
    fn long_input_stays_linear() {
        let text = "&amp;".repeat(200_000) + &"&".repeat(200_000) + &"a".repeat(200_000);
        let out = decode(&text);
        assert_eq!(out.len(), 200_000 + 200_000 + 200_000);
    }
}
