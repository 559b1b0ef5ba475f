//! Test support, compiled only for this crate's tests and with the `testing` feature (integration tests,
//! benchmarks and the fuzz targets enable it; the shipped library never has it): sample events, the hostile
//! text catalogue and random input built from it, a strict XML reader, and hooks into the sender.

pub mod config_keys;
pub mod hostile;
pub mod random;
pub mod samples;
pub mod sender;
pub mod xml_tree;
