//! `CompositeCache`: ordered tiers, fastest first, with promotion on hits.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::stats::{BackendStats, CompositeStats, TierStats};
use super::{BackendError, BackendResult, BoxFuture, CacheBackend, EntryTtl};
use crate::glob::Pattern;

/// Tiers of backends, fastest first (the reference's `CompositeCache`).
///
/// - `get` asks the tiers in order; a hit in tier *i* is copied into tiers
///   0..*i* (promotion) **with the entry's remaining lifetime** as tier *i*
///   reports it through [`CacheBackend::get_with_ttl`]. This goes beyond the
///   reference, which promotes with each tier's default TTL and so can keep
///   serving an entry from L1 after it expired in L2. An entry that never
///   expires, or whose tier cannot tell, is promoted with the earlier tiers'
///   default TTL, as the reference does; an entry with no time left is not
///   promoted. Promotion is best-effort: a tier failing to store the copy
///   does not fail the `get`.
/// - `set` and `delete` go to every tier (all are tried even if one fails;
///   the first error is returned); `delete` is true if any tier had the key.
/// - `exists` is true if any tier has the key; `clear` clears every tier.
/// - `delete_pattern` runs on every tier that supports it and returns the
///   largest count removed by a single tier (tiers hold overlapping copies,
///   so a sum would count an entry once per tier).
///
/// ```
/// use clockwheel::backends::{CacheBackend, CompositeCache, InMemoryCache, InMemoryOptions, LruCache, LruOptions};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// # futures::executor::block_on(async {
/// let l1 = Arc::new(LruCache::new(LruOptions { max_size: 100, default_ttl: Some(Duration::from_secs(60)), ..Default::default() })?);
/// let l2 = Arc::new(InMemoryCache::new(InMemoryOptions { max_size: Some(1000), ..Default::default() })?);
/// let cache = CompositeCache::new(vec![l1.clone(), l2.clone()])?;
///
/// l2.set("product:1", "lamp", Some(Duration::from_secs(30))).await?;
/// assert_eq!(cache.get("product:1").await?, Some("lamp"));
/// // Promoted into L1 with the 30 s it had left in L2, not L1's 60 s default.
/// let left = l1.engine().remaining_ttl("product:1").flatten().unwrap();
/// assert!(left <= Duration::from_secs(30));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct CompositeCache<V> {
    /// Invariant: never empty.
    tiers: Vec<Arc<dyn CacheBackend<V>>>,
}

