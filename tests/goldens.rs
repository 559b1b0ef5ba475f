//! Golden tests: every formatter against what MediaWiki 1.39 and 1.43 themselves produced.
//!
//! `tests/goldens/cases-<version>.json`, one per supported MediaWiki version, is written only by
//! `scripts/regen-goldens.sh` (run on the host for 1.39, in the trixie chroot for 1.43): for each recorded change it holds
//! the payload PHP built (php/src/PayloadBuilder.php) and the datagram each of core's feeds sent (json, xml,
//! irc, with and without feed options and prefix framing), plus api.php's `<rc>` element with `wikiid`
//! appended (xmlrc). This test decodes each payload, renders it in every feed's format with that run's feed
//! context, frames it like core's UDPTransport and compares byte for byte. It reports every mismatch and
//! fails at the end with a count. `RCEMIT_GOLDEN_FEED=irc` (a substring) limits the comparison to matching
//! feed names.

use std::path::Path;

use base64::Engine;
use rcemit::context::{FeedContext, PacketLayout, XmlrcProps};
use rcemit::feed::framing::frame;
use rcemit::format::Format;
use rcemit::payload;
use serde_json::Value;

/// The MediaWiki versions whose goldens must be present and pass.
const VERSIONS: [&str; 2] = ["1.39", "1.43"];

/// Each version's golden file.
fn goldens() -> Vec<(&'static str, Value)> {
    VERSIONS
        .iter()
        .map(|version| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/goldens/cases-{version}.json"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            (*version, value)
        })
        .collect()
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("valid base64 in the goldens")
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("cases.json: {key} is not a string"))
}

/// The packet layout of a MediaWiki version ("1.39.17", "1.43.9"), as RcEmitFeed chooses it.
fn packet_layout(version: &str) -> PacketLayout {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    match (parts.next(), parts.next()) {
        (Some(1), Some(minor)) if minor < 41 => PacketLayout::Mw139,
        _ => PacketLayout::Mw141,
    }
}

/// The feed context a run's wiki had, with one feed's options applied.
fn context(run: &Value, feed: &Value) -> FeedContext {
    let ctx = &run["context"];
    let options = &feed["options"];
    FeedContext {
        canonical_server: str_of(ctx, "canonical_server").to_owned(),
        server_name: str_of(ctx, "server_name").to_owned(),
        script_path: str_of(ctx, "script_path").to_owned(),
        script: str_of(ctx, "script").to_owned(),
        // Recorded since MediaWiki 1.41's goldens, whose packets carry title_url.
        article_path: ctx["article_path"].as_str().unwrap_or_default().to_owned(),
        main_page_at_root: None,
        packet_layout: packet_layout(str_of(ctx, "mediawiki_version")),
        wiki_id: str_of(ctx, "wiki_id").to_owned(),
        special_namespace: str_of(ctx, "special_namespace").to_owned(),
        use_rc_patrol: ctx["use_rc_patrol"].as_bool().expect("use_rc_patrol"),
        use_np_patrol: ctx["use_np_patrol"].as_bool().expect("use_np_patrol"),
        irc_interwiki_prefix: feed["irc_interwiki_prefix"].as_str().map(str::to_owned),
        channel: options["channel"].as_str().map(str::to_owned),
        xmlrc_props: options["rcprop"]
            .as_str()
            .map(|list| XmlrcProps::parse(list).expect("rcprop list"))
            .unwrap_or_default(),
    }
}

/// Every (run, case) of a golden file.
fn cases(goldens: &Value) -> impl Iterator<Item = (&Value, &Value)> {
    goldens["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .flat_map(|run| {
            run["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .map(move |case| (run, case))
        })
}

/// What MediaWiki sent: `None` when the feed sent nothing for this change.
fn expected(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.as_bytes().to_vec()),
        Value::Object(map) => Some(b64(map["base64"].as_str().expect("base64 string"))),
        other => panic!("cases.json: unexpected expected value {other}"),
    }
}

fn escaped(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "(nothing)".to_owned(),
        Some(bytes) => format!("\"{}\"", bytes.escape_ascii()),
    }
}

#[test]
fn every_golden_payload_decodes() {
    let mut failures = Vec::new();
    for (version, goldens) in goldens() {
        for (run, case) in cases(&goldens) {
            let bytes = b64(str_of(case, "payload_b64"));
            match payload::decode(&bytes) {
                Ok(event) => assert_eq!(event.rc_id, case["rc_id"].as_i64().expect("rc_id")),
                Err(e) => failures.push(format!(
                    "{version} / {} / {}: {e}",
                    str_of(run, "name"),
                    str_of(case, "name")
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "payloads that do not decode:\n{}",
        failures.join("\n")
    );
}

#[test]
fn formatters_match_mediawiki() {
    let only = std::env::var("RCEMIT_GOLDEN_FEED").ok();

    let (mut compared, mut mismatches) = (0usize, 0usize);
    let mut per_feed: Vec<(String, usize, usize)> = Vec::new();
    let all = goldens();
    for run in all
        .iter()
        .flat_map(|(_, g)| g["runs"].as_array().expect("runs"))
    {
        let run_name = &format!(
            "{} {}",
            str_of(&run["context"], "mediawiki_version"),
            str_of(run, "name")
        );
        for feed in run["feeds"].as_array().expect("feeds") {
            let feed_name = str_of(feed, "name");
            if only.as_deref().is_some_and(|f| !feed_name.contains(f)) {
                continue;
            }
            let format = Format::parse(str_of(feed, "format")).expect("known format");
            let ctx = context(run, feed);
            let prefix = feed["options"]["prefix"].as_str().map(str::as_bytes);
            let (mut ok, mut total) = (0usize, 0usize);
            for case in run["cases"].as_array().expect("cases") {
                let want = expected(&case["expected"][feed_name]);
                if format == Format::Xmlrc && want.is_none() {
                    // No recentchanges row (e.g. the patrol log is sent to feeds only): api.php has no oracle.
                    continue;
                }
                let event =
                    payload::decode(&b64(str_of(case, "payload_b64"))).expect("payload decodes");
                let got = format.render(&event, &ctx).map(|text| frame(prefix, &text));
                total += 1;
                compared += 1;
                if got == want {
                    ok += 1;
                } else {
                    mismatches += 1;
                    println!(
                        "MISMATCH {run_name} / {} (rc {}) / {feed_name}\n  expected: {}\n  actual:   {}",
                        str_of(case, "name"),
                        case["rc_id"],
                        escaped(want.as_deref()),
                        escaped(got.as_deref()),
                    );
                }
            }
            per_feed.push((format!("{run_name}/{feed_name}"), ok, total));
        }
    }

    println!("\ngolden results (matching / compared):");
    for (name, ok, total) in &per_feed {
        println!("  {name:<36} {ok:>3} / {total}");
    }
    assert!(compared > 0, "no golden case was compared");
    assert_eq!(
        mismatches, 0,
        "{mismatches} of {compared} golden comparisons differ from MediaWiki (see output above)"
    );
}
