//! PHP's view of a value that PHP's `json_encode` produced: the array model the API result printer works on.
//!
//! PHP arrays are ordered maps whose keys are integers or strings, and `json_encode` writes any array that is
//! not a plain list as a JSON object, turning integer keys into strings (`{"0":"a","_element":"f"}`). Reading
//! it back as PHP does (`json_decode( ..., true )`) turns canonical decimal keys into integers again, which
//! matters to the printer: integer keys become indexed child elements, string keys attributes or children.

use std::borrow::Cow;

use serde_json::Value as Json;

/// An array key as PHP stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Key<'a> {
    Int(i64),
    Str(Cow<'a, str>),
}

impl<'a> Key<'a> {
    /// The key PHP uses for the string `s`: canonical decimal integers in range become integer keys.
    pub fn parse(s: impl Into<Cow<'a, str>>) -> Self {
        let s = s.into();
        let bytes = s.as_bytes();
        let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
        let canonical = match digits {
            [b'0'] => bytes.len() == 1, // "0" but not "-0"
            [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        match canonical.then(|| s.parse::<i64>().ok()).flatten() {
            Some(n) => Key::Int(n),
            None => Key::Str(s),
        }
    }

    /// True for string keys starting with `_` (`ApiResult::isMetadataKey`).
    pub fn is_metadata(&self) -> bool {
        matches!(self, Key::Str(s) if s.starts_with('_'))
    }

    /// The key as a string value (what `$arr[$key] = $k` stores when a key becomes a value).
    pub fn to_value(&self) -> Value<'a> {
        match self {
            Key::Int(n) => Value::Int(*n),
            Key::Str(s) => Value::Str(s.clone()),
        }
    }

    /// True when this is the string key `name`.
    pub fn is(&self, name: &str) -> bool {
        matches!(self, Key::Str(s) if s == name)
    }
}

/// A PHP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Array<'a>),
}

impl<'a> Value<'a> {
    /// The PHP value `json_encode` wrote as `json`: what `json_decode( $json, true )` returns, except `-0`.
    pub fn from_json(json: &'a Json) -> Self {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            // json_encode writes PHP ints as integer literals and floats with a '.' or an exponent (which
            // as_i64 rejects), except integral floats, which it writes as digits without
            // JSON_PRESERVE_ZERO_FRACTION: `-0` is then the float -0.0 (no int prints so), which PHP prints as
            // "-0" where json_decode would give int 0. json_decode reads integer literals beyond i64 as floats.
            Json::Number(n) if n.as_str() == "-0" => Value::Float(-0.0),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                // Number text always parses; overflow gives infinity, as in json_decode.
                None => Value::Float(n.as_str().parse().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Value::Str(Cow::Borrowed(s)),
            Json::Array(items) => Value::Array(Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Key::Int(i as i64), Value::from_json(v)))
                    .collect(),
            )),
            Json::Object(map) => Value::Array(Array(
                map.iter()
                    .map(|(k, v)| (Key::parse(k.as_str()), Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    pub fn str(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }

    /// The string PHP makes of a scalar (`(string)$v`; floats with `precision` = 14). Arrays and null give "".
    pub fn to_php_string(&self) -> Cow<'a, str> {
        match self {
            Value::Null | Value::Bool(false) | Value::Array(_) => Cow::Borrowed(""),
            Value::Bool(true) => Cow::Borrowed("1"),
            Value::Int(n) => Cow::Owned(n.to_string()),
            Value::Float(f) => Cow::Owned(php_float_string(*f)),
            Value::Str(s) => s.clone(),
        }
    }

    /// PHP truthiness, as `empty()` negates it.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !(s.is_empty() || s == "0"),
            Value::Array(a) => !a.0.is_empty(),
        }
    }

    /// The value used as an array key (`$arr[$value]`), for the scalars the printer uses that way.
    pub fn to_key(&self) -> Key<'a> {
        match self {
            Value::Int(n) => Key::Int(*n),
            Value::Bool(b) => Key::Int(i64::from(*b)),
            other => Key::parse(other.to_php_string()),
        }
    }
}

