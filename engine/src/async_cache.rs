//! `AsyncCache`: the engine's operations as `async fn`s, plus single-flight loaders.
//!
//! Runtime-agnostic: nothing here depends on an executor. The engine never blocks, so
//! every operation's future completes on its first poll; only the loaders wait, by
//! parking their task's waker in the key's record in the cache's in-flight table (see
//! `flight/`).

use std::borrow::Borrow;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::error::{BuildError, InsertError};
use crate::flight::{self, join, next, LoadError, LoadOptions, Loading, Next, Role, WaitFlight};
use crate::glob::PatternError;
use crate::stats::CacheStats;

/// The async face of a [`Cache`]: the same entries, through `async fn`s.
///
/// A handle like `Cache`: cloning is cheap, and [`to_sync`](Self::to_sync) and
/// [`Cache::to_async`] convert between the two without copying anything, so a program
/// can use both on one instance.
///
/// ```
/// use clockwheel::{AsyncCache, Cache};
///
/// let cache: AsyncCache<String, u64> = Cache::with_capacity(1_000)?.to_async();
/// futures::executor::block_on(async {
///     cache.insert("product:123".to_string(), 42).await;
///     assert_eq!(cache.get("product:123").await, Some(42));
///     // The loader runs once, however many tasks miss together.
///     let v = cache.get_or_insert_with("product:7".to_string(), async { 7 }).await;
///     assert_eq!(v, 7);
/// });
/// assert_eq!(cache.to_sync().get("product:7"), Some(7));
/// # Ok::<(), clockwheel::BuildError>(())
/// ```
pub struct AsyncCache<K, V, S = ahash::RandomState> {
    cache: Cache<K, V, S>,
}

impl<K, V, S> Clone for AsyncCache<K, V, S> {
    fn clone(&self) -> Self {
        AsyncCache {
            cache: self.cache.clone(),
        }
    }
}

impl<K, V, S> fmt::Debug for AsyncCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncCache").field(&self.cache).finish()
    }
}

impl<K, V, S> From<Cache<K, V, S>> for AsyncCache<K, V, S> {
    /// ```
    /// let sync = clockwheel::Cache::<u8, u8>::with_capacity(4).unwrap();
    /// let cache = clockwheel::AsyncCache::from(sync.clone());
    /// sync.insert(1, 1);
    /// assert_eq!(futures::executor::block_on(cache.get(&1)), Some(1));
    /// ```
    fn from(cache: Cache<K, V, S>) -> Self {
        AsyncCache { cache }
    }
}

impl<K, V, S> From<AsyncCache<K, V, S>> for Cache<K, V, S> {
    /// ```
    /// let cache = clockwheel::Cache::<u8, u8>::with_capacity(4).unwrap().to_async();
    /// let sync = clockwheel::Cache::from(cache.clone());
    /// futures::executor::block_on(cache.insert(1, 1));
    /// assert_eq!(sync.get(&1), Some(1));
    /// ```
    fn from(cache: AsyncCache<K, V, S>) -> Self {
        cache.cache
    }
}

impl<K, V, S> Cache<K, V, S> {
    /// An [`AsyncCache`] handle on this same cache (a cheap clone of the handle).
    ///
    /// ```
    /// let sync = clockwheel::Cache::<u8, u8>::with_capacity(4).unwrap();
    /// let cache = sync.to_async();
    /// sync.insert(1, 10);
    /// assert_eq!(futures::executor::block_on(cache.get(&1)), Some(10));
    /// ```
    pub fn to_async(&self) -> AsyncCache<K, V, S> {
        AsyncCache::from(self.clone())
    }
}

impl<K, V> AsyncCache<K, V> {
    /// A cache of at most `entries` entries with every other setting at its default
    /// (for other settings, build a [`Cache`] and call [`Cache::to_async`]).
    ///
    /// ```
    /// let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap();
    /// assert_eq!(cache.capacity(), 4);
    /// ```
    pub fn with_capacity(entries: u64) -> Result<Self, BuildError>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        Cache::with_capacity(entries).map(Self::from)
    }
}

