//! `CompositeCache` against the reference: tiers in order, promotion (with the
//! remaining TTL, our deliberate difference), write-all, delete-all, the largest
//! `delete_pattern` count, and stats naming each tier.

use super::*;
use clockwheel::backends::{BackendStats, BoxFuture, CompositeCache, CustomStats};
use std::sync::Mutex;

/// A backend with no `delete_pattern` and no `get_with_ttl` (the trait's
/// defaults), counting the TTLs it was given.
#[derive(Default)]
struct MapBackend {
    map: Mutex<HashMap<String, u32>>,
    ttls: Mutex<Vec<Option<Duration>>>,
}

impl CacheBackend<u32> for MapBackend {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<Option<u32>>> {
        let found = self.map.lock().unwrap().get(key).copied();
        Box::pin(async move { Ok(found) })
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: u32,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, BackendResult<()>> {
        self.map.lock().unwrap().insert(key.to_owned(), value);
        self.ttls.lock().unwrap().push(ttl);
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>> {
        let had = self.map.lock().unwrap().remove(key).is_some();
        Box::pin(async move { Ok(had) })
    }
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, BackendResult<bool>> {
        let had = self.map.lock().unwrap().contains_key(key);
        Box::pin(async move { Ok(had) })
    }
    fn clear(&self) -> BoxFuture<'_, BackendResult<()>> {
        self.map.lock().unwrap().clear();
        Box::pin(async { Ok(()) })
    }
    fn stats(&self) -> BoxFuture<'_, BackendResult<BackendStats>> {
        let size = self.map.lock().unwrap().len();
        let fields = json!({ "size": size })
            .as_object()
            .cloned()
            .unwrap_or_default();
        Box::pin(async move { Ok(BackendStats::Custom(CustomStats::new("MapBackend", fields))) })
    }
}

fn two_tier(
    clock: &quanta::Clock,
) -> (
    Arc<LruCache<u32>>,
    Arc<InMemoryCache<u32>>,
    CompositeCache<u32>,
) {
    let l1 = Arc::new(
        LruCache::new(LruOptions {
            max_size: 100,
            default_ttl: Some(SECS(60)),
            clock: Some(clock.clone()),
            ..Default::default()
        })
        .unwrap(),
    );
    let l2 = Arc::new(in_memory(Some(1000), clock));
    let composite = CompositeCache::new(vec![l1.clone(), l2.clone()]).unwrap();
    (l1, l2, composite)
}

#[test]
fn composite_needs_a_tier() {
    let err = CompositeCache::<u32>::new(Vec::new()).unwrap_err();
    assert!(matches!(err, BackendError::NoTiers));
    assert_eq!(err.to_string(), "a composite cache needs at least one tier");
}

