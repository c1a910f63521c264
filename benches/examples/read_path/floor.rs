//! Lower bounds for a lock-free lookup: the two table layouts a lock-free cache of
//! heap-allocated entries can use, reduced to their read path, with none of the engine's
//! bookkeeping (no statistics, no deadline, no shards, no eviction queue, no closures).
//!
//! - [`ChainTable`]: bucket heads pointing at chains of 32-byte nodes (`next`, state,
//!   key, value), filled hottest first at the chains' tails: the engine's layout
//!   (`engine/src/table.rs`), 7 heads per 8 entries as the engine sizes them.
//! - [`BucketTable`]: 64-byte buckets of seven references tagged with 16 bits of the
//!   hash, plus an overflow link, pointing at 24-byte nodes (state, key, value): the
//!   bucketized layout of suggestion 2 in `docs/benchmarks.md`. A lookup reads one bucket
//!   line and dereferences only a reference whose tag matches.
//!
//! Both are filled once and never change, so they need no reclamation: an `epoch` pin
//! per lookup is added on request to show what reclamation by crossbeam-epoch costs on
//! top. Nodes live in one vector and are referenced by index, which is at least as
//! compact as the engine's per-node allocations: these floors flatter the layouts, never
//! the reverse. Both set the CLOCK reference bit on a hit when it is clear, as a cache
//! must.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The reference bit in a node's state word.
const REFERENCED: u64 = 1;

/// The bucket of `hash` among `buckets`: the engine's multiply-shift reduction.
fn bucket_index(hash: u64, buckets: usize) -> usize {
    ((hash as u32 as u64 * buckets as u64) >> 32) as usize
}

