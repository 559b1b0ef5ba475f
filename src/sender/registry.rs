//! The process-wide feed registry: feeds are opened once and live until the process exits.
//!
//! Handles are small integers (slot index + 1, so 0 is never valid) checked against a fixed-size array of
//! atomic pointers: a garbage handle from C is an unknown feed, never undefined behaviour. Readers take no lock,
//! so the registry stays usable in a child after `fork()`. Opening a feed equal to an open one returns the
//! existing handle, which bounds the registry by the number of distinct configurations even if a caller opens
//! a feed per request.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::feed::Feed;

/// How many distinct feeds a process can open.
pub const MAX_FEEDS: usize = 256;

/// A registered feed and its render group: feeds with the same format and context share a group, so the
/// sender renders a change once for all of them.
#[derive(Debug)]
pub struct Entry {
    pub feed: Feed,
    pub group: u32,
}

static SLOTS: [AtomicPtr<Entry>; MAX_FEEDS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_FEEDS];
static RESERVED: AtomicUsize = AtomicUsize::new(0);

/// Every registry slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryFull;

fn entries() -> impl Iterator<Item = (usize, &'static Entry)> {
    let reserved = RESERVED.load(Ordering::Acquire).min(MAX_FEEDS);
    SLOTS[..reserved]
        .iter()
        .enumerate()
        .filter_map(|(index, slot)| {
            // SAFETY: non-null slots hold a leaked `Box<Entry>` that is never freed or replaced.
            unsafe { slot.load(Ordering::Acquire).as_ref() }.map(|entry| (index, entry))
        })
}

/// Registers a feed (or finds an equal one) and returns its handle.
pub fn open(feed: Feed) -> Result<u32, RegistryFull> {
    if let Some((index, _)) = entries().find(|(_, entry)| entry.feed == feed) {
        return Ok(index as u32 + 1);
    }
    let group = entries()
        .find(|(_, e)| e.feed.format == feed.format && e.feed.context == feed.context)
        .map_or(u32::MAX, |(_, e)| e.group);
    let index = RESERVED.fetch_add(1, Ordering::AcqRel);
    if index >= MAX_FEEDS {
        return Err(RegistryFull);
    }
    let group = if group == u32::MAX {
        index as u32
    } else {
        group
    };
    let entry = Box::into_raw(Box::new(Entry { feed, group }));
    SLOTS[index].store(entry, Ordering::Release);
    Ok(index as u32 + 1)
}

/// The feed behind a handle, if the handle is one `open` returned.
pub fn get(handle: u32) -> Option<&'static Entry> {
    let index = usize::try_from(handle).ok()?.checked_sub(1)?;
    let slot = SLOTS.get(index)?;
    // SAFETY: as in `entries`.
    unsafe { slot.load(Ordering::Acquire).as_ref() }
}

/// Number of open feeds.
pub fn count() -> usize {
    entries().count()
}
