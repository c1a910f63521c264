//! The process-wide ticker: one thread that publishes the coarse clock every [`PERIOD`],
//! so that a read can prove a timed entry alive with one load instead of a clock read
//! (see `TimeSource::surely_before` in `crate::time`).
//!
//! # Why
//! A vDSO read of `CLOCK_MONOTONIC_COARSE` costs a few ns alone, but 15 to 25 ns amid
//! the cache misses of a read hit: its 30-odd instructions crowd the window the CPU uses
//! to overlap those misses. One load of a line that changes every 10 ms costs next to
//! nothing. (Where the TSC is virtualized, quanta's TSC clock costs ~80 ns a read.)
//!
//! # Protocol
//! - `published` holds the last coarse-clock reading the ticker thread stored (absolute
//!   ns), or 0 while no ticker thread runs. Only the running thread stores a reading, and
//!   it does so under the `state` lock, so readings never go backwards.
//! - `state` counts the subscribers (caches on the default clock that have set a
//!   deadline) and says whether a thread runs. A subscriber that finds none running marks
//!   one running and starts it; a thread stops, publishing 0 first, at its first round
//!   with no subscriber. Both happen under the lock, so a subscriber is never left without
//!   a thread and a stopped thread never leaves a stale reading behind (loom model
//!   `ticker_lifecycle` in `engine/tests/loom/ticker.rs`).
//! - The lock is taken when a cache subscribes or is dropped and once per round by the
//!   thread: never on a read or write of an entry.
//!
//! # The lease
//! A reader that loads a nonzero reading `P` relies on the thread having stored it at most
//! [`LEASE`] (1 s) ago. Real time is then below `P + LEASE + lag` (the coarse clock's lag
//! behind real time), and an entry whose deadline lies beyond is alive. The thread stores
//! a reading every 10 ms, so the lease fails only if the OS keeps the ticker thread off
//! every CPU for about a second while readers run; an entry could then be returned late by
//! at most that excess. Entries within a lease of their deadline, and every read while no
//! reading is published, fall back to reading the clock, which is exact.
//!
//! Only the default clock on Linux uses it; loom models drive a private [`Ticker`].
#![cfg_attr(any(clockwheel_loom, not(target_os = "linux")), allow(dead_code))]

use std::sync::PoisonError;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Mutex, MutexGuard, Ordering};

/// How often the ticker thread publishes a reading.
pub(crate) const PERIOD: Duration = Duration::from_millis(10);

/// How old, at most, a reader assumes the published reading is (ns): 100 periods.
pub(crate) const LEASE: u64 = 1_000_000_000;

// The lease must leave the thread many missed rounds of room (scheduling delays).
const _: () = assert!(LEASE >= 50 * PERIOD.as_nanos() as u64);

/// The published clock and the lifecycle of the thread that publishes it.
pub struct Ticker {
    /// The last reading, absolute ns of the coarse clock; 0 while no thread runs.
    published: CachePadded<AtomicU64>,
    state: Mutex<State>,
}

struct State {
    subscribers: usize,
    running: bool,
}

impl Ticker {
    /// A ticker with no subscriber and no thread.
    #[cfg(not(clockwheel_loom))]
    pub const fn new() -> Self {
        Ticker {
            published: CachePadded::new(AtomicU64::new(0)),
            state: Mutex::new(State {
                subscribers: 0,
                running: false,
            }),
        }
    }

    /// A ticker with no subscriber and no thread (loom's primitives are not `const`).
    #[cfg(clockwheel_loom)]
    pub fn new() -> Self {
        Ticker {
            published: CachePadded::new(AtomicU64::new(0)),
            state: Mutex::new(State {
                subscribers: 0,
                running: false,
            }),
        }
    }

    /// The last published reading (absolute ns of the coarse clock), 0 if none.
    #[inline]
    pub fn published(&self) -> u64 {
        // Relaxed: any value ever stored is a past reading of the clock; the lease, not
        // the ordering, bounds how old it is.
        self.published.load(Ordering::Relaxed)
    }

    /// Registers a subscriber. True if no thread runs: the caller must start one, which
    /// is already marked running (or report failure with [`Self::not_started`]).
    pub fn subscribe(&self) -> bool {
        let mut state = self.lock();
        state.subscribers += 1;
        !std::mem::replace(&mut state.running, true)
    }

