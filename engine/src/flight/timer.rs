//! A process-wide deadline thread, so that an async load's timeout fires under any
//! executor (the engine may not depend on one, so it cannot borrow a runtime's timer).
//!
//! One lazily started thread keeps a min-heap of `(deadline, slot)`; at each deadline it
//! wakes the waker stored in the slot. A future arms an [`Alarm`] once and refreshes the
//! waker on later polls; dropping the alarm drops the waker at once, and the heap entry
//! (a deadline and a `Weak`) is discarded when its deadline comes. Heap entries therefore
//! number at most the alarms armed within one timeout span.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::task::Waker;
use std::time::Instant;

/// The waker an alarm wakes; shared by the armed future and the timer thread's heap.
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
        if !started() {
            return None;
        }
        let slot = Arc::new(Slot {
            waker: Mutex::new(Some(waker.clone())),
        });
        let entry = Entry {
            deadline,
            slot: Arc::downgrade(&slot),
        };
        lock(&TIMER.heap).push(entry);
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

struct Timer {
    heap: Mutex<BinaryHeap<Entry>>,
    changed: Condvar,
}

static TIMER: Timer = Timer {
    heap: Mutex::new(BinaryHeap::new()),
    changed: Condvar::new(),
};

/// Starts the timer thread on first use; false if the thread could not be spawned.
fn started() -> bool {
    static STARTED: OnceLock<bool> = OnceLock::new();
    *STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("clockwheel-timer".into())
            .spawn(run)
            .is_ok()
    })
}

/// Locks, ignoring poison: every critical section here leaves its data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The thread's loop: sleep until the earliest deadline, wake what is due, repeat.
fn run() {
    let mut heap = lock(&TIMER.heap);
    loop {
        let due = pop_due(&mut heap, Instant::now());
        if !due.is_empty() {
            // Waking runs executor code: never with the heap locked.
            drop(heap);
            due.into_iter().for_each(fire);
            heap = lock(&TIMER.heap);
            continue;
        }
        heap = match heap.peek().map(|e| e.deadline) {
            Some(at) => {
                let sleep = at.saturating_duration_since(Instant::now());
                let woken = TIMER.changed.wait_timeout(heap, sleep);
                woken.unwrap_or_else(PoisonError::into_inner).0
            }
            None => TIMER
                .changed
                .wait(heap)
                .unwrap_or_else(PoisonError::into_inner),
        };
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
