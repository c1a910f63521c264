//! The backends against each behaviour `reference-semantics.md` states for
//! the S3verless reference (`InMemoryCache`, `LRUCache`, `CompositeCache`),
//! and against our deliberate differences (promotion with the remaining TTL,
//! unsupported `delete_pattern` as an error). TTLs run on a mock clock.

use clockwheel::backends::{
    BackendError, BackendResult, CacheBackend, EntryTtl, InMemoryCache, InMemoryOptions, LruCache,
    LruOptions,
};
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Drives a future to completion on this thread (the crate has no runtime).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(value) => return value,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[path = "backends/composite.rs"]
mod composite;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn mock_clock() -> (quanta::Clock, Arc<quanta::Mock>) {
    quanta::Clock::mock()
}

fn in_memory(max_size: Option<u64>, clock: &quanta::Clock) -> InMemoryCache<u32> {
    InMemoryCache::new(InMemoryOptions {
        max_size,
        cleanup_interval: None,
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .unwrap()
}

fn lru(max_size: u64, clock: &quanta::Clock) -> LruCache<u32> {
    LruCache::new(LruOptions {
        max_size,
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .unwrap()
}

/// Both in-process backends, boxed, for the behaviours they share.
fn both(clock: &quanta::Clock) -> Vec<Box<dyn CacheBackend<u32>>> {
    vec![Box::new(in_memory(None, clock)), Box::new(lru(1000, clock))]
}

// ------------------------------------------------------------ every backend

#[test]
fn get_set_delete_exists_clear() {
    let (clock, _mock) = mock_clock();
    for cache in both(&clock) {
        block_on(async {
            assert_eq!(cache.get("k").await?, None);
            cache.set("k", 1, None).await?;
            assert_eq!(cache.get("k").await?, Some(1));
            assert!(cache.exists("k").await?);
            cache.set("k", 2, None).await?;
            assert_eq!(cache.get("k").await?, Some(2));
            assert!(cache.delete("k").await?);
            assert!(!cache.delete("k").await?, "second delete finds nothing");
            assert!(!cache.exists("k").await?);
            cache.set("a", 1, None).await?;
            cache.set("b", 2, None).await?;
            cache.clear().await?;
            assert_eq!(cache.get_many(&["a", "b"]).await?.len(), 0);
            BackendResult::Ok(())
        })
        .unwrap();
    }
}

#[test]
fn default_ttl_is_300_seconds_and_expired_entries_are_absent() {
    let (clock, mock) = mock_clock();
    for cache in both(&clock) {
        block_on(async {
            cache.set("default", 1, None).await?;
            cache.set("short", 2, Some(SECS(10))).await?;
            cache.set("long", 3, Some(SECS(1000))).await?;
            mock.increment(SECS(10));
            assert_eq!(cache.get("short").await?, None);
            assert!(!cache.exists("short").await?);
            mock.increment(SECS(289));
            assert_eq!(cache.get("default").await?, Some(1));
            mock.increment(SECS(1));
            assert_eq!(cache.get("default").await?, None);
            assert!(!cache.exists("default").await?);
            assert_eq!(cache.get("long").await?, Some(3));
            mock.increment(SECS(700));
            assert_eq!(cache.get("long").await?, None);
            BackendResult::Ok(())
        })
        .unwrap();
    }
}

#[test]
fn expired_entry_is_dropped_on_read() {
    let (clock, mock) = mock_clock();
    let cache = in_memory(None, &clock);
    block_on(async {
        cache.set("k", 1, Some(SECS(1))).await?;
        assert_eq!(cache.stats().size, 1);
        mock.increment(SECS(2));
        assert_eq!(cache.get("k").await?, None);
        assert_eq!(cache.stats().size, 0);
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn default_ttl_none_never_expires() {
    let (clock, mock) = mock_clock();
    let cache = InMemoryCache::new(InMemoryOptions {
        default_ttl: None,
        cleanup_interval: None,
        clock: Some(clock),
        ..Default::default()
    })
    .unwrap();
    block_on(async {
        cache.set("forever", 1, None).await?;
        cache.set("brief", 2, Some(SECS(5))).await?;
        mock.increment(SECS(100 * 24 * 3600));
        assert_eq!(cache.get("forever").await?, Some(1));
        assert_eq!(cache.get("brief").await?, None);
        assert_eq!(
            cache.get_with_ttl("forever").await?,
            Some((1, EntryTtl::Never))
        );
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn zero_ttl_stores_an_already_expired_entry() {
    let (clock, _mock) = mock_clock();
    for cache in both(&clock) {
        block_on(async {
            cache.set("k", 1, Some(Duration::ZERO)).await?;
            assert!(!cache.exists("k").await?);
            assert_eq!(cache.get("k").await?, None);
            BackendResult::Ok(())
        })
        .unwrap();
    }
}

#[test]
fn delete_pattern_is_fnmatch_and_counts() {
    let (clock, _mock) = mock_clock();
    for cache in both(&clock) {
        block_on(async {
            for key in [
                "product:1",
                "product:2",
                "product:list:1",
                "user:1",
                "product",
            ] {
                cache.set(key, 0, None).await?;
            }
            assert_eq!(cache.delete_pattern("product:?").await?, 2);
            assert_eq!(cache.delete_pattern("nothing:*").await?, 0);
            assert_eq!(cache.delete_pattern("[!p]*").await?, 1, "user:1");
            assert_eq!(cache.delete_pattern("produc[st]*").await?, 2);
            assert_eq!(
                cache.get_many(&["product", "product:list:1"]).await?.len(),
                0
            );
            BackendResult::Ok(())
        })
        .unwrap();
    }
}

#[test]
fn unmatched_bracket_is_literal_as_in_fnmatch() {
    let (clock, _mock) = mock_clock();
    let cache = in_memory(None, &clock);
    block_on(async {
        cache.set("a[b", 1, None).await?;
        cache.set("ab", 2, None).await?;
        assert_eq!(cache.delete_pattern("a[b").await?, 1);
        assert_eq!(cache.get("ab").await?, Some(2));
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn invalid_pattern_is_a_clear_error() {
    let (clock, _mock) = mock_clock();
    for cache in both(&clock) {
        let long = "*".repeat(clockwheel::glob::Pattern::MAX_LEN + 1);
        let err = block_on(cache.delete_pattern(&long)).unwrap_err();
        assert!(matches!(err, BackendError::InvalidPattern(_)), "{err:?}");
        assert!(err.to_string().starts_with("invalid key pattern"), "{err}");
    }
}

#[test]
fn batch_operations() {
    let (clock, mock) = mock_clock();
    for cache in both(&clock) {
        block_on(async {
            let entries: HashMap<String, u32> = (0..5).map(|i| (format!("k{i}"), i)).collect();
            cache.set_many(entries, Some(SECS(30))).await?;
            let found = cache.get_many(&["k0", "k4", "missing"]).await?;
            assert_eq!(
                found,
                HashMap::from([("k0".to_string(), 0), ("k4".to_string(), 4)])
            );
            assert_eq!(cache.delete_many(&["k0", "k1", "missing"]).await?, 2);
            mock.increment(SECS(30));
            assert!(
                cache.get_many(&["k2", "k3", "k4"]).await?.is_empty(),
                "set_many TTL"
            );
            BackendResult::Ok(())
        })
        .unwrap();
    }
}

#[test]
fn backends_are_shared_across_threads_as_trait_objects() {
    let cache: Arc<dyn CacheBackend<u32>> =
        Arc::new(InMemoryCache::new(InMemoryOptions::default()).unwrap());
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                for i in 0..100u32 {
                    block_on(cache.set(&format!("{t}:{i}"), i, None)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = block_on(cache.stats()).unwrap();
    assert_eq!(serde_json::to_value(&stats).unwrap()["size"], json!(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_are_send_and_run_under_tokio() {
    let cache: Arc<dyn CacheBackend<u32>> = Arc::new(lru(1000, &quanta::Clock::new()));
    let tasks: Vec<_> = (0..8u32)
        .map(|t| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                for i in 0..50u32 {
                    cache.set(&format!("{t}:{i}"), i, None).await?;
                }
                cache.delete_pattern(&format!("{t}:1?")).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 10, "keys t:10..=t:19");
    }
    assert_eq!(
        cache
            .get_many(&["0:5", "7:49", "3:15"])
            .await
            .unwrap()
            .len(),
        2
    );
}

// ------------------------------------------------------------ InMemoryCache

#[test]
fn in_memory_options_default_to_the_reference() {
    let o = InMemoryOptions::default();
    assert_eq!(o.default_ttl, Some(SECS(300)));
    assert_eq!(o.max_size, None);
    assert_eq!(o.cleanup_interval, Some(SECS(60)));
}

#[test]
fn in_memory_evicts_oldest_inserted_at_max_size() {
    let (clock, _mock) = mock_clock();
    let cache = in_memory(Some(2), &clock);
    block_on(async {
        cache.set("key1", 1, None).await?;
        cache.set("key2", 2, None).await?;
        cache.set("key3", 3, None).await?;
        assert_eq!(cache.get("key1").await?, None);
        assert_eq!(cache.get("key2").await?, Some(2));
        assert_eq!(cache.get("key3").await?, Some(3));
        assert_eq!(cache.stats().size, 2);
        // FIFO: reading key2 does not save it.
        cache.set("key4", 4, None).await?;
        assert!(!cache.exists("key2").await?);
        assert!(cache.exists("key3").await? && cache.exists("key4").await?);
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn in_memory_fifo_is_exact_over_a_larger_cache() {
    let (clock, _mock) = mock_clock();
    let cache = in_memory(Some(500), &clock);
    block_on(async {
        for i in 0..800u32 {
            cache.set(&format!("k{i}"), i, None).await?;
            if i % 7 == 0 {
                cache.get("k0").await?; // reads never matter to FIFO
            }
        }
        for i in 0..800u32 {
            assert_eq!(cache.exists(&format!("k{i}")).await?, i >= 300, "k{i}");
        }
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn in_memory_unbounded_keeps_everything() {
    let (clock, _mock) = mock_clock();
    let cache = in_memory(None, &clock);
    block_on(async {
        for i in 0..20_000u32 {
            cache.set(&i.to_string(), i, None).await?;
        }
        assert_eq!(cache.stats().size, 20_000);
        assert_eq!(cache.get("12345").await?, Some(12345));
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn in_memory_cleanup_sweeps_expired_entries_nobody_reads() {
    let (clock, mock) = mock_clock();
    let cache = InMemoryCache::<u32>::new(InMemoryOptions {
        cleanup_interval: Some(Duration::from_millis(5)),
        clock: Some(clock),
        ..Default::default()
    })
    .unwrap();
    block_on(cache.set("k", 1, Some(SECS(1)))).unwrap();
    mock.increment(SECS(2));
    // The sweeper runs on real time; wait for it, bounded.
    let deadline = std::time::Instant::now() + SECS(10);
    while cache.stats().size != 0 {
        assert!(std::time::Instant::now() < deadline, "sweeper never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(cache.engine().stats().expirations, 1);
}

#[test]
fn in_memory_stats_serialize_as_the_reference_dict() {
    let (clock, _mock) = mock_clock();
    let cache = in_memory(Some(1000), &clock);
    block_on(cache.set("a", 1, None)).unwrap();
    let want = json!({"size": 1, "max_size": 1000, "default_ttl": 300});
    assert_eq!(serde_json::to_value(cache.stats()).unwrap(), want);
    let via_trait = block_on(CacheBackend::stats(&cache)).unwrap();
    assert_eq!(serde_json::to_value(via_trait).unwrap(), want);
    let unbounded = in_memory(None, &clock);
    assert_eq!(
        serde_json::to_value(unbounded.stats()).unwrap(),
        json!({"size": 0, "max_size": null, "default_ttl": 300})
    );
}

#[test]
fn bad_options_are_refused() {
    let zero_ttl = InMemoryCache::<u32>::new(InMemoryOptions {
        default_ttl: Some(Duration::ZERO),
        ..Default::default()
    });
    assert!(zero_ttl.is_err());
    let zero_size = LruCache::<u32>::new(LruOptions {
        max_size: 0,
        ..Default::default()
    });
    assert_eq!(zero_size.unwrap_err(), clockwheel::BuildError::ZeroCapacity);
}

#[test]
fn a_huge_max_size_does_not_allocate_for_it() {
    // The engine would size bucket arrays from the capacity (2^30 buckets,
    // 8 GiB); the backends cap the default estimate at 2^20.
    let cache = LruCache::<u32>::new(LruOptions {
        max_size: 1 << 40,
        ..Default::default()
    })
    .unwrap();
    block_on(cache.set("k", 1, None)).unwrap();
    assert_eq!(cache.engine().capacity(), 1 << 40);
    let too_big = InMemoryCache::<u32>::new(InMemoryOptions {
        estimated_entries: Some(usize::MAX),
        ..Default::default()
    });
    assert!(matches!(
        too_big.unwrap_err(),
        clockwheel::BuildError::EstimateTooLarge { .. }
    ));
}

// ------------------------------------------------------------ LruCache

#[test]
fn lru_options_default_to_the_reference() {
    let o = LruOptions::default();
    assert_eq!((o.max_size, o.default_ttl), (1000, Some(SECS(300))));
}

#[test]
fn lru_evicts_least_recently_used_reference_examples() {
    let (clock, _mock) = mock_clock();
    block_on(async {
        let cache = lru(3, &clock);
        for (i, key) in ["key1", "key2", "key3"].into_iter().enumerate() {
            cache.set(key, i as u32, None).await?;
        }
        cache.get("key1").await?;
        cache.set("key4", 4, None).await?;
        let left: Vec<bool> = futures_all(&cache, &["key1", "key2", "key3", "key4"]).await?;
        assert_eq!(left, [true, false, true, true]);

        let cache = lru(2, &clock);
        cache.set("key1", 1, None).await?;
        cache.set("key2", 2, None).await?;
        cache.get("key1").await?;
        cache.set("key3", 3, None).await?;
        let left = futures_all(&cache, &["key1", "key2", "key3"]).await?;
        assert_eq!(left, [true, false, true]);
        BackendResult::Ok(())
    })
    .unwrap();
}

async fn futures_all(cache: &LruCache<u32>, keys: &[&str]) -> BackendResult<Vec<bool>> {
    let mut out = Vec::new();
    for key in keys {
        out.push(cache.exists(key).await?);
    }
    Ok(out)
}

#[test]
fn lru_updating_set_refreshes_recency() {
    let (clock, _mock) = mock_clock();
    let cache = lru(2, &clock);
    block_on(async {
        cache.set("key1", 1, None).await?;
        cache.set("key2", 2, None).await?;
        cache.set("key1", 10, None).await?;
        cache.set("key3", 3, None).await?;
        assert_eq!(cache.get("key1").await?, Some(10));
        assert_eq!(cache.get("key2").await?, None);
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn lru_counts_hits_and_misses_and_clear_resets_them() {
    let (clock, mock) = mock_clock();
    let cache = lru(10, &clock);
    assert_eq!(cache.stats().hit_rate, 0.0);
    block_on(async {
        cache.set("a", 1, Some(SECS(5))).await?;
        cache.get("a").await?;
        cache.get("a").await?;
        cache.get("b").await?;
        cache.exists("a").await?; // not a lookup
        cache.get_many(&["a", "c"]).await?;
        mock.increment(SECS(5));
        cache.get("a").await?; // expired: a miss
        let s = cache.stats();
        assert_eq!((s.hits, s.misses), (3, 3));
        assert_eq!(s.hit_rate, 0.5);
        cache.clear().await?;
        let s = cache.stats();
        assert_eq!((s.size, s.hits, s.misses, s.hit_rate), (0, 0, 0, 0.0));
        BackendResult::Ok(())
    })
    .unwrap();
}

#[test]
fn lru_stats_serialize_as_the_reference_dict() {
    let (clock, _mock) = mock_clock();
    let cache = lru(1000, &clock);
    block_on(async {
        cache.set("a", 1, None).await?;
        for _ in 0..5 {
            cache.get("a").await?;
        }
        cache.get("zzz").await?;
        BackendResult::Ok(())
    })
    .unwrap();
    let want = json!({
        "size": 1, "max_size": 1000, "hits": 5, "misses": 1,
        "hit_rate": 5.0 / 6.0, "default_ttl": 300
    });
    assert_eq!(serde_json::to_value(cache.stats()).unwrap(), want);
}