    /// The thread [`Self::subscribe`] asked for could not be started. Reads fall back to
    /// the clock until a later subscriber starts one.
    pub fn not_started(&self) {
        self.lock().running = false;
    }

    /// Unregisters a subscriber; the thread stops at its next round if it was the last.
    pub fn unsubscribe(&self) {
        let mut state = self.lock();
        debug_assert!(state.subscribers > 0, "unsubscribe without subscribe");
        state.subscribers -= 1;
    }

    /// One round of the thread: publishes `now()` (read under the lock, so readings
    /// never go backwards), or, with no subscriber left, publishes 0 and marks the thread
    /// stopped. Returns whether the thread goes on.
    pub fn round(&self, now: impl FnOnce() -> u64) -> bool {
        let mut state = self.lock();
        if state.subscribers == 0 {
            state.running = false;
            self.published.store(0, Ordering::Relaxed);
            return false;
        }
        // A reading of 0 would read as "no thread": a clock at 0 is published as 1 ns.
        self.published.store(now().max(1), Ordering::Relaxed);
        true
    }

    /// `(subscribers, running)`, for tests and models.
    #[cfg(any(test, clockwheel_loom))]
    pub fn lifecycle(&self) -> (usize, bool) {
        let state = self.lock();
        (state.subscribers, state.running)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics under this lock; recover anyway rather than spread a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The ticker every cache of the process shares.
#[cfg(not(clockwheel_loom))]
pub(crate) static TICKER: Ticker = Ticker::new();

/// One cache's registration with [`TICKER`]; dropping it unregisters.
#[cfg(not(clockwheel_loom))]
pub(crate) struct Subscription(());

#[cfg(not(clockwheel_loom))]
impl Subscription {
    /// Registers, starting the thread if none runs (if it cannot be started, reads
    /// simply keep reading the clock).
    pub(crate) fn new(clock: fn() -> u64) -> Self {
        if TICKER.subscribe() {
            let started = std::thread::Builder::new()
                .name("clockwheel-ticker".into())
                .spawn(move || {
                    while TICKER.round(clock) {
                        std::thread::sleep(PERIOD);
                    }
                });
            if started.is_err() {
                TICKER.not_started();
            }
        }
        Subscription(())
    }
}

#[cfg(not(clockwheel_loom))]
impl Drop for Subscription {
    fn drop(&mut self) {
        TICKER.unsubscribe();
    }
}

#[cfg(all(test, not(clockwheel_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_runs_exactly_while_someone_subscribes() {
        let ticker = Ticker::new();
        assert_eq!((ticker.published(), ticker.lifecycle()), (0, (0, false)));
        assert!(ticker.subscribe(), "the first subscriber starts the thread");
        assert!(!ticker.subscribe(), "the second finds it running");
        assert!(ticker.round(|| 500));
        assert_eq!(ticker.published(), 500);
        ticker.unsubscribe();
        assert!(ticker.round(|| 0), "one subscriber is left");
        assert_eq!(ticker.published(), 1, "a reading of 0 is published as 1");
        ticker.unsubscribe();
        assert!(!ticker.round(|| 900), "no subscriber: the thread stops");
        assert_eq!((ticker.published(), ticker.lifecycle()), (0, (0, false)));
        assert!(ticker.subscribe(), "a new subscriber starts a new thread");
    }

    #[test]
    fn a_failed_start_lets_the_next_subscriber_try_again() {
        let ticker = Ticker::new();
        assert!(ticker.subscribe());
        ticker.not_started();
        assert_eq!(ticker.lifecycle(), (1, false));
        assert!(ticker.subscribe());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_global_ticker_publishes_past_readings_of_the_coarse_clock() {
        let clock = crate::time::coarse_now;
        let subscription = Subscription::new(clock);
        let started = std::time::Instant::now();
        while TICKER.published() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the ticker thread never published"
            );
            std::thread::yield_now();
        }
        for _ in 0..1_000 {
            let reading = TICKER.published();
            assert!(
                reading <= clock(),
                "published {reading} is ahead of the clock"
            );
        }
        drop(subscription);
    }
}
