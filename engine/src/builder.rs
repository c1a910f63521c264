//! `CacheBuilder`: every knob of a cache, validated once.

use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::clock::EvictionPolicy;
use crate::core::{CacheCore, CoreConfig};
use crate::error::BuildError;
use crate::listener::{Listener, RemovalCause, Weigher};
use crate::node::MAX_WEIGHT;
use crate::time::MAX_TTL;

/// The most shards a cache may have.
pub const MAX_SHARDS: usize = 1 << 16;
/// The largest entry estimate (and so bucket count) a cache may be built for: 2^30.
pub const MAX_ESTIMATED_ENTRIES: usize = 1 << 30;

/// The largest default estimate, 2^22 (32 MiB of bucket heads): a cache with a huge or
/// "unbounded" capacity does not allocate buckets for entries it may never hold. Caches
/// that really hold more pass [`CacheBuilder::estimated_entries`].
const DEFAULT_ESTIMATE_CAP: u64 = 1 << 22;
/// Entries per shard below which a default-configured cache uses fewer shards, so that
/// small caches are exact (one shard: exact CLOCK order).
const MIN_ENTRIES_PER_SHARD: u64 = 64;

/// Bucket heads per expected entry, as a fraction: 7 buckets for every 8 entries, so at
/// the estimate a chain holds 8/7 ≈ 1.14 nodes on average; a hit visits 1 + 4/7 ≈ 1.57
/// nodes, a miss 1.14. A bucket head costs 8 bytes, so this ratio spends 7 bytes per
/// entry on heads (power-of-two arrays spent 8 to 16, 8.4 at 1,000,000 entries). Against
/// the power-of-two sizing it replaced (1,048,576 buckets for 1,000,000 entries), W1's
/// read hits and W2's cache-aside cost within 1 % and 3 % of what they did
/// (`docs/benchmarks.md`, "Bucket arrays sized to the estimate").
const BUCKET_RATIO: (usize, usize) = (7, 8);

/// Buckets per shard for `estimate` entries spread over `shards` (at least one).
fn buckets_per_shard(estimate: usize, shards: usize) -> usize {
    let (buckets, entries) = BUCKET_RATIO;
    // In u64: `estimate * 7` may not fit a 32-bit usize; the quotient does (it is at
    // most `estimate`).
    let per_shard = (estimate as u64 * buckets as u64).div_ceil(entries as u64 * shards as u64);
    per_shard.max(1) as usize
}

/// Builds a [`Cache`].
///
/// ```
/// use clockwheel::{Cache, EvictionPolicy};
///
/// // At most 10,000 entries:
/// let by_count: Cache<String, Vec<u8>> = Cache::builder().max_capacity(10_000).build()?;
///
/// // At most 64 MiB of values, weighed by their length:
/// let by_bytes: Cache<String, Vec<u8>> = Cache::builder()
///     .weigher(|_key: &String, value: &Vec<u8>| value.len() as u64)
///     .max_weight(64 << 20)
///     .estimated_entries(16_384)
///     .policy(EvictionPolicy::Clock)
///     .build()?;
/// # Ok::<(), clockwheel::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct CacheBuilder<K, V, S = ahash::RandomState> {
    max_capacity: Option<u64>,
    max_weight: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    shards: Option<usize>,
    estimated_entries: Option<usize>,
    policy: EvictionPolicy,
    listener: Option<Listener<K, V>>,
    record_stats: bool,
    default_ttl: Option<Duration>,
    time_to_idle: Option<Duration>,
    cleanup_interval: Option<Duration>,
    clock: Option<quanta::Clock>,
    hasher: S,
    _types: PhantomData<fn(K, V)>,
}

impl<K, V> Default for CacheBuilder<K, V> {
    fn default() -> Self {
        CacheBuilder {
            max_capacity: None,
            max_weight: None,
            weigher: None,
            shards: None,
            estimated_entries: None,
            policy: EvictionPolicy::Clock,
            listener: None,
            record_stats: true,
            default_ttl: None,
            time_to_idle: None,
            cleanup_interval: None,
            clock: None,
            hasher: ahash::RandomState::new(),
            _types: PhantomData,
        }
    }
}

