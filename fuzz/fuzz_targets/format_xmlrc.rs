//! The xmlrc formatter on arbitrary events and feeds: well-formed output, and a datagram within the feed's
//! limit after the size policy (or a refused event).
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rcemit::format::Format;
use rcemit_fuzz::{check, gen};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(feed), Ok(event)) = (gen::feed(&mut u, Format::Xmlrc), gen::event(&mut u)) else {
        return;
    };
    check::feed_and_event(&feed, &event);
});
