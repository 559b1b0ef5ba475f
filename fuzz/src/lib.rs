//! Shared by the fuzz targets: building events, feed contexts and feeds from fuzz bytes ([`gen`]), and the
//! properties every datagram must have ([`check`]). Hostile text and the strict XML reader come from the
//! library's test support (`rcemit::testing`), shared with its unit and integration tests.

pub mod check;
pub mod gen;
