//! The S3verless cache backends, in Rust idiom: one object-safe async trait,
//! [`CacheBackend`], and three implementations that are thin layers over the
//! one engine, [`Cache`](crate::Cache).
//!
//! | backend | reference | eviction | stats |
//! |---|---|---|---|
//! | [`InMemoryCache`] | `InMemoryCache(default_ttl=300, max_size=None, cleanup_interval=60)` | FIFO at `max_size` | [`InMemoryStats`] |
//! | [`LruCache`] | `LRUCache(max_size=1000, default_ttl=300)` | CLOCK (LRU approximation; exact on the reference's examples) | [`LruStats`] |
//! | [`CompositeCache`] | `CompositeCache([l1, l2, ...])` | each tier's own | [`CompositeStats`] |
//!
//! Keys are strings; a `ttl` of `None` means the backend's `default_ttl`, and a
//! backend whose `default_ttl` is `None` keeps such entries until evicted or
//! deleted. `delete_pattern` takes the shell-style globs of Python's
//! `fnmatch` (see [`glob`](crate::glob)).
//!
//! The trait's methods return boxed futures and need no executor: the
//! in-process backends finish their work before returning a ready future, so
//! any executor (or a ten-line `block_on`) drives them. Backends are mixed as
//! `Arc<dyn CacheBackend<V>>`.
//!
//! ```
//! use clockwheel::backends::{CacheBackend, CompositeCache, InMemoryCache, InMemoryOptions, LruCache, LruOptions};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # futures::executor::block_on(async {
//! let l1 = LruCache::new(LruOptions { max_size: 100, default_ttl: Some(Duration::from_secs(60)), ..Default::default() })?;
//! let l2 = InMemoryCache::new(InMemoryOptions { max_size: Some(1000), ..Default::default() })?;
//! let cache: Arc<dyn CacheBackend<String>> = Arc::new(CompositeCache::new(vec![Arc::new(l1), Arc::new(l2)])?);
//!
//! cache.set("product:123", "lamp".to_string(), Some(Duration::from_secs(300))).await?;
//! assert_eq!(cache.get("product:123").await?, Some("lamp".to_string()));
//! assert_eq!(cache.delete_pattern("product:*").await?, 1);
//! assert!(!cache.exists("product:123").await?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod composite;
mod error;
mod in_memory;
mod local;
mod lru;
mod stats;

pub use composite::CompositeCache;
pub use error::BackendError;
pub use in_memory::{InMemoryCache, InMemoryOptions};
pub use lru::{LruCache, LruOptions};
pub use stats::{BackendStats, CompositeStats, CustomStats, InMemoryStats, LruStats, TierStats};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, `Send` future borrowing from `'a`: what every [`CacheBackend`]
/// method returns, so the trait stays object-safe without an async runtime.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of a backend operation.
pub type BackendResult<T> = Result<T, BackendError>;

/// How long an entry read by [`CacheBackend::get_with_ttl`] has left to live.
///
/// ```
/// use clockwheel::backends::EntryTtl;
/// use std::time::Duration;
///
/// assert_eq!(EntryTtl::Expires(Duration::from_secs(5)).as_duration(), Some(Duration::from_secs(5)));
/// assert_eq!(EntryTtl::Never.as_duration(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryTtl {
    /// The entry expires after this much more time.
    Expires(Duration),
    /// The entry never expires.
    Never,
    /// The backend cannot tell (the trait's default for backends that do not
    /// implement `get_with_ttl`).
    Unknown,
}

impl EntryTtl {
    /// The remaining time, when the entry expires and the backend knows when.
    ///
    /// ```
    /// use clockwheel::backends::EntryTtl;
    ///
    /// assert_eq!(EntryTtl::Unknown.as_duration(), None);
    /// ```
    pub fn as_duration(self) -> Option<Duration> {
        match self {
            EntryTtl::Expires(d) => Some(d),
            EntryTtl::Never | EntryTtl::Unknown => None,
        }
    }
}