impl<K, V, S> AsyncCache<K, V, S> {
    /// A [`Cache`] handle on this same cache (a cheap clone of the handle).
    ///
    /// ```
    /// let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap();
    /// cache.to_sync().insert(1, 1);
    /// assert_eq!(futures::executor::block_on(cache.get(&1)), Some(1));
    /// ```
    pub fn to_sync(&self) -> Cache<K, V, S> {
        self.cache.clone()
    }

    /// The synchronous handle this one wraps, borrowed (for `iter`, `validate`, ...).
    ///
    /// ```
    /// let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap();
    /// futures::executor::block_on(cache.insert(1, 1));
    /// assert_eq!(cache.as_sync().iter().count(), 1);
    /// ```
    pub fn as_sync(&self) -> &Cache<K, V, S> {
        &self.cache
    }

    /// Live entries (weakly consistent), as [`Cache::len`].
    ///
    /// ```
    /// let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// True if the cache holds no live entry.
    ///
    /// ```
    /// assert!(clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Total weight of the live entries, as [`Cache::weighted_size`].
    ///
    /// ```
    /// assert_eq!(clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap().weighted_size(), 0);
    /// ```
    pub fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// The capacity budget, as [`Cache::capacity`].
    ///
    /// ```
    /// assert_eq!(clockwheel::AsyncCache::<u8, u8>::with_capacity(9).unwrap().capacity(), 9);
    /// ```
    pub fn capacity(&self) -> u64 {
        self.cache.capacity()
    }

    /// A snapshot of the statistics, as [`Cache::stats`].
    ///
    /// ```
    /// let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap();
    /// futures::executor::block_on(cache.get(&1));
    /// assert_eq!(cache.stats().misses, 1);
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// How many callers have joined the in-flight load of `key` as waiters, or `None`
    /// if none is in flight, as [`Cache::load_waiters`].
    ///
    /// ```
    /// let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap();
    /// assert_eq!(cache.load_waiters(&1), None);
    /// ```
    pub fn load_waiters(&self, key: &K) -> Option<usize>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
        S: BuildHasher,
    {
        self.cache.load_waiters(key)
    }

    /// Sets every statistics counter back to zero.
    ///
    /// ```
    /// let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(4).unwrap();
    /// futures::executor::block_on(cache.get(&1));
    /// cache.reset_stats();
    /// assert_eq!(cache.stats().misses, 0);
    /// ```
    pub fn reset_stats(&self) {
        self.cache.reset_stats()
    }
}

