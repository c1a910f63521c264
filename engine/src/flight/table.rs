//! A cache's in-flight table ([`Flights`]) and the leader's guard ([`Lead`]).
//!
//! **Off the hot path, so locks are acceptable here.** Only a miss that comes with a
//! loader touches the table; hits, plain misses and every other operation never do (the
//! hit path stays the engine's lock-free `get`). Each cache owns its table, a field of
//! its core, split into [`SHARDS`] mutex-guarded `HashMap<K, Arc<Flight<V>>>`s chosen by
//! the key's hash, so loads of different keys rarely contend. The shards are allocated
//! by the cache's first load with a loader: a cache that never loads pays one pointer.
//!
//! Invariants:
//! - A record is in the table exactly while its leader has not settled it; the leader's
//!   [`Lead`] guard removes and settles it on every path, panics and cancellation
//!   included (`Drop` settles it as abandoned).
//! - A loaded value is inserted into the cache *before* its record leaves the table, so a
//!   caller that finds no record and then re-checks the cache sees the value.
//! - The table lives and dies with its cache: a `Lead` borrows the cache, and records
//!   hold no reference back to it, so neither a waiter nor a leaked leader keeps a
//!   cache alive (a leaked leader's waiters wait for it forever, as they would for a
//!   loader that never returns).
//! - No user code (loader, `Clone` of a value, waker) runs while a shard lock is held,
//!   except the key's `Hash`/`Eq`/`Clone` in the map itself; locks ignore poison, and a map
//!   left mid-operation by a panicking `Hash` is at worst missing a record.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::record::{lock, Flight, Settled};
use crate::cache::Cache;

/// log2 of [`SHARDS`].
const SHARD_BITS: u32 = 6;

/// Shards of one cache's in-flight table (64: enough that a thousand concurrent misses
/// spread over many keys rarely share a lock, at about 3.5 KiB once allocated).
const SHARDS: usize = 1 << SHARD_BITS;

type Shard<K, V> = Mutex<HashMap<K, Arc<Flight<V>>>>;

/// One cache's loads in flight: key → the record its waiters wait on.
///
/// Constructible for any `K` and `V` (no bounds), so the core can always hold one.
pub(crate) struct Flights<K, V> {
    /// Allocated on first use by [`Flights::shard`].
    shards: OnceLock<Box<[Shard<K, V>]>>,
}

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> Flights<K, V> {
    /// An empty table that allocates nothing until the first load.
    pub(crate) const fn new() -> Self {
        Flights {
            shards: OnceLock::new(),
        }
    }

    /// The shard of a key whose hash (by the cache's hasher) is `hash`, allocating the
    /// shards on first use.
    fn shard(&self, hash: u64) -> &Shard<K, V> {
        let shards = self
            .shards
            .get_or_init(|| (0..SHARDS).map(|_| Mutex::default()).collect());
        &shards[index(hash)]
    }

    /// Like [`shard`](Self::shard), but `None` (and no allocation) if nothing was loaded.
    fn existing_shard(&self, hash: u64) -> Option<&Shard<K, V>> {
        self.shards.get().map(|shards| &shards[index(hash)])
    }
}

/// A shard index from the top bits of the mixed hash (the core takes its own shard and
/// bucket from the raw hash's top 16 and low bits; mixing decorrelates the three).
fn index(hash: u64) -> usize {
    (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARD_BITS)) as usize
}

/// How many callers have joined the key's load in flight as waiters; `None` if no load
/// of the key is in flight.
pub(crate) fn waiters<K, V, S>(cache: &Cache<K, V, S>, key: &K) -> Option<usize>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    let core = &cache.core;
    let shard = core.flights.existing_shard(core.hash(key))?;
    let records = lock(shard);
    records.get(key).map(|flight| flight.waiters())
}

/// What a caller that missed does next.
pub(crate) enum Role<'a, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// Nobody is loading the key: this caller loads it and must settle the flight.
    Lead(Lead<'a, K, V, S>),
    /// Another caller is loading it: wait for that flight.
    Wait(Arc<Flight<V>>),
}

/// Joins the key's flight as a waiter, or starts one as its leader.
pub(crate) fn join<'a, K, V, S>(cache: &'a Cache<K, V, S>, key: &K) -> Role<'a, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    let shard = cache.core.flights.shard(cache.core.hash(key));
    let mut records = lock(shard);
    if let Some(flight) = records.get(key) {
        flight.add_waiter();
        return Role::Wait(Arc::clone(flight));
    }
    let flight = Arc::new(Flight::new());
    records.insert(key.clone(), Arc::clone(&flight));
    drop(records);
    Role::Lead(Lead {
        cache,
        shard,
        key: key.clone(),
        flight,
        settled: false,
    })
}

/// The leader's duty to settle its flight: done by `finish_*`, or by `Drop` as
/// abandoned if the leader panics or its future is dropped.
pub(crate) struct Lead<'a, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    cache: &'a Cache<K, V, S>,
    /// The shard holding the record (in `cache`'s own table).
    shard: &'a Shard<K, V>,
    key: K,
    flight: Arc<Flight<V>>,
    settled: bool,
}

impl<K, V, S> Lead<'_, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// The value a previous leader inserted between this caller's miss and its joining
    /// (re-checked without counting a second miss); settles the flight with it.
    pub(crate) fn already_loaded(&mut self) -> Option<V> {
        let value = self.cache.peek(&self.key)?;
        self.settle(Settled::Loaded(value.clone()));
        Some(value)
    }

    /// Inserts the loaded value (TTL: `Some(ttl)` as given, `None` the cache's default),
    /// then hands it to every waiter.
    pub(crate) fn finish_ok(mut self, value: V, ttl: Option<Option<Duration>>) -> V {
        let ttl = ttl.unwrap_or(self.cache.core.default_ttl);
        self.cache
            .insert_with_ttl(self.key.clone(), value.clone(), ttl);
        self.settle(Settled::Loaded(value.clone()));
        value
    }

    /// Hands the loader's error to every waiter; nothing is cached.
    pub(crate) fn finish_err<E: Send + Sync + 'static>(mut self, error: E) -> Arc<E> {
        let error = Arc::new(error);
        self.settle(Settled::Failed(error.clone()));
        error
    }

    /// Removes the record (the cache already holds any value), then wakes the waiters.
    fn settle(&mut self, outcome: Settled<V>) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let removed = {
            let mut records = lock(self.shard);
            let ours = records
                .get(&self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight));
            // Taken out to drop after the lock: the removed key's `Drop` is user code.
            ours.then(|| records.remove_entry(&self.key))
        };
        drop(removed);
        self.flight.settle(outcome);
    }
}

impl<K, V, S> Drop for Lead<'_, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    fn drop(&mut self) {
        self.settle(Settled::Abandoned);
    }
}
