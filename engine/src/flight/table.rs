//! The in-flight table and its records.
//!
//! **Off the hot path, so locks are acceptable here.** Only a miss that comes with a
//! loader touches this table; hits never do. The table is process-wide, split into
//! [`SHARDS`] mutex-guarded maps chosen by (cache, key hash), so loads of different keys
//! rarely contend. Each shard maps a cache's identity to that cache's
//! `HashMap<K, Arc<Flight<V>>>`, created with its first load and removed with its last.
//!
//! Invariants:
//! - A record is in the table exactly while its leader has not settled it; the leader's
//!   [`Lead`] guard removes and settles it on every path, panics and cancellation
//!   included (`Drop` settles it as abandoned).
//! - A loaded value is inserted into the cache *before* its record leaves the table, so a
//!   caller that finds no record and then re-checks the cache sees the value.
//! - A record keeps its cache's core alive, so the core's address names the cache for as
//!   long as the cache has records (even a leaked leader cannot let it be reused).
//! - No user code (loader, `Clone` of a value, waker) runs while a shard lock is held,
//!   except the key's `Hash`/`Eq`/`Clone` in the map itself; locks ignore poison, and a map
//!   left mid-operation by a panicking `Hash` is at worst missing a record.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::cache::Cache;

/// Shards of the process-wide in-flight table.
const SHARDS: usize = 64;

/// Locks, ignoring poison: see the module invariants.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a flight ended, as every waiter sees it.
pub(crate) enum Settled<V> {
    /// The loader's value (also inserted into the cache).
    Loaded(V),
    /// The loader's error, type-erased: waiters of the same error type get it.
    Failed(Arc<dyn Any + Send + Sync>),
    /// The leader was cancelled or panicked: waiters go back and one of them leads.
    Abandoned,
}

impl<V: Clone> Clone for Settled<V> {
    fn clone(&self) -> Self {
        match self {
            Settled::Loaded(v) => Settled::Loaded(v.clone()),
            Settled::Failed(e) => Settled::Failed(Arc::clone(e)),
            Settled::Abandoned => Settled::Abandoned,
        }
    }
}

struct State<V> {
    /// `None` while the load is in flight; set once, never unset.
    outcome: Option<Settled<V>>,
    /// Async waiters' wakers, one slot per waiter; drained when the outcome is set.
    wakers: Vec<Option<Waker>>,
}

/// One key's load in flight: the outcome cell that waiters block or park on.
pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    /// Signalled (all) when the outcome is set, for blocking waiters.
    settled: Condvar,
    /// Callers that joined as waiters (incremented under the shard lock; diagnostic).
    joined: AtomicUsize,
    /// Keeps the cache's core, and so its address, alive (see the module invariants).
    _cache: Arc<dyn Any + Send + Sync>,
}

impl<V: Clone> Flight<V> {
    fn new(cache: Arc<dyn Any + Send + Sync>) -> Self {
        Flight {
            state: Mutex::new(State {
                outcome: None,
                wakers: Vec::new(),
            }),
            settled: Condvar::new(),
            joined: AtomicUsize::new(0),
            _cache: cache,
        }
    }

