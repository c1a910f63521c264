//! A reference model of the engine's single-threaded semantics, in plain `std` Rust.
//!
//! Shared by the proptest model test (`engine/tests/model.rs`) and the differential
//! fuzz target (`fuzz/fuzz_targets/ops.rs`), which include this file by path.
//!
//! What it models, exactly, for any shard count (given the engine's shard function):
//! - **CLOCK is FIFO with reinsertion.** Each shard has a queue of node ids. The map
//!   `key -> Entry` says which node id is the key's live one; an id in a queue that the
//!   map no longer points to is dead and is discarded when the hand reaches it.
//! - **Reads.** `get` / `contains_key` on a live key set its reference bit (CLOCK only;
//!   FIFO never sets bits) and count a hit, else a miss. `peek` touches nothing and
//!   counts nothing.
//! - **Insert** of weight `w`: heavier than the capacity is refused (`insert` then
//!   removes the key's old entry and returns its value; `try_insert` reports the weight
//!   and leaves the old entry). Otherwise the hand runs until `total + need <= capacity`
//!   with `need = w - old weight` (saturating); if that evicted the key's own old entry,
//!   room is made again for the full weight and the insert becomes a fresh one. A
//!   replacement kills the old node and queues a new one at the tail, bit clear.
//! - **The hand** (`evict_one`) tries the shards round-robin from the inserted key's
//!   shard. In one shard it pops the front: dead ids are dropped; a live id with its bit
//!   set (CLOCK) gets the bit cleared and goes to the tail (at most `len + 1` such second
//!   chances per sweep, as in the engine); otherwise it is the victim.
//! - **Listener events** (`take_events`) in the order the engine reports them for
//!   single-key operations: evictions while making room, then `Replaced` for the old
//!   value. Bulk removals (`remove_where`) report in an unspecified order.
//! - **Statistics**: hits, misses, insertions, replacements, evictions, removals,
//!   rejections.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// The eviction policy being modelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// FIFO with reinsertion of entries whose reference bit is set.
    Clock,
    /// Plain FIFO: reads leave no trace.
    Fifo,
}

/// Why an entry left the model (mirrors the engine's `RemovalCause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    Evicted,
    Removed,
    Replaced,
    Expired,
}

/// The statistics counters the model predicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub insertions: u64,
    pub replacements: u64,
    pub evictions: u64,
    pub removals: u64,
    pub rejections: u64,
}

/// One live entry: which queued node is its current one, and that node's state.
#[derive(Clone, Debug)]
struct Entry<V> {
    id: u64,
    value: V,
    weight: u64,
    referenced: bool,
}

/// The reference model. `K: Ord` only so that snapshots can be sorted.
pub struct Model<K, V> {
    capacity: u64,
    policy: Policy,
    /// Maps a key to its shard index (`< queues.len()`).
    shard_of: Box<dyn Fn(&K) -> usize>,
    /// One queue of `(node id, key)` per shard, oldest first; may hold dead ids.
    queues: Vec<VecDeque<(u64, K)>>,
    /// Live entries per shard.
    live: Vec<usize>,
    entries: HashMap<K, Entry<V>>,
    total: u64,
    next_id: u64,
    stats: Stats,
    events: Vec<(K, V, Cause)>,
}

