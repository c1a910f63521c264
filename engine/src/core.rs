//! The engine: hashing to a shard and bucket, the hot paths (`get`, `insert`, `remove`)
//! and the one capacity budget. Read top to bottom, this file is the whole life of an
//! entry; the CLOCK hand that ends most lives, and the compaction of its queue, are in
//! [`hand`].
//!
//! # Capacity budget (hazard 5)
//! `weighted` is the total weight of the entries that are linked (or about to be). An
//! insert first *makes room* — runs the hand until `weighted + need <= capacity`, where
//! `need` is the new weight minus the weight of the live entry it replaces — then adds
//! its weight and links the node. Single-threaded the cache therefore never exceeds its
//! capacity. Concurrent inserters may each see room and link together, so the overshoot
//! is at most the total weight of the inserts in flight; each inserter runs the hand
//! again after linking, so the cache returns under capacity before the last of them
//! returns (unless nothing is evictable because every other entry is itself in flight).
//!
//! # Ordering
//! Structure (chain and queue pointers) uses Acquire loads and AcqRel/Release CASes so a
//! node is fully initialized before it is reachable. Counters (`weighted`, `len`, `dead`,
//! stats) and the reference bit are Relaxed: they order no memory, and every decision
//! made from them is re-validated by a CAS on the structure. The one exception is the
//! capacity check after weight was added or nodes were pushed back: a SeqCst fence
//! precedes it (see `hand::evict_while`, and *The handshake* in `docs/architecture.md`).

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::EvictionPolicy;
use crate::listener::{Listener, RemovalCause, Weigher};
use crate::node::{release, NewNode, Node, DEQUEUED, NEVER, UNLINKED, UNTIMED};
use crate::shard::Shard;
use crate::stats::{Counter, StatsCounters};
use crate::sync::{pin, prefetch, AtomicU64, Collector, Guard, Ordering, Shared};
use crate::table::{self, Bucket, Linked};
use crate::time::TimeSource;

mod hand;

/// An entry refused because it outweighs the whole capacity: its key and weight.
pub(crate) type Rejected<K> = (K, u64);

pub(crate) struct CacheCore<K, V, S> {
    pub(crate) shards: Box<[Shard<K, V>]>,
    /// `shards.len() - 1`; the shard index is taken from the hash's top 16 bits.
    shard_mask: usize,
    /// Buckets per shard; the bucket index is taken from the hash's low 32 bits
    /// ([`table::bucket_index`]).
    buckets_per_shard: usize,
    pub(crate) hasher: S,
    pub(crate) capacity: u64,
    pub(crate) weighted: CachePadded<AtomicU64>,
    pub(crate) policy: EvictionPolicy,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) stats: Option<StatsCounters>,
    pub(crate) time: TimeSource,
    /// TTL of entries inserted without one (`None`: they never expire).
    pub(crate) default_ttl: Option<Duration>,
    /// Time-to-idle: a hit on an expiring entry moves its deadline to `now + tti`.
    pub(crate) time_to_idle: Option<Duration>,
    pub(crate) collector: Collector,
    /// Loads in flight (single-flight loaders only; off the hot path, see `flight/`).
    pub(crate) flights: crate::flight::Flights<K, V>,
}

/// What the builder decided; see `crate::builder`.
pub(crate) struct CoreConfig<K, V, S> {
    pub(crate) shards: usize,
    pub(crate) buckets_per_shard: usize,
    pub(crate) hasher: S,
    pub(crate) capacity: u64,
    pub(crate) policy: EvictionPolicy,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) record_stats: bool,
    /// `None`: the default (coarse) clock.
    pub(crate) clock: Option<quanta::Clock>,
    pub(crate) default_ttl: Option<Duration>,
    pub(crate) time_to_idle: Option<Duration>,
}