/// A cache with string keys and values of type `V`: the S3verless
/// `CacheBackend` interface as an object-safe async trait.
///
/// Only `get`, `set`, `delete`, `exists`, `clear` and `stats` must be
/// implemented. The batch operations default to one call per key;
/// `delete_pattern` defaults to [`BackendError::Unsupported`]; `get_with_ttl`
/// defaults to `get` with [`EntryTtl::Unknown`].
///
/// ```
/// use clockwheel::backends::{BackendResult, BackendStats, BoxFuture, CacheBackend, CustomStats};
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::Duration;
///
/// /// A backend that keeps everything forever, for illustration.
/// #[derive(Default)]
/// struct MapBackend(Mutex<HashMap<String, String>>);
///
/// impl CacheBackend<String> for MapBackend {
///     fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<Option<String>>> {
///         let found = self.0.lock().unwrap().get(key).cloned();
///         Box::pin(async move { Ok(found) })
///     }
///     fn set<'a>(&'a self, key: &'a str, value: String, _ttl: Option<Duration>) -> BoxFuture<'a, BackendResult<()>> {
///         self.0.lock().unwrap().insert(key.to_owned(), value);
///         Box::pin(async { Ok(()) })
///     }
///     fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>> {
///         let removed = self.0.lock().unwrap().remove(key).is_some();
///         Box::pin(async move { Ok(removed) })
///     }
///     fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>> {
///         let found = self.0.lock().unwrap().contains_key(key);
///         Box::pin(async move { Ok(found) })
///     }
///     fn clear(&self) -> BoxFuture<'_, BackendResult<()>> {
///         self.0.lock().unwrap().clear();
///         Box::pin(async { Ok(()) })
///     }
///     fn stats(&self) -> BoxFuture<'_, BackendResult<BackendStats>> {
///         Box::pin(async { Ok(BackendStats::Custom(CustomStats::new("MapBackend", Default::default()))) })
///     }
/// }
///
/// let backend: std::sync::Arc<dyn CacheBackend<String>> = std::sync::Arc::new(MapBackend::default());
/// # let _ = backend;
/// ```
pub trait CacheBackend<V>: Send + Sync
where
    V: Send + 'static,
{
    /// The value for `key`, or `None` if absent or expired (an expired entry
    /// is dropped on the way).
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<Option<V>>>;

    /// Stores `value` under `key` for `ttl`, or for the backend's
    /// `default_ttl` when `ttl` is `None`. A zero `ttl` stores an entry that
    /// is already expired.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: V,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// Removes `key`; true if it was present.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>>;

    /// True if `key` is present and not expired. Counts as no lookup in hit
    /// statistics and does not refresh recency.
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>>;

    /// Removes every entry.
    fn clear(&self) -> BoxFuture<'_, BackendResult<()>>;

    /// The backend's statistics.
    fn stats(&self) -> BoxFuture<'_, BackendResult<BackendStats>>;

    /// Like [`get`](Self::get), also telling how long the entry has left.
    /// [`CompositeCache`] promotes hits with it.
    fn get_with_ttl<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<Option<(V, EntryTtl)>>> {
        Box::pin(async move { Ok(self.get(key).await?.map(|v| (v, EntryTtl::Unknown))) })
    }

    /// Removes every key matching the shell-style glob `pattern` (Python
    /// `fnmatch` semantics) and returns how many it removed. Backends that
    /// cannot enumerate keys return [`BackendError::Unsupported`] (the default).
    fn delete_pattern<'a>(&'a self, pattern: &'a str) -> BoxFuture<'a, BackendResult<usize>> {
        let _ = pattern;
        Box::pin(async {
            Err(BackendError::Unsupported {
                backend: std::any::type_name::<Self>(),
                operation: "delete_pattern",
            })
        })
    }

    /// The values of those `keys` that are present.
    fn get_many<'a>(
        &'a self,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, BackendResult<HashMap<String, V>>> {
        Box::pin(async move {
            let mut found = HashMap::with_capacity(keys.len());
            for &key in keys {
                if let Some(value) = self.get(key).await? {
                    found.insert(key.to_owned(), value);
                }
            }
            Ok(found)
        })
    }

    /// Stores every entry of `entries` with the same `ttl` (as [`set`](Self::set)).
    fn set_many(
        &self,
        entries: HashMap<String, V>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            for (key, value) in entries {
                self.set(&key, value, ttl).await?;
            }
            Ok(())
        })
    }

    /// Removes `keys`; returns how many were present.
    fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BoxFuture<'a, BackendResult<usize>> {
        Box::pin(async move {
            let mut removed = 0;
            for &key in keys {
                removed += usize::from(self.delete(key).await?);
            }
            Ok(removed)
        })
    }
}

/// A ready future: the in-process backends do their work before returning.
fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}
