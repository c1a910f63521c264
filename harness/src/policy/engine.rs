//! The Clockwheel engine as a simulator (and as the shared cache of
//! concurrent mode).
//!
//! TTL is the engine's own: every simulator owns a `quanta` mock clock that
//! the adapter moves forward to each request's trace time before the request
//! runs, and entries are inserted with [`Cache::insert_with_ttl`]. So expiry
//! follows trace time exactly, with no sleeping, and exercises the engine's
//! read-path deadline check and its timing wheel. Trace time never moves the
//! clock backwards (an out-of-order timestamp reads as "no time passed").
//!
//! Simulations are deterministic: keys are hashed with the fixed
//! [`IdBuildHasher`] (not the engine's per-process random hasher) and the
//! shard count is a function of the capacity only (see [`sim_shards`]).

use std::sync::Arc;
use std::time::Duration;

use clockwheel::{Cache, EvictionPolicy, MAX_ESTIMATED_ENTRIES};
use quanta::Mock;

use super::{CacheSim, Capacity, IdBuildHasher, SimCounters};
use crate::trace::Request;

/// Value stored by concurrent mode's engine cache: `(deadline ms, size bytes)`.
pub type Stamp = (u64, u32);

/// Most shards a simulated engine cache gets (a 4-core deployment's default).
pub const SIM_MAX_SHARDS: usize = 16;
/// Entries per shard below which fewer shards are used (the engine's own rule).
const ENTRIES_PER_SHARD: u64 = 64;

fn policy_of(fifo: bool) -> EvictionPolicy {
    if fifo {
        EvictionPolicy::Fifo
    } else {
        EvictionPolicy::Clock
    }
}

/// Entries a cache of `capacity` is expected to hold (sizes the table).
fn estimated_entries(capacity: Capacity) -> usize {
    let n = match capacity {
        Capacity::Entries(n) => n,
        // Without a better guess assume 4 KiB per entry.
        Capacity::Bytes(b) => b / 4096,
    };
    (n.max(16) as usize).min(MAX_ESTIMATED_ENTRIES)
}

/// Shards of a simulated cache: one per 64 expected entries, a power of two,
/// at most [`SIM_MAX_SHARDS`]. A cache of up to 64 entries has one shard and
/// so exact CLOCK/FIFO order (the hand-computed tests rely on it).
///
/// ```
/// use clockwheel_harness::policy::{engine::sim_shards, Capacity};
/// assert_eq!(sim_shards(Capacity::Entries(64)), 1);
/// assert_eq!(sim_shards(Capacity::Entries(1_000_000)), 16);
/// ```
pub fn sim_shards(capacity: Capacity) -> usize {
    let per = estimated_entries(capacity) as u64 / ENTRIES_PER_SHARD;
    let n = (per.max(1) as usize).min(SIM_MAX_SHARDS);
    // Round down to a power of two so the count never exceeds the cap.
    1 << n.ilog2()
}

/// Builds an engine cache of `(deadline, size)` stamps for concurrent mode
/// (real clock; deadlines are checked against trace time by the caller).
pub fn engine_cache(capacity: Capacity, fifo: bool) -> anyhow::Result<Cache<u64, Stamp>> {
    let builder = Cache::<u64, Stamp>::builder()
        .policy(policy_of(fifo))
        .estimated_entries(estimated_entries(capacity));
    Ok(match capacity {
        Capacity::Entries(n) => builder.max_capacity(n).build()?,
        Capacity::Bytes(b) => builder
            .weigher(|_k: &u64, v: &Stamp| v.1.max(1) as u64)
            .max_weight(b)
            .build()?,
    })
}

/// Clockwheel engine adapter for simulation mode.
pub struct EngineSim {
    cache: Cache<u64, u32, IdBuildHasher>,
    mock: Arc<Mock>,
    /// Trace time the mock clock stands at, ms.
    now_ms: u64,
    name: &'static str,
}

impl EngineSim {
    /// An engine cache of `capacity`; `fifo` selects FIFO instead of CLOCK.
    ///
    /// ```
    /// use clockwheel_harness::policy::{engine::EngineSim, CacheSim, Capacity};
    /// use clockwheel_harness::trace::Request;
    /// let mut sim = EngineSim::new(Capacity::Entries(10), false).unwrap();
    /// let req = Request { ttl_ms: 1_000, ..Request::get(0, 7, 100) };
    /// sim.insert(&req);
    /// assert!(sim.get(&Request::get(999, 7, 100)));
    /// assert!(!sim.get(&Request::get(1_000, 7, 100))); // expired at its deadline
    /// ```
    pub fn new(capacity: Capacity, fifo: bool) -> anyhow::Result<Self> {
        Self::with_shards(capacity, fifo, sim_shards(capacity))
    }

    /// Like [`new`](Self::new) with an explicit shard count.
    pub fn with_shards(capacity: Capacity, fifo: bool, shards: usize) -> anyhow::Result<Self> {
        let (clock, mock) = quanta::Clock::mock();
        let builder = Cache::<u64, u32>::builder()
            .policy(policy_of(fifo))
            .shards(shards)
            .estimated_entries(estimated_entries(capacity))
            .clock(clock)
            .hasher(IdBuildHasher::default());
        let cache = match capacity {
            Capacity::Entries(n) => builder.max_capacity(n).build()?,
            Capacity::Bytes(b) => builder
                .weigher(|_k: &u64, size: &u32| (*size).max(1) as u64)
                .max_weight(b)
                .build()?,
        };
        let name = if fifo {
            "clockwheel-fifo"
        } else {
            "clockwheel-clock"
        };
        Ok(EngineSim {
            cache,
            mock,
            now_ms: 0,
            name,
        })
    }

    /// Moves the mock clock forward to `time_ms` (never backwards).
    #[inline]
    fn advance_to(&mut self, time_ms: u64) {
        if time_ms > self.now_ms {
            self.mock
                .increment(Duration::from_millis(time_ms - self.now_ms));
            self.now_ms = time_ms;
        }
    }

    /// The engine cache (for tests: `validate`, `stats`).
    pub fn cache(&self) -> &Cache<u64, u32, IdBuildHasher> {
        &self.cache
    }
}

impl CacheSim for EngineSim {
    fn name(&self) -> &str {
        self.name
    }

    #[inline]
    fn get(&mut self, req: &Request) -> bool {
        self.advance_to(req.time_ms);
        self.cache.get(&req.key).is_some()
    }

    #[inline]
    fn insert(&mut self, req: &Request) {
        self.advance_to(req.time_ms);
        let ttl = (req.ttl_ms > 0).then(|| Duration::from_millis(req.ttl_ms as u64));
        self.cache.insert_with_ttl(req.key, req.size, ttl);
    }

    fn remove(&mut self, key: u64) -> bool {
        self.cache.invalidate(&key)
    }

    fn len(&self) -> usize {
        self.cache.len()
    }

    fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// `expired` counts every expiry the engine performed: on reads and by its
    /// timing wheel (which also reclaims expired entries nobody reads again).
    fn counters(&self) -> SimCounters {
        let s = self.cache.stats();
        SimCounters {
            evictions: s.evictions,
            expired: s.expirations,
            rejected: s.rejections,
        }
    }
}
