//! The C ABI. Conventions (after rustls-ffi): every function is `rcemit_<noun>_<verb>` or `rcemit_<verb>`,
//! returns an [`rcemit_result`] (except the two version getters), takes byte buffers as a pointer and a
//! length, and has its outputs last, named `*_out`, written only on success. Input byte buffers are
//! `const char *` (bytes, not NUL-terminated C strings) rather than `const uint8_t *`: PHP's FFI passes a
//! PHP string to a `char *` parameter without copying, but refuses it for `uint8_t *`.
//! Bodies run inside [`boundary::guard`]; all pointer handling is in [`boundary`].

pub mod boundary;
pub mod result;

use std::ffi::c_char;
use std::time::Duration;

use crate::feed::Feed;
use crate::payload;
use crate::sender::{self, stats::rcemit_stats, EmitError};
use boundary::{guard, input, output, write, write_prefix, write_text, Failure};
pub use result::rcemit_result;

/// Returns the library version as a static NUL-terminated string (e.g. "0.3.0"). Never NULL. The memory is
/// read-only and owned by the library: do not write to it or free it. (Declared `char *` rather than
/// `const char *` because PHP's FFI turns a `const char *` result into a PHP string, while the extension
/// reads it with `FFI::string()`.) Thread-safe.
#[no_mangle]
pub extern "C" fn rcemit_version() -> *mut c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0")
        .as_ptr()
        .cast_mut()
        .cast()
}

/// Returns the payload version this library decodes (the fourth byte of every payload). A caller building
/// another version must not use this library. Thread-safe.
#[no_mangle]
pub extern "C" fn rcemit_payload_version() -> u32 {
    u32::from(payload::VERSION)
}

/// Optionally sets the queue capacity in events (0 = the default, 10000; at most 1000000) before the first
/// emit of this process. The capacity is fixed when the sender starts (on the first emit): a later call with
/// another capacity returns RCEMIT_RESULT_ALREADY_STARTED and changes nothing. A child process after fork()
/// starts its own sender with the capacity set last. Thread-safe.
#[no_mangle]
pub extern "C" fn rcemit_init(queue_capacity: u32) -> rcemit_result {
    guard(|| {
        let capacity = usize::try_from(queue_capacity).unwrap_or(usize::MAX);
        sender::set_queue_capacity(capacity).map_err(|detail| {
            let code = if capacity > sender::runtime::MAX_CAPACITY {
                rcemit_result::InvalidConfig
            } else {
                rcemit_result::AlreadyStarted
            };
            Failure::with_detail(code, detail)
        })
    })
}

/// Opens a feed from a JSON object of `len` bytes at `config_json` (UTF-8, borrowed: copied as needed, never
/// written, not kept) and writes its handle to `*feed_out`.
///
/// Keys (only "uri" is required): "uri" (MediaWiki's syntax: "udp://host:port", "udp://[v6addr]:port",
/// optional "/prefix" framing each line with prefix + space), "format" ("xmlrc" default, "json", "xml",
/// "irc"), strings "canonical_server", "server_name", "script_path", "script", "wiki_id",
/// "special_namespace" (default "Special"), booleans "use_rc_patrol", "use_np_patrol", string-or-null
/// "irc_interwiki_prefix", "channel", "xmlrc_properties" ("user|comment|..."), integer "max_datagram"
/// (64..65507, default 65507). An unknown key or a bad value gives RCEMIT_RESULT_INVALID_CONFIG and
/// rcemit_last_error() names the key. No network activity happens here: host names are resolved later, on
/// the sender thread.
///
/// Handles are valid for the life of the process (and in children after fork()); there is no close.
/// Opening a configuration equal to an open feed returns the same handle, so opening per request is
/// harmless. Thread-safe.
///
/// # Safety
/// `config_json` must point to `len` readable bytes; `feed_out` must be writable. NULL pointers are refused.
#[no_mangle]
pub unsafe extern "C" fn rcemit_feed_open(
    config_json: *const c_char,
    len: usize,
    feed_out: *mut u32,
) -> rcemit_result {
    guard(|| {
        let feed_out = output(feed_out)?;
        // SAFETY: the caller's promise above.
        let json = unsafe { input(config_json.cast(), len) }?;
        let feed = Feed::from_json(json)
            .map_err(|e| Failure::with_detail(rcemit_result::InvalidConfig, e))?;
        let handle = sender::open_feed(feed).map_err(|_| {
            Failure::with_detail(
                rcemit_result::TooManyFeeds,
                format!(
                    "all {} feed slots are taken by distinct configurations",
                    sender::registry::MAX_FEEDS
                ),
            )
        })?;
        // SAFETY: checked non-NULL above.
        unsafe { write(feed_out, handle) };
        Ok(())
    })
}

