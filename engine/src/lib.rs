//! Clockwheel: a lock-free concurrent in-process cache (crate docs are being written).

pub mod glob;
pub mod keys;