impl<K, V> Model<K, V>
where
    K: Clone + Eq + Hash + Ord,
    V: Clone,
{
    /// A single-shard model.
    pub fn new(capacity: u64, policy: Policy) -> Self {
        Self::sharded(capacity, policy, 1, Box::new(|_: &K| 0))
    }

    /// A model of `shards` shards (a power of two, as in the engine), where `shard_of`
    /// must be the engine's own key-to-shard function.
    pub fn sharded(
        capacity: u64,
        policy: Policy,
        shards: usize,
        shard_of: Box<dyn Fn(&K) -> usize>,
    ) -> Self {
        assert!(shards.is_power_of_two(), "the engine rounds shards to 2^n");
        Model {
            capacity,
            policy,
            shard_of,
            queues: (0..shards).map(|_| VecDeque::new()).collect(),
            live: vec![0; shards],
            entries: HashMap::new(),
            total: 0,
            next_id: 0,
            stats: Stats::default(),
            events: Vec::new(),
        }
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn weighted_size(&self) -> u64 {
        self.total
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The live entries, sorted by key.
    pub fn entries(&self) -> Vec<(K, V)> {
        let mut all: Vec<(K, V)> = self
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The listener events since the last call.
    pub fn take_events(&mut self) -> Vec<(K, V, Cause)> {
        std::mem::take(&mut self.events)
    }

    // ------------------------------------------------------------------ reads

    /// `get`: sets the reference bit (CLOCK) and counts a hit or a miss.
    pub fn get(&mut self, key: &K) -> Option<V> {
        match self.entries.get_mut(key) {
            Some(entry) => {
                if self.policy == Policy::Clock {
                    entry.referenced = true;
                }
                self.stats.hits += 1;
                Some(entry.value.clone())
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// `contains_key`: exactly a `get` whose value is not returned.
    pub fn contains_key(&mut self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// `peek`: no reference bit, no statistics.
    pub fn peek(&self, key: &K) -> Option<V> {
        self.entries.get(key).map(|e| e.value.clone())
    }

    // ------------------------------------------------------------------ writes

    /// `insert` with the entry's weight: returns the value it replaced, or (for an entry
    /// heavier than the capacity) the value it removed.
    pub fn insert(&mut self, key: K, value: V, weight: u64) -> Option<V> {
        match self.try_insert(key.clone(), value, weight) {
            Ok(old) => old,
            Err(_) => self.remove(&key),
        }
    }

    /// `try_insert`: `Err(weight)` if the entry alone outweighs the capacity (the old
    /// entry, if any, stays).
    pub fn try_insert(&mut self, key: K, value: V, weight: u64) -> Result<Option<V>, u64> {
        if weight > self.capacity {
            self.stats.rejections += 1;
            return Err(weight);
        }
        Ok(self.upsert(key, value, weight))
    }

    fn upsert(&mut self, key: K, value: V, weight: u64) -> Option<V> {
        let shard = (self.shard_of)(&key);
        loop {
            let old_weight = self.entries.get(&key).map(|e| e.weight);
            let need = weight.saturating_sub(old_weight.unwrap_or(0));
            self.make_room(need, shard);
            // The engine's replace CAS fails if the hand killed the old node meanwhile;
            // it then searches again, finds nothing, and makes room for a fresh insert.
            if old_weight.is_none() || self.entries.contains_key(&key) {
                break;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.queues[shard].push_back((id, key.clone()));
        let new = Entry {
            id,
            value,
            weight,
            referenced: false,
        };
        let replaced = match self.entries.insert(key.clone(), new) {
            Some(old) => {
                self.total = self.total - old.weight + weight;
                self.stats.replacements += 1;
                Some(old)
            }
            None => {
                self.total += weight;
                self.live[shard] += 1;
                self.stats.insertions += 1;
                None
            }
        };
        // The engine runs the hand again after linking (for concurrent overshoot); a
        // single thread is already within capacity, so this evicts nothing.
        self.make_room(0, shard);
        replaced.map(|old| {
            self.events.push((key, old.value.clone(), Cause::Replaced));
            old.value
        })
    }

    /// `remove` / `invalidate`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let entry = self.entries.remove(key)?;
        self.total -= entry.weight;
        self.live[(self.shard_of)(key)] -= 1;
        self.stats.removals += 1;
        self.events
            .push((key.clone(), entry.value.clone(), Cause::Removed));
        Some(entry.value)
    }

    /// `clear`, `retain` (with the predicate negated) and `remove_matching`: removes
    /// every live entry for which `doomed` is true and returns how many.
    pub fn remove_where(&mut self, mut doomed: impl FnMut(&K, &V) -> bool) -> usize {
        let mut victims: Vec<K> = self
            .entries
            .iter()
            .filter(|(k, e)| doomed(k, &e.value))
            .map(|(k, _)| k.clone())
            .collect();
        victims.sort();
        for key in &victims {
            self.remove(key);
        }
        victims.len()
    }

    // ------------------------------------------------------------------ the hand

    fn make_room(&mut self, need: u64, start_shard: usize) {
        while self.total.saturating_add(need) > self.capacity {
            if !self.evict_one(start_shard) {
                return;
            }
        }
    }

    fn evict_one(&mut self, start: usize) -> bool {
        let shards = self.queues.len();
        (0..shards).any(|i| self.evict_from((start + i) & (shards - 1)))
    }

    fn evict_from(&mut self, shard: usize) -> bool {
        let mut second_chances = self.live[shard] + 1;
        while let Some((id, key)) = self.queues[shard].pop_front() {
            let Some(entry) = self.entries.get_mut(&key).filter(|e| e.id == id) else {
                continue; // dead: its key was removed or replaced since it was queued
            };
            if self.policy == Policy::Clock && second_chances > 0 && entry.referenced {
                entry.referenced = false;
                second_chances -= 1;
                self.queues[shard].push_back((id, key));
                continue;
            }
            let entry = self.entries.remove(&key).expect("live entry");
            self.total -= entry.weight;
            self.live[shard] -= 1;
            self.stats.evictions += 1;
            self.events.push((key, entry.value, Cause::Evicted));
            return true;
        }
        false
    }
}
