//! include/rcemit.h is generated from src/ffi by cbindgen (pinned in Cargo.toml, configured by cbindgen.toml)
//! and checked in, and so is include/rcemit-ffi.h, the same declarations without comments (what PHP loads).
//! This test fails when a checked-in header differs from what the code declares;
//! `RCEMIT_UPDATE_HEADER=1 cargo test --test header` rewrites both.

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

/// include/rcemit-ffi.h, the header PHP loads by default: rcemit.h without its comments and blank lines.
/// FFI::cdef() lexes the whole text on every request that loads the library; the comments are 80% of it.
fn declarations_only(header: &str) -> String {
    let mut text = String::new();
    let mut rest = header;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    text.push_str(rest);
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// Compares a checked-in generated file with `generated` (rewriting it first under RCEMIT_UPDATE_HEADER=1).
fn check_generated(relative: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("RCEMIT_UPDATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{relative} is out of date; run RCEMIT_UPDATE_HEADER=1 cargo test --test header"
    );
}

#[test]
fn checked_in_header_matches_the_code() {
    check_generated("include/rcemit.h", &generate());
}

#[test]
fn checked_in_ffi_header_is_the_header_without_comments() {
    let ffi = declarations_only(&generate());
    assert!(!ffi.contains("/*") && !ffi.contains("*/"));
    check_generated("include/rcemit-ffi.h", &ffi);
}

#[test]
fn header_is_declarations_only() {
    let full = generate();
    let stripped = declarations_only(&full);
    for header in [&full, &stripped] {
        check_declarations(header);
    }
}

fn check_declarations(header: &str) {
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
