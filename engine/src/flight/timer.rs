//! A process-wide deadline thread, so that an async load's timeout fires under any
//! executor: the engine depends on none, so it cannot borrow a runtime's timer, and a
//! future that nobody wakes is never polled again to notice its deadline passed.
//!
//! Why process-wide: alarms are few (only async loads with a timeout that find the
//! load pending arm one) and one thread serves every cache; it knows nothing of
//! caches. Its heap holds `(deadline, Weak<Slot>)` entries; the waker lives in the
//! slot, owned by the [`Alarm`] (and so by the waiting future). Hence:
//! - **It keeps no cache alive.** It holds no waker except for the instant of waking
//!   one; a dropped alarm drops its waker at once, and its entry is a dead `Weak`.
//! - **Its heap stays small.** Dead entries are discarded at their deadline, by a
//!   compaction when they outnumber live alarms (amortized O(1) per alarm), and all at
//!   once when the last alarm is dropped.
//! - **It costs nothing when idle.** With no entries it sleeps on a condition variable,
//!   and exits after [`LINGER`] without one; the next alarm starts a new thread.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

/// How long the thread waits for a new alarm, with none pending, before it exits.
const LINGER: Duration = if cfg!(test) {
    Duration::from_millis(20)
} else {
    Duration::from_secs(1)
};

/// Dead heap entries tolerated beyond twice the live alarms before a compaction.
const COMPACT_SLACK: usize = 64;

/// The waker an alarm wakes; owned by the alarm, seen weakly by the heap.
struct Slot {
    waker: Mutex<Option<Waker>>,
}

/// Wakes a task at a deadline until dropped.
pub(crate) struct Alarm {
    slot: Arc<Slot>,
}

impl Alarm {
    /// Arms an alarm that wakes `waker` at `deadline`; `None` if the timer thread could
    /// not be started (the deadline is then only checked when the future is polled).
    pub(crate) fn arm(deadline: Instant, waker: &Waker) -> Option<Alarm> {
        let slot = Arc::new(Slot {
            waker: Mutex::new(Some(waker.clone())),
        });
        let mut state = lock(&TIMER.state);
        if !state.running {
            state.running = spawn_thread();
            if !state.running {
                return None;
            }
        }
        let entry = Entry {
            deadline,
            slot: Arc::downgrade(&slot),
        };
        state.heap.push(entry);
        // Counted under the lock, so that `Drop` sees zero only when no alarm is armed.
        let live = TIMER.live.fetch_add(1, Relaxed) + 1;
        state.compact(live);
        drop(state);
        // The new entry may be the earliest: let the thread recompute its sleep.
        TIMER.changed.notify_one();
        Some(Alarm { slot })
    }

    /// Makes the alarm wake `waker` instead (a future may move between tasks' wakers).
    pub(crate) fn update(&self, waker: &Waker) {
        let mut current = lock(&self.slot.waker);
        if !current.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *current = Some(waker.clone());
        }
    }
}

impl Drop for Alarm {
    /// Forgets this alarm; the last one clears the heap so that the thread can go idle
    /// and exit instead of sleeping until dead deadlines.
    fn drop(&mut self) {
        if TIMER.live.fetch_sub(1, Relaxed) != 1 {
            return;
        }
        let mut state = lock(&TIMER.state);
        // Re-checked under the lock, where `arm` counts: no alarm was armed meanwhile.
        if TIMER.live.load(Relaxed) == 0 && !state.heap.is_empty() {
            state.heap.clear();
            drop(state);
            TIMER.changed.notify_one();
        }
    }
}

/// A heap entry, ordered so that the earliest deadline is the heap's top.
struct Entry {
    deadline: Instant,
    slot: Weak<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.deadline.cmp(&self.deadline)
    }
}

struct State {
    heap: BinaryHeap<Entry>,
    /// A thread is serving the heap (set by `arm` when it starts one, cleared by the
    /// thread, under this lock, as it exits).
    running: bool,
}

