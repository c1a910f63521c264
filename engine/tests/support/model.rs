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
//!   rejections, expirations.
//! - **Expiry** (virtual clock: [`Model::advance`] moves `now`, in nanoseconds since the
//!   cache was built). An entry is *expired* once `deadline <= now` (exact nanoseconds;
//!   `NEVER` never is). An insert's deadline is `now + min(ttl, tti, MAX_TTL)`
//!   (saturating below `NEVER`; `tti` only under time-to-idle), `NEVER` for no TTL;
//!   `insert` / `try_insert` use the cache's default TTL. A hit (`get`, `contains_key`,
//!   `get_with`, not `peek`) under time-to-idle moves a finite deadline to
//!   `max(deadline, now + tti)`: deadlines never move earlier.
//! - **Expired entries** are never seen as live: a read (`peek` included), `remove`, an
//!   insert over one, a bulk removal, or the hand choosing one as its victim kills it
//!   with cause `Expired` (counted in expirations, not as a removal, replacement or
//!   eviction). Then a read misses (no count for `peek`), `remove` returns `None`, an
//!   insert is a fresh insertion (the stale entry's `Expired` event comes first), a bulk
//!   removal neither shows it to its predicate nor counts it. `iter` skips them, but
//!   `len` and `weighted_size` count them until something kills them, e.g. the shard's
//!   timers (`timers.rs`: on writes, amortized, and on `run_pending_tasks`). Events of
//!   one timer advance come in wheel order, which is unspecified ("roughly in deadline
//!   order").

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

#[path = "timers.rs"]
mod timers;

use timers::ShardTimers;
pub use timers::TICK_SHIFT;

/// The deadline of an entry that never expires.
pub const NEVER: u64 = u64::MAX;

/// The longest TTL honoured: 100 years (the engine's `MAX_TTL`).
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The deadline of an entry written at `now` with `ttl` (`None`: never).
pub fn deadline(now: u64, ttl: Option<Duration>) -> u64 {
    match ttl {
        None => NEVER,
        Some(ttl) => now
            .saturating_add(ttl.min(MAX_TTL).as_nanos() as u64)
            .min(NEVER - 1),
    }
}

/// Why an insert was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The entry alone outweighs the capacity (counted as a rejection).
    TooHeavy(u64),
    /// `try_insert_with_ttl` with a TTL above [`MAX_TTL`] (not counted).
    TtlTooLarge(Duration),
}

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
    pub expirations: u64,
}

/// One live entry: which queued node is its current one, and that node's state.
#[derive(Clone, Debug)]
struct Entry<V> {
    id: u64,
    value: V,
    weight: u64,
    referenced: bool,
    /// Nanoseconds of the virtual clock, or [`NEVER`].
    deadline: u64,
}

