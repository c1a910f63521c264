//! `LruCache`: a size-bounded cache with recency-based eviction and hit-rate
//! statistics.

use std::time::Duration;

use super::local::{self, EngineConfig};
use super::stats::{hit_rate, BackendStats, LruStats};
use super::{ready, BackendResult, BoxFuture, CacheBackend};
use crate::{BuildError, Cache, EvictionPolicy};

/// Options of an [`LruCache`]; [`Default`] gives the reference's defaults
/// (`max_size` 1000, `default_ttl` 300 s).
///
/// ```
/// use clockwheel::backends::LruOptions;
/// use std::time::Duration;
///
/// let o = LruOptions { max_size: 100, default_ttl: Some(Duration::from_secs(60)), ..Default::default() };
/// assert_eq!(LruOptions::default().max_size, 1000);
/// assert_eq!(o.cleanup_interval, None);
/// ```
#[derive(Clone, Debug)]
pub struct LruOptions {
    /// Entry limit (at least 1).
    pub max_size: u64,
    /// TTL of entries set without one; `None`: they never expire.
    pub default_ttl: Option<Duration>,
    /// A background sweep of expired entries, which the reference's
    /// `LRUCache` does not have; `None` (the default): expired entries are
    /// reclaimed on reads and writes.
    pub cleanup_interval: Option<Duration>,
    /// The clock TTLs are measured with; `None` is the real clock. Tests pass
    /// `quanta::Clock::mock().0` to move time by hand.
    pub clock: Option<quanta::Clock>,
    /// Engine shards; `None`: one, so that the recency order is kept over the
    /// whole cache as the reference's examples require. More shards spread
    /// write contention, and then recency is per shard.
    pub shards: Option<usize>,
    /// Expected number of entries, which sizes the engine's (fixed) bucket
    /// arrays; `None`: `max_size` up to 1,048,576.
    pub estimated_entries: Option<usize>,
}

impl Default for LruOptions {
    fn default() -> Self {
        LruOptions {
            max_size: 1000,
            default_ttl: Some(Duration::from_secs(300)),
            cleanup_interval: None,
            clock: None,
            shards: None,
            estimated_entries: None,
        }
    }
}

/// A size-bounded cache that evicts the least recently used entry, counting
/// hits and misses (the reference's `LRUCache`).
///
/// Recency is kept by CLOCK, the engine's policy: a `get` sets the entry's
/// reference bit, an updating `set` re-queues the entry as new, and eviction
/// passes over (and clears) set bits until it finds an entry not used since
/// the hand last passed. This is exact LRU on the reference's examples and a
/// close approximation in general, with lock-free reads.
///
/// ```
/// use clockwheel::backends::{CacheBackend, LruCache, LruOptions};
///
/// # futures::executor::block_on(async {
/// let cache = LruCache::new(LruOptions { max_size: 2, ..Default::default() })?;
/// cache.set("key1", 1, None).await?;
/// cache.set("key2", 2, None).await?;
/// cache.get("key1").await?; // key1 is now the most recently used
/// cache.set("key3", 3, None).await?;
/// assert!(!cache.exists("key2").await?);
/// assert_eq!(cache.get("key2").await?, None);
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses, stats.hit_rate), (1, 1, 0.5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct LruCache<V> {
    cache: Cache<String, V>,
    max_size: u64,
    default_ttl: Option<Duration>,
}

impl<V> LruCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// Builds the cache. Fails on a zero `max_size`, TTL or interval.
    ///
    /// ```
    /// use clockwheel::backends::{LruCache, LruOptions};
    /// use clockwheel::BuildError;
    ///
    /// let err = LruCache::<u32>::new(LruOptions { max_size: 0, ..Default::default() });
    /// assert_eq!(err.unwrap_err(), BuildError::ZeroCapacity);
    /// ```
    pub fn new(options: LruOptions) -> Result<Self, BuildError> {
        let cache = EngineConfig {
            max_size: Some(options.max_size),
            policy: EvictionPolicy::Clock,
            default_ttl: options.default_ttl,
            cleanup_interval: options.cleanup_interval,
            clock: options.clock,
            shards: options.shards,
            estimated_entries: options.estimated_entries,
        }
        .build()?;
        Ok(LruCache {
            cache,
            max_size: options.max_size,
            default_ttl: options.default_ttl,
        })
    }

    /// The reference's `stats()`: size, max_size, hits, misses, hit_rate,
    /// default_ttl. Hits and misses count `get`s (also inside `get_many` and
    /// a composite's walk), not `exists`, since construction or the last `clear`.
    ///
    /// ```
    /// use clockwheel::backends::{LruCache, LruOptions};
    ///
    /// let cache = LruCache::<u32>::new(LruOptions::default())?;
    /// assert_eq!(cache.stats().hit_rate, 0.0);
    /// # Ok::<(), clockwheel::BuildError>(())
    /// ```
    pub fn stats(&self) -> LruStats {
        let engine = self.cache.stats();
        LruStats {
            size: engine.len,
            max_size: self.max_size,
            hits: engine.hits,
            misses: engine.misses,
            hit_rate: hit_rate(engine.hits, engine.misses),
            default_ttl: self.default_ttl,
        }
    }

    /// The engine underneath, for its synchronous API and detailed
    /// [`CacheStats`](crate::CacheStats) (evictions, expirations...).
    ///
    /// ```
    /// use clockwheel::backends::{LruCache, LruOptions};
    ///
    /// let cache = LruCache::<u8>::new(LruOptions::default())?;
    /// assert_eq!(cache.engine().capacity(), 1000);
    /// # Ok::<(), clockwheel::BuildError>(())
    /// ```
    pub fn engine(&self) -> &Cache<String, V> {
        &self.cache
    }
}

impl<V> CacheBackend<V> for LruCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    local::engine_backend_ops!();

    /// Removes every entry and resets the hit and miss counters, as the reference.
    fn clear(&self) -> BoxFuture<'_, BackendResult<()>> {
        self.cache.clear();
        self.cache.reset_stats();
        ready(Ok(()))
    }

    fn stats(&self) -> BoxFuture<'_, BackendResult<BackendStats>> {
        ready(Ok(BackendStats::Lru(LruCache::stats(self))))
    }
}