/// The engine's operations. Each future completes on its first poll: the engine never
/// blocks nor waits.
impl<K, V, S> AsyncCache<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// The value for `key`, marking the entry used, as [`Cache::get`].
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert("a", 1).await;
    /// assert_eq!(cache.get("a").await, Some(1));
    /// # });
    /// ```
    pub async fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.cache.get(key)
    }

    /// The value for `key` without marking it used or counting a hit or miss.
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert("a", 1).await;
    /// assert_eq!(cache.peek("a").await, Some(1));
    /// assert_eq!(cache.stats().hits, 0);
    /// # });
    /// ```
    pub async fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.cache.peek(key)
    }

    /// True if `key` has a live entry (marks it used).
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// assert!(!cache.contains_key("a").await);
    /// cache.insert("a", 1).await;
    /// assert!(cache.contains_key("a").await);
    /// # });
    /// ```
    pub async fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.contains_key(key)
    }

    /// Inserts with the default TTL, returning the replaced value, as [`Cache::insert`].
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// assert_eq!(cache.insert("a", 1).await, None);
    /// assert_eq!(cache.insert("a", 2).await, Some(1));
    /// # });
    /// ```
    pub async fn insert(&self, key: K, value: V) -> Option<V>
    where
        V: Clone,
    {
        self.cache.insert(key, value)
    }

    /// Inserts with an explicit TTL (`None`: never expires), as
    /// [`Cache::insert_with_ttl`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert_with_ttl("a", 1, Some(Duration::from_secs(60))).await;
    /// assert!(cache.remaining_ttl("a").await.unwrap().unwrap() <= Duration::from_secs(60));
    /// # });
    /// ```
    pub async fn insert_with_ttl(&self, key: K, value: V, ttl: Option<Duration>) -> Option<V>
    where
        V: Clone,
    {
        self.cache.insert_with_ttl(key, value, ttl)
    }

    /// Inserts, refusing an entry heavier than the capacity, as [`Cache::try_insert`].
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// assert!(cache.try_insert("a", 1).await.is_ok());
    /// # });
    /// ```
    pub async fn try_insert(&self, key: K, value: V) -> Result<Option<V>, (K, InsertError)>
    where
        V: Clone,
    {
        self.cache.try_insert(key, value)
    }

    /// Inserts with an explicit TTL, refusing an entry heavier than the capacity or a TTL
    /// above [`MAX_TTL`](crate::MAX_TTL), as [`Cache::try_insert_with_ttl`].
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// let too_long = Some(clockwheel::MAX_TTL * 2);
    /// assert!(cache.try_insert_with_ttl("a", 1, too_long).await.is_err());
    /// # });
    /// ```
    pub async fn try_insert_with_ttl(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> Result<Option<V>, (K, InsertError)>
    where
        V: Clone,
    {
        self.cache.try_insert_with_ttl(key, value, ttl)
    }

    /// How long the entry has left, as [`Cache::remaining_ttl`].
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert_with_ttl("a", 1, None).await;
    /// assert_eq!(cache.remaining_ttl("a").await, Some(None));
    /// # });
    /// ```
    pub async fn remaining_ttl<Q>(&self, key: &Q) -> Option<Option<Duration>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.remaining_ttl(key)
    }

    /// Removes the entry for `key`, returning its value.
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert("a", 1).await;
    /// assert_eq!(cache.remove("a").await, Some(1));
    /// # });
    /// ```
    pub async fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.cache.remove(key)
    }

    /// Removes the entry for `key`; true if there was one.
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert("a", 1).await;
    /// assert!(cache.invalidate("a").await);
    /// assert!(!cache.invalidate("a").await);
    /// # });
    /// ```
    pub async fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.invalidate(key)
    }

    /// Expires every entry whose deadline has passed, as [`Cache::run_pending_tasks`].
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// futures::executor::block_on(cache.run_pending_tasks());
    /// ```
    pub async fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks()
    }

    /// Removes every entry (weakly consistent), as [`Cache::clear`].
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<&str, u8>::with_capacity(4).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert("a", 1).await;
    /// cache.clear().await;
    /// assert!(cache.is_empty());
    /// # });
    /// ```
    pub async fn clear(&self) {
        self.cache.clear()
    }

    /// Keeps only the entries for which `keep` returns true; returns how many it removed.
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<u8, u8>::with_capacity(8).unwrap();
    /// # futures::executor::block_on(async {
    /// for i in 0..4 { cache.insert(i, i).await; }
    /// assert_eq!(cache.retain(|_k, v| v % 2 == 0).await, 2);
    /// # });
    /// ```
    pub async fn retain(&self, keep: impl FnMut(&K, &V) -> bool) -> usize {
        self.cache.retain(keep)
    }

    /// Removes every entry whose key matches the glob `pattern`, as
    /// [`Cache::remove_matching`]; an invalid (over-long) pattern is an error and removes
    /// nothing.
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<String, u8>::with_capacity(8).unwrap();
    /// # futures::executor::block_on(async {
    /// cache.insert("s3v:list:Product:1".into(), 1).await;
    /// cache.insert("s3v:model:Product:1".into(), 2).await;
    /// assert_eq!(cache.remove_matching("s3v:list:Product:*").await.unwrap(), 1);
    /// let too_long = "*".repeat(clockwheel::Pattern::MAX_LEN + 1);
    /// assert!(cache.remove_matching(&too_long).await.is_err());
    /// # });
    /// ```
    pub async fn remove_matching(&self, pattern: &str) -> Result<usize, PatternError>
    where
        K: AsRef<str>,
    {
        self.cache.remove_matching(pattern)
    }
}

