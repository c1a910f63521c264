//! Near-free statistics: counters striped per thread over padded cache lines.
//!
//! Each thread counts in a stripe it owns alone ([`owned_stripe`]), with a plain load and
//! store: no locked instruction, and a line no other core writes. Threads beyond
//! [`OWNED_STRIPES`] share one extra stripe and add to it atomically. `stats()` sums the
//! stripes (each read is atomic, so a sum is a weakly consistent snapshot).

use crossbeam_utils::CachePadded;
use serde::Serialize;

use crate::sync::{owned_stripe, AtomicU64, Ordering, OWNED_STRIPES};

/// The owned stripes plus the shared one, at index `OWNED_STRIPES`.
const STRIPES: usize = OWNED_STRIPES + 1;

#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum Counter {
    Hit,
    Miss,
    Insertion,
    Eviction,
    Removal,
    Replacement,
    Rejection,
    Expiration,
}
const COUNTERS: usize = 8;
const ALL_COUNTERS: [Counter; COUNTERS] = [
    Counter::Hit,
    Counter::Miss,
    Counter::Insertion,
    Counter::Eviction,
    Counter::Removal,
    Counter::Replacement,
    Counter::Rejection,
    Counter::Expiration,
];

pub(crate) struct StatsCounters {
    stripes: Box<[CachePadded<[AtomicU64; COUNTERS]>]>,
    /// The sums at the last reset: stripes only ever grow (owners write them without a
    /// locked instruction, so nobody else may zero them), and a reset moves this instead.
    baseline: [AtomicU64; COUNTERS],
}

impl StatsCounters {
    pub(crate) fn new() -> Self {
        StatsCounters {
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            baseline: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    #[inline]
    pub(crate) fn add(&self, counter: Counter) {
        match owned_stripe() {
            Some(stripe) => {
                // Only this thread writes this stripe (see `owned_stripe`): a load and a
                // store cannot lose a count. Relaxed: readers only sum.
                let count = &self.stripes[stripe][counter as usize];
                count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            None => {
                self.stripes[OWNED_STRIPES][counter as usize].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn total(&self, counter: Counter) -> u64 {
        self.stripes
            .iter()
            .map(|s| s[counter as usize].load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn sum(&self, counter: Counter) -> u64 {
        let baseline = self.baseline[counter as usize].load(Ordering::Relaxed);
        self.total(counter).saturating_sub(baseline)
    }

    /// Counts made while the reset runs may land on either side of it.
    pub(crate) fn reset(&self) {
        for counter in ALL_COUNTERS {
            self.baseline[counter as usize].store(self.total(counter), Ordering::Relaxed);
        }
    }
}

/// A snapshot of a cache's statistics (weakly consistent under concurrency).
///
/// ```
/// let cache = clockwheel::Cache::<&str, u32>::builder().max_capacity(10).build().unwrap();
/// cache.insert("a", 1);
/// assert_eq!(cache.get("a"), Some(1));
/// assert_eq!(cache.get("b"), None);
/// let s = cache.stats();
/// assert_eq!((s.hits, s.misses, s.len), (1, 1, 1));
/// assert_eq!(s.hit_rate(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CacheStats {
    /// Lookups (`get`, `contains_key`) that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Inserts of a key that was absent.
    pub insertions: u64,
    /// Inserts that superseded a live entry.
    pub replacements: u64,
    /// Entries removed by the eviction policy.
    pub evictions: u64,
    /// Entries removed explicitly (remove, clear, retain, remove_matching).
    pub removals: u64,
    /// Inserts refused because the entry alone outweighs the capacity.
    pub rejections: u64,
    /// Entries removed because their time-to-live or time-to-idle ran out.
    pub expirations: u64,
    /// Live entries.
    pub len: u64,
    /// Total weight of the live entries.
    pub weighted_size: u64,
    /// The capacity budget (entries, or total weight with a weigher).
    pub capacity: u64,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0.0 before any lookup.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

#[cfg(all(test, not(clockwheel_loom)))]
mod tests {
    use std::sync::Barrier;

    use super::*;

    /// More live threads than owned stripes: the owners count with plain stores, the
    /// rest share one atomic stripe, and no count is lost either way.
    #[test]
    fn counts_are_exact_beyond_the_owned_stripes() {
        const THREADS: usize = OWNED_STRIPES + 16;
        const PER_THREAD: u64 = 2_000;
        let stats = StatsCounters::new();
        let all_alive = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    // The first count claims a stripe; all threads hold theirs at once.
                    stats.add(Counter::Miss);
                    all_alive.wait();
                    for _ in 0..PER_THREAD {
                        stats.add(Counter::Hit);
                    }
                });
            }
        });
        assert_eq!(stats.sum(Counter::Hit), THREADS as u64 * PER_THREAD);
        assert_eq!(stats.sum(Counter::Miss), THREADS as u64);
        // At least THREADS - OWNED_STRIPES threads found every stripe taken.
        let shared = &stats.stripes[OWNED_STRIPES];
        assert!(shared[Counter::Miss as usize].load(Ordering::Relaxed) >= 16);
    }

    /// A reset moves the baseline: later counts start from zero, earlier ones are gone.
    #[test]
    fn reset_starts_from_zero() {
        let stats = StatsCounters::new();
        (0..5).for_each(|_| stats.add(Counter::Insertion));
        stats.reset();
        assert_eq!(stats.sum(Counter::Insertion), 0);
        (0..3).for_each(|_| stats.add(Counter::Insertion));
        assert_eq!(stats.sum(Counter::Insertion), 3);
    }
}