/// A PHP array: ordered, keys unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Array<'a>(pub Vec<(Key<'a>, Value<'a>)>);

impl<'a> Array<'a> {
    /// `$arr[$name] ?? null` for a string key.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.0
            .iter()
            .find(|(k, _)| k.is(name))
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Value::Null))
    }

    /// `$arr[$key] = $value`: replaces in place, or appends.
    pub fn set(&mut self, key: Key<'a>, value: Value<'a>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// `$arr += [ $key => $value ]`: only adds a missing key.
    pub fn add(&mut self, key: Key<'a>, value: Value<'a>) {
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, value));
        }
    }
}

/// PHP's `(string)$float` with the default `precision` of 14 (`zend_gcvt( $f, 14, '.', 'E' )`): 14 significant
/// digits, trailing zeros dropped, exponent form below 1e-4 and from 1e15 on (`1.0E+25`, `1.0E-5`).
pub fn php_float_string(f: f64) -> String {
    if f.is_nan() {
        return "NAN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "INF" } else { "-INF" }.to_owned();
    }
    const PRECISION: i32 = 14;
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0");
    }
    // "d.ddddddddddddde<exp>", correctly rounded to 14 significant digits.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("exponent format");
    let exp: i32 = exp.parse().expect("exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let decpt = exp + 1; // position of the decimal point relative to the digits
    let mut out = String::from(sign);
    if !(-3..=PRECISION).contains(&decpt) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let e = decpt - 1;
        out.push_str(&format!(
            "{first}.{rest}E{}{}",
            if e < 0 { '-' } else { '+' },
            e.abs()
        ));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
        out.push_str(digits);
    } else {
        let decpt = decpt as usize;
        if digits.len() <= decpt {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', decpt - digits.len()));
        } else {
            out.push_str(&digits[..decpt]);
            out.push('.');
            out.push_str(&digits[decpt..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::php_oracle;
    use super::*;

    #[test]
    fn keys_follow_php_integer_key_rules() {
        for (s, int) in [
            ("0", Some(0)),
            ("12", Some(12)),
            ("-7", Some(-7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-0", None),
            ("012", None),
            ("1.5", None),
            (" 1", None),
            ("9223372036854775808", None),
            ("", None),
            ("-", None),
        ] {
            let key = Key::parse(s);
            match int {
                Some(n) => assert_eq!(key, Key::Int(n), "{s:?}"),
                None => assert_eq!(key, Key::Str(s.into()), "{s:?}"),
            }
        }
    }

    #[test]
    fn floats_print_like_php() {
        let samples = [
            1.5,
            1e25,
            0.00001,
            0.0001,
            1e14,
            1e15,
            1e13,
            -3.0,
            0.1 + 0.2,
            123456789012345.6,
            1.0 / 3.0,
            -0.0,
            2.5e-300,
            1.7976931348623157e308,
            99999999999999.99,
            0.000123456789012345,
            5e-324,
            0.5,
            1234.5678,
        ];
        let literals: Vec<String> = samples.iter().map(|f| format!("{f:e}")).collect();
        let expected = php_oracle::float_strings(&literals);
        for (f, want) in samples.iter().zip(expected) {
            assert_eq!(php_float_string(*f), want, "{f:e}");
        }
    }

    /// Number text as the PHP side's `json_encode` writes it (no `JSON_PRESERVE_ZERO_FRACTION`), read back
    /// and printed, against PHP's `(string)` of the float the text stands for.
    #[test]
    fn json_floats_print_like_php() {
        let literals = [
            "1.5", "-0", "-0.0", "10.0", "1.0e+14", "1.0e+25", "0.1", "1.0e-5", "0.0001",
            "5.0e-324", "1e400",
        ];
        let expected = php_oracle::float_strings(&literals.map(String::from));
        for (literal, want) in literals.iter().zip(expected) {
            let json: Json = serde_json::from_str(literal).unwrap();
            let value = Value::from_json(&json);
            assert!(matches!(value, Value::Float(_)), "{literal}: {value:?}");
            assert_eq!(value.to_php_string(), want, "{literal}");
        }
    }
}
