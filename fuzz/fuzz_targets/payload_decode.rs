//! Payload decoding on arbitrary bytes: never panics; a decoded event survives encode + decode unchanged
//! and renders well-formed in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rcemit::context::FeedContext;
use rcemit::format::Format;
use rcemit::payload;
use rcemit_fuzz::check;

fuzz_target!(|data: &[u8]| {
    match payload::decode(data) {
        Ok(event) => {
            let again = payload::decode(&payload::encode(&event));
            assert_eq!(
                again.as_ref(),
                Ok(&event),
                "encode + decode changed the event"
            );
            let ctx = FeedContext {
                canonical_server: "http://localhost".into(),
                special_namespace: "Special".into(),
                use_rc_patrol: true,
                ..FeedContext::default()
            };
            for format in Format::ALL {
                if let Some(text) = format.render(&event, &ctx) {
                    check::unframed(format, &text);
                }
            }
        }
        Err(error) => {
            assert!(!error.reason().is_empty());
            assert!(!error.to_string().is_empty());
        }
    }
});
