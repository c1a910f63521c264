//! What [`InMemoryCache`](super::InMemoryCache) and [`LruCache`](super::LruCache)
//! share: the backend operations on one engine [`Cache`] with string keys.
//! Every operation completes synchronously; the backends wrap the results in
//! ready futures.

use std::collections::HashMap;
use std::time::Duration;

use super::{BackendResult, EntryTtl};
use crate::{BuildError, Cache, EvictionPolicy, MAX_WEIGHT};

/// Bucket-array size of an unbounded cache whose caller gave no estimate:
/// 64 Ki buckets (512 KiB). The arrays never grow, so a much larger unbounded
/// cache gets longer chains (slower, never wrong).
pub(crate) const UNBOUNDED_ESTIMATE: usize = 1 << 16;

/// Largest default bucket-array size of a bounded cache: 1 Mi buckets (8 MiB).
/// The engine sizes a count-bounded cache's arrays from its capacity, which
/// for a generous `max_size` would allocate far more than the entries ever
/// use; past this size, longer chains cost less than the memory.
pub(crate) const BOUNDED_ESTIMATE_CAP: u64 = 1 << 20;

/// How to build the engine under a backend.
pub(crate) struct EngineConfig {
    /// Entry limit; `None` is unbounded.
    pub max_size: Option<u64>,
    pub policy: EvictionPolicy,
    pub default_ttl: Option<Duration>,
    pub cleanup_interval: Option<Duration>,
    pub clock: Option<quanta::Clock>,
    pub shards: Option<usize>,
    pub estimated_entries: Option<usize>,
}

impl EngineConfig {
    /// Builds the engine. A bounded cache defaults to one shard, so that its
    /// eviction order is exactly the policy's (FIFO or CLOCK) over the whole
    /// cache, as the reference's examples require; an unbounded cache never
    /// evicts and keeps the engine's default sharding.
    pub(crate) fn build<V>(self) -> Result<Cache<String, V>, BuildError>
    where
        V: Clone + Send + Sync + 'static,
    {
        let mut builder = Cache::builder().policy(self.policy);
        builder = match self.max_size {
            Some(max) => builder.max_capacity(max).shards(self.shards.unwrap_or(1)),
            None => {
                let estimate = self.estimated_entries.unwrap_or(UNBOUNDED_ESTIMATE);
                let b = builder.max_capacity(MAX_WEIGHT).estimated_entries(estimate);
                match self.shards {
                    Some(shards) => b.shards(shards),
                    None => b,
                }
            }
        };
        if let Some(max) = self.max_size {
            let default = max.min(BOUNDED_ESTIMATE_CAP) as usize;
            builder = builder.estimated_entries(self.estimated_entries.unwrap_or(default));
        }
        if let Some(ttl) = self.default_ttl {
            builder = builder.default_ttl(ttl);
        }
        if let Some(interval) = self.cleanup_interval {
            builder = builder.cleanup_interval(interval);
        }
        if let Some(clock) = self.clock {
            builder = builder.clock(clock);
        }
        builder.build()
    }
}

/// `get` plus the entry's remaining lifetime, both read from the same entry
/// (`Cache::get_with_ttl`), so a concurrent replacement cannot mix them up.
pub(crate) fn get_with_ttl<V>(cache: &Cache<String, V>, key: &str) -> Option<(V, EntryTtl)>
where
    V: Clone + Send + Sync + 'static,
{
    let (value, left) = cache.get_with_ttl(key)?;
    let ttl = match left {
        Some(left) => EntryTtl::Expires(left),
        None => EntryTtl::Never,
    };
    Some((value, ttl))
}

/// `set`: `None` takes the engine's default TTL (or none), as the reference.
pub(crate) fn set<V>(cache: &Cache<String, V>, key: &str, value: V, ttl: Option<Duration>)
where
    V: Clone + Send + Sync + 'static,
{
    match ttl {
        None => cache.insert(key.to_owned(), value),
        Some(ttl) => cache.insert_with_ttl(key.to_owned(), value, Some(ttl)),
    };
}

/// `exists`: present and not expired, without counting a lookup or touching
/// the entry's recency.
pub(crate) fn exists<V>(cache: &Cache<String, V>, key: &str) -> bool
where
    V: Clone + Send + Sync + 'static,
{
    cache.remaining_ttl(key).is_some()
}