impl<K, V, S> CacheCore<K, V, S> {
    pub(crate) fn new(config: CoreConfig<K, V, S>) -> Self {
        debug_assert!(config.shards.is_power_of_two());
        debug_assert!((1..=table::MAX_BUCKETS).contains(&(config.buckets_per_shard as u64)));
        CacheCore {
            shards: (0..config.shards)
                .map(|_| Shard::new(config.buckets_per_shard))
                .collect(),
            shard_mask: config.shards - 1,
            buckets_per_shard: config.buckets_per_shard,
            hasher: config.hasher,
            capacity: config.capacity,
            weighted: CachePadded::new(AtomicU64::new(0)),
            policy: config.policy,
            weigher: config.weigher,
            listener: config.listener,
            stats: config.record_stats.then(StatsCounters::new),
            time: TimeSource::new(config.clock),
            default_ttl: config.default_ttl,
            time_to_idle: config.time_to_idle,
            collector: Collector::default(),
            flights: crate::flight::Flights::new(),
        }
    }

    #[inline]
    pub(crate) fn pin(&self) -> Guard {
        pin(&self.collector)
    }

    #[inline]
    fn count(&self, counter: Counter) {
        if let Some(stats) = &self.stats {
            stats.add(counter);
        }
    }

    #[inline]
    pub(crate) fn shard_index(&self, hash: u64) -> usize {
        (hash >> 48) as usize & self.shard_mask
    }

    #[inline]
    fn bucket(&self, shard: usize, hash: u64) -> &Bucket<K, V> {
        &self.shards[shard].buckets[table::bucket_index(hash, self.buckets_per_shard)]
    }

    pub(crate) fn weighted_size(&self) -> u64 {
        self.weighted.load(Ordering::Relaxed)
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }
}

