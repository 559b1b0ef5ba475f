//! Process-wide "first time" keys, for callers that keep no state of their own across units of work: a PHP
//! web worker forgets everything between requests, yet a failure should be logged once per worker process,
//! not once per request. Bounded; a child after `fork()` starts with an empty set (its own process).

use std::collections::HashSet;
use std::sync::Mutex;

use crate::sender::fork;

/// Keys remembered per process; past this every key counts as seen (so nothing grows without bound).
pub const MAX_KEYS: usize = 1024;
/// Longest key; longer ones are compared by this prefix.
pub const MAX_KEY_LEN: usize = 512;

/// The fork generation the set belongs to, and the keys.
static KEYS: Mutex<(u64, Option<HashSet<Vec<u8>>>)> = Mutex::new((0, None));

/// Records `key`; true when this process had not recorded it before.
pub fn first_time(key: &[u8]) -> bool {
    let key = &key[..key.len().min(MAX_KEY_LEN)];
    fork::register();
    // Only callers' threads take this lock (never the sender), and a PHP process has one: a lock held by a
    // parent thread at fork time cannot happen there. A poisoned lock still holds a consistent set.
    let mut guard = KEYS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let generation = fork::generation();
    if guard.0 != generation || guard.1.is_none() {
        *guard = (generation, Some(HashSet::new()));
    }
    let keys = guard.1.as_mut().expect("set above");
    if keys.contains(key) || keys.len() >= MAX_KEYS {
        return false;
    }
    keys.insert(key.to_vec());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_new_once_and_the_set_is_bounded() {
        assert!(first_time(b"once-test:a"));
        assert!(!first_time(b"once-test:a"));
        assert!(first_time(b"once-test:b"));
        let long = vec![b'x'; MAX_KEY_LEN + 10];
        assert!(first_time(&long));
        assert!(!first_time(&long[..MAX_KEY_LEN]), "compared by the prefix");
        for i in 0..MAX_KEYS {
            first_time(format!("once-test:fill {i}").as_bytes());
        }
        assert!(!first_time(b"once-test:after the bound"));
    }
}
