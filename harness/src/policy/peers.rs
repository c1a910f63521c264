//! Peer crates as simulators: moka 0.12 (TinyLFU admission + LRU) and
//! quick_cache 0.7 (CLOCK-PRO-like). Both store `(deadline, size)` as the
//! value and treat a lookup at or after the deadline as an expired miss, so
//! TTLs follow trace time exactly as for the reference policies. Neither
//! exposes eviction counts, so their `evictions` column reads 0.

use super::{CacheSim, Capacity};
use crate::trace::Request;

/// Value stored by adapters: `(deadline ms, size bytes)`.
pub type Stamp = (u64, u32);

/// Weight of a stamp under a capacity (bytes or 1).
#[derive(Clone, Copy, Debug)]
pub struct StampWeighter {
    /// Weigh bytes rather than entries.
    pub by_bytes: bool,
}

impl quick_cache::Weighter<u64, Stamp> for StampWeighter {
    fn weight(&self, _key: &u64, val: &Stamp) -> u64 {
        if self.by_bytes {
            val.1.max(1) as u64
        } else {
            1
        }
    }
}

/// Builds a moka sync cache for `capacity` (shared with concurrent mode).
pub fn moka_cache(capacity: Capacity) -> moka::sync::Cache<u64, Stamp> {
    let (limit, by_bytes) = capacity.limit();
    let builder = moka::sync::Cache::builder().max_capacity(limit);
    if by_bytes {
        builder.weigher(|_k: &u64, v: &Stamp| v.1.max(1)).build()
    } else {
        builder.build()
    }
}

/// Builds a quick_cache sync cache for `capacity` (concurrent mode).
pub fn quick_sync_cache(capacity: Capacity) -> quick_cache::sync::Cache<u64, Stamp, StampWeighter> {
    let (limit, by_bytes) = capacity.limit();
    let items = estimated_items(capacity);
    quick_cache::sync::Cache::with_weighter(items, limit, StampWeighter { by_bytes })
}

fn estimated_items(capacity: Capacity) -> usize {
    match capacity {
        Capacity::Entries(n) => n as usize,
        // Without a better guess assume 4 KiB per entry.
        Capacity::Bytes(b) => (b / 4096).max(16) as usize,
    }
}

/// moka as a simulator.
pub struct MokaSim {
    cache: moka::sync::Cache<u64, Stamp>,
}

impl MokaSim {
    /// A moka cache of `capacity`.
    pub fn new(capacity: Capacity) -> Self {
        MokaSim {
            cache: moka_cache(capacity),
        }
    }
}

impl CacheSim for MokaSim {
    fn name(&self) -> &str {
        "moka"
    }
    fn get(&mut self, req: &Request) -> bool {
        match self.cache.get(&req.key) {
            Some((deadline, _)) if deadline <= req.time_ms => {
                self.cache.invalidate(&req.key);
                false
            }
            Some(_) => true,
            None => false,
        }
    }
    fn insert(&mut self, req: &Request) {
        self.cache.insert(req.key, (req.deadline(), req.size));
        // moka applies writes (and so evictions) in batched maintenance;
        // running it now keeps the simulated cache within its capacity at
        // every step, as the other policies are.
        self.cache.run_pending_tasks();
    }
    fn remove(&mut self, key: u64) -> bool {
        self.cache.remove(&key).is_some()
    }
    fn len(&self) -> usize {
        self.cache.run_pending_tasks();
        self.cache.entry_count() as usize
    }
    fn weighted_size(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.weighted_size()
    }
}

/// quick_cache (unsync flavour) as a simulator.
pub struct QuickSim {
    cache: quick_cache::unsync::Cache<u64, Stamp, StampWeighter>,
}

impl QuickSim {
    /// A quick_cache of `capacity`.
    pub fn new(capacity: Capacity) -> Self {
        let (limit, by_bytes) = capacity.limit();
        let items = estimated_items(capacity);
        QuickSim {
            cache: quick_cache::unsync::Cache::with_weighter(
                items,
                limit,
                StampWeighter { by_bytes },
            ),
        }
    }
}

impl CacheSim for QuickSim {
    fn name(&self) -> &str {
        "quick_cache"
    }
    fn get(&mut self, req: &Request) -> bool {
        match self.cache.get(&req.key) {
            Some(&(deadline, _)) if deadline <= req.time_ms => {
                self.cache.remove(&req.key);
                false
            }
            Some(_) => true,
            None => false,
        }
    }
    fn insert(&mut self, req: &Request) {
        self.cache.insert(req.key, (req.deadline(), req.size));
    }
    fn remove(&mut self, key: u64) -> bool {
        self.cache.remove(&key).is_some()
    }
    fn len(&self) -> usize {
        self.cache.len()
    }
    fn weighted_size(&self) -> u64 {
        self.cache.weight()
    }
}
