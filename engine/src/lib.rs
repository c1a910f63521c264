//! Clockwheel: a lock-free concurrent in-process cache (crate docs are being written).

mod builder;
mod bulk;
mod cache;
mod clock;
mod core;
mod error;
pub mod glob;
pub mod keys;
mod listener;
mod node;
mod shard;
mod stats;
mod sync;
mod table;

pub use crate::builder::{CacheBuilder, MAX_ESTIMATED_ENTRIES, MAX_SHARDS};
pub use crate::bulk::Iter;
pub use crate::cache::Cache;
pub use crate::clock::EvictionPolicy;
pub use crate::error::{BuildError, InsertError};
pub use crate::glob::{Pattern, PatternError};
pub use crate::listener::RemovalCause;
pub use crate::node::MAX_WEIGHT;
pub use crate::stats::CacheStats;
