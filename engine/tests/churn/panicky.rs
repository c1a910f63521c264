//! Hazard 10 under stress (included by `engine/tests/stress.rs` by path): a weigher and
//! a listener that panic on purpose, and workers that shrug those panics off.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Once};
use std::thread;
use std::time::Duration;

use clockwheel::Cache;
use quanta::{Clock, Mock};

use super::churn::{scaled, watchdog, Ledger, Rng};

/// Payload of the panics the hazard-10 test provokes; the panic hook stays quiet for it.
pub const PROVOKED: &str = "provoked panic (stress test of panicking user code)";

/// Installs (once) a panic hook that stays quiet for [`PROVOKED`] and defers to the
/// previous hook for every other panic.
pub fn quiet_provoked_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PROVOKED) {
                previous(info);
            }
        }));
    });
}

/// Runs `op`, swallowing only the provoked panics; returns whether it panicked.
pub fn tolerate(op: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(AssertUnwindSafe(op)) {
        Ok(()) => false,
        Err(p) if p.downcast_ref::<&str>() == Some(&PROVOKED) => true,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// One thread of the hazard-10 test: random writes, reads, expiry and bulk removals.
pub fn panicky_worker(cache: &Cache<u64, u64>, mock: &Mock, seed: u64, ops: u64) -> u64 {
    let mut rng = Rng::new(seed);
    let mut panics = 0;
    for i in 0..ops {
        let key = rng.below(PANICKY_KEYS as u64);
        let ttl = rng
            .chance(30)
            .then(|| Duration::from_micros(rng.between(50, 5_000)));
        let value = rng.below(1 << 20);
        panics += u64::from(tolerate(|| match rng.below(10) {
            0..=4 => drop(cache.insert_with_ttl(key, value, ttl)),
            5..=7 => drop(cache.get(&key)),
            8 => drop(cache.remove(&key)),
            _ if i % 1_000 == 0 => drop(cache.retain(|_, v| v % 3 != 0)),
            _ => cache.run_pending_tasks(),
        }));
        mock.increment(Duration::from_micros(1));
    }
    panics
}

/// Keys the hazard-10 test draws from.
pub const PANICKY_KEYS: usize = 2_000;

/// Hazard 10: a weigher and a listener that panic (the weigher on some values, the
/// listener on every 97th call) leave the cache consistent and usable: `validate()`
/// passes and the statistics still add up. The listener may miss departures that the
/// aborted operation would have reported after the panicking call, never more.
#[test]
fn panicking_user_code_leaves_the_cache_consistent() {
    quiet_provoked_panics();
    let (clock, mock) = Clock::mock();
    let ledger = Arc::new(Ledger::new(PANICKY_KEYS));
    let (sink, calls) = (Arc::clone(&ledger), AtomicU64::new(0));
    let cache: Cache<u64, u64> = Cache::builder()
        .weigher(|_k: &u64, v: &u64| match v % 101 {
            0 => std::panic::panic_any(PROVOKED),
            w => 1 + w % 8,
        })
        .max_weight(2_000)
        .clock(clock)
        .eviction_listener(move |k: &u64, v: &u64, cause| {
            sink.hear(*k as usize, *v, cause);
            if calls.fetch_add(1, Relaxed) % 97 == 0 {
                std::panic::panic_any(PROVOKED);
            }
        })
        .build()
        .unwrap();
    let ops = scaled(400_000);
    let panics: u64 = watchdog("panicking_user_code", || {
        thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (cache, mock) = (&cache, &mock);
                    s.spawn(move || panicky_worker(cache, mock, t, ops))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    });
    cache
        .validate()
        .expect("validate() after panicking user code");
    let (s, t) = (cache.stats(), ledger.totals());
    println!("panicking user code: {panics} panics caught; {s:?}; listener heard {t:?}");
    assert!(panics > 0);
    assert_eq!(
        s.len,
        s.insertions - s.evictions - s.removals - s.expirations,
        "{s:?}"
    );
    assert!(
        t.evicted <= s.evictions && t.removed <= s.removals,
        "{s:?} {t:?}"
    );
    assert!(
        t.expired <= s.expirations && t.replaced <= s.replacements,
        "{s:?} {t:?}"
    );
    assert!(s.weighted_size <= s.capacity);
    let probe = PANICKY_KEYS as u64 + 1;
    cache.insert(probe, 1);
    assert_eq!(cache.get(&probe), Some(1), "the cache stays usable");
}