/// True if `entry` is past its deadline at `now`.
fn expired<V>(entry: &Entry<V>, now: u64) -> bool {
    entry.deadline != NEVER && entry.deadline <= now
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
    /// The virtual clock, in nanoseconds since the cache was built.
    now: u64,
    default_ttl: Option<Duration>,
    time_to_idle: Option<Duration>,
    timers: Vec<ShardTimers<K>>,
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
            now: 0,
            default_ttl: None,
            time_to_idle: None,
            timers: (0..shards).map(|_| ShardTimers::default()).collect(),
        }
    }

    /// Sets the cache-wide default TTL and time-to-idle (builder options).
    pub fn with_expiry(mut self, default_ttl: Option<Duration>, tti: Option<Duration>) -> Self {
        self.default_ttl = default_ttl;
        self.time_to_idle = tti;
        self
    }

    /// The virtual clock, in nanoseconds since the cache was built.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Moves the virtual clock forward.
    pub fn advance(&mut self, nanos: u64) {
        self.now += nanos;
    }

    pub fn weighted_size(&self) -> u64 {
        self.total
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The unexpired entries (what `iter` yields), sorted by key.
    pub fn entries(&self) -> Vec<(K, V)> {
        let mut all: Vec<(K, V)> = self
            .entries
            .iter()
            .filter(|(_, e)| !self.is_expired(e))
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Entries in the table, expired ones nothing has killed yet included (`len`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_expired(&self, entry: &Entry<V>) -> bool {
        expired(entry, self.now)
    }

    /// True (and killed, cause `Expired`) if `key`'s entry is expired.
    fn expire_if_due(&mut self, key: &K) -> bool {
        let expired = self.entries.get(key).is_some_and(|e| self.is_expired(e));
        if expired {
            self.kill(key, Cause::Expired);
        }
        expired
    }

    /// The listener events since the last call.
    pub fn take_events(&mut self) -> Vec<(K, V, Cause)> {
        std::mem::take(&mut self.events)
    }

    // ------------------------------------------------------------------ reads

    /// `get`: sets the reference bit (CLOCK), moves the deadline under time-to-idle, and
    /// counts a hit or a miss.
    pub fn get(&mut self, key: &K) -> Option<V> {
        let found = self.lookup(key, true);
        match found {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        found
    }

    /// `contains_key`: exactly a `get` whose value is not returned.
    pub fn contains_key(&mut self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// `peek`: no reference bit, no deadline move, no hit or miss; an expired entry is
    /// still killed (and counted as an expiration).
    pub fn peek(&mut self, key: &K) -> Option<V> {
        self.lookup(key, false)
    }

    /// The read path shared by `get` and `peek` (`CacheCore::lookup`).
    fn lookup(&mut self, key: &K, touch: bool) -> Option<V> {
        if self.expire_if_due(key) {
            return None;
        }
        let now = self.now;
        let entry = self.entries.get_mut(key)?;
        if touch && self.policy == Policy::Clock {
            entry.referenced = true;
        }
        // Sliding expiration: a hit extends the deadline, never shortens it. (With every
        // deadline starting at most `tti` after its insert, `now + tti` is never earlier
        // anyway; the `max` states the engine's rule rather than relying on that.)
        if let (true, Some(tti), false) = (touch, self.time_to_idle, entry.deadline == NEVER) {
            entry.deadline = entry.deadline.max(deadline(now, Some(tti)));
        }
        Some(entry.value.clone())
    }

    /// `remaining_ttl`: `None` if absent or at/past its deadline (nothing is removed),
    /// `Some(None)` if it never expires.
    pub fn remaining_ttl(&self, key: &K) -> Option<Option<Duration>> {
        let entry = self.entries.get(key)?;
        match entry.deadline {
            NEVER => Some(None),
            d => (d > self.now).then(|| Some(Duration::from_nanos(d - self.now))),
        }
    }

    // ------------------------------------------------------------------ writes

    /// `insert` with the entry's weight and the default TTL: returns the value it
    /// replaced, or (for an entry heavier than the capacity) the value it removed.
    pub fn insert(&mut self, key: K, value: V, weight: u64) -> Option<V> {
        self.insert_with_ttl(key, value, weight, self.default_ttl)
    }

    /// `insert_with_ttl`: a TTL above [`MAX_TTL`] counts as `MAX_TTL`.
    pub fn insert_with_ttl(
        &mut self,
        key: K,
        value: V,
        weight: u64,
        ttl: Option<Duration>,
    ) -> Option<V> {
        let ttl = ttl.map(|t| t.min(MAX_TTL));
        match self.try_insert_with_ttl(key.clone(), value, weight, ttl) {
            Ok(old) => old,
            Err(_) => self.remove(&key),
        }
    }

    /// `try_insert` (default TTL): `Err(weight)` if the entry alone outweighs the
    /// capacity (the old entry, if any, stays).
    pub fn try_insert(&mut self, key: K, value: V, weight: u64) -> Result<Option<V>, Refused> {
        self.try_insert_with_ttl(key, value, weight, self.default_ttl)
    }

    /// `try_insert_with_ttl`: refuses a TTL above [`MAX_TTL`] first, then an entry
    /// heavier than the capacity; either way the old entry stays. Under time-to-idle a
    /// TTL longer than the idle limit starts at the idle limit.
    pub fn try_insert_with_ttl(
        &mut self,
        key: K,
        value: V,
        weight: u64,
        ttl: Option<Duration>,
    ) -> Result<Option<V>, Refused> {
        if let Some(ttl) = ttl.filter(|t| *t > MAX_TTL) {
            return Err(Refused::TtlTooLarge(ttl));
        }
        if weight > self.capacity {
            self.stats.rejections += 1;
            return Err(Refused::TooHeavy(weight));
        }
        let ttl = ttl.map(|t| self.time_to_idle.map_or(t, |tti| t.min(tti)));
        let deadline = deadline(self.now, ttl);
        Ok(self.upsert(key, value, weight, deadline))
    }

    fn upsert(&mut self, key: K, value: V, weight: u64, deadline: u64) -> Option<V> {
        let shard = (self.shard_of)(&key);
        // An expired old entry is killed (and reported) before the hand runs; the insert
        // is then a fresh one.
        self.expire_if_due(&key);
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
            deadline,
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
        if deadline != NEVER {
            let deadline_of = node_deadline(&self.entries);
            self.timers[shard].schedule((id, key.clone(), deadline), deadline_of);
        }
        // The engine runs the hand again after linking (for concurrent overshoot); a
        // single thread is already within capacity, so this evicts nothing.
        self.make_room(0, shard);
        self.run_due_timers(shard);
        replaced.map(|old| {
            self.events.push((key, old.value.clone(), Cause::Replaced));
            old.value
        })
    }

    /// `remove` / `invalidate`: an expired entry is killed as `Expired` and not returned.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        match self.expire_if_due(key) {
            true => None,
            false => self.kill(key, Cause::Removed),
        }
    }

    /// Takes `key`'s entry out of the table for `cause` (`Removed` or `Expired`).
    fn kill(&mut self, key: &K, cause: Cause) -> Option<V> {
        let entry = self.entries.remove(key)?;
        self.total -= entry.weight;
        self.live[(self.shard_of)(key)] -= 1;
        match cause {
            Cause::Expired => self.stats.expirations += 1,
            _ => self.stats.removals += 1,
        }
        self.events.push((key.clone(), entry.value.clone(), cause));
        Some(entry.value)
    }

    /// `clear`, `retain` (with the predicate negated) and `remove_matching`: expires every
    /// expired entry (uncounted, unseen by `doomed`), then removes every other entry for
    /// which `doomed` is true and returns how many.
    pub fn remove_where(&mut self, mut doomed: impl FnMut(&K, &V) -> bool) -> usize {
        let mut keys: Vec<K> = self.entries.keys().cloned().collect();
        keys.sort();
        let mut removed = 0;
        for key in &keys {
            if !self.expire_if_due(key) && doomed(key, &self.entries[key].value) {
                self.kill(key, Cause::Removed);
                removed += 1;
            }
        }
        removed
    }

    // ------------------------------------------------------------------ expiry

    /// `run_pending_tasks`: every shard's timers advance to now, ungated.
    pub fn run_pending_tasks(&mut self) {
        for shard in 0..self.timers.len() {
            self.run_timers(shard);
        }
    }

    /// The amortized advance at the end of a write: the written shard, then its
    /// neighbour, each if its gate is open, and only if either holds a timer.
    fn run_due_timers(&mut self, shard: usize) {
        let neighbour = (shard + 1) & (self.timers.len() - 1);
        if self.timers[shard].pending() == 0 && self.timers[neighbour].pending() == 0 {
            return;
        }
        for idx in [shard, neighbour] {
            if self.timers[idx].due(self.now) {
                self.run_timers(idx);
            }
        }
    }

    fn run_timers(&mut self, shard: usize) {
        let deadline_of = node_deadline(&self.entries);
        let expired = self.timers[shard].expire(self.now, deadline_of);
        for key in expired {
            self.kill(&key, Cause::Expired);
        }
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
            // A victim already past its deadline leaves as expired, not evicted.
            if expired(entry, self.now) {
                self.kill(&key, Cause::Expired);
                return true;
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

/// What the timers ask of the model: the deadline of node `id` of `key` if that node is
/// the key's live entry, `None` if it died.
fn node_deadline<K: Hash + Eq, V>(
    entries: &HashMap<K, Entry<V>>,
) -> impl Fn(u64, &K) -> Option<u64> + '_ {
    |id, key| entries.get(key).filter(|e| e.id == id).map(|e| e.deadline)
}
