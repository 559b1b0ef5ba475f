//! Shared by the benchmarks: a production-like feed context and changes (realistic sizes and text, unlike the
//! test wiki's samples in `rcemit::format::samples`), so that every benchmark measures the same inputs.
#![allow(dead_code)] // each benchmark uses a different subset

use rcemit::context::{FeedContext, PacketLayout, XmlrcProps};
use rcemit::event::{ChangeType, Event, LogInfo, Patrolled};

/// A feed context like a production wiki's.
pub fn context() -> FeedContext {
    FeedContext {
        canonical_server: "https://en.wikipedia.org".into(),
        server_name: "en.wikipedia.org".into(),
        script_path: "/w".into(),
        script: "/w/index.php".into(),
        article_path: "/wiki/$1".into(),
        main_page_at_root: None,
        packet_layout: PacketLayout::Mw141,
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
pub fn edit() -> Event {
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
        notify_url: None,
        title_url: None,
        part_failed: false,
        log: None,
        tags: vec!["mw-replace".into(), "visualeditor".into()],
    }
}

/// A protection log entry with API and raw params.
pub fn log() -> Event {
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
