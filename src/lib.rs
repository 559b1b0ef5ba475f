//! rcemit: publishes MediaWiki recent changes as UDP datagrams.
//!
//! The PHP extension packs each change into a [`payload`] and hands it over through the C ABI; a background
//! thread decodes it into an [`event::Event`], renders it in a feed's [`format::Format`] with that feed's
//! [`context::FeedContext`], frames it for its destination ([`feed`]) and sends it.

pub mod context;
pub mod event;
pub mod feed;
pub mod ffi;
pub mod format;
pub mod once;
pub mod payload;
mod php_unserialize;
pub mod sender;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;