impl State {
    /// Drops the dead entries once they outnumber the `live` alarms plus a slack. Each
    /// compaction removes at least half the heap, so its cost is paid by the pushes
    /// of the entries it removes.
    fn compact(&mut self, live: usize) {
        if self.heap.len() > 2 * live + COMPACT_SLACK {
            self.heap.retain(|e| e.slot.strong_count() > 0);
        }
    }
}

struct Timer {
    state: Mutex<State>,
    /// Signalled when an entry is pushed or the heap is cleared.
    changed: Condvar,
    /// Alarms not yet dropped (incremented under `state`'s lock).
    live: AtomicUsize,
}

static TIMER: Timer = Timer {
    state: Mutex::new(State {
        heap: BinaryHeap::new(),
        running: false,
    }),
    changed: Condvar::new(),
    live: AtomicUsize::new(0),
};

/// Starts the timer thread; false if it could not be spawned.
fn spawn_thread() -> bool {
    std::thread::Builder::new()
        .name("clockwheel-timer".into())
        .spawn(run)
        .is_ok()
}

/// Locks, ignoring poison: every critical section here leaves its data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The thread's loop: sleep until the earliest deadline, wake what is due, repeat;
/// exit once the heap has stayed empty for [`LINGER`].
fn run() {
    let mut state = lock(&TIMER.state);
    loop {
        let due = pop_due(&mut state.heap, Instant::now());
        if !due.is_empty() {
            // Waking runs executor code: never with the heap locked.
            drop(state);
            due.into_iter().for_each(fire);
            state = lock(&TIMER.state);
            continue;
        }
        let (sleep, idle) = match state.heap.peek() {
            Some(e) => (e.deadline.saturating_duration_since(Instant::now()), false),
            None => (LINGER, true),
        };
        let (woken, wait) = TIMER
            .changed
            .wait_timeout(state, sleep)
            .unwrap_or_else(PoisonError::into_inner);
        state = woken;
        if idle && wait.timed_out() && state.heap.is_empty() {
            state.running = false;
            return;
        }
    }
}

fn pop_due(heap: &mut BinaryHeap<Entry>, now: Instant) -> Vec<Weak<Slot>> {
    let mut due = Vec::new();
    while heap.peek().is_some_and(|e| e.deadline <= now) {
        due.extend(heap.pop().map(|e| e.slot));
    }
    due
}

fn fire(slot: Weak<Slot>) {
    let waker = slot.upgrade().and_then(|s| lock(&s.waker).take());
    if let Some(waker) = waker {
        waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    /// Spins until `cond` holds, failing after 10 s instead of hanging.
    fn until(cond: impl Fn() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < give_up, "condition not reached in 10 s");
            std::thread::yield_now();
        }
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    fn heap_len() -> usize {
        lock(&TIMER.state).heap.len()
    }

    // One test, since the timer is process-wide: the steps must not interleave.
    #[test]
    fn dead_alarms_are_compacted_and_the_idle_thread_exits() {
        let keeper = Alarm::arm(far(), noop_waker_ref()).expect("thread starts");
        let dead: Vec<_> = (0..1_000)
            .map(|_| Alarm::arm(far(), noop_waker_ref()).unwrap())
            .collect();
        drop(dead);
        let fresh = Alarm::arm(far(), noop_waker_ref()).unwrap();
        let live = TIMER.live.load(Relaxed);
        assert!(
            heap_len() <= 2 * live + COMPACT_SLACK,
            "{} entries",
            heap_len()
        );
        assert!(lock(&TIMER.state).running);
        drop((keeper, fresh));
        assert_eq!(heap_len(), 0, "the last alarm clears the heap");
        until(|| !lock(&TIMER.state).running);
        // A new alarm starts a new thread, which wakes it at its deadline.
        let woken = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&woken));
        let alarm = Alarm::arm(Instant::now(), &waker).expect("thread restarts");
        until(|| woken.0.load(Relaxed) == 1);
        drop(alarm);
    }

    #[derive(Default)]
    struct Flag(AtomicUsize);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Relaxed);
        }
    }
}