#[test]
fn composite_promotes_with_the_remaining_ttl() {
    let (clock, mock) = mock_clock();
    let (l1, l2, cache) = two_tier(&clock);
    block_on(async {
        l2.set("k", 7, Some(SECS(100))).await?;
        mock.increment(SECS(25));
        assert_eq!(cache.get("k").await?, Some(7));
        // Promoted into L1 for the 75 s the entry had left, not L1's 60 s default.
        let left = l1.engine().remaining_ttl("k").flatten().unwrap();
        assert_eq!(left, SECS(75));
        mock.increment(SECS(74));
        assert_eq!(l1.get("k").await?, Some(7));
        mock.increment(SECS(1));
        assert_eq!(
            l1.get("k").await?,
            None,
            "the L1 copy dies with the L2 entry"
        );
        assert_eq!(cache.get("k").await?, None);
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn composite_promotion_never_outlives_a_long_default() {
    let (clock, mock) = mock_clock();
    let (l1, l2, cache) = two_tier(&clock);
    block_on(async {
        l2.set("k", 1, Some(SECS(10))).await?;
        cache.get("k").await?;
        assert_eq!(l1.engine().remaining_ttl("k").flatten(), Some(SECS(10)));
        mock.increment(SECS(10));
        assert!(!cache.exists("k").await?);
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn composite_promotes_never_expiring_and_unknown_with_tier_default() {
    let (clock, _mock) = mock_clock();
    let l1 = Arc::new(lru(10, &clock)); // default 300 s
    let forever = Arc::new(
        InMemoryCache::new(InMemoryOptions {
            default_ttl: None,
            cleanup_interval: None,
            clock: Some(clock.clone()),
            ..Default::default()
        })
        .unwrap(),
    );
    let map = Arc::new(MapBackend::default());
    let cache = CompositeCache::new(vec![l1.clone(), forever.clone(), map.clone()]).unwrap();
    block_on(async {
        forever.set("never", 1, None).await?;
        map.set("unknown", 2, None).await?;
        map.ttls.lock().unwrap().clear();
        assert_eq!(cache.get("never").await?, Some(1));
        assert_eq!(
            l1.engine().remaining_ttl("never").flatten(),
            Some(SECS(300))
        );
        assert_eq!(cache.get("unknown").await?, Some(2));
        assert_eq!(
            l1.engine().remaining_ttl("unknown").flatten(),
            Some(SECS(300))
        );
        let (_, ttl) = forever.get_with_ttl("unknown").await?.unwrap();
        assert_eq!(ttl, EntryTtl::Never, "promoted into the middle tier too");
        assert!(
            map.ttls.lock().unwrap().is_empty(),
            "nothing is written below the hit"
        );
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn composite_writes_and_deletes_every_tier() {
    let (clock, mock) = mock_clock();
    let (l1, l2, cache) = two_tier(&clock);
    block_on(async {
        cache.set("k", 1, None).await?;
        assert_eq!((l1.get("k").await?, l2.get("k").await?), (Some(1), Some(1)));
        // `None` is each tier's own default: 60 s in L1, 300 s in L2.
        mock.increment(SECS(60));
        assert_eq!((l1.get("k").await?, l2.get("k").await?), (None, Some(1)));
        assert!(cache.exists("k").await?, "any tier");
        assert!(cache.delete("k").await?, "true if any tier had it");
        assert!(!l2.exists("k").await?);
        assert!(!cache.delete("k").await?);
        cache.set("a", 1, Some(SECS(5))).await?;
        l2.set("b", 2, None).await?;
        cache.clear().await?;
        assert_eq!((l1.stats().size, l2.stats().size), (0, 0));
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn composite_batch_operations() {
    let (clock, _mock) = mock_clock();
    let (l1, l2, cache) = two_tier(&clock);
    block_on(async {
        let entries = HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)]);
        cache.set_many(entries, None).await?;
        assert_eq!((l1.stats().size, l2.stats().size), (2, 2));
        l1.delete("b").await?;
        l2.set("c", 3, None).await?;
        let found = cache.get_many(&["a", "b", "c", "d"]).await?;
        assert_eq!(found.len(), 3);
        assert_eq!(l1.stats().size, 3, "b and c were promoted");
        assert_eq!(cache.delete_many(&["a", "c", "d"]).await?, 2);
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn composite_delete_pattern_returns_the_largest_tier_count() {
    let (clock, _mock) = mock_clock();
    let (l1, l2, cache) = two_tier(&clock);
    let map = Arc::new(MapBackend::default());
    let with_map = CompositeCache::new(vec![
        l1.clone() as Arc<dyn CacheBackend<u32>>,
        map.clone(),
        l2.clone(),
    ])
    .unwrap();
    block_on(async {
        cache.set("p:1", 1, None).await?;
        cache.set("p:2", 2, None).await?;
        l2.set("p:3", 3, None).await?;
        l2.set("q:1", 4, None).await?;
        assert_eq!(cache.delete_pattern("p:*").await?, 3, "max(2, 3), not 5");
        assert_eq!(l2.stats().size, 1);
        // A tier without patterns is skipped.
        l1.set("q:2", 5, None).await?;
        assert_eq!(with_map.delete_pattern("q:*").await?, 1);
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn delete_pattern_unsupported_is_an_error() {
    let map = MapBackend::default();
    let err = block_on(map.delete_pattern("*")).unwrap_err();
    assert!(err.is_unsupported());
    assert!(
        err.to_string()
            .ends_with("MapBackend does not support delete_pattern"),
        "{err}"
    );
    let only_map = CompositeCache::new(vec![Arc::new(map) as Arc<dyn CacheBackend<u32>>]).unwrap();
    let err = block_on(only_map.delete_pattern("*")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CompositeCache does not support delete_pattern"
    );
}

#[test]
fn composite_invalid_pattern_touches_no_tier() {
    let (clock, _mock) = mock_clock();
    let (_l1, l2, cache) = two_tier(&clock);
    block_on(l2.set("x", 1, None)).unwrap();
    let long = "*".repeat(5000);
    assert!(matches!(
        block_on(cache.delete_pattern(&long)),
        Err(BackendError::InvalidPattern(_))
    ));
    assert_eq!(l2.stats().size, 1);
}

#[test]
fn composite_stats_name_each_tier() {
    let (clock, _mock) = mock_clock();
    let (_l1, _l2, cache) = two_tier(&clock);
    let map: Arc<dyn CacheBackend<u32>> = Arc::new(MapBackend::default());
    let nested =
        CompositeCache::new(vec![Arc::new(cache) as Arc<dyn CacheBackend<u32>>, map]).unwrap();
    block_on(nested.set("k", 1, None)).unwrap();
    let stats = block_on(CacheBackend::stats(&nested)).unwrap();
    assert_eq!(stats.type_name(), "CompositeCache");
    let want = json!({"tiers": [
        {"type": "CompositeCache", "tiers": [
            {"type": "LRUCache", "size": 1, "max_size": 100, "hits": 0, "misses": 0,
             "hit_rate": 0.0, "default_ttl": 60},
            {"type": "InMemoryCache", "size": 1, "max_size": 1000, "default_ttl": 300},
        ]},
        {"type": "MapBackend", "size": 1},
    ]});
    assert_eq!(serde_json::to_value(&stats).unwrap(), want);
}