/// Queues one change for one feed and returns at once: the `len` bytes at `payload` (payload format v2, see
/// docs/payload.md) are copied, then put on the sender's queue without waiting, and the sender thread is
/// woken to send it now; the caller may reuse its buffer right after the call. The payload is not decoded
/// here: an undecodable payload is dropped by the sender and counted as invalid_payload. The first emit of a
/// process starts the sender thread.
///
/// Failures (the event is dropped; every drop is counted in rcemit_stats): RCEMIT_RESULT_UNKNOWN_FEED,
/// RCEMIT_RESULT_NULL_PARAMETER, RCEMIT_RESULT_INVALID_PAYLOAD (over 4 MiB), RCEMIT_RESULT_QUEUE_FULL.
/// Never blocks on the network, a lock held by the sender, or a full queue. Thread-safe.
///
/// # Safety
/// `payload` must point to `len` readable bytes that do not change during the call.
#[no_mangle]
pub unsafe extern "C" fn rcemit_feed_emit(
    feed: u32,
    payload: *const c_char,
    len: usize,
) -> rcemit_result {
    // SAFETY: the caller's promise above.
    unsafe { hand_over(feed, payload, len, sender::emit) }
}

/// Like rcemit_feed_emit(), but does not wake the sender thread, so the call makes no system call even when
/// the sender sleeps (waking a sleeping thread is most of an emit's cost). The change leaves at the next
/// rcemit_wake(), rcemit_feed_emit() or rcemit_flush() of the process, and after at most one second even if
/// none comes. For callers with a better moment to wake it: a web request queues its changes and calls
/// rcemit_wake() once after sending its response. Same failures and guarantees as rcemit_feed_emit().
///
/// # Safety
/// `payload` must point to `len` readable bytes that do not change during the call.
#[no_mangle]
pub unsafe extern "C" fn rcemit_feed_queue(
    feed: u32,
    payload: *const c_char,
    len: usize,
) -> rcemit_result {
    // SAFETY: the caller's promise above.
    unsafe { hand_over(feed, payload, len, sender::queue) }
}

/// Wakes the sender thread so that changes queued by rcemit_feed_queue() leave now. One system call when
/// the sender sleeps, an atomic operation otherwise; nothing before the process's first emit or queue.
/// Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn rcemit_wake() -> rcemit_result {
    guard(|| {
        sender::wake();
        Ok(())
    })
}

/// The body of rcemit_feed_emit() and rcemit_feed_queue(): borrow the payload, hand it to `send`.
///
/// # Safety
/// `payload` must point to `len` readable bytes that do not change during the call.
unsafe fn hand_over(
    feed: u32,
    payload: *const c_char,
    len: usize,
    send: fn(u32, &[u8]) -> Result<(), EmitError>,
) -> rcemit_result {
    guard(|| {
        // SAFETY: the caller's promise above.
        let payload = unsafe { input(payload.cast(), len) }?;
        send(feed, payload).map_err(|e| {
            Failure::from(match e {
                EmitError::UnknownFeed => rcemit_result::UnknownFeed,
                EmitError::TooLarge => rcemit_result::InvalidPayload,
                EmitError::QueueFull => rcemit_result::QueueFull,
            })
        })
    })
}

/// Waits until every event queued before the call has been sent (or dropped and counted), at most
/// `timeout_ms` milliseconds; RCEMIT_RESULT_TIMEOUT if that was not enough. Returns at once when this
/// process has emitted nothing. Meant for tests and process shutdown, not for the request path.
/// The library also does this by itself when the process calls exit() (an atexit handler registered with
/// the first sender, bounded by 500 ms), so a short-lived process delivers what it queued. Thread-safe.
#[no_mangle]
pub extern "C" fn rcemit_flush(timeout_ms: u32) -> rcemit_result {
    guard(|| {
        if sender::flush(Duration::from_millis(timeout_ms.into())) {
            Ok(())
        } else {
            Err(rcemit_result::Timeout.into())
        }
    })
}

