//! `Cache`: the synchronous façade. Thin: every method is a call into [`CacheCore`].

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use crate::builder::CacheBuilder;
use crate::cleaner::{Cleaner, Maintain};
use crate::core::CacheCore;
use crate::error::{BuildError, InsertError};
use crate::stats::{CacheStats, Counter};

/// A concurrent cache with lock-free reads and writes, CLOCK eviction and one capacity
/// budget for all its shards.
///
/// `Cache` is a handle: cloning it is cheap and every clone sees the same entries.
/// Values are returned by `Clone`; put large values in an `Arc` (or `bytes::Bytes`).
///
/// ```
/// use clockwheel::Cache;
///
/// let cache: Cache<String, u64> = Cache::with_capacity(1_000)?;
/// cache.insert("product:123".to_string(), 42);
/// assert_eq!(cache.get("product:123"), Some(42));
/// assert_eq!(cache.remove("product:123"), Some(42));
/// assert!(cache.get("product:123").is_none());
/// # Ok::<(), clockwheel::BuildError>(())
/// ```
pub struct Cache<K, V, S = ahash::RandomState> {
    pub(crate) core: Arc<CacheCore<K, V, S>>,
    /// Shared by all handles; the last one dropped stops and joins the cleaner thread
    /// (declared after `core`, but it holds only a `Weak` to it, so order is immaterial).
    _cleaner: Option<Arc<Cleaner>>,
}

impl<K, V, S> Clone for Cache<K, V, S> {
    fn clone(&self) -> Self {
        Cache {
            core: Arc::clone(&self.core),
            _cleaner: self._cleaner.clone(),
        }
    }
}

impl<K, V, S> Maintain for CacheCore<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    fn run_pending_tasks(&self) {
        CacheCore::run_pending_tasks(self);
    }
}

impl<K, V, S> fmt::Debug for Cache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("len", &self.core.len())
            .field("weighted_size", &self.core.weighted_size())
            .field("capacity", &self.core.capacity)
            .field("shards", &self.core.shards.len())
            .field("policy", &self.core.policy)
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V> {
    /// A builder with the default hasher, CLOCK policy and statistics on.
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::default()
    }

    /// A cache of at most `entries` entries with every other setting at its default.
    pub fn with_capacity(entries: u64) -> Result<Self, BuildError>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        Self::builder().max_capacity(entries).build()
    }
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    pub(crate) fn from_core(
        core: CacheCore<K, V, S>,
        cleanup_interval: Option<Duration>,
    ) -> Result<Self, BuildError> {
        let core = Arc::new(core);
        let cleaner = match cleanup_interval {
            #[cfg(not(clockwheel_loom))]
            Some(interval) => Some(Arc::new(
                Cleaner::spawn(Arc::downgrade(&core), interval)
                    .map_err(|e| BuildError::CleanerSpawn(e.to_string()))?,
            )),
            _ => None,
        };
        Ok(Cache {
            core,
            _cleaner: cleaner,
        })
    }
}

impl<K, V, S> Cache<K, V, S> {
    /// Live entries (weakly consistent under concurrent writes).
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// True if the cache holds no live entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total weight of the live entries (their count when there is no weigher).
    pub fn weighted_size(&self) -> u64 {
        self.core.weighted_size()
    }

    /// The capacity budget: entries, or total weight with a weigher.
    pub fn capacity(&self) -> u64 {
        self.core.capacity
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.core.shards.len()
    }

    /// A snapshot of the statistics (all counters zero if they were turned off).
    pub fn stats(&self) -> CacheStats {
        let get = |c| self.core.stats.as_ref().map_or(0, |s| s.sum(c));
        CacheStats {
            hits: get(Counter::Hit),
            misses: get(Counter::Miss),
            insertions: get(Counter::Insertion),
            replacements: get(Counter::Replacement),
            evictions: get(Counter::Eviction),
            removals: get(Counter::Removal),
            rejections: get(Counter::Rejection),
            expirations: get(Counter::Expiration),
            len: self.len() as u64,
            weighted_size: self.weighted_size(),
            capacity: self.capacity(),
        }
    }

