//! `InMemoryCache`: TTL entries, optional FIFO size limit, periodic sweep.

use std::time::Duration;

use super::local::{self, EngineConfig};
use super::stats::{BackendStats, InMemoryStats};
use super::{ready, BackendResult, BoxFuture, CacheBackend};
use crate::{BuildError, Cache, EvictionPolicy};

/// Options of an [`InMemoryCache`]; [`Default`] gives the reference's
/// defaults (`default_ttl` 300 s, no `max_size`, `cleanup_interval` 60 s).
///
/// ```
/// use clockwheel::backends::InMemoryOptions;
/// use std::time::Duration;
///
/// let o = InMemoryOptions { max_size: Some(1000), ..Default::default() };
/// assert_eq!(o.default_ttl, Some(Duration::from_secs(300)));
/// assert_eq!(o.cleanup_interval, Some(Duration::from_secs(60)));
/// ```
#[derive(Clone, Debug)]
pub struct InMemoryOptions {
    /// TTL of entries set without one; `None`: they never expire.
    pub default_ttl: Option<Duration>,
    /// Entry limit, enforced by evicting the oldest-inserted entry (FIFO);
    /// `None`: unbounded. `Some(0)` is refused.
    pub max_size: Option<u64>,
    /// How often a background thread sweeps expired entries out even if
    /// nobody reads them; `None`: no thread (expired entries are then
    /// reclaimed on reads and writes).
    pub cleanup_interval: Option<Duration>,
    /// The clock TTLs are measured with; `None` is the real clock. Tests pass
    /// `quanta::Clock::mock().0` to move time by hand.
    pub clock: Option<quanta::Clock>,
    /// Engine shards; `None`: one shard when `max_size` is set (so eviction
    /// is exactly oldest-first over the whole cache, as the reference), the
    /// engine's default when unbounded. More shards spread write contention,
    /// and then "oldest" is per shard.
    pub shards: Option<usize>,
    /// Expected number of entries, which sizes the engine's (fixed) bucket
    /// arrays; `None`: `max_size` up to 1,048,576, or 65,536 when unbounded.
    /// A cache holding many more entries than its estimate works, with
    /// longer bucket chains.
    pub estimated_entries: Option<usize>,
}

impl Default for InMemoryOptions {
    fn default() -> Self {
        InMemoryOptions {
            default_ttl: Some(Duration::from_secs(300)),
            max_size: None,
            cleanup_interval: Some(Duration::from_secs(60)),
            clock: None,
            shards: None,
            estimated_entries: None,
        }
    }
}

/// A cache with per-entry TTL and an optional size limit enforced FIFO: at
/// `max_size`, inserting a new key evicts the oldest-inserted entry, whether
/// or not it was read (the reference's `InMemoryCache`).
///
/// A thin layer over one engine [`Cache`] with [`EvictionPolicy::Fifo`]; the
/// engine is reachable with [`engine`](Self::engine) for its synchronous API.
///
/// ```
/// use clockwheel::backends::{CacheBackend, InMemoryCache, InMemoryOptions};
///
/// # futures::executor::block_on(async {
/// let cache = InMemoryCache::new(InMemoryOptions { max_size: Some(2), ..Default::default() })?;
/// for key in ["key1", "key2", "key3"] {
///     cache.set(key, key.len(), None).await?;
/// }
/// assert!(!cache.exists("key1").await?);
/// assert_eq!(cache.stats().size, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct InMemoryCache<V> {
    cache: Cache<String, V>,
    max_size: Option<u64>,
    default_ttl: Option<Duration>,
}

impl<V> InMemoryCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// Builds the cache (and its sweeper thread, if `cleanup_interval` is set).
    /// Fails on a zero `max_size`, TTL or interval, or if the thread cannot start.
    ///
    /// ```
    /// use clockwheel::backends::{InMemoryCache, InMemoryOptions};
    /// use clockwheel::BuildError;
    ///
    /// let err = InMemoryCache::<u32>::new(InMemoryOptions { max_size: Some(0), ..Default::default() });
    /// assert_eq!(err.unwrap_err(), BuildError::ZeroCapacity);
    /// ```
    pub fn new(options: InMemoryOptions) -> Result<Self, BuildError> {
        let cache = EngineConfig {
            max_size: options.max_size,
            policy: EvictionPolicy::Fifo,
            default_ttl: options.default_ttl,
            cleanup_interval: options.cleanup_interval,
            clock: options.clock,
            shards: options.shards,
            estimated_entries: options.estimated_entries,
        }
        .build()?;
        Ok(InMemoryCache {
            cache,
            max_size: options.max_size,
            default_ttl: options.default_ttl,
        })
    }

    /// The reference's `stats()`: size, max_size, default_ttl. (Through the
    /// trait, [`CacheBackend::stats`] returns the same wrapped in
    /// [`BackendStats`].)
    ///
    /// ```
    /// use clockwheel::backends::{InMemoryCache, InMemoryOptions};
    ///
    /// let cache = InMemoryCache::<u32>::new(InMemoryOptions::default())?;
    /// let stats = cache.stats();
    /// assert_eq!((stats.size, stats.max_size), (0, None));
    /// # Ok::<(), clockwheel::BuildError>(())
    /// ```
    pub fn stats(&self) -> InMemoryStats {
        InMemoryStats {
            size: self.cache.len() as u64,
            max_size: self.max_size,
            default_ttl: self.default_ttl,
        }
    }

    /// The engine underneath, for its synchronous API and detailed
    /// [`CacheStats`](crate::CacheStats) (evictions, expirations...).
    ///
    /// ```
    /// use clockwheel::backends::{InMemoryCache, InMemoryOptions};
    ///
    /// let cache = InMemoryCache::new(InMemoryOptions::default())?;
    /// cache.engine().insert("k".to_string(), 1u8);
    /// assert_eq!(cache.stats().size, 1);
    /// # Ok::<(), clockwheel::BuildError>(())
    /// ```
    pub fn engine(&self) -> &Cache<String, V> {
        &self.cache
    }
}

impl<V> CacheBackend<V> for InMemoryCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    local::engine_backend_ops!();

    fn clear(&self) -> BoxFuture<'_, BackendResult<()>> {
        self.cache.clear();
        ready(Ok(()))
    }

    fn stats(&self) -> BoxFuture<'_, BackendResult<BackendStats>> {
        ready(Ok(BackendStats::InMemory(InMemoryCache::stats(self))))
    }
}