impl<K, V, S> CacheCore<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    #[inline]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    fn weigh(&self, key: &K, value: &V) -> u64 {
        self.weigher.as_ref().map_or(1, |w| w(key, value))
    }

    // ---------------------------------------------------------------- reads

    /// The read path: one hash, one bucket load, a chain walk that writes nothing, and at
    /// most one relaxed bit-set on the node (skipped when already set).
    #[inline]
    pub(crate) fn lookup<Q, R>(&self, key: &Q, touch: bool, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lookup_node(key, touch, |node| read(&node.value))
    }

    /// [`Self::lookup`], handing `read` the whole live node (value and deadline at once).
    #[inline]
    pub(crate) fn lookup_node<Q, R>(
        &self,
        key: &Q,
        touch: bool,
        read: impl FnOnce(&Node<K, V>) -> R,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let shard_idx = self.shard_index(hash);
        let bucket = self.bucket(shard_idx, hash);
        // The pin's fence would hold the bucket's load back; a prefetch overlaps its miss.
        prefetch(bucket);
        let guard = self.pin();
        let found = table::find(bucket.load(Ordering::Acquire, &guard), key, &guard);
        match found {
            Some(node) if self.expired_on_read(shard_idx, node, touch, &guard) => {
                if touch {
                    self.count(Counter::Miss);
                }
                None
            }
            Some(node) => {
                if touch && self.policy == EvictionPolicy::Clock {
                    node.touch();
                }
                if touch {
                    self.count(Counter::Hit);
                }
                Some(read(node))
            }
            None => {
                if touch {
                    self.count(Counter::Miss);
                }
                None
            }
        }
    }

    /// The expiry check of the read path: reads the clock only for entries that can
    /// expire. An expired entry is removed on the way (cause `Expired`) and reads as a
    /// miss; a live one under time-to-idle gets its deadline pushed forward.
    #[inline]
    fn expired_on_read(
        &self,
        shard_idx: usize,
        node: &Node<K, V>,
        touch: bool,
        guard: &Guard,
    ) -> bool {
        let deadline = node.deadline();
        // Most hits end here: no deadline, or one the ticker's reading proves ahead.
        if deadline == NEVER || (self.time_to_idle.is_none() && self.time.surely_before(deadline)) {
            return false;
        }
        let now = self.time.now();
        // Against the latest real time can be (see `TimeSource`): never return it late.
        if deadline <= now + self.time.slack() {
            self.kill_and_unlink(shard_idx, node, RemovalCause::Expired, guard);
            return true;
        }
        if let (true, Some(tti)) = (touch, self.time_to_idle) {
            node.extend_deadline(TimeSource::deadline(now, Some(tti)));
        }
        false
    }

    /// True if a live node is past its deadline (as reads judge it), though no timer
    /// has reclaimed it yet. Reads the clock only for nodes that can expire, and not for
    /// those the ticker's reading proves ahead.
    #[inline]
    pub(crate) fn is_expired(&self, node: &Node<K, V>) -> bool {
        self.is_expired_at(node, None)
    }

    /// Whether `node` is past its deadline as reads judge it: against `now` if the caller
    /// read the clock (a timed insert: no second read), else against the ticker's bound,
    /// then the clock.
    #[inline]
    fn is_expired_at(&self, node: &Node<K, V>, now: Option<u64>) -> bool {
        let deadline = node.deadline();
        match now {
            _ if deadline == NEVER => false,
            Some(now) => deadline <= now + self.time.slack(),
            None => {
                !self.time.surely_before(deadline)
                    && deadline <= self.time.now() + self.time.slack()
            }
        }
    }

    /// Remaining time to live of `key`'s entry (see `Cache::remaining_ttl`).
    pub(crate) fn remaining<Q>(&self, key: &Q) -> Option<Option<Duration>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let bucket = self.bucket(self.shard_index(hash), hash);
        let guard = self.pin();
        let node = table::find(bucket.load(Ordering::Acquire, &guard), key, &guard)?;
        self.time_left(node.deadline())
    }

    /// `Some(None)` for an entry that never expires, `Some(Some(left))` for one that
    /// expires later, `None` for one already past its deadline.
    pub(crate) fn time_left(&self, deadline: u64) -> Option<Option<Duration>> {
        match deadline {
            NEVER => Some(None),
            deadline => {
                let now = self.time.now() + self.time.slack();
                (deadline > now).then(|| Some(Duration::from_nanos(deadline - now)))
            }
        }
    }

    // ---------------------------------------------------------------- insert

    /// Inserts or replaces; returns the replaced value's node (under `guard`) if any.
    /// The caller has checked that `weight <= capacity`. `now`: the clock, if the caller
    /// read it for the deadline (the timers reuse it rather than read it again).
    pub(crate) fn upsert<'g>(
        &self,
        key: K,
        value: V,
        (weight, deadline): (u64, u64),
        now: Option<u64>,
        guard: &'g Guard,
    ) -> Option<Shared<'g, Node<K, V>>> {
        let hash = self.hash(&key);
        let shard_idx = self.shard_index(hash);
        let bucket = self.bucket(shard_idx, hash);
        prefetch(bucket); // the bucket's miss overlaps the node's allocation
        let mut node = NewNode::new(key, value, weight, deadline);
        loop {
            let first = bucket.load(Ordering::Acquire, guard);
            let found = table::find(first, &node.get().key, guard);
            if let Some(stale) = found.filter(|n| self.is_expired_at(n, now)) {
                // An expired entry is not replaced (nor returned): it expires first.
                self.kill_and_unlink(shard_idx, stale, RemovalCause::Expired, guard);
                continue;
            }
            let old = found.map(|n| Shared::from(n as *const Node<K, V>));
            // SAFETY: `old` was found under `guard`.
            let old_weight = old.map_or(0, |o| unsafe { o.deref() }.weight());
            self.make_room(weight.saturating_sub(old_weight), shard_idx, guard);
            self.weighted.fetch_add(weight, Ordering::Relaxed);
            match table::link(bucket, old, node, guard) {
                Ok(linked) => return self.after_link(linked, (shard_idx, bucket), now, guard),
                Err(back) => {
                    self.weighted.fetch_sub(weight, Ordering::Relaxed);
                    node = back;
                }
            }
        }
    }

    fn after_link<'g>(
        &self,
        linked: Linked<'g, K, V>,
        (shard_idx, bucket): (usize, &Bucket<K, V>),
        now: Option<u64>,
        guard: &'g Guard,
    ) -> Option<Shared<'g, Node<K, V>>> {
        let shard = &self.shards[shard_idx];
        let new = match linked {
            Linked::Inserted(new) | Linked::Replaced { new, .. } => new,
        };
        let replaced = match linked {
            Linked::Inserted(new) => {
                shard.add_len(1);
                shard.queue.push(new, guard);
                self.schedule_timer(shard, new, guard);
                self.count(Counter::Insertion);
                None
            }
            Linked::Replaced { new, old } => {
                // SAFETY: `old` is protected by `guard`; we killed it, so its weight is
                // ours to give back, exactly once.
                let old_ref = unsafe { old.deref() };
                self.weighted.fetch_sub(old_ref.weight(), Ordering::Relaxed);
                shard.add_dead(1);
                if old_ref.has_timer() {
                    shard.timers.note_dead();
                }
                shard.queue.push(new, guard);
                self.schedule_timer(shard, new, guard);
                table::unlink_dead(bucket, guard);
                self.count(Counter::Replacement);
                Some(old)
            }
        };
        self.shrink_to_capacity(shard_idx, new, guard);
        self.maybe_compact(shard_idx, guard);
        self.run_due_timers(shard_idx, now, guard);
        if let Some(old) = replaced {
            // SAFETY: protected by `guard`; all bookkeeping is done.
            self.bury(unsafe { old.deref() }, RemovalCause::Replaced, guard);
        }
        replaced
    }

    // ---------------------------------------------------------------- removal

    /// Removes the live entry for `key`, returning what `read` makes of its value.
    pub(crate) fn remove_with<Q, R>(&self, key: &Q, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let shard_idx = self.shard_index(hash);
        let bucket = self.bucket(shard_idx, hash);
        let guard = self.pin();
        loop {
            let node = table::find(bucket.load(Ordering::Acquire, &guard), key, &guard)?;
            if self.is_expired(node) {
                // Not returned: it expired before this removal.
                self.kill_and_unlink(shard_idx, node, RemovalCause::Expired, &guard);
                return None;
            }
            if self.kill_and_unlink(shard_idx, node, RemovalCause::Removed, &guard) {
                // The node stays readable while `guard` is pinned.
                return Some(read(&node.value));
            }
            // Someone else killed it first (maybe replacing it): look again.
        }
    }

    /// Kills a live node found in `shard_idx`, accounts for it and unlinks it. Returns
    /// false if another thread killed it first.
    pub(crate) fn kill_and_unlink(
        &self,
        shard_idx: usize,
        node: &Node<K, V>,
        cause: RemovalCause,
        guard: &Guard,
    ) -> bool {
        if !node.kill(guard) {
            return false;
        }
        let shard = &self.shards[shard_idx];
        self.weighted.fetch_sub(node.weight(), Ordering::Relaxed);
        shard.add_len(-1);
        shard.add_dead(1);
        if node.has_timer() {
            shard.timers.note_dead();
        }
        let hash = self.hash(&node.key);
        table::unlink_dead(self.bucket(shard_idx, hash), guard);
        self.count(match cause {
            RemovalCause::Expired => Counter::Expiration,
            _ => Counter::Removal,
        });
        self.maybe_compact(shard_idx, guard);
        self.bury(node, cause, guard);
        true
    }

    /// The last word on a node this thread killed: the listener hears of it, then its
    /// value goes to the epoch (see [`Node::retire_value`]).
    pub(crate) fn bury(&self, node: &Node<K, V>, cause: RemovalCause, guard: &Guard) {
        if let Some(listener) = &self.listener {
            listener(&node.key, &node.value, cause);
        }
        // SAFETY: every caller killed `node` (one kill per node, so one burial) under
        // `guard`, which protects it.
        unsafe { node.retire_value(guard) };
    }

    /// Inserts, first checking the entry fits the capacity at all.
    /// `ttl`: `None` never expires. The caller resolved the cache's default.
    pub(crate) fn try_upsert<'g>(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
        guard: &'g Guard,
    ) -> Result<Option<Shared<'g, Node<K, V>>>, Rejected<K>> {
        let weight = self.weigh(&key, &value);
        if weight > self.capacity {
            self.count(Counter::Rejection);
            return Err((key, weight));
        }
        // Under time-to-idle an entry nobody reads lives min(ttl, tti); reads extend it.
        let ttl = ttl.map(|ttl| self.time_to_idle.map_or(ttl, |tti| ttl.min(tti)));
        let now = ttl.map(|_| self.time.now_for_deadline());
        let deadline = now
            .zip(ttl)
            .map_or(NEVER, |(now, ttl)| TimeSource::deadline(now, Some(ttl)));
        Ok(self.upsert(key, value, (weight, deadline), now, guard))
    }

    // ---------------------------------------------------------------- expiry

    fn schedule_timer(&self, shard: &Shard<K, V>, node: Shared<'_, Node<K, V>>, guard: &Guard) {
        // SAFETY: `node` was just linked by us, under `guard`.
        if unsafe { node.deref() }.has_timer() {
            shard.timers.schedule(node, guard);
        }
    }

    /// Amortized expiry on writes: advances this shard's wheel and its neighbour's when a
    /// tick has passed and they hold timers (no clock read otherwise; `now` is reused if the
    /// insert read the clock for its deadline, a few hundred ns earlier: timers may fire
    /// that much later, never earlier).
    fn run_due_timers(&self, shard_idx: usize, now: Option<u64>, guard: &Guard) {
        let neighbour = (shard_idx + 1) & self.shard_mask;
        let has_timers = |i: usize| self.shards[i].timers.pending.load(Ordering::Relaxed) != 0;
        if !has_timers(shard_idx) && !has_timers(neighbour) {
            return;
        }
        let now = now.unwrap_or_else(|| self.time.now());
        for idx in [shard_idx, neighbour] {
            if self.shards[idx].timers.due(now, guard) {
                self.run_timers(idx, now, guard);
            }
        }
    }

    /// Expires every entry of the shard whose deadline is at or before `now`, unless
    /// another thread is already advancing that shard's wheel.
    pub(crate) fn run_timers(&self, shard_idx: usize, now: u64, guard: &Guard) {
        let shard = &self.shards[shard_idx];
        let Some(expired) = shard.timers.expire(now, guard) else {
            return;
        };
        for ptr in &expired {
            // SAFETY: `expire` killed these nodes and hands us their timer references.
            let node = unsafe { ptr.deref() };
            self.weighted.fetch_sub(node.weight(), Ordering::Relaxed);
            shard.add_len(-1);
            shard.add_dead(1);
            let hash = self.hash(&node.key);
            table::unlink_dead(self.bucket(shard_idx, hash), guard);
            self.count(Counter::Expiration);
            shard.timers.release_expired(*ptr, guard);
        }
        self.maybe_compact(shard_idx, guard);
        for ptr in expired {
            // SAFETY: still protected by `guard`.
            self.bury(unsafe { ptr.deref() }, RemovalCause::Expired, guard);
        }
    }

    /// Advances every shard's wheel to now.
    pub(crate) fn run_pending_tasks(&self) {
        let now = self.time.now();
        for idx in 0..self.shards.len() {
            let guard = self.pin();
            self.run_timers(idx, now, &guard);
        }
    }
}

impl<K, V, S> Drop for CacheCore<K, V, S> {
    /// Frees every node: first the queue's references, then the table's (hazard 11).
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no operation is in flight and no new one can start, so no
        // thread can reach a node except through a guard that is already unpinned or
        // through garbage the epoch still holds (which was released by both owners).
        // With the unprotected guard, `release` frees at once.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            for shard in self.shards.iter_mut() {
                shard
                    .timers
                    .drain_exclusive(|timer| release(timer.shared(), UNTIMED, guard));
                while let Some(ptr) = shard.queue.pop(guard) {
                    release(ptr, DEQUEUED, guard);
                }
                for bucket in shard.buckets.iter() {
                    let mut cur = bucket.load(Ordering::Relaxed, guard);
                    while !cur.is_null() {
                        let next = cur.deref().next.load(Ordering::Relaxed, guard);
                        release(cur, UNLINKED, guard);
                        cur = next.with_tag(0);
                    }
                }
            }
        }
        self.collector.flush();
    }
}