/// Starts loading `ptr`'s cache line, as the engine does before its pin.
fn prefetch<T>(ptr: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults and `ptr` is a live reference.
    // SSE, which provides it, is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(ptr).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Sets the reference bit unless it is set (the engine's `Node::touch`).
fn touch(state: &AtomicU64) {
    if state.load(Ordering::Relaxed) & REFERENCED == 0 {
        state.fetch_or(REFERENCED, Ordering::Relaxed);
    }
}

/// A chain node; `next` is the index of the next node plus one (0 ends the chain).
#[repr(C)]
struct ChainNode {
    next: AtomicU32,
    state: AtomicU64,
    key: u64,
    value: u64,
}

/// Bucket heads and chains (see the module doc).
pub struct ChainTable {
    hasher: ahash::RandomState,
    heads: Vec<AtomicU32>,
    nodes: Vec<ChainNode>,
}

impl ChainTable {
    /// A table holding `key -> key` for every key, appended in the given order.
    pub fn new(keys: impl Iterator<Item = u64>) -> Self {
        let keys: Vec<u64> = keys.collect();
        let mut table = ChainTable {
            hasher: ahash::RandomState::new(),
            heads: (0..(keys.len() * 7 / 8).max(1))
                .map(|_| AtomicU32::new(0))
                .collect(),
            nodes: Vec::with_capacity(keys.len()),
        };
        keys.into_iter().for_each(|key| table.append(key));
        table
    }

    fn append(&mut self, key: u64) {
        let index = bucket_index(self.hasher.hash_one(key), self.heads.len());
        self.nodes.push(ChainNode {
            next: AtomicU32::new(0),
            state: AtomicU64::new(0),
            key,
            value: key,
        });
        let new = self.nodes.len() as u32;
        let mut link = &self.heads[index];
        while let Some(node) = self.node(link.load(Ordering::Relaxed)) {
            link = &node.next;
        }
        link.store(new, Ordering::Relaxed);
    }

    fn node(&self, link: u32) -> Option<&ChainNode> {
        link.checked_sub(1).map(|i| &self.nodes[i as usize])
    }

    /// The engine's read path, bare: hash, bucket, prefetch, pin, walk, touch, clone.
    #[inline]
    pub fn get(&self, key: u64, pin: bool) -> Option<u64> {
        let head = &self.heads[bucket_index(self.hasher.hash_one(key), self.heads.len())];
        prefetch(head);
        let _guard = pin.then(crossbeam_epoch::pin);
        let mut link = head.load(Ordering::Acquire);
        while let Some(node) = self.node(link) {
            let next = node.next.load(Ordering::Acquire);
            if node.key == key {
                touch(&node.state);
                return Some(node.value);
            }
            link = next;
        }
        None
    }
}

/// Slots per bucket; the eighth word is the overflow link.
const SLOTS: usize = 7;
/// The low 32 bits of a slot: the node's index plus one (0: empty).
const INDEX_BITS: u64 = u32::MAX as u64;

/// One cache line: seven tagged node references and an overflow bucket's index plus one.
#[repr(C, align(64))]
struct Bucket {
    slots: [AtomicU64; SLOTS],
    overflow: AtomicU64,
}

/// A bucket-node: no `next`, since the bucket holds the references.
struct BucketNode {
    state: AtomicU64,
    key: u64,
    value: u64,
}

/// Bucketized table (see the module doc).
pub struct BucketTable {
    hasher: ahash::RandomState,
    /// The first `home` buckets are addressed by hash; overflow buckets follow.
    buckets: Vec<Bucket>,
    home: usize,
    nodes: Vec<BucketNode>,
}

impl BucketTable {
    /// A table holding `key -> key` for every key, at 5.6 entries per home bucket (a
    /// load factor of 0.8: 11.4 bytes of buckets per entry, plus overflow).
    pub fn new(keys: impl Iterator<Item = u64>) -> Self {
        let keys: Vec<u64> = keys.collect();
        let home = (keys.len() * 5 / 28).max(1);
        let mut table = BucketTable {
            hasher: ahash::RandomState::new(),
            buckets: (0..home).map(|_| Bucket::empty()).collect(),
            home,
            nodes: Vec::with_capacity(keys.len()),
        };
        keys.into_iter().for_each(|key| table.add(key));
        table
    }

    fn add(&mut self, key: u64) {
        let hash = self.hasher.hash_one(key);
        self.nodes.push(BucketNode {
            state: AtomicU64::new(0),
            key,
            value: key,
        });
        let word = tag(hash) | self.nodes.len() as u64;
        let mut at = bucket_index(hash, self.home);
        loop {
            let bucket = &self.buckets[at];
            if let Some(slot) = bucket.slots.iter().find(|s| s.load(Ordering::Relaxed) == 0) {
                slot.store(word, Ordering::Relaxed);
                return;
            }
            at = match bucket.overflow.load(Ordering::Relaxed) {
                0 => self.grow(at),
                next => next as usize - 1,
            };
        }
    }

    /// Chains a new overflow bucket behind bucket `at` and returns its position.
    fn grow(&mut self, at: usize) -> usize {
        self.buckets.push(Bucket::empty());
        let new = self.buckets.len() - 1;
        self.buckets[at]
            .overflow
            .store(new as u64 + 1, Ordering::Relaxed);
        new
    }

    /// Hash, bucket, prefetch, pin, one line scanned for the tag, one node read.
    #[inline]
    pub fn get(&self, key: u64, pin: bool) -> Option<u64> {
        let hash = self.hasher.hash_one(key);
        let mut bucket = &self.buckets[bucket_index(hash, self.home)];
        prefetch(bucket);
        let _guard = pin.then(crossbeam_epoch::pin);
        loop {
            for slot in &bucket.slots {
                let word = slot.load(Ordering::Acquire);
                if word & !INDEX_BITS == tag(hash) && word != 0 {
                    let node = &self.nodes[(word & INDEX_BITS) as usize - 1];
                    if node.key == key {
                        touch(&node.state);
                        return Some(node.value);
                    }
                }
            }
            match bucket.overflow.load(Ordering::Acquire) {
                0 => return None,
                next => bucket = &self.buckets[next as usize - 1],
            }
        }
    }
}

impl Bucket {
    fn empty() -> Self {
        Bucket {
            slots: Default::default(),
            overflow: AtomicU64::new(0),
        }
    }
}

/// 16 bits of the hash that neither the shard nor the bucket index uses, in a slot's
/// top bits.
fn tag(hash: u64) -> u64 {
    (hash >> 32 & 0xFFFF) << 48
}