/// `delete_pattern` through the engine's glob removal.
pub(crate) fn delete_pattern<V>(cache: &Cache<String, V>, pattern: &str) -> BackendResult<usize>
where
    V: Clone + Send + Sync + 'static,
{
    Ok(cache.remove_matching(pattern)?)
}

/// `get_many`: the present keys only.
pub(crate) fn get_many<V>(cache: &Cache<String, V>, keys: &[&str]) -> HashMap<String, V>
where
    V: Clone + Send + Sync + 'static,
{
    keys.iter()
        .filter_map(|&key| cache.get(key).map(|v| (key.to_owned(), v)))
        .collect()
}

/// `set_many`: every entry with the same TTL.
pub(crate) fn set_many<V>(
    cache: &Cache<String, V>,
    entries: HashMap<String, V>,
    ttl: Option<Duration>,
) where
    V: Clone + Send + Sync + 'static,
{
    for (key, value) in entries {
        match ttl {
            None => cache.insert(key, value),
            Some(ttl) => cache.insert_with_ttl(key, value, Some(ttl)),
        };
    }
}

/// `delete_many`: how many of `keys` were present.
pub(crate) fn delete_many<V>(cache: &Cache<String, V>, keys: &[&str]) -> usize
where
    V: Clone + Send + Sync + 'static,
{
    keys.iter().filter(|&&key| cache.invalidate(key)).count()
}

/// The [`CacheBackend`](super::CacheBackend) methods that [`InMemoryCache`](super::InMemoryCache)
/// and [`LruCache`](super::LruCache) implement identically on their `cache` field (they
/// differ only in `clear` and `stats`). Used inside their `impl CacheBackend<V>` blocks.
macro_rules! engine_backend_ops {
    () => {
        fn get<'a>(
            &'a self,
            key: &'a str,
        ) -> $crate::backends::BoxFuture<'a, $crate::backends::BackendResult<Option<V>>> {
            $crate::backends::ready(Ok(self.cache.get(key)))
        }

        fn set<'a>(
            &'a self,
            key: &'a str,
            value: V,
            ttl: Option<std::time::Duration>,
        ) -> $crate::backends::BoxFuture<'a, $crate::backends::BackendResult<()>> {
            $crate::backends::local::set(&self.cache, key, value, ttl);
            $crate::backends::ready(Ok(()))
        }

        fn delete<'a>(
            &'a self,
            key: &'a str,
        ) -> $crate::backends::BoxFuture<'a, $crate::backends::BackendResult<bool>> {
            $crate::backends::ready(Ok(self.cache.invalidate(key)))
        }

        fn exists<'a>(
            &'a self,
            key: &'a str,
        ) -> $crate::backends::BoxFuture<'a, $crate::backends::BackendResult<bool>> {
            $crate::backends::ready(Ok($crate::backends::local::exists(&self.cache, key)))
        }

        fn get_with_ttl<'a>(
            &'a self,
            key: &'a str,
        ) -> $crate::backends::BoxFuture<
            'a,
            $crate::backends::BackendResult<Option<(V, $crate::backends::EntryTtl)>>,
        > {
            $crate::backends::ready(Ok($crate::backends::local::get_with_ttl(&self.cache, key)))
        }

        fn delete_pattern<'a>(
            &'a self,
            pattern: &'a str,
        ) -> $crate::backends::BoxFuture<'a, $crate::backends::BackendResult<usize>> {
            $crate::backends::ready($crate::backends::local::delete_pattern(
                &self.cache,
                pattern,
            ))
        }

        fn get_many<'a>(
            &'a self,
            keys: &'a [&'a str],
        ) -> $crate::backends::BoxFuture<
            'a,
            $crate::backends::BackendResult<std::collections::HashMap<String, V>>,
        > {
            $crate::backends::ready(Ok($crate::backends::local::get_many(&self.cache, keys)))
        }

        fn set_many(
            &self,
            entries: std::collections::HashMap<String, V>,
            ttl: Option<std::time::Duration>,
        ) -> $crate::backends::BoxFuture<'_, $crate::backends::BackendResult<()>> {
            $crate::backends::local::set_many(&self.cache, entries, ttl);
            $crate::backends::ready(Ok(()))
        }

        fn delete_many<'a>(
            &'a self,
            keys: &'a [&'a str],
        ) -> $crate::backends::BoxFuture<'a, $crate::backends::BackendResult<usize>> {
            $crate::backends::ready(Ok($crate::backends::local::delete_many(&self.cache, keys)))
        }
    };
}

pub(crate) use engine_backend_ops;