impl<V> CompositeCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// A composite of `tiers`, fastest first; no tiers is
    /// [`BackendError::NoTiers`].
    ///
    /// ```
    /// use clockwheel::backends::{BackendError, CompositeCache};
    ///
    /// let err = CompositeCache::<u32>::new(Vec::new()).unwrap_err();
    /// assert!(matches!(err, BackendError::NoTiers));
    /// ```
    pub fn new(tiers: Vec<Arc<dyn CacheBackend<V>>>) -> Result<Self, BackendError> {
        if tiers.is_empty() {
            return Err(BackendError::NoTiers);
        }
        Ok(CompositeCache { tiers })
    }

    /// The tiers, fastest first.
    ///
    /// ```
    /// use clockwheel::backends::{CompositeCache, LruCache, LruOptions};
    /// use std::sync::Arc;
    ///
    /// let cache = CompositeCache::<u8>::new(vec![Arc::new(LruCache::new(LruOptions::default())?)])?;
    /// assert_eq!(cache.tiers().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tiers(&self) -> &[Arc<dyn CacheBackend<V>>] {
        &self.tiers
    }

    /// The statistics of every tier, typed (the trait's
    /// [`stats`](CacheBackend::stats) returns the same as
    /// [`BackendStats::Composite`]).
    pub async fn tier_stats(&self) -> BackendResult<CompositeStats> {
        let mut tiers = Vec::with_capacity(self.tiers.len());
        for tier in &self.tiers {
            tiers.push(TierStats::new(tier.stats().await?));
        }
        Ok(CompositeStats { tiers })
    }

    /// Walks the tiers in order; promotes a hit into the tiers before it.
    async fn find(&self, key: &str) -> BackendResult<Option<(V, EntryTtl)>> {
        for (i, tier) in self.tiers.iter().enumerate() {
            if let Some((value, ttl)) = tier.get_with_ttl(key).await? {
                self.promote(&self.tiers[..i], key, &value, ttl).await;
                return Ok(Some((value, ttl)));
            }
        }
        Ok(None)
    }

    /// Copies a hit into `faster` tiers for its remaining lifetime (see the
    /// type's docs). Errors are ignored: a missing copy only costs a later miss.
    async fn promote(
        &self,
        faster: &[Arc<dyn CacheBackend<V>>],
        key: &str,
        value: &V,
        ttl: EntryTtl,
    ) {
        let ttl = match ttl {
            EntryTtl::Expires(left) if left.is_zero() => return,
            EntryTtl::Expires(left) => Some(left),
            EntryTtl::Never | EntryTtl::Unknown => None,
        };
        for tier in faster {
            let _ = tier.set(key, value.clone(), ttl).await;
        }
    }

    async fn set_all(&self, key: &str, value: V, ttl: Option<Duration>) -> BackendResult<()> {
        let mut first_error = None;
        for tier in &self.tiers {
            if let Err(err) = tier.set(key, value.clone(), ttl).await {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn delete_all(&self, key: &str) -> BackendResult<bool> {
        let mut found = false;
        let mut first_error = None;
        for tier in &self.tiers {
            match tier.delete(key).await {
                Ok(had) => found |= had,
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        first_error.map_or(Ok(found), Err)
    }

    async fn exists_any(&self, key: &str) -> BackendResult<bool> {
        for tier in &self.tiers {
            if tier.exists(key).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn clear_all(&self) -> BackendResult<()> {
        let mut first_error = None;
        for tier in &self.tiers {
            if let Err(err) = tier.clear().await {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The largest count over the tiers that support patterns. The pattern
    /// is checked first, so an invalid one touches no tier. If no tier
    /// supports patterns the result is [`BackendError::Unsupported`] (the
    /// reference would report 0 and leave stale entries behind).
    async fn delete_pattern_all(&self, pattern: &str) -> BackendResult<usize> {
        Pattern::new(pattern)?;
        let mut most: Option<usize> = None;
        let mut first_error = None;
        for tier in &self.tiers {
            match tier.delete_pattern(pattern).await {
                Ok(n) => most = Some(most.map_or(n, |m| m.max(n))),
                Err(err) if err.is_unsupported() => {}
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match (first_error, most) {
            (Some(err), _) => Err(err),
            (None, Some(n)) => Ok(n),
            (None, None) => Err(BackendError::Unsupported {
                backend: "CompositeCache",
                operation: "delete_pattern",
            }),
        }
    }

    async fn set_many_all(
        &self,
        entries: HashMap<String, V>,
        ttl: Option<Duration>,
    ) -> BackendResult<()> {
        let mut first_error = None;
        for tier in &self.tiers {
            if let Err(err) = tier.set_many(entries.clone(), ttl).await {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl<V> CacheBackend<V> for CompositeCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<Option<V>>> {
        Box::pin(async move { Ok(self.find(key).await?.map(|(value, _)| value)) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: V,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(self.set_all(key, value, ttl))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>> {
        Box::pin(self.delete_all(key))
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>> {
        Box::pin(self.exists_any(key))
    }

    fn clear(&self) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(self.clear_all())
    }

    fn stats(&self) -> BoxFuture<'_, BackendResult<BackendStats>> {
        Box::pin(async move { Ok(BackendStats::Composite(self.tier_stats().await?)) })
    }

    fn get_with_ttl<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<Option<(V, EntryTtl)>>> {
        Box::pin(self.find(key))
    }

    fn delete_pattern<'a>(&'a self, pattern: &'a str) -> BoxFuture<'a, BackendResult<usize>> {
        Box::pin(self.delete_pattern_all(pattern))
    }

    fn set_many(
        &self,
        entries: HashMap<String, V>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(self.set_many_all(entries, ttl))
    }
}

impl<V> fmt::Debug for CompositeCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompositeCache")
            .field("tiers", &self.tiers.len())
            .finish()
    }
}
