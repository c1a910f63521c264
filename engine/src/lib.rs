//! Clockwheel: a lock-free concurrent in-process cache for services that sit in front of
//! S3 or any slow store.
//!
//! # Using it
//!
//! ```
//! use clockwheel::{Cache, EvictionPolicy};
//!
//! // A cache bounded by total value bytes, shared by every thread through clones.
//! let cache: Cache<String, std::sync::Arc<Vec<u8>>> = Cache::builder()
//!     .weigher(|_key: &String, body: &std::sync::Arc<Vec<u8>>| body.len() as u64)
//!     .max_weight(256 << 20)
//!     .policy(EvictionPolicy::Clock)
//!     .build()?;
//!
//! // Cache-aside: try the cache, load on a miss, insert.
//! let key = "s3v:model:Product:123".to_string();
//! let body = match cache.get(&key) {
//!     Some(body) => body,
//!     None => {
//!         let body = std::sync::Arc::new(b"{\"name\": \"lamp\"}".to_vec()); // fetch from S3
//!         cache.insert(key.clone(), body.clone());
//!         body
//!     }
//! };
//! assert_eq!(cache.get(&key), Some(body));
//!
//! // Invalidate by glob after a write, as the S3verless guide teaches.
//! cache.remove_matching("s3v:list:Product:*").unwrap();
//! # Ok::<(), clockwheel::BuildError>(())
//! ```
//!
//! # Expiry
//!
//! Entries can carry a time to live: a cache-wide [`CacheBuilder::default_ttl`], a
//! per-entry TTL with [`Cache::insert_with_ttl`] (which overrides the default; `None`
//! means never), and time-to-idle ([`CacheBuilder::time_to_idle`]).
//!
//! ```
//! use std::time::Duration;
//! use clockwheel::Cache;
//!
//! let cache: Cache<String, String> = Cache::builder()
//!     .max_capacity(10_000)
//!     .default_ttl(Duration::from_secs(300)) // the guide's model keys
//!     .build()?;
//! cache.insert("s3v:model:Product:1".into(), "{}".into());
//! cache.insert_with_ttl("s3v:list:Product:abc".into(), "[]".into(), Some(Duration::from_secs(60)));
//! cache.insert_with_ttl("s3v:config".into(), "{}".into(), None); // never expires
//! let left = cache.remaining_ttl("s3v:list:Product:abc").flatten().unwrap();
//! assert!(left <= Duration::from_secs(60));
//! # Ok::<(), clockwheel::BuildError>(())
//! ```
//!
//! A read never returns an entry past its TTL: it compares the entry's deadline with the
//! kernel's coarse monotonic clock (it may expire an entry up to two kernel ticks, 2 to 8
//! ms, early; give the builder a `quanta::Clock` for exact time). A hit more than a
//! second from its deadline does not even read the clock: it trusts the time a shared
//! ticker thread publishes every 10 ms, which bounds real time unless that thread is kept
//! off every CPU for a second. Expired entries nobody reads are reclaimed by a hierarchical
//! timing wheel per shard (1.05 ms ticks, 6 levels of 64 slots), advanced a little on
//! writes, by [`Cache::run_pending_tasks`], and by an optional background thread
//! ([`CacheBuilder::cleanup_interval`]) that stops when the cache is dropped.
//!
//! # Loading without a thundering herd
//!
//! [`Cache::get_or_insert_with`] and [`Cache::try_get_or_insert_with`] (and their `async`
//! versions on [`AsyncCache`]) run the loader once for any number of concurrent misses
//! on one key; every caller gets its value, or the same error (errors are not cached).
//! If the caller running the loader panics or, in async code, is cancelled, a waiter
//! takes the load over. A hit is a plain lock-free `get`; only misses touch the per-cache
//! table of loads in flight.
//!
//! ```
//! let cache = clockwheel::Cache::<String, String>::with_capacity(1_000)?;
//! let body = cache.get_or_insert_with("s3v:model:Product:1".to_string(), || {
//!     "{\"name\": \"lamp\"}".to_string() // fetch from S3
//! });
//! assert_eq!(cache.get("s3v:model:Product:1"), Some(body));
//! # Ok::<(), clockwheel::BuildError>(())
//! ```
//!
//! [`AsyncCache`] is the same cache seen through `async fn`s, for any executor (the crate
//! depends on none): `cache.to_async()` and `async_cache.to_sync()` share one instance.
//!
//! # The S3verless surface
//!
//! For services coming from the S3verless caching guide, [`backends`] offers its
//! backends over this one engine, behind the object-safe async [`CacheBackend`] trait:
//! [`InMemoryCache`] (FIFO at `max_size`), [`LruCache`] (CLOCK) and [`CompositeCache`]
//! (tiers, promoting with the entry's remaining TTL); [`CacheKeyBuilder`] produces keys
//! byte-identical to the Python reference's, so both languages can share a cache tier.
//! `docs/guide.md` is the guide rewritten for Rust.
//!
//! # How it works
//!
//! - **Table.** The cache is split into shards, each a fixed array of bucket chains. A
//!   chain is a lock-free linked list (Harris 2001; Michael 2002): lookups walk it without
//!   writing, inserts CAS the bucket head, removals mark a node's `next` pointer and then
//!   unlink it. An update replaces the old node by the new one in a single CAS, so readers
//!   never see a key vanish mid-update.
//! - **Reclamation.** Unlinked nodes are freed through crossbeam-epoch, and only after
//!   every structure that references a node (its chain, its CLOCK queue and, for an entry
//!   that can expire, its shard's timing wheel) has let go.
//! - **Eviction.** CLOCK, "FIFO with reinsertion": each shard keeps a lock-free FIFO of its
//!   nodes; a hit sets the node's reference bit; the hand pops the oldest node and either
//!   gives it a second chance (bit set) or evicts it. FIFO is available as a policy.
//! - **Capacity.** One budget for the whole cache, in entries or in weight: shards never
//!   split it, so an entry that fits the cache is never refused because of its shard.
//!
//! `docs/architecture.md` in the repository has the details: invariants, memory orderings,
//! and the hazards of concurrent caches each paired with the test that guards it.
//!
//! # Consistency
//!
//! Single-key operations are linearizable: `get` returns the value of the last `insert`
//! that completed before it started, or of one that overlaps it, or nothing if the entry
//! was removed or evicted. Whole-cache operations (`clear`, `retain`, `remove_matching`,
//! `iter`, `len`) are weakly consistent: entries present throughout are seen exactly once,
//! concurrent changes may or may not be.
//!
//! Single-threaded, the cache never holds more than its capacity. Racing inserters can
//! overshoot by at most the total weight of the inserts in flight, and the last of them
//! brings the cache back within capacity before returning.
//!
//! # Performance notes
//!
//! - A hit costs one hash, one epoch pin, a chain walk (usually one node), and a `Clone` of
//!   the value: put large values behind `Arc` or `bytes::Bytes`.
//! - Nothing on the read path takes a lock or allocates; the only shared write is setting
//!   the reference bit when it is clear, plus a per-thread striped statistics counter
//!   (turn it off with [`CacheBuilder::record_stats`]).
//! - Removed and evicted values are dropped when the epoch advances, not at once.
//! - An entry costs its node (16 bytes plus the key and the value inline; 8 more for an
//!   entry that can expire), a CLOCK-queue slot (8 bytes) and 7/8 of a bucket head
//!   (7 bytes): about 47.4 bytes per `u64 -> u64` entry in `docs/benchmarks.md`'s W3.

