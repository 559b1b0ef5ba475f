//! A process that exits right after queueing events still delivers them: the library's atexit handler
//! drains the queue (bounded), as a PHP maintenance script or job runner needs. The test re-runs its own
//! binary as the short-lived child.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{config, edit, listener, recv, uri};
use rcemit::feed::Feed;
use rcemit::{payload, sender};

const CHILD_URI: &str = "RCEMIT_TEST_EXIT_CHILD_URI";
const EVENTS: usize = 100;
const TEST_NAME: &str = "a_process_exiting_right_after_emitting_delivers_everything";

fn child(uri: &str) -> ! {
    let feed = Feed::from_json(config(uri, "json").to_string().as_bytes()).expect("feed config");
    let feed = sender::open_feed(feed).expect("feed slot");
    let bytes = payload::encode(&edit());
    for _ in 0..EVENTS {
        sender::emit(feed, &bytes).expect("queued");
    }
    // exit() right away, as a PHP CLI process does after its last change.
    std::process::exit(0)
}

#[test]
fn a_process_exiting_right_after_emitting_delivers_everything() {
    if let Ok(uri) = std::env::var(CHILD_URI) {
        child(&uri);
    }
    let socket = listener("127.0.0.1");
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--test-threads=1"])
        .env(CHILD_URI, uri(&socket, None))
        .spawn()
        .expect("spawn child");
    let mut received = 0;
    while received < EVENTS && recv(&socket).is_some() {
        received += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("child did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "child failed: {status}");
    assert_eq!(received, EVENTS, "datagrams lost at exit");
}
