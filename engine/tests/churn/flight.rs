//! Single-flight loading under stress (included by `engine/tests/stress.rs` by path):
//! threads calling `get_or_insert_with` on overlapping keys, mixed with removals,
//! evictions and loaders that panic.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;

use clockwheel::Cache;

use super::churn::{scaled, watchdog, Rng};
use super::panicky::{quiet_provoked_panics, tolerate, PROVOKED};

/// A loaded value: its key and the number of the load that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loaded {
    key: u64,
    load: u64,
}

/// Counts loads per key and numbers them.
struct Loads {
    per_key: Box<[AtomicU64]>,
    next: AtomicU64,
}

impl Loads {
    fn new(keys: u64) -> Self {
        Loads {
            per_key: (0..keys).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicU64::new(0),
        }
    }

    /// The loader: yields once to widen the window in which other callers pile up.
    fn load(&self, key: u64) -> Loaded {
        self.per_key[key as usize].fetch_add(1, Relaxed);
        thread::yield_now();
        Loaded {
            key,
            load: self.next.fetch_add(1, Relaxed),
        }
    }
}

const KEYS: u64 = 2_000;

/// With room for every key and nothing removed, concurrent misses on a key run exactly
/// one loader, whatever the interleaving, and every caller gets its value.
#[test]
fn single_flight_loads_each_key_once() {
    let cache: Cache<u64, Loaded> = Cache::with_capacity(KEYS).unwrap();
    let loads = Loads::new(KEYS);
    let ops = scaled(200_000);
    let seen: Vec<Vec<Option<u64>>> = watchdog("single_flight_loads_each_key_once", || {
        thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|t| {
                    let (cache, loads) = (&cache, &loads);
                    s.spawn(move || {
                        let mut rng = Rng::new(t + 1_000);
                        let mut seen = vec![None; KEYS as usize];
                        for _ in 0..ops {
                            let key = rng.below(KEYS);
                            let v = cache.get_or_insert_with(key, || loads.load(key));
                            assert_eq!(v.key, key, "a caller got another key's value");
                            let first = *seen[key as usize].get_or_insert(v.load);
                            assert_eq!(first, v.load, "key {key} loaded twice");
                        }
                        seen
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    });
    cache.validate().unwrap();
    for key in 0..KEYS as usize {
        let n = loads.per_key[key].load(Relaxed);
        let asked = seen.iter().any(|s| s[key].is_some());
        assert_eq!(n, u64::from(asked), "key {key}: {n} loads");
    }
    assert_eq!(cache.stats().insertions, loads.next.load(Relaxed));
}

/// Loads racing removals, evictions and loaders that panic: callers always get a value
/// of their own key (or the provoked panic), nobody is stranded, and the cache stays
/// consistent.
#[test]
fn single_flight_under_eviction_removal_and_panics() {
    quiet_provoked_panics();
    let cache: Cache<u64, Loaded> = Cache::with_capacity(KEYS / 10).unwrap();
    let loads = Loads::new(KEYS);
    let ops = scaled(200_000);
    let panics: u64 = watchdog("single_flight_under_eviction", || {
        thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|t| {
                    let (cache, loads) = (&cache, &loads);
                    s.spawn(move || flight_worker(cache, loads, t, ops))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    });
    cache.validate().unwrap();
    let s = cache.stats();
    assert!(panics > 0 && s.evictions > 0 && s.removals > 0, "{s:?}");
    assert_eq!(s.len, s.insertions - s.evictions - s.removals, "{s:?}");
    assert!(
        s.insertions <= loads.next.load(Relaxed),
        "inserted more than loaded"
    );
    for (k, v) in cache.iter() {
        assert_eq!(k, v.key);
    }
}

/// One thread of the test above; returns how many provoked panics it caught.
fn flight_worker(cache: &Cache<u64, Loaded>, loads: &Loads, seed: u64, ops: u64) -> u64 {
    let mut rng = Rng::new(seed + 2_000);
    let mut panics = 0;
    for _ in 0..ops {
        let key = rng.below(KEYS);
        if rng.chance(10) {
            cache.remove(&key);
            continue;
        }
        let doomed = rng.chance(2);
        panics += u64::from(tolerate(|| {
            let v = cache.get_or_insert_with(key, || {
                if doomed {
                    std::panic::panic_any(PROVOKED);
                }
                loads.load(key)
            });
            assert_eq!(v.key, key, "a caller got another key's value");
        }));
    }
    panics
}