/// Single-flight loaders for async callers; runtime-agnostic (waiters park their waker
/// in the key's in-flight record).
impl<K, V, S> AsyncCache<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// The value for `key`, loading it with `init` on a miss. Concurrent misses on one
    /// key poll one `init` and all get its value; `init` is not polled unless this caller
    /// leads the load. If the leading caller's future is dropped or panics, a waiter
    /// takes over with its own `init`. A hit is a plain lock-free `get`.
    ///
    /// `init` must not load `key` itself through this cache: it would wait for itself.
    ///
    /// ```
    /// use clockwheel::AsyncCache;
    /// use futures::future::join_all;
    ///
    /// let cache = AsyncCache::<u32, String>::with_capacity(100).unwrap();
    /// let loads = std::sync::atomic::AtomicUsize::new(0);
    /// let callers = (0..10).map(|_| {
    ///     cache.get_or_insert_with(1, async {
    ///         loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    ///         "one".to_string()
    ///     })
    /// });
    /// let values = futures::executor::block_on(join_all(callers));
    /// assert!(values.iter().all(|v| v == "one"));
    /// assert_eq!(loads.into_inner(), 1);
    /// ```
    pub async fn get_or_insert_with(&self, key: K, init: impl Future<Output = V>) -> V {
        let load = async { Ok::<V, Infallible>(init.await) };
        flight::infallible(self.load(key, LoadOptions::default(), load).await)
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) with a fallible loader: an
    /// error goes to every caller waiting on the load, as one shared `Arc<E>`, and is not
    /// cached.
    ///
    /// ```
    /// # let cache = clockwheel::AsyncCache::<u32, u32>::with_capacity(100).unwrap();
    /// # futures::executor::block_on(async {
    /// let err = cache.try_get_or_insert_with(1, async { Err::<u32, _>("timeout") }).await;
    /// assert_eq!(*err.unwrap_err(), "timeout");
    /// let ok = cache.try_get_or_insert_with(1, async { Ok::<_, &str>(1) }).await;
    /// assert_eq!(ok.unwrap(), 1);
    /// # });
    /// ```
    pub async fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        flight::failed(self.load(key, LoadOptions::default(), init).await)
    }

    /// Like [`try_get_or_insert_with`](Self::try_get_or_insert_with) with a timeout and a
    /// TTL for the loaded entry (see [`LoadOptions`]). At the deadline a waiter returns
    /// [`LoadError::TimedOut`] and a leader drops its `init` (a waiter then takes over);
    /// a timer thread wakes the task at the deadline, so no runtime is needed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use clockwheel::{AsyncCache, LoadError, LoadOptions};
    ///
    /// let cache = AsyncCache::<u32, u32>::with_capacity(100).unwrap();
    /// let options = LoadOptions::default().with_timeout(Duration::from_millis(20));
    /// let stuck = futures::future::pending::<Result<u32, std::io::Error>>();
    /// let r = futures::executor::block_on(cache.try_get_or_insert_with_options(1, options, stuck));
    /// assert!(matches!(r, Err(LoadError::TimedOut(_))));
    /// ```
    pub async fn try_get_or_insert_with_options<E>(
        &self,
        key: K,
        options: LoadOptions,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, LoadError<E>>
    where
        E: Send + Sync + 'static,
    {
        self.load(key, options, init).await
    }

    /// The async single-flight protocol (the blocking one is
    /// [`Cache::try_get_or_insert_with_options`]).
    async fn load<E, F>(&self, key: K, options: LoadOptions, init: F) -> Result<V, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.cache.get(&key) {
            return Ok(value);
        }
        let deadline = options.deadline();
        let timed_out = || LoadError::TimedOut(options.timeout.unwrap_or_default());
        let mut lead = loop {
            let flight = match join(&self.cache, &key) {
                Role::Lead(lead) => break lead,
                Role::Wait(flight) => flight,
            };
            let Some(settled) = WaitFlight::new(flight, deadline).await else {
                return Err(timed_out());
            };
            if let Next::Done(result) = next(settled) {
                return result;
            }
        };
        if let Some(value) = lead.already_loaded() {
            return Ok(value);
        }
        let init = std::pin::pin!(init);
        // Dropping `lead` without finishing (timeout, cancellation, panic) abandons the
        // flight, and a waiter takes over.
        match Loading::new(init, deadline).await {
            Some(Ok(value)) => Ok(lead.finish_ok(value, options.ttl)),
            Some(Err(error)) => Err(LoadError::Failed(lead.finish_err(error))),
            None => Err(timed_out()),
        }
    }
}
