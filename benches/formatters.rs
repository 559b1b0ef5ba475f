//! Formatting throughput per format (DESIGN.md §7: at least 300,000 events/s per format on one core).
//! `cargo bench --bench formatters -- --warm-up-time 1 --measurement-time 3`
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so the figures mean
//! "on one core" even when the machine is busy with other work (preemption no longer counts; cache and
//! memory-bandwidth contention still do).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rcemit::context::{FeedContext, XmlrcProps};
use rcemit::event::{ChangeType, Event, LogInfo, Patrolled};
use rcemit::format::Format;

/// A feed context like a production wiki's.
fn context() -> FeedContext {
    FeedContext {
        canonical_server: "https://en.wikipedia.org".into(),
        server_name: "en.wikipedia.org".into(),
        script_path: "/w".into(),
        script: "/w/index.php".into(),
        wiki_id: "enwiki".into(),
        special_namespace: "Special".into(),
        use_rc_patrol: true,
        use_np_patrol: true,
        irc_interwiki_prefix: None,
        channel: None,
        xmlrc_props: XmlrcProps::default(),
    }
}

/// A typical edit: tags, a summary with markup and entities, non-ASCII text.
fn edit() -> Event {
    Event {
        rc_id: 1_234_567_890,
        change_type: ChangeType::Edit,
        namespace: 0,
        title: "Zürich Hauptbahnhof".into(),
        page_id: 123_456,
        this_oldid: 1_198_765_432,
        last_oldid: 1_198_765_000,
        user: "Example editor".into(),
        user_id: 4_242_424,
        bot: false,
        minor: true,
        redirect: false,
        patrolled: Patrolled::Unpatrolled,
        old_len: Some(48_211),
        new_len: Some(48_305),
        timestamp: 1_795_302_333,
        comment:
            "/* History */ fix link to [[Swiss Federal Railways]] &amp; add \"ref\" <ref>…</ref>"
                .into(),
        parsed_comment: None,
        sha1: None,
        log: None,
        tags: vec!["mw-replace".into(), "visualeditor".into()],
    }
}

/// A protection log entry with API and raw params.
fn log() -> Event {
    let api = r#"{"description":"[edit=sysop] (indefinite)","details":[{"type":"edit","level":"sysop","expiry":"infinite","cascade":false},{"type":"move","level":"sysop","expiry":"2026-11-28T23:34:36Z","cascade":false}],"_element":"param","_type":"assoc"}"#;
    let raw = r#"{"description":"[edit=sysop] (indefinite)","cascade":false,"details":[{"type":"edit","level":"sysop","expiry":"infinity","cascade":false},{"type":"move","level":"sysop","expiry":"20261128233436","cascade":false}]}"#;
    Event {
        change_type: ChangeType::Log,
        this_oldid: 0,
        last_oldid: 0,
        minor: false,
        old_len: None,
        new_len: None,
        comment: "Persistent vandalism".into(),
        log: Some(LogInfo {
            id: 987_654,
            log_type: "protect".into(),
            action: "protect".into(),
            params_raw: Some(serde_json::from_str(raw).expect("valid JSON")),
            params_api: Some(serde_json::from_str(api).expect("valid JSON")),
            action_comment: "protected \"[[Zürich Hauptbahnhof [edit=sysop] (indefinite)]]\": Persistent vandalism"
                .into(),
        }),
        tags: Vec::new(),
        ..edit()
    }
}

/// CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn formatters(c: &mut Criterion) {
    let ctx = context();
    let mut group = c.benchmark_group("format");
    group.throughput(Throughput::Elements(1));
    for (kind, event) in [("edit", edit()), ("log", log())] {
        for format in Format::ALL {
            group.bench_function(format!("{}/{kind}", format.name()), |b| {
                b.iter_custom(|iters| {
                    let start = thread_cpu_time();
                    for _ in 0..iters {
                        black_box(format.render(black_box(&event), black_box(&ctx)));
                    }
                    thread_cpu_time() - start
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, formatters);
criterion_main!(benches);
