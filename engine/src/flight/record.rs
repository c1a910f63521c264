//! One key's load in flight: the outcome cell that its waiters block or park on.
//!
//! Invariants:
//! - The outcome is set once, by the leader's [`Lead`](super::table::Lead) guard, and
//!   never unset; every waiter registered before it is set is woken exactly once by it.
//! - No user code (a value's `Clone` aside) runs while the state lock is held: wakers are
//!   drained under the lock and woken after it is released.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Locks, ignoring poison: every critical section in `flight/` leaves its data
/// consistent, or (a panicking `Hash` in a table shard) at worst missing a record.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a flight ended, as every waiter sees it.
pub(crate) enum Settled<V> {
    /// The loader's value (also inserted into the cache).
    Loaded(V),
    /// The loader's error, type-erased because each caller names its own error type:
    /// waiters of the same type get it (see `wait::next`).
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

/// One key's load in flight. Shared (`Arc`) by the table, the leader and the waiters;
/// it refers to nothing else, so a waiter holding it keeps no cache alive.
pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    /// Signalled (all) when the outcome is set, for blocking waiters.
    settled: Condvar,
    /// Callers that joined as waiters (incremented under the shard lock; diagnostic).
    joined: AtomicUsize,
}

impl<V> Flight<V> {
    pub(crate) fn new() -> Self {
        Flight {
            state: Mutex::new(State {
                outcome: None,
                wakers: Vec::new(),
            }),
            settled: Condvar::new(),
            joined: AtomicUsize::new(0),
        }
    }

    /// Counts one more waiter (called under the shard lock that found this record).
    pub(crate) fn add_waiter(&self) {
        self.joined.fetch_add(1, Ordering::Relaxed);
    }

    /// How many callers joined as waiters so far.
    pub(crate) fn waiters(&self) -> usize {
        self.joined.load(Ordering::Relaxed)
    }

    /// Sets the outcome and wakes every waiter, blocking and async.
    pub(crate) fn settle(&self, outcome: Settled<V>) {
        let wakers = {
            let mut state = lock(&self.state);
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        self.settled.notify_all();
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    /// Forgets a waiter's waker (the waiter was dropped before the flight settled).
    pub(crate) fn unregister(&self, slot: usize) {
        let mut state = lock(&self.state);
        // Once settled the slots were drained and are never reused: nothing to do.
        if state.outcome.is_none() {
            state.wakers[slot] = None;
        }
    }
}

impl<V: Clone> Flight<V> {
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
}
