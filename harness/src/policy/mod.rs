//! The cache-simulation interface and its implementations: reference
//! policies (exact LRU, FIFO, CLOCK, Belady, no-op), the Clockwheel engine
//! and, with the `peers` feature, moka and quick_cache.

pub mod belady;
pub mod engine;
pub mod list;
#[cfg(feature = "peers")]
pub mod peers;

use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use crate::trace::Request;

/// Cache capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Capacity {
    /// At most this many entries.
    Entries(u64),
    /// At most this many bytes (an entry weighs its size, at least 1).
    Bytes(u64),
}

impl Capacity {
    /// `(limit, weighs bytes?)`.
    pub fn limit(self) -> (u64, bool) {
        match self {
            Capacity::Entries(n) => (n, false),
            Capacity::Bytes(n) => (n, true),
        }
    }

    /// `value,unit` for CSV output (`1000,entries` or `65536,bytes`).
    pub fn csv(self) -> String {
        match self {
            Capacity::Entries(n) => format!("{n},entries"),
            Capacity::Bytes(n) => format!("{n},bytes"),
        }
    }

    /// The weight of `req` under this capacity.
    pub fn weight(self, req: &Request) -> u64 {
        match self {
            Capacity::Entries(_) => 1,
            Capacity::Bytes(_) => req.size.max(1) as u64,
        }
    }
}

impl std::fmt::Display for Capacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Capacity::Entries(n) => write!(f, "{n} entries"),
            Capacity::Bytes(n) => write!(f, "{}", crate::report::human_bytes(n)),
        }
    }
}

/// Counters a simulator may keep beyond hits and misses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimCounters {
    /// Entries evicted for capacity.
    pub evictions: u64,
    /// Lookups that found an expired entry (and removed it).
    pub expired: u64,
    /// Inserts not admitted (too large, or Belady's bypass).
    pub rejected: u64,
}

/// A single-threaded cache simulator driven by the replay loop.
///
/// Lookups pass the whole request so policies see the trace time (for TTL)
/// and the next-access index (for Belady).
pub trait CacheSim {
    /// Short display name.
    fn name(&self) -> &str;
    /// Looks `req.key` up at `req.time_ms`; true on a hit. An expired entry
    /// is a miss and is removed.
    fn get(&mut self, req: &Request) -> bool;
    /// Inserts or updates `req.key` with `req.size` and `req.deadline()`.
    fn insert(&mut self, req: &Request);
    /// Removes `key`; true if it was present.
    fn remove(&mut self, key: u64) -> bool;
    /// Entries held.
    fn len(&self) -> usize;
    /// Whether no entry is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Weight held (entries or bytes, per the capacity).
    fn weighted_size(&self) -> u64;
    /// Extra counters.
    fn counters(&self) -> SimCounters {
        SimCounters::default()
    }
}

/// A cache that stores nothing: every lookup misses (the compulsory-miss
/// ceiling, and the replay loop's own cost when timing).
#[derive(Debug, Default)]
pub struct NoOp;

impl CacheSim for NoOp {
    fn name(&self) -> &str {
        "no-op"
    }
    fn get(&mut self, _: &Request) -> bool {
        false
    }
    fn insert(&mut self, _: &Request) {}
    fn remove(&mut self, _: u64) -> bool {
        false
    }
    fn len(&self) -> usize {
        0
    }
    fn weighted_size(&self) -> u64 {
        0
    }
}

/// A fast hasher for 64-bit ids (a multiply-xorshift mix; not DoS-resistant,
/// which a simulator does not need).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let x = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// `BuildHasher` for [`IdHasher`].
pub type IdBuildHasher = BuildHasherDefault<IdHasher>;

/// Every policy the harness can replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// Clockwheel engine with CLOCK eviction.
    ClockwheelClock,
    /// Clockwheel engine with FIFO eviction.
    ClockwheelFifo,
    /// Exact LRU.
    Lru,
    /// FIFO.
    Fifo,
    /// CLOCK (FIFO with reinsertion).
    Clock,
    /// Belady's MIN (offline optimum for unit sizes).
    Belady,
    /// Stores nothing.
    Noop,
    /// moka 0.12 sync cache (feature `peers`).
    Moka,
    /// quick_cache 0.7 (feature `peers`).
    QuickCache,
}

impl PolicyKind {
    /// The policies compared by default.
    pub fn defaults() -> Vec<PolicyKind> {
        let mut v = vec![
            PolicyKind::ClockwheelClock,
            PolicyKind::ClockwheelFifo,
            PolicyKind::Lru,
            PolicyKind::Fifo,
            PolicyKind::Clock,
            PolicyKind::Belady,
            PolicyKind::Noop,
        ];
        if cfg!(feature = "peers") {
            v.extend([PolicyKind::Moka, PolicyKind::QuickCache]);
        }
        v
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::ClockwheelClock => "clockwheel-clock",
            PolicyKind::ClockwheelFifo => "clockwheel-fifo",
            PolicyKind::Lru => "lru",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Clock => "clock",
            PolicyKind::Belady => "belady",
            PolicyKind::Noop => "no-op",
            PolicyKind::Moka => "moka",
            PolicyKind::QuickCache => "quick_cache",
        }
    }
}

/// Builds a simulator.
pub fn build(kind: PolicyKind, capacity: Capacity) -> anyhow::Result<Box<dyn CacheSim>> {
    use list::{ListCache, ListMode};
    Ok(match kind {
        PolicyKind::Lru => Box::new(ListCache::new(ListMode::Lru, capacity)),
        PolicyKind::Fifo => Box::new(ListCache::new(ListMode::Fifo, capacity)),
        PolicyKind::Clock => Box::new(ListCache::new(ListMode::Clock, capacity)),
        PolicyKind::Belady => Box::new(belady::Belady::new(capacity)),
        PolicyKind::Noop => Box::new(NoOp),
        PolicyKind::ClockwheelClock => Box::new(engine::EngineSim::new(capacity, false)?),
        PolicyKind::ClockwheelFifo => Box::new(engine::EngineSim::new(capacity, true)?),
        #[cfg(feature = "peers")]
        PolicyKind::Moka => Box::new(peers::MokaSim::new(capacity)),
        #[cfg(feature = "peers")]
        PolicyKind::QuickCache => Box::new(peers::QuickSim::new(capacity)),
        #[cfg(not(feature = "peers"))]
        PolicyKind::Moka | PolicyKind::QuickCache => {
            anyhow::bail!("{} needs the `peers` feature", kind.name())
        }
    })
}
