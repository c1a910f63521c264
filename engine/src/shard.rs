//! One shard: a fixed array of bucket chains, its CLOCK queue, and its counters.
//!
//! Shards exist to spread contention on the queue ends and counters; they do **not**
//! split the capacity, which is one budget for the whole cache (`crate::core`).

use crossbeam_utils::CachePadded;

use crate::clock::ClockQueue;
use crate::expiry::ShardTimers;
use crate::sync::{AtomicBool, AtomicUsize, Ordering};
use crate::table::Bucket;

/// Per-shard counters, on their own cache line.
pub(crate) struct ShardCounters {
    /// Live entries. Signed in spirit: a remover may decrement before the inserter's
    /// increment lands, so readers clamp at zero.
    pub(crate) len: AtomicUsize,
    /// Dead nodes still owned by the queue or by a hand: incremented by every kill that
    /// is not the hand's own (remove, replace, clear), decremented when the hand discards
    /// a dead node. Drives compaction (hazard 3).
    pub(crate) dead: AtomicUsize,
    /// Try-flag so only one thread compacts a shard at a time; others skip, never wait.
    pub(crate) compacting: AtomicBool,
}

pub(crate) struct Shard<K, V> {
    pub(crate) buckets: Box<[Bucket<K, V>]>,
    pub(crate) queue: ClockQueue<K, V>,
    pub(crate) timers: ShardTimers<K, V>,
    pub(crate) counters: CachePadded<ShardCounters>,
}

impl<K, V> Shard<K, V> {
    pub(crate) fn new(buckets: usize) -> Self {
        Shard {
            buckets: (0..buckets).map(|_| Bucket::null()).collect(),
            queue: ClockQueue::new(),
            timers: ShardTimers::new(),
            counters: CachePadded::new(ShardCounters {
                len: AtomicUsize::new(0),
                dead: AtomicUsize::new(0),
                compacting: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn len(&self) -> usize {
        (self.counters.len.load(Ordering::Relaxed) as isize).max(0) as usize
    }

    pub(crate) fn dead(&self) -> isize {
        self.counters.dead.load(Ordering::Relaxed) as isize
    }

    pub(crate) fn add_len(&self, delta: isize) {
        self.counters
            .len
            .fetch_add(delta as usize, Ordering::Relaxed);
    }

    pub(crate) fn add_dead(&self, delta: isize) {
        self.counters
            .dead
            .fetch_add(delta as usize, Ordering::Relaxed);
    }
}