    /// Blocks until the flight settles or `deadline` passes (`None`: timed out).
    pub(crate) fn wait_blocking(&self, deadline: Option<Instant>) -> Option<Settled<V>> {
        let mut state = lock(&self.state);
        loop {
            if let Some(outcome) = &state.outcome {
                return Some(outcome.clone());
            }
            state = match deadline {
                None => self
                    .settled
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(at) => {
                    let left = at.checked_duration_since(Instant::now())?;
                    let woken = self.settled.wait_timeout(state, left);
                    woken.unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    /// The outcome if settled; otherwise registers `cx`'s waker in `slot` (allocating
    /// the slot on first use) and returns `Pending`.
    pub(crate) fn poll_settled(
        &self,
        slot: &mut Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<Settled<V>> {
        let mut state = lock(&self.state);
        if let Some(outcome) = &state.outcome {
            return Poll::Ready(outcome.clone());
        }
        let waker = Some(cx.waker().clone());
        match *slot {
            Some(i) => state.wakers[i] = waker,
            None => {
                *slot = Some(state.wakers.len());
                state.wakers.push(waker);
            }
        }
        Poll::Pending
    }

    /// Forgets a waiter's waker (the waiter was dropped before the flight settled).
    pub(crate) fn unregister(&self, slot: usize) {
        let mut state = lock(&self.state);
        // Once settled the slots were drained and are never reused: nothing to do.
        if state.outcome.is_none() {
            state.wakers[slot] = None;
        }
    }

    /// Sets the outcome and wakes every waiter, blocking and async.
    fn settle(&self, outcome: Settled<V>) {
        let wakers = {
            let mut state = lock(&self.state);
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        self.settled.notify_all();
        wakers.into_iter().flatten().for_each(Waker::wake);
    }
}

/// One cache's records in one shard.
type Records<K, V> = HashMap<K, Arc<Flight<V>>>;

/// A cache's identity in the table: its core's address and its records' type.
type CacheId = (usize, TypeId);

type Shard = Mutex<HashMap<CacheId, Box<dyn Any + Send>>>;

fn shards() -> &'static [Shard] {
    static TABLE: OnceLock<Box<[Shard]>> = OnceLock::new();
    TABLE.get_or_init(|| (0..SHARDS).map(|_| Shard::default()).collect())
}

/// Where a key's record lives.
struct Place {
    shard: usize,
    id: CacheId,
}

impl Place {
    fn of<K, V, S>(cache: &Cache<K, V, S>, key: &K) -> Place
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
        S: BuildHasher,
    {
        let address = Arc::as_ptr(&cache.core) as *const () as usize;
        let mixed = (cache.core.hash(key) ^ address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Place {
            shard: (mixed >> 58) as usize % SHARDS,
            id: (address, TypeId::of::<Records<K, V>>()),
        }
    }

    /// Runs `f` on the key's record, if this cache has one in flight.
    fn find<K, V, R>(&self, key: &K, f: impl FnOnce(&Flight<V>) -> R) -> Option<R>
    where
        K: Hash + Eq + Send + 'static,
        V: Send + Sync + 'static,
    {
        let shard = lock(&shards()[self.shard]);
        let records = shard.get(&self.id)?.downcast_ref::<Records<K, V>>()?;
        records.get(key).map(|flight| f(flight))
    }

    /// Runs `f` on this cache's records in this shard, creating them if absent and
    /// removing them if `f` leaves them empty.
    fn with<K, V, R>(&self, f: impl FnOnce(&mut Records<K, V>) -> R) -> R
    where
        K: Hash + Eq + Send + 'static,
        V: Send + Sync + 'static,
    {
        let mut shard = lock(&shards()[self.shard]);
        let entry = shard
            .entry(self.id)
            .or_insert_with(|| Box::new(Records::<K, V>::new()));
        let records = entry
            .downcast_mut::<Records<K, V>>()
            .expect("records are keyed by their own TypeId");
        let result = f(records);
        if records.is_empty() {
            shard.remove(&self.id);
        }
        result
    }
}

/// How many callers have joined the key's load in flight as waiters; `None` if no load
/// of the key is in flight.
pub(crate) fn waiters<K, V, S>(cache: &Cache<K, V, S>, key: &K) -> Option<usize>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    Place::of(cache, key).find(key, |f: &Flight<V>| f.joined.load(Ordering::Relaxed))
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
    let place = Place::of(cache, key);
    let started = place.with(|records: &mut Records<K, V>| match records.get(key) {
        Some(flight) => {
            flight.joined.fetch_add(1, Ordering::Relaxed);
            Err(Arc::clone(flight))
        }
        None => {
            let flight = Arc::new(Flight::new(cache.core.clone()));
            records.insert(key.clone(), Arc::clone(&flight));
            Ok(flight)
        }
    });
    match started {
        Err(flight) => Role::Wait(flight),
        Ok(flight) => Role::Lead(Lead {
            cache,
            key: key.clone(),
            flight,
            place,
            settled: false,
        }),
    }
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
    key: K,
    flight: Arc<Flight<V>>,
    place: Place,
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
        let (key, flight) = (&self.key, &self.flight);
        self.place.with(|records: &mut Records<K, V>| {
            if records.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
                records.remove(key);
            }
        });
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
