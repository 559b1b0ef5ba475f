//! include/rcemit.h is generated from src/ffi by cbindgen (pinned in Cargo.toml, configured by cbindgen.toml)
//! and checked in. This test fails when the checked-in header differs from what the code declares;
//! `RCEMIT_UPDATE_HEADER=1 cargo test --test header` rewrites it.

use std::path::Path;

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

#[test]
fn checked_in_header_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/rcemit.h");
    let generated = generate();
    if std::env::var_os("RCEMIT_UPDATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/rcemit.h is out of date; run RCEMIT_UPDATE_HEADER=1 cargo test --test header"
    );
}

#[test]
fn header_is_declarations_only() {
    let header = generate();
    for line in header.lines() {
        assert!(
            !line.trim_start().starts_with('#'),
            "PHP's FFI parser refuses preprocessor lines: {line}"
        );
    }
    for name in [
        "rcemit_feed_open",
        "rcemit_feed_emit",
        "rcemit_feed_queue",
        "rcemit_wake",
        "rcemit_once",
        "rcemit_stats_read",
        "rcemit_flush",
        "rcemit_shutdown",
        "rcemit_init",
        "rcemit_version",
        "rcemit_payload_version",
        "rcemit_result_message",
        "rcemit_last_error",
        "RCEMIT_RESULT_OK = 7100",
        "typedef struct rcemit_stats",
    ] {
        assert!(header.contains(name), "header lacks {name}");
    }
}
