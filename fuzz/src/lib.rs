//! Shared by the fuzz targets: building events, feed contexts and feeds from fuzz bytes ([`gen`]), and the
//! properties every datagram must have ([`check`]).

pub mod check;
pub mod gen;
#[path = "../../tests/common/xml_tree.rs"]
pub mod xml_tree;