impl<K, V, S> CacheBuilder<K, V, S> {
    /// The capacity in entries (each weighs 1).
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.max_capacity = Some(entries);
        self
    }

    /// The capacity as a total weight, measured by [`weigher`](Self::weigher).
    pub fn max_weight(mut self, total: u64) -> Self {
        self.max_weight = Some(total);
        self
    }

    /// How much an entry counts against [`max_weight`](Self::max_weight) (e.g. the bytes
    /// of an object). Called once per insert, outside any delicate window. An entry
    /// heavier than the whole capacity is refused; a weight of 0 never counts.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// Number of shards (rounded up to a power of two). Shards spread contention; they
    /// never split the capacity. Default: 4 × the available parallelism, fewer for
    /// small caches (a cache of up to 64 entries has one shard and exact CLOCK order).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// How many entries the cache is expected to hold; sizes the bucket arrays, which
    /// never grow (more entries than buckets means longer chains: slower, never wrong).
    /// Default: the capacity for count-bounded caches, up to 4,194,304; `max_weight / 1024`
    /// (clamped to 1,024..=4,194,304) for weighed ones.
    pub fn estimated_entries(mut self, entries: usize) -> Self {
        self.estimated_entries = Some(entries);
        self
    }

    /// The eviction policy (default [`EvictionPolicy::Clock`]).
    pub fn policy(mut self, policy: EvictionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Called for every entry that leaves the cache, with the reason.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, &V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Whether to count hits, misses, insertions and removals (default `true`). Off, a
    /// hit writes nothing but the entry's reference bit.
    pub fn record_stats(mut self, enabled: bool) -> Self {
        self.record_stats = enabled;
        self
    }

    /// The time-to-live of entries inserted without one (default: they never expire).
    /// At most [`MAX_TTL`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (clock, mock) = quanta::Clock::mock();
    /// let cache = clockwheel::Cache::<&str, u32>::builder()
    ///     .max_capacity(100)
    ///     .default_ttl(Duration::from_secs(300))
    ///     .clock(clock)
    ///     .build()
    ///     .unwrap();
    /// cache.insert("product:1", 1);
    /// mock.increment(Duration::from_secs(299));
    /// assert_eq!(cache.get("product:1"), Some(1));
    /// mock.increment(Duration::from_secs(1));
    /// assert_eq!(cache.get("product:1"), None);
    /// ```
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Time-to-idle, as *sliding expiration*: an expiring entry's deadline starts at
    /// `min(ttl, tti)` from its insert, and each read moves it to `tti` from the read if
    /// that is later (never earlier), so an entry expires once it goes `tti` without
    /// reads (or, if never read, at its TTL when that is shorter). Reads can keep an entry
    /// past its original TTL. Entries inserted without any TTL (no default and none
    /// given) still never expire. At most [`MAX_TTL`].
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.time_to_idle = Some(tti);
        self
    }

    /// Starts a background thread that reclaims expired entries every `interval`, even if
    /// the cache sees no reads or writes (the reference's `cleanup_interval`). The thread
    /// stops, and is joined, when the last handle to the cache is dropped. Without it,
    /// expired entries are reclaimed on writes and on
    /// [`run_pending_tasks`](crate::Cache::run_pending_tasks).
    pub fn cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = Some(interval);
        self
    }

    /// The clock deadlines are measured with. Default: the kernel's coarse monotonic clock
    /// on Linux (reads may then expire an entry up to two kernel ticks, 2 to 8 ms, before
    /// its TTL, never after; a hit more than a second from its deadline skips the clock
    /// and trusts the reading a shared ticker thread publishes every 10 ms, see
    /// `docs/architecture.md`), quanta's clock elsewhere. A clock given here is used
    /// exactly, and read on every timed hit: `quanta::Clock::new()` for TSC precision, or
    /// `quanta::Clock::mock()`'s clock to drive time by hand in tests or trace replays.
    pub fn clock(mut self, clock: quanta::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The hasher (default: `ahash::RandomState`, seeded per cache, so chosen keys cannot
    /// flood one bucket).
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> CacheBuilder<K, V, S2> {
        CacheBuilder {
            max_capacity: self.max_capacity,
            max_weight: self.max_weight,
            weigher: self.weigher,
            shards: self.shards,
            estimated_entries: self.estimated_entries,
            policy: self.policy,
            listener: self.listener,
            record_stats: self.record_stats,
            default_ttl: self.default_ttl,
            time_to_idle: self.time_to_idle,
            cleanup_interval: self.cleanup_interval,
            clock: self.clock,
            hasher,
            _types: PhantomData,
        }
    }

    /// Validates the configuration and builds the cache.
    pub fn build(self) -> Result<Cache<K, V, S>, BuildError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
        S: BuildHasher + Send + Sync + 'static,
    {
        let capacity = self.capacity()?;
        self.check_durations()?;
        let estimate = self.estimate(capacity)?;
        let shards = self.shard_count(estimate)?;
        let buckets_per_shard = buckets_per_shard(estimate, shards);
        let config = CoreConfig {
            shards,
            buckets_per_shard,
            hasher: self.hasher,
            capacity,
            policy: self.policy,
            weigher: self.weigher,
            listener: self.listener,
            record_stats: self.record_stats,
            clock: self.clock,
            default_ttl: self.default_ttl,
            time_to_idle: self.time_to_idle,
        };
        Cache::from_core(CacheCore::new(config), self.cleanup_interval)
    }

    fn check_durations(&self) -> Result<(), BuildError> {
        for (what, ttl) in [
            ("default_ttl", self.default_ttl),
            ("time_to_idle", self.time_to_idle),
        ] {
            match ttl {
                Some(d) if d.is_zero() => return Err(BuildError::ZeroDuration { what }),
                Some(d) if d > MAX_TTL => {
                    return Err(BuildError::TtlTooLarge {
                        what,
                        requested: d,
                        max: MAX_TTL,
                    })
                }
                _ => {}
            }
        }
        match self.cleanup_interval {
            Some(d) if d.is_zero() => Err(BuildError::ZeroDuration {
                what: "cleanup_interval",
            }),
            _ => Ok(()),
        }
    }

    fn capacity(&self) -> Result<u64, BuildError> {
        let capacity = match (self.max_capacity, self.max_weight, self.weigher.is_some()) {
            (None, None, _) => return Err(BuildError::MissingCapacity),
            (Some(_), Some(_), _) => return Err(BuildError::ConflictingCapacity),
            (Some(_), None, true) | (None, Some(_), false) => {
                return Err(BuildError::WeigherMismatch)
            }
            (Some(c), None, false) | (None, Some(c), true) => c,
        };
        match capacity {
            0 => Err(BuildError::ZeroCapacity),
            c if c > MAX_WEIGHT => Err(BuildError::CapacityTooLarge {
                requested: c,
                max: MAX_WEIGHT,
            }),
            c => Ok(c),
        }
    }

    fn estimate(&self, capacity: u64) -> Result<usize, BuildError> {
        let estimate = match (self.estimated_entries, self.weigher.is_some()) {
            (Some(e), _) => e,
            (None, false) => capacity.min(DEFAULT_ESTIMATE_CAP) as usize,
            (None, true) => (capacity / 1024).clamp(1024, DEFAULT_ESTIMATE_CAP) as usize,
        };
        if estimate > MAX_ESTIMATED_ENTRIES {
            return Err(BuildError::EstimateTooLarge {
                requested: estimate,
                max: MAX_ESTIMATED_ENTRIES,
            });
        }
        Ok(estimate.max(1))
    }

    fn shard_count(&self, estimate: usize) -> Result<usize, BuildError> {
        match self.shards {
            Some(n) if n == 0 || n > MAX_SHARDS => Err(BuildError::InvalidShards {
                requested: n,
                max: MAX_SHARDS,
            }),
            Some(n) => Ok(n.next_power_of_two()),
            None => {
                let parallelism = std::thread::available_parallelism().map_or(4, |n| n.get());
                let by_size = (estimate as u64 / MIN_ENTRIES_PER_SHARD).max(1) as usize;
                let n = (parallelism * 4).min(by_size).min(MAX_SHARDS);
                Ok(1 << n.ilog2())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{buckets_per_shard, MAX_ESTIMATED_ENTRIES, MAX_SHARDS};

    #[test]
    fn bucket_arrays_hold_seven_heads_per_eight_expected_entries() {
        for (estimate, shards) in [(1_000_000, 8), (600_000, 8), (100_000, 8), (64, 1)] {
            let total = buckets_per_shard(estimate, shards) * shards;
            let wanted = estimate * 7 / 8;
            assert!(
                total >= wanted && total <= wanted + shards,
                "{estimate}/{shards}: {total}"
            );
        }
    }

    #[test]
    fn every_shard_has_a_bucket_and_the_largest_estimate_fits() {
        assert_eq!(buckets_per_shard(1, MAX_SHARDS), 1);
        assert_eq!(buckets_per_shard(1, 1), 1);
        let largest = buckets_per_shard(MAX_ESTIMATED_ENTRIES, 1);
        assert_eq!(largest, MAX_ESTIMATED_ENTRIES / 8 * 7);
        assert!(largest as u64 <= crate::table::MAX_BUCKETS);
    }
}
