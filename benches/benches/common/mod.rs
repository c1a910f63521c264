//! Engine adapters shared by the criterion bench targets (included with
//! `mod common;`; not a bench target itself).
//!
//! Each engine is wrapped in a small struct implementing [`BenchCache`] and
//! driven through generics, so calls are monomorphized: no dynamic dispatch
//! sits between the benchmark loop and the cache.
//!
//! Every engine uses its own default hasher, i.e. what its users get:
//! clockwheel and moka as documented by them, quick_cache and hashbrown
//! foldhash, lru hashbrown's default.

#![allow(dead_code)] // each bench target uses a subset

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;

/// The timing settings every criterion group here uses: short enough that
/// the whole `cargo bench` stays within a few minutes on two cores.
pub fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

pub use clockwheel_benches::ttl_of;

/// The operations the workloads need, over `u64 -> u64`.
pub trait BenchCache: Send + Sync {
    /// Label used in criterion ids and reports.
    const NAME: &'static str;
    /// A cache bounded to `capacity` entries.
    fn with_capacity(capacity: u64) -> Self;
    /// Lookup; a hit may update recency/frequency as the engine does.
    fn get(&self, key: u64) -> Option<u64>;
    /// Insert or replace.
    fn insert(&self, key: u64, value: u64);
    /// Finish deferred work (moka's pending maintenance); no-op elsewhere.
    fn settle(&self) {}
}

/// quick_cache's concurrent cache (per-shard `RwLock`; its policy is a
/// CLOCK-Pro variant close to S3-FIFO).
pub struct QuickCache(quick_cache::sync::Cache<u64, u64>);

impl BenchCache for QuickCache {
    const NAME: &'static str = "quick_cache";
    fn with_capacity(capacity: u64) -> Self {
        Self(quick_cache::sync::Cache::new(capacity as usize))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

/// moka's synchronous cache (TinyLFU admission, LRU, read/write buffers).
pub struct Moka(moka::sync::Cache<u64, u64>);

impl BenchCache for Moka {
    const NAME: &'static str = "moka";
    fn with_capacity(capacity: u64) -> Self {
        Self(moka::sync::Cache::new(capacity))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}

/// `lru::LruCache` behind one `std::sync::Mutex` (its `get` needs `&mut`).
pub struct MutexLru(Mutex<lru::LruCache<u64, u64>>);

impl BenchCache for MutexLru {
    const NAME: &'static str = "mutex_lru";
    fn with_capacity(capacity: u64) -> Self {
        let cap = NonZeroUsize::new(capacity as usize).expect("capacity > 0");
        Self(Mutex::new(lru::LruCache::new(cap)))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.lock().unwrap().get(&key).copied()
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.lock().unwrap().put(key, value);
    }
}

fn clockwheel_cache(
    capacity: u64,
    record_stats: bool,
    default_ttl: Option<Duration>,
) -> clockwheel::Cache<u64, u64> {
    let builder = clockwheel::Cache::builder()
        .max_capacity(capacity)
        .policy(clockwheel::EvictionPolicy::Clock)
        .record_stats(record_stats);
    let builder = match default_ttl {
        Some(ttl) => builder.default_ttl(ttl),
        None => builder,
    };
    builder.build().expect("valid clockwheel configuration")
}

/// Clockwheel with its defaults (CLOCK, statistics recorded).
pub struct Clockwheel(clockwheel::Cache<u64, u64>);

impl BenchCache for Clockwheel {
    const NAME: &'static str = "clockwheel";
    fn with_capacity(capacity: u64) -> Self {
        Self(clockwheel_cache(capacity, true, None))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

/// Clockwheel with `record_stats(false)`: the cost of statistics is the gap
/// between this and [`Clockwheel`].
pub struct ClockwheelNoStats(clockwheel::Cache<u64, u64>);

impl BenchCache for ClockwheelNoStats {
    const NAME: &'static str = "clockwheel_nostats";
    fn with_capacity(capacity: u64) -> Self {
        Self(clockwheel_cache(capacity, false, None))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

/// Clockwheel with `default_ttl(1 h)`: every entry has a deadline, so a hit
/// also reads the clock. Compared with [`Clockwheel`] on read hits.
pub struct ClockwheelDefaultTtl(clockwheel::Cache<u64, u64>);

impl BenchCache for ClockwheelDefaultTtl {
    const NAME: &'static str = "clockwheel_default_ttl";
    fn with_capacity(capacity: u64) -> Self {
        Self(clockwheel_cache(
            capacity,
            true,
            Some(Duration::from_secs(3600)),
        ))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

/// Clockwheel inserting with `insert_with_ttl` and a per-entry TTL
/// ([`ttl_of`]); otherwise [`Clockwheel`].
pub struct ClockwheelTtl(clockwheel::Cache<u64, u64>);

impl BenchCache for ClockwheelTtl {
    const NAME: &'static str = "clockwheel_ttl";
    fn with_capacity(capacity: u64) -> Self {
        Self(clockwheel_cache(capacity, true, None))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert_with_ttl(key, value, Some(ttl_of(key)));
    }
}

/// A moka per-entry expiry policy giving each entry [`ttl_of`] its key.
struct PerKeyTtl;

impl moka::Expiry<u64, u64> for PerKeyTtl {
    fn expire_after_create(&self, key: &u64, _value: &u64, _at: Instant) -> Option<Duration> {
        Some(ttl_of(*key))
    }
}

/// moka with a per-entry [`moka::Expiry`] (`expire_after_create` = [`ttl_of`]).
pub struct MokaExpiry(moka::sync::Cache<u64, u64>);

impl BenchCache for MokaExpiry {
    const NAME: &'static str = "moka_expiry";
    fn with_capacity(capacity: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .expire_after(PerKeyTtl)
            .build();
        Self(cache)
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}