/// Like rcemit_flush(), then stops the sender thread; a later emit starts a new one (queue and counters are
/// kept). RCEMIT_RESULT_TIMEOUT if the sender did not confirm within `timeout_ms`. Thread-safe.
#[no_mangle]
pub extern "C" fn rcemit_shutdown(timeout_ms: u32) -> rcemit_result {
    guard(|| {
        if sender::shutdown(Duration::from_millis(timeout_ms.into())) {
            Ok(())
        } else {
            Err(rcemit_result::Timeout.into())
        }
    })
}

/// Copies the counters into `*stats_out`, whose size the caller gives in `size` (its `sizeof(rcemit_stats)`):
/// at most `size` bytes are written, so a caller built against an older header, whose struct lacks the
/// counters added since (always at the end), gets the ones it knows and nothing past its buffer. Counters the
/// caller's struct has but this library lacks are left untouched. The counters are process-wide (all feeds
/// together, not per feed) and count from the start of this process's sender; a child after fork() counts
/// from zero. Each counter is read atomically, but the struct is not one atomic snapshot. Thread-safe.
/// RCEMIT_RESULT_BUFFER_TOO_SMALL (nothing written) if `size` is less than one counter (8 bytes).
///
/// # Safety
/// `stats_out` must be writable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn rcemit_stats_read(
    stats_out: *mut rcemit_stats,
    size: usize,
) -> rcemit_result {
    guard(|| {
        let stats_out = output(stats_out)?;
        if size < std::mem::size_of::<u64>() {
            return Err(rcemit_result::BufferTooSmall.into());
        }
        // SAFETY: checked non-NULL; the caller promises `size` writable bytes.
        unsafe { write_prefix(stats_out, &sender::stats(), size) };
        Ok(())
    })
}

/// Records the `len` bytes at `key` in this process's set of keys and writes to `*first_out` 1 when the
/// process had not recorded them before, else 0: "once per process" for callers that keep no state across
/// units of work (a PHP web worker forgets everything between requests, yet logs a failure once per worker).
/// Keys are compared by their first 512 bytes; after 1,024 keys every key counts as recorded. A child after
/// fork() starts with none. Outputs written only on success. Thread-safe.
///
/// # Safety
/// `key` must point to `len` readable bytes, and `first_out` must be writable for one `uint8_t`.
#[no_mangle]
pub unsafe extern "C" fn rcemit_once(
    key: *const c_char,
    len: usize,
    first_out: *mut u8,
) -> rcemit_result {
    guard(|| {
        // SAFETY: the caller's promise above.
        let key = unsafe { input(key.cast(), len) }?;
        let first_out = output(first_out)?;
        let first = crate::once::first_time(key);
        // SAFETY: checked non-NULL; the caller promises it is writable.
        unsafe { write(first_out, u8::from(first)) };
        Ok(())
    })
}

/// Writes the description of result `code` (any value; unknown codes are described as such) into `buf` of
/// `len` bytes as UTF-8 with a terminating NUL, and its length without the NUL into `*written_out`.
/// RCEMIT_RESULT_BUFFER_TOO_SMALL (nothing written) if `len` is too small; messages are under 256 bytes.
/// Thread-safe.
///
/// # Safety
/// `buf` must be writable for `len` bytes and `written_out` for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn rcemit_result_message(
    code: u32,
    buf: *mut u8,
    len: usize,
    written_out: *mut usize,
) -> rcemit_result {
    guard(|| {
        let text = match rcemit_result::from_code(code) {
            Some(result) => result.message().to_owned(),
            None => format!("unknown rcemit result code {code}"),
        };
        // SAFETY: the caller's promise above.
        unsafe { write_text(&text, buf, len, written_out) }
    })
}

/// Writes the detail of the last failure on the calling thread that had one (e.g. which feed config key is
/// wrong, or a panic message) like rcemit_result_message(); "" if there was none. Messages are at most 1000
/// bytes. The detail stays until the next such failure on this thread.
///
/// # Safety
/// `buf` must be writable for `len` bytes and `written_out` for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn rcemit_last_error(
    buf: *mut u8,
    len: usize,
    written_out: *mut usize,
) -> rcemit_result {
    guard(|| {
        let text = boundary::last_error();
        // SAFETY: the caller's promise above.
        unsafe { write_text(&text, buf, len, written_out) }
    })
}
