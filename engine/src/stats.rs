//! Near-free statistics: counters striped per thread over padded cache lines.
//!
//! Each thread adds to its own stripe (chosen once per thread), so counting a hit writes
//! a line no other core is reading; `stats()` sums the stripes.

use crossbeam_utils::CachePadded;
use serde::Serialize;

use crate::sync::{thread_stripe, AtomicU64, Ordering};

const STRIPES: usize = 16;

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

pub(crate) struct StatsCounters {
    stripes: Box<[CachePadded<[AtomicU64; COUNTERS]>]>,
}

impl StatsCounters {
    pub(crate) fn new() -> Self {
        StatsCounters {
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
        }
    }

    #[inline]
    pub(crate) fn add(&self, counter: Counter) {
        let stripe = &self.stripes[thread_stripe() % STRIPES];
        stripe[counter as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self, counter: Counter) -> u64 {
        self.stripes
            .iter()
            .map(|s| s[counter as usize].load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn reset(&self) {
        for stripe in self.stripes.iter() {
            for c in stripe.iter() {
                c.store(0, Ordering::Relaxed);
            }
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
