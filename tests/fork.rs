//! fork(): a child of a process whose sender runs starts its own sender (fresh queue and counters) on its
//! first emit, and the parent's sender is unaffected. Its own test binary: fork() in a process running other
//! tests' threads would copy them mid-work.

mod common;

use std::time::{Duration, Instant};

use common::{config, edit, listener, recv, uri};
use rcemit::feed::Feed;
use rcemit::{payload, sender};

const FLUSH: Duration = Duration::from_secs(5);

fn emit_comment(feed: u32, comment: &str) {
    let mut event = edit();
    event.comment = comment.into();
    sender::emit(feed, &payload::encode(&event)).unwrap();
}

/// Waits for the child at most 10 s (then kills it); returns its exit status.
fn wait_bounded(pid: libc::pid_t) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    loop {
        // SAFETY: plain waitpid on our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            return if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
        }
        if Instant::now() > deadline {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return -2;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn child_starts_its_own_sender_and_both_deliver() {
    let socket = listener("127.0.0.1");
    let cfg = serde_json::to_vec(&config(&uri(&socket, None), "json")).unwrap();
    let feed = sender::open_feed(Feed::from_json(&cfg).unwrap()).unwrap();
    emit_comment(feed, "parent-before");
    assert!(sender::flush(FLUSH));

    // SAFETY: the child only emits, flushes, reads counters and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let fresh = sender::stats().enqueued == 0;
        emit_comment(feed, "child");
        let flushed = sender::flush(FLUSH);
        let stats = sender::stats();
        let ok = fresh
            && flushed
            && stats.enqueued == 1
            && stats.sent == 1
            && stats.sender_restarts == 0;
        // SAFETY: leave without running the parent's atexit handlers or test harness code.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    assert_eq!(wait_bounded(pid), 0, "the child's checks failed");

    emit_comment(feed, "parent-after");
    assert!(sender::flush(FLUSH));
    let stats = sender::stats();
    assert_eq!(stats.enqueued, 2, "the child's emit is not counted here");
    assert_eq!(stats.sent, 2);

    // The datagrams of both processes arrived, in order.
    for comment in ["parent-before", "child", "parent-after"] {
        let datagram = String::from_utf8(recv(&socket).expect("datagram")).unwrap();
        assert!(datagram.contains(comment), "{datagram} lacks {comment}");
    }
}
