//! rcemit_feed_open() on arbitrary bytes and on arbitrary JSON objects of known keys: it answers OK,
//! INVALID_CONFIG or TOO_MANY_FEEDS (never PANIC or anything else), and opens exactly what Feed::from_json
//! accepts.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rcemit::feed::Feed;
use rcemit::ffi::{rcemit_feed_open, rcemit_result};
use rcemit::testing::config_keys::feed_config_keys;
use rcemit_fuzz::gen;
use serde_json::{Map, Value};

fn config(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=8)? {
        let key = match u.ratio(7, 8)? {
            true => u.choose(feed_config_keys())?.to_string(),
            false => gen::text(u)?,
        };
        let value = match u.int_in_range(0..=6)? {
            0 => Value::Null,
            1 => Value::Bool(u.arbitrary()?),
            2 => Value::from(u.arbitrary::<i64>()?),
            3 => Value::from(u.int_in_range(0..=70_000u32)?),
            4 => Value::from(format!("udp://{}", gen::text(u)?)),
            5 => Value::from(*u.choose(&["xmlrc", "json", "xml", "irc", "user|title", "bogus"])?),
            _ => Value::from(gen::text(u)?),
        };
        map.insert(key, value);
    }
    Ok(serde_json::to_vec(&Value::Object(map)).expect("serialises"))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let bytes = match u.arbitrary::<bool>() {
        Ok(true) => match config(&mut u) {
            Ok(bytes) => bytes,
            Err(_) => return,
        },
        _ => u.take_rest().to_vec(),
    };
    let mut handle = 0u32;
    // SAFETY: a valid buffer and a valid output.
    let code = unsafe { rcemit_feed_open(bytes.as_ptr().cast(), bytes.len(), &mut handle) };
    let parsed = Feed::from_json(&bytes);
    match code {
        rcemit_result::Ok => {
            assert!(parsed.is_ok());
            assert!((1..=256).contains(&handle));
        }
        rcemit_result::InvalidConfig => assert!(parsed.is_err()),
        rcemit_result::TooManyFeeds => assert!(parsed.is_ok()),
        other => panic!("rcemit_feed_open answered {other:?}"),
    }
});
