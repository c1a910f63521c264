//! The reference LRU and FIFO examples of `shared/reference-semantics.md`, exactly, plus
//! builder errors and tiny capacities.

use clockwheel::{BuildError, Cache, EvictionPolicy, RemovalCause};
use std::sync::{Arc, Mutex};

fn clock(cap: u64) -> Cache<&'static str, u32> {
    Cache::builder()
        .max_capacity(cap)
        .shards(1)
        .build()
        .unwrap()
}

#[test]
fn lru_example_capacity_3() {
    let c = clock(3);
    c.insert("key1", 1);
    c.insert("key2", 2);
    c.insert("key3", 3);
    assert_eq!(c.get("key1"), Some(1));
    c.insert("key4", 4);
    assert!(!c.contains_key("key2"), "key2 is the least recently used");
    for k in ["key1", "key3", "key4"] {
        assert!(c.contains_key(k), "{k} must survive");
    }
    c.validate().unwrap();
}

#[test]
fn lru_example_capacity_2() {
    let c = clock(2);
    c.insert("key1", 1);
    c.insert("key2", 2);
    c.get("key1");
    c.insert("key3", 3);
    assert_eq!(c.peek("key2"), None);
    assert_eq!(c.peek("key1"), Some(1));
    assert_eq!(c.peek("key3"), Some(3));
    assert_eq!(c.len(), 2);
    c.validate().unwrap();
}

#[test]
fn fifo_example_capacity_2() {
    let c: Cache<&str, u32> = Cache::builder()
        .max_capacity(2)
        .policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    c.insert("key1", 1);
    c.insert("key2", 2);
    c.get("key1");
    c.insert("key3", 3);
    assert_eq!(c.len(), 2);
    assert!(!c.contains_key("key1"));
    assert!(c.contains_key("key2") && c.contains_key("key3"));
    c.validate().unwrap();
}

#[test]
fn capacity_one_keeps_the_newest() {
    let c = clock(1);
    for i in 0..100u32 {
        c.insert(Box::leak(i.to_string().into_boxed_str()), i);
        assert_eq!(c.len(), 1);
        c.validate().unwrap();
    }
    assert_eq!(c.peek("99"), Some(99));
}

#[test]
fn sharded_cache_shares_one_budget() {
    // A weighed entry larger than any per-shard split would allow still fits.
    let c: Cache<u32, Vec<u8>> = Cache::builder()
        .weigher(|_k: &u32, v: &Vec<u8>| v.len() as u64)
        .max_weight(1000)
        .shards(16)
        .build()
        .unwrap();
    for i in 0..50 {
        c.insert(i, vec![0; 10]);
    }
    assert_eq!(c.weighted_size(), 500);
    c.insert(999, vec![0; 900]);
    assert_eq!(c.peek(&999).map(|v| v.len()), Some(900));
    assert!(c.weighted_size() <= 1000);
    c.validate().unwrap();
}

#[test]
fn replace_returns_old_and_notifies() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let c: Cache<u32, u32> = Cache::builder()
        .max_capacity(10)
        .eviction_listener(move |k: &u32, v: &u32, cause| {
            sink.lock().unwrap().push((*k, *v, cause))
        })
        .build()
        .unwrap();
    assert_eq!(c.insert(1, 10), None);
    assert_eq!(c.insert(1, 11), Some(10));
    assert_eq!(c.get(&1), Some(11));
    assert_eq!(c.remove(&1), Some(11));
    assert_eq!(c.remove(&1), None);
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            (1, 10, RemovalCause::Replaced),
            (1, 11, RemovalCause::Removed)
        ]
    );
    let s = c.stats();
    assert_eq!(
        (s.insertions, s.replacements, s.removals, s.len),
        (1, 1, 1, 0)
    );
    c.validate().unwrap();
}

#[test]
fn too_heavy_entry_is_refused_and_displaces_stale_value() {
    let c: Cache<u32, String> = Cache::builder()
        .weigher(|_k: &u32, v: &String| v.len() as u64)
        .max_weight(4)
        .build()
        .unwrap();
    c.insert(1, "ab".into());
    assert_eq!(c.insert(1, "abcdef".into()), Some("ab".into()));
    assert_eq!(c.get(&1), None);
    assert_eq!(c.stats().rejections, 1);
    c.validate().unwrap();
}

#[test]
fn builder_rejects_bad_configurations() {
    let e = |b: clockwheel::CacheBuilder<u32, u32>| b.build().unwrap_err();
    assert_eq!(e(Cache::builder()), BuildError::MissingCapacity);
    assert_eq!(
        e(Cache::builder().max_capacity(0)),
        BuildError::ZeroCapacity
    );
    assert!(matches!(
        e(Cache::builder().max_capacity(u64::MAX)),
        BuildError::CapacityTooLarge { .. }
    ));
    assert_eq!(
        e(Cache::builder().max_capacity(1).max_weight(1)),
        BuildError::ConflictingCapacity
    );
    assert_eq!(
        e(Cache::builder().max_weight(10)),
        BuildError::WeigherMismatch
    );
    assert!(matches!(
        e(Cache::builder().max_capacity(5).shards(0)),
        BuildError::InvalidShards { .. }
    ));
    assert!(matches!(
        e(Cache::builder()
            .max_capacity(5)
            .estimated_entries(usize::MAX)),
        BuildError::EstimateTooLarge { .. }
    ));
    assert!(!BuildError::ZeroCapacity.to_string().is_empty());
}

#[test]
fn clear_retain_and_glob() {
    let c: Cache<String, u32> = Cache::with_capacity(1000).unwrap();
    for i in 0..100 {
        c.insert(format!("product:list:{i}"), i);
        c.insert(format!("product:{i}"), i);
    }
    assert_eq!(c.remove_matching("product:list:*").unwrap(), 100);
    assert_eq!(c.len(), 100);
    assert_eq!(c.retain(|_, v| *v < 10), 90);
    c.validate().unwrap();
    c.clear();
    assert!(c.is_empty());
    assert_eq!(c.weighted_size(), 0);
    c.validate().unwrap();
}

#[test]
fn churn_without_eviction_compacts_dead_nodes() {
    let c: Cache<u64, u64> = Cache::builder()
        .max_capacity(1_000_000)
        .shards(1)
        .build()
        .unwrap();
    for round in 0..50u64 {
        for k in 0..100 {
            c.insert(k, round);
        }
    }
    c.validate().unwrap();
    assert_eq!(c.len(), 100);
}
