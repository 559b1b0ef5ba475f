//! The keys a feed configuration accepts, read from the derived deserializer itself (so the fuzz target that
//! builds configurations from them can never fall behind `feed::Config`).

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::forward_to_deserialize_any;

use crate::feed::Config;

/// A deserializer that only records the field names a struct asks for.
struct FieldNames(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("field names recorded"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Every key `Feed::from_json` accepts, in declaration order.
pub fn feed_config_keys() -> &'static [&'static str] {
    let mut names = FieldNames(&[]);
    let _ = Config::deserialize(&mut names);
    names.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_is_listed() {
        let keys = super::feed_config_keys();
        assert_eq!(keys.len(), 17);
        assert!(keys.contains(&"uri") && keys.contains(&"max_datagram"));
    }
}
