//! Single-flight loading: cache-aside without a thundering herd.
//!
//! A caller that misses with a loader joins the key's *flight*: the first becomes its
//! leader and runs its loader; the others wait (blocking callers on a condition variable,
//! async callers by parking their waker) and receive the leader's value or error. The
//! leader inserts the value into the cache before it leaves the in-flight table, and a
//! caller that becomes leader re-checks the cache first, so concurrent misses on one key
//! run one loader, however they interleave (unless the value is evicted or expires in
//! between).
//!
//! If the leader panics or its future is dropped, a drop guard marks the flight
//! abandoned and wakes the waiters; they join again and one of them leads with its own
//! loader. Nothing is poisoned and no waiter is stranded.
//!
//! Errors are not cached. Every waiter of the failed flight receives the same
//! `Arc<E>` (so `E` needs no `Clone`); a waiter whose loader has a different error type
//! cannot receive it and loads instead.
//!
//! Each cache tracks its flights in its own table ([`Flights`], a field of the cache's
//! core, described in `table.rs`): mutex-guarded shards that only misses with a loader
//! touch. The hit path is the engine's lock-free `get`. The one process-wide piece is
//! the timer thread of `timer.rs`, which wakes async callers at their load timeouts.

mod record;
mod table;
mod timer;
mod wait;

use std::convert::Infallible;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::Cache;

pub(crate) use self::table::{join, waiters, Flights, Role};
pub(crate) use self::wait::{next, Loading, Next, WaitFlight};

/// Options for one load: a timeout and the TTL of the loaded entry.
///
/// ```
/// use std::time::Duration;
/// use clockwheel::LoadOptions;
///
/// let options = LoadOptions::default()
///     .with_timeout(Duration::from_secs(2))
///     .with_ttl(Some(Duration::from_secs(60)));
/// assert_eq!(options.timeout, Some(Duration::from_secs(2)));
/// assert_eq!(options.ttl, Some(Some(Duration::from_secs(60))));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// How long this caller waits for a value, counted from the call; `None`: no limit.
    ///
    /// - Waiting for another caller's load: a blocking caller waits with
    ///   `Condvar::wait_timeout`; an async caller is woken at the deadline by a
    ///   process-wide timer thread (started when an async load with a timeout has to
    ///   wait, gone again a second after the last such wait), so the timeout works under
    ///   any executor. On timeout the load goes on for the others.
    /// - Leading the load: an async loader is dropped (cancelled) at the deadline and a
    ///   waiter takes over; a blocking loader is a plain closure that cannot be
    ///   interrupted, so it runs to completion and its value is returned and cached.
    ///
    /// Timeouts use the real monotonic clock (`std::time::Instant`), not the cache's
    /// clock, because waiting happens in real time.
    pub timeout: Option<Duration>,
    /// The loaded entry's TTL: `None` uses the cache's default TTL, `Some(None)` never
    /// expires, `Some(Some(d))` expires `d` after the insert.
    pub ttl: Option<Option<Duration>>,
}

impl LoadOptions {
    /// Sets [`timeout`](Self::timeout).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let o = clockwheel::LoadOptions::default().with_timeout(Duration::from_millis(250));
    /// assert_eq!(o.timeout, Some(Duration::from_millis(250)));
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`ttl`](Self::ttl): `Some(d)` expires the loaded entry after `d`, `None`
    /// never expires it.
    ///
    /// ```
    /// let o = clockwheel::LoadOptions::default().with_ttl(None);
    /// assert_eq!(o.ttl, Some(None));
    /// ```
    pub fn with_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The deadline for a call starting now (`None` if there is no timeout or it is too
    /// far away to represent).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.timeout.and_then(|t| Instant::now().checked_add(t))
    }
}

/// Why a load with [`LoadOptions`] returned no value.
///
/// ```
/// use std::sync::Arc;
/// use clockwheel::LoadError;
///
/// let e: LoadError<std::io::Error> = LoadError::Failed(Arc::new(std::io::ErrorKind::NotFound.into()));
/// assert_eq!(e.to_string(), "loader failed: entity not found");
/// ```
#[derive(Debug)]
pub enum LoadError<E> {
    /// The loader failed: this caller's, or the one it waited for (every waiter of one
    /// flight gets the same `Arc`). Nothing was cached; the next call loads again.
    Failed(Arc<E>),
    /// No value within [`LoadOptions::timeout`] (the duration it was).
    TimedOut(Duration),
}

impl<E> Clone for LoadError<E> {
    fn clone(&self) -> Self {
        match self {
            LoadError::Failed(e) => LoadError::Failed(Arc::clone(e)),
            LoadError::TimedOut(d) => LoadError::TimedOut(*d),
        }
    }
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Failed(e) => write!(f, "loader failed: {e}"),
            LoadError::TimedOut(d) => write!(f, "no value within the load timeout of {d:?}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for LoadError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Failed(e) => Some(&**e),
            LoadError::TimedOut(_) => None,
        }
    }
}

