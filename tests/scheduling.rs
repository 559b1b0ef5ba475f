//! The sender thread runs in SCHED_BATCH, so waking it never preempts the request thread that queued the event.

mod common;

use std::time::Duration;

use common::{config, edit, listener, uri};
use rcemit::feed::Feed;
use rcemit::{payload, sender};

#[cfg(target_os = "linux")]
#[test]
fn the_sender_thread_runs_as_sched_batch() {
    let socket = listener("127.0.0.1");
    let feed = Feed::from_json(config(&uri(&socket, None), "json").to_string().as_bytes()).unwrap();
    let feed = sender::open_feed(feed).unwrap();
    sender::emit(feed, &payload::encode(&edit())).unwrap();
    assert!(sender::flush(Duration::from_secs(5)));

    let mut policies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if name.trim_end() == "rcemit-sender" {
            let tid: libc::pid_t = path.file_name().unwrap().to_str().unwrap().parse().unwrap();
            // SAFETY: plain query of a thread of this process.
            policies.push(unsafe { libc::sched_getscheduler(tid) });
        }
    }
    assert_eq!(
        policies,
        vec![libc::SCHED_BATCH],
        "one sender thread, in SCHED_BATCH"
    );
}
