//! PHP's `unserialize()` for what MediaWiki stores in `rc_params`: arrays of null, booleans, integers, floats,
//! strings and arrays, read into the JSON PHP's `json_encode()` (with `JSON_INVALID_UTF8_SUBSTITUTE`) gives for
//! the same value, so the request no longer pays for unserialising and encoding (payload flag 4096). Objects,
//! references and enums are not read (`None`); PayloadBuilder never sends params that contain them.

use serde_json::{Map, Number, Value as Json};

/// Nesting deeper than this is refused (PHP has no such limit, MediaWiki's params are two or three deep).
const MAX_DEPTH: usize = 64;

/// The value serialised at the start of `bytes` (trailing bytes are ignored, as PHP does); `None` where PHP's
/// `unserialize()` fails or the value holds something this reader does not read.
pub fn unserialize(bytes: &[u8]) -> Option<Json> {
    Reader { rest: bytes }.value(0)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn eat(&mut self, byte: u8) -> Option<()> {
        let (&first, tail) = self.rest.split_first()?;
        (first == byte).then(|| self.rest = tail)
    }

    /// The bytes up to (not including) `end`, which is consumed.
    fn until(&mut self, end: u8) -> Option<&'a [u8]> {
        let at = self.rest.iter().position(|&b| b == end)?;
        let (head, tail) = self.rest.split_at(at);
        self.rest = &tail[1..];
        Some(head)
    }

    /// An integer as PHP writes it: optional sign, decimal digits.
    fn int(&mut self, end: u8) -> Option<i64> {
        let text = self.until(end)?;
        let digits = text
            .strip_prefix(b"-")
            .or_else(|| text.strip_prefix(b"+"))
            .unwrap_or(text);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(text).ok()?.parse().ok()
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        let (&tag, tail) = self.rest.split_first()?;
        self.rest = tail;
        if tag == b'N' {
            self.eat(b';')?;
            return Some(Json::Null);
        }
        self.eat(b':')?;
        match tag {
            b'b' => match self.until(b';')? {
                b"0" => Some(Json::Bool(false)),
                b"1" => Some(Json::Bool(true)),
                _ => None,
            },
            b'i' => Some(Json::Number(self.int(b';')?.into())),
            b'd' => {
                let text = std::str::from_utf8(self.until(b';')?).ok()?;
                // INF and NAN have no JSON form (json_encode fails on them): left to PHP.
                let f: f64 = text.parse().ok().filter(|f: &f64| f.is_finite())?;
                Number::from_f64(f).map(Json::Number)
            }
            b's' => self
                .string()
                .map(|s| Json::String(String::from_utf8_lossy(s).into_owned())),
            b'a' if depth < MAX_DEPTH => self.array(depth),
            _ => None,
        }
    }

    /// `s:<len>:"<len bytes>";` after the `s:`.
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.int(b':')?).ok()?;
        self.eat(b'"')?;
        if self.rest.len() < len {
            return None;
        }
        let (bytes, tail) = self.rest.split_at(len);
        self.rest = tail;
        self.eat(b'"')?;
        self.eat(b';')?;
        Some(bytes)
    }

    /// `a:<n>:{<key><value>...}` after the `a:`; a list (keys 0, 1, ... in order) becomes a JSON array.
    fn array(&mut self, depth: usize) -> Option<Json> {
        let count = usize::try_from(self.int(b':')?).ok()?;
        self.eat(b'{')?;
        let mut map = Map::new();
        for _ in 0..count {
            let key = match self.rest.split_first()? {
                (b'i', tail) => {
                    self.rest = tail;
                    self.eat(b':')?;
                    self.int(b';')?.to_string()
                }
                (b's', tail) => {
                    self.rest = tail;
                    self.eat(b':')?;
                    let key = String::from_utf8_lossy(self.string()?).into_owned();
                    // PHP stores a canonical decimal string key as that integer.
                    match key.parse::<i64>() {
                        Ok(n) if n.to_string() == key => n.to_string(),
                        _ => key,
                    }
                }
                _ => return None,
            };
            let value = self.value(depth + 1)?;
            map.insert(key, value);
        }
        self.eat(b'}')?;
        if map.keys().enumerate().all(|(i, k)| *k == i.to_string()) {
            return Some(Json::Array(map.into_iter().map(|(_, v)| v).collect()));
        }
        Some(Json::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_what_mediawiki_stores() {
        // serialize() of a block's and a rights change's params (MediaWiki 1.39).
        let block = br#"a:4:{s:11:"5::duration";s:5:"1 day";s:8:"6::flags";s:19:"nocreate,nousertalk";s:8:"sitewide";b:1;s:15:"7::restrictions";a:2:{s:5:"pages";a:1:{i:0;s:1:"A";}s:10:"namespaces";a:1:{i:0;i:1;}}}"#;
        assert_eq!(
            unserialize(block),
            Some(
                json!({"5::duration": "1 day", "6::flags": "nocreate,nousertalk", "sitewide": true,
                "7::restrictions": {"pages": ["A"], "namespaces": [1]}})
            )
        );
        let rights = br#"a:2:{s:12:"4::oldgroups";a:0:{}s:11:"newmetadata";a:1:{i:0;a:1:{s:6:"expiry";N;}}}"#;
        assert_eq!(
            unserialize(rights),
            Some(json!({"4::oldgroups": [], "newmetadata": [{"expiry": null}]}))
        );
        assert_eq!(
            unserialize(b"a:2:{i:1;d:0.5;i:0;i:-3;}"),
            Some(json!({"1": 0.5, "0": -3}))
        );
        assert_eq!(
            unserialize(b"a:1:{s:1:\"0\";s:2:\"\xff\xfe\";}"),
            Some(json!(["\u{fffd}\u{fffd}"]))
        );
    }

    #[test]
    fn reads_back_what_php_serializes() {
        use crate::format::php_oracle::{run, Mode};
        let values = vec![
            json!({"4::target": "Zürich & <Bern>", "5::noredir": "0", "associated_rev_id": 12}),
            json!({"details": [{"type": "edit", "expiry": "infinity", "cascade": false}], "n": null}),
            json!([1, -2, 3.5, 0.1, 10.0, -0.25, true, false, null, "", "a\"b;c}", "\n\t"]),
            json!({"3": "x", "0": "y", "-1": [], "01": {}, "9223372036854775807": [[["deep"]]]}),
            json!({"☃": {"key with \"quotes\"": "日本語"}}),
        ];
        let serialized = run(Mode::Serialize, &values);
        // The JSON PHP's json_encode gives for the same values (floats stay floats).
        let canonical = run(Mode::Canonical, &values);
        for ((value, s), c) in values.iter().zip(serialized).zip(canonical) {
            let (s, c) = (s.expect("serialize"), c.expect("json_encode"));
            let ours = unserialize(&s)
                .unwrap_or_else(|| panic!("{value}: {}", String::from_utf8_lossy(&s)));
            let php: Json = serde_json::from_slice(&c).unwrap();
            assert_eq!(
                ours.to_string(),
                php.to_string(),
                "{}",
                String::from_utf8_lossy(&s)
            );
        }
    }

    #[test]
    fn refuses_what_php_refuses_or_this_reader_does_not_read() {
        for bad in [
            &b"Target\nnoredir"[..],
            b"a:1:{s:1:\"a\";O:8:\"stdClass\":0:{}}",
            b"a:2:{i:0;i:1;i:1;R:2;}",
            b"a:1:{i:0;d:INF;}",
            b"s:5:\"abc\";",
            b"a:1:{i:0;i:1;",
            b"",
        ] {
            assert_eq!(unserialize(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "a:1:{i:0;".repeat(100) + "N;" + &"}".repeat(100);
        assert_eq!(unserialize(deep.as_bytes()), None);
    }
}
