//! Sample events of every kind, on a wiki like the test wiki the goldens come from: the one definition the
//! formatters' unit tests, the integration tests (`tests/`) and their variants build on.

use serde_json::Value;

use crate::context::FeedContext;
use crate::event::{ChangeType, Event, LogInfo, Patrolled};

/// A wiki like the test wiki the goldens come from.
pub fn context() -> FeedContext {
    FeedContext {
        canonical_server: "http://localhost:8080".into(),
        server_name: "localhost".into(),
        script_path: "/w".into(),
        script: "/w/index.php".into(),
        wiki_id: "rcemit_test".into(),
        special_namespace: "Special".into(),
        ..FeedContext::default()
    }
}

/// An edit by a registered user.
pub fn edit() -> Event {
    Event {
        rc_id: 3,
        change_type: ChangeType::Edit,
        namespace: 0,
        title: "Test Page".into(),
        page_id: 2,
        this_oldid: 3,
        last_oldid: 2,
        user: "Admin".into(),
        user_id: 1,
        bot: true,
        minor: true,
        redirect: false,
        patrolled: Patrolled::Autopatrolled,
        old_len: Some(36),
        new_len: Some(9),
        timestamp: 1_795_302_333,
        comment: "second".into(),
        parsed_comment: None,
        sha1: None,
        notify_url: None,
        title_url: None,
        part_failed: false,
        log: None,
        tags: vec!["mw-replace".into()],
    }
}

/// A page creation by an anonymous user.
pub fn new_page() -> Event {
    Event {
        change_type: ChangeType::New,
        last_oldid: 0,
        user: "127.0.0.1".into(),
        user_id: 0,
        bot: false,
        minor: false,
        patrolled: Patrolled::Unpatrolled,
        old_len: None,
        comment: "Created page with \"hello\"".into(),
        tags: Vec::new(),
        ..edit()
    }
}

/// A protection log entry; `params` is what the PHP side json_encodes as core's `log_params`.
pub fn log(params: Option<Value>) -> Event {
    Event {
        change_type: ChangeType::Log,
        namespace: 0,
        this_oldid: 0,
        last_oldid: 0,
        bot: false,
        minor: false,
        old_len: None,
        new_len: None,
        comment: "vandalism".into(),
        log: Some(LogInfo {
            id: 7,
            log_type: "protect".into(),
            action: "protect".into(),
            params_raw: params,
            params_api: None,
            action_comment:
                "protected \"[[Test Page]]\" ([Edit=Allow only administrators] (indefinite))".into(),
        }),
        tags: Vec::new(),
        ..edit()
    }
}

/// A patrol log entry core publishes to feeds without saving it to recentchanges: no rc_id (0).
pub fn unsaved_patrol() -> Event {
    let mut event = log(Some(
        serde_json::json!({ "curid": "3", "previd": "2", "auto": 0 }),
    ));
    event.rc_id = 0;
    if let Some(log) = &mut event.log {
        log.log_type = "patrol".into();
        log.action = "patrol".into();
    }
    event
}

/// Core's raw params of a protection (`rc_params` unserialised, key prefixes stripped).
pub fn protect_params() -> Value {
    serde_json::from_str(
        r#"{"description":"[edit=sysop] (indefinite)","cascade":false,"details":[{"type":"edit","level":"sysop","expiry":"infinity","cascade":false}]}"#,
    )
    .expect("valid JSON")
}

/// A categorisation change.
pub fn categorize() -> Event {
    Event {
        change_type: ChangeType::Categorize,
        namespace: 14,
        title: "Category:Things".into(),
        old_len: None,
        new_len: None,
        comment: "[[:Test Page]] added to category".into(),
        tags: Vec::new(),
        ..edit()
    }
}