    /// Sets every statistics counter back to zero.
    pub fn reset_stats(&self) {
        if let Some(stats) = &self.core.stats {
            stats.reset();
        }
    }
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// The value for `key`, marking the entry recently used. Lock-free; allocates
    /// nothing; on a hit writes only the entry's reference bit (and, if enabled, this
    /// thread's statistics stripe).
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.core.lookup(key, true, V::clone)
    }

    /// The value for `key` and its remaining time to live (`None`: never expires), read
    /// from one entry, so a concurrent replacement cannot pair one entry's value with the
    /// other's TTL. Marks the entry used, like [`Cache::get`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let cache = clockwheel::Cache::<&str, u32>::with_capacity(10).unwrap();
    /// cache.insert_with_ttl("a", 1, Some(Duration::from_secs(60)));
    /// let (value, ttl) = cache.get_with_ttl("a").unwrap();
    /// assert_eq!(value, 1);
    /// assert!(ttl.unwrap() <= Duration::from_secs(60));
    /// ```
    pub fn get_with_ttl<Q>(&self, key: &Q) -> Option<(V, Option<Duration>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let (value, deadline) = self
            .core
            .lookup_node(key, true, |node| (V::clone(&node.value), node.deadline()))?;
        // The read found it live, so a deadline that passed since reads as zero left.
        let left = self
            .core
            .time_left(deadline)
            .unwrap_or(Some(Duration::ZERO));
        Some((value, left))
    }

    /// The value for `key` without marking it used and without counting a hit or miss.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.core.lookup(key, false, V::clone)
    }

    /// Calls `f` on the value for `key` without cloning it (marks the entry used).
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.lookup(key, true, f)
    }

    /// True if `key` has a live entry (marks it used, counts a hit or a miss).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.lookup(key, true, |_| ()).is_some()
    }

    /// Inserts `value` for `key` with the cache's default TTL, returning the value it
    /// replaced.
    ///
    /// Makes room first by evicting, so a single-threaded cache never exceeds its
    /// capacity. An entry heavier than the whole capacity is not stored; the key's
    /// previous entry is removed so no stale value survives, and returned (see
    /// [`try_insert`](Self::try_insert) to get the error instead).
    pub fn insert(&self, key: K, value: V) -> Option<V>
    where
        V: Clone,
    {
        self.insert_with_ttl(key, value, self.core.default_ttl)
    }

    /// Inserts with an explicit time-to-live overriding the default: `Some(ttl)` expires
    /// the entry `ttl` from now, `None` never expires it. A TTL above
    /// [`MAX_TTL`](crate::MAX_TTL) counts as `MAX_TTL` (see
    /// [`try_insert_with_ttl`](Self::try_insert_with_ttl) for an error instead).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (clock, mock) = quanta::Clock::mock();
    /// let cache = clockwheel::Cache::<&str, u32>::builder()
    ///     .max_capacity(100).default_ttl(Duration::from_secs(300)).clock(clock).build().unwrap();
    /// cache.insert_with_ttl("list:page:1", 1, Some(Duration::from_secs(60)));
    /// cache.insert_with_ttl("config", 2, None);
    /// mock.increment(Duration::from_secs(61));
    /// assert_eq!(cache.get("list:page:1"), None);
    /// assert_eq!(cache.remaining_ttl("config"), Some(None));
    /// ```
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Option<Duration>) -> Option<V>
    where
        V: Clone,
    {
        let ttl = ttl.map(|t| t.min(crate::time::MAX_TTL));
        match self.try_insert_with_ttl(key, value, ttl) {
            Ok(old) => old,
            Err((key, _)) => self.remove(&key),
        }
    }

    /// Like [`insert`](Self::insert), but an entry heavier than the capacity is refused
    /// with an error (and the key, handed back), leaving any previous entry in place.
    ///
    /// ```
    /// let cache = clockwheel::Cache::<&str, String>::builder()
    ///     .weigher(|_k: &&str, v: &String| v.len() as u64)
    ///     .max_weight(8)
    ///     .build()
    ///     .unwrap();
    /// assert!(cache.try_insert("small", "1234".into()).is_ok());
    /// let (_key, err) = cache.try_insert("huge", "123456789".into()).unwrap_err();
    /// assert_eq!(err.to_string(), "entry weight 9 exceeds the cache capacity 8");
    /// ```
    pub fn try_insert(&self, key: K, value: V) -> Result<Option<V>, (K, InsertError)>
    where
        V: Clone,
    {
        self.try_insert_with_ttl(key, value, self.core.default_ttl)
    }

    /// Like [`insert_with_ttl`](Self::insert_with_ttl), but refuses (handing the key
    /// back) an entry heavier than the capacity or a TTL above
    /// [`MAX_TTL`](crate::MAX_TTL), leaving any previous entry in place.
    pub fn try_insert_with_ttl(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> Result<Option<V>, (K, InsertError)>
    where
        V: Clone,
    {
        if let Some(ttl) = ttl.filter(|t| *t > crate::time::MAX_TTL) {
            return Err((key, InsertError::TtlTooLarge { ttl }));
        }
        let guard = self.core.pin();
        match self.core.try_upsert(key, value, ttl, &guard) {
            // SAFETY: the replaced node is protected by `guard`, which is still pinned.
            Ok(old) => Ok(old.map(|old| V::clone(&unsafe { old.deref() }.value))),
            Err((key, weight)) => Err((
                key,
                InsertError::TooHeavy {
                    weight,
                    capacity: self.core.capacity,
                },
            )),
        }
    }

    /// How long the entry for `key` has left: `None` if absent or expired, `Some(None)`
    /// if it never expires, `Some(Some(d))` otherwise. Does not count as a read.
    pub fn remaining_ttl<Q>(&self, key: &Q) -> Option<Option<Duration>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.remaining(key)
    }

    /// Expires, now, every entry whose deadline has passed (the work the cleaner thread
    /// and writes otherwise do in passing). Never blocks: a shard whose wheel another
    /// thread is advancing is left to that thread.
    pub fn run_pending_tasks(&self) {
        self.core.run_pending_tasks();
    }

    /// Removes the entry for `key`, returning its value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.core.remove_with(key, V::clone)
    }

    /// Removes the entry for `key`; true if there was one.
    pub fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.remove_with(key, |_| ()).is_some()
    }
}