mod async_cache;
pub mod backends;
mod builder;
mod bulk;
mod cache;
mod cleaner;
mod clock;
mod core;
mod error;
mod expiry;
mod flight;
pub mod glob;
pub mod keys;
mod listener;
mod node;
mod queue;
mod shard;
mod stats;
mod sync;
mod table;
mod ticker;
mod time;
mod wheel;

pub use crate::async_cache::AsyncCache;
pub use crate::backends::{
    CacheBackend, CompositeCache, InMemoryCache, InMemoryOptions, LruCache, LruOptions,
};
pub use crate::builder::{CacheBuilder, MAX_ESTIMATED_ENTRIES, MAX_SHARDS};
pub use crate::bulk::Iter;
pub use crate::cache::Cache;
pub use crate::clock::EvictionPolicy;
pub use crate::error::{BuildError, InsertError};
pub use crate::flight::{LoadError, LoadOptions};
pub use crate::glob::{Pattern, PatternError};
pub use crate::keys::{CacheKeyBuilder, CacheModel, ListQuery};
pub use crate::listener::RemovalCause;
pub use crate::node::MAX_WEIGHT;
pub use crate::stats::CacheStats;
pub use crate::time::MAX_TTL;

/// Internals the loom models drive directly (only under `--cfg clockwheel_loom`).
#[cfg(clockwheel_loom)]
#[doc(hidden)]
pub mod loom_internals {
    pub use crate::queue::{SegmentedQueue, SEGMENT};
    pub use crate::ticker::Ticker;
}

/// The caching guide, `docs/guide.md`, included so that its snippets run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
pub struct GuideDoctests;