/// Unwraps the result of an infallible load without a timeout.
pub(crate) fn infallible<V>(result: Result<V, LoadError<Infallible>>) -> V {
    match result {
        Ok(value) => value,
        Err(LoadError::Failed(never)) => match *never {},
        // Unreachable: no timeout was set, and only a timeout produces this.
        Err(LoadError::TimedOut(_)) => unreachable!("a load without a timeout timed out"),
    }
}

/// Strips the timeout variant from a load without a timeout.
pub(crate) fn failed<V, E>(result: Result<V, LoadError<E>>) -> Result<V, Arc<E>> {
    result.map_err(|e| match e {
        LoadError::Failed(e) => e,
        // Unreachable: no timeout was set, and only a timeout produces this.
        LoadError::TimedOut(_) => unreachable!("a load without a timeout timed out"),
    })
}

/// Diagnostics of the loads in flight.
impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// How many callers have joined the in-flight load of `key` as waiters (callers
    /// that missed while another caller was loading it), or `None` if no load of `key`
    /// is in flight. A snapshot, for metrics and tests; it takes one shard lock of this
    /// cache's in-flight table.
    ///
    /// ```
    /// let cache = clockwheel::Cache::<u32, u32>::with_capacity(10).unwrap();
    /// assert_eq!(cache.load_waiters(&1), None);
    /// let v = cache.get_or_insert_with(1, || {
    ///     assert_eq!(cache.load_waiters(&1), Some(0)); // loading, nobody waiting
    ///     5
    /// });
    /// assert_eq!((v, cache.load_waiters(&1)), (5, None));
    /// ```
    pub fn load_waiters(&self, key: &K) -> Option<usize> {
        waiters(self, key)
    }
}

/// Single-flight loaders for blocking callers.
impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// The value for `key`, loading it with `init` on a miss. Concurrent misses on one
    /// key run one `init` and all get its value; if that caller panics, a waiter runs its
    /// own `init` instead. A hit is a plain lock-free [`get`](Self::get).
    ///
    /// `init` must not load `key` itself through this cache: it would wait for itself.
    ///
    /// ```
    /// let cache = clockwheel::Cache::<String, u64>::with_capacity(100).unwrap();
    /// let price = cache.get_or_insert_with("price:lamp".to_string(), || 42);
    /// assert_eq!(price, 42);
    /// // A hit: the loader does not run.
    /// assert_eq!(cache.get_or_insert_with("price:lamp".to_string(), || unreachable!()), 42);
    /// ```
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        let load = || Ok::<V, Infallible>(init());
        infallible(self.try_get_or_insert_with_options(key, LoadOptions::default(), load))
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) with a fallible loader. An
    /// error goes to this caller and to every caller waiting on the same load, as one
    /// shared `Arc<E>`, and is not cached: the next call loads again.
    ///
    /// ```
    /// let cache = clockwheel::Cache::<u32, String>::with_capacity(100).unwrap();
    /// let err = cache.try_get_or_insert_with(7, || Err::<String, _>("origin down")).unwrap_err();
    /// assert_eq!(*err, "origin down");
    /// assert_eq!(cache.get(&7), None); // not cached
    /// let ok = cache.try_get_or_insert_with(7, || Ok::<_, &str>("seven".to_string()));
    /// assert_eq!(ok.unwrap(), "seven");
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        failed(self.try_get_or_insert_with_options(key, LoadOptions::default(), init))
    }

    /// Like [`try_get_or_insert_with`](Self::try_get_or_insert_with) with a timeout on
    /// waiting for another caller's load and a TTL for the loaded entry (see
    /// [`LoadOptions`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use clockwheel::{Cache, LoadOptions};
    ///
    /// let cache = Cache::<&str, u32>::with_capacity(10).unwrap();
    /// let options = LoadOptions::default()
    ///     .with_timeout(Duration::from_secs(1))
    ///     .with_ttl(Some(Duration::from_secs(30)));
    /// let v = cache.try_get_or_insert_with_options("k", options, || Ok::<_, String>(1));
    /// assert_eq!(v.unwrap(), 1);
    /// assert!(cache.remaining_ttl("k").unwrap().unwrap() <= Duration::from_secs(30));
    /// ```
    pub fn try_get_or_insert_with_options<E>(
        &self,
        key: K,
        options: LoadOptions,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, LoadError<E>>
    where
        E: Send + Sync + 'static,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let deadline = options.deadline();
        let mut lead = loop {
            let flight = match join(self, &key) {
                Role::Lead(lead) => break lead,
                Role::Wait(flight) => flight,
            };
            let Some(settled) = flight.wait_blocking(deadline) else {
                return Err(LoadError::TimedOut(options.timeout.unwrap_or_default()));
            };
            if let Next::Done(result) = next(settled) {
                return result;
            }
        };
        if let Some(value) = lead.already_loaded() {
            return Ok(value);
        }
        match init() {
            Ok(value) => Ok(lead.finish_ok(value, options.ttl)),
            Err(error) => Err(LoadError::Failed(lead.finish_err(error))),
        }
    }
}
