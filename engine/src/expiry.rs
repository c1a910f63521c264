//! Per-entry expiry: the cache's clock, and each shard's timers (a lock-free inbox in
//! front of a hierarchical timing wheel).
//!
//! # Design
//! - **Reads** compare the entry's deadline with the clock (only when the entry has a
//!   deadline), so they never return an expired entry, and never wait for the wheel.
//! - **Scheduling** never waits either: the writer places the timer in the wheel itself
//!   if the wheel's `busy` try-flag is free, else pushes the node onto its shard's
//!   *inbox* (a [`SegmentedQueue`] of node pointers: one claimed slot, no allocation).
//! - **The wheel** ([`TimingWheel`], Varghese & Lauck, SOSP 1987) is single-threaded. A
//!   thread that wins the shard's `busy` try-flag drains the inbox into it and advances it
//!   to the current tick; a thread that loses simply goes on (somebody is doing the work).
//!   The wheel advances amortized on writes, on `run_pending_tasks`, and on the optional
//!   cleaner thread.
//! - **Ownership**: inbox and wheel hold the node's *timer reference* (see `node.rs`):
//!   the node cannot be freed while a timer points at it, so a timer outliving its entry
//!   (removed, replaced, evicted) is harmless by construction; when it fires it finds the
//!   node dead and just releases it. Dead timers are counted and compacted away (hazard 3).
//!
//! # Precision
//! Deadlines are kept in nanoseconds of the cache's clock (`crate::time::TimeSource`,
//! whose docs say how reads judge them). The wheel ticks every 2^20 ns (≈ 1.05 ms) and
//! never fires early; an expired entry nobody reads is reclaimed at the first wheel
//! advance at least one tick after its deadline.

use crate::node::{release, Node, UNTIMED};
use crate::queue::SegmentedQueue;
use crate::sync::{
    yield_now, AtomicBool, AtomicU64, AtomicUsize, ExclusiveCell, Guard, Ordering, Shared,
};
use crate::wheel::{Fired, TimingWheel};

/// log2 of the wheel tick in nanoseconds: one tick ≈ 1.05 ms.
pub(crate) const TICK_SHIFT: u32 = 20;

/// A shard compacts its wheel once its dead timers exceed a quarter of its live ones
/// plus [`COMPACT_SLACK`]. A timer keeps its node allocated, so this bounds the dead
/// nodes a shard holds to `live / 4 + 64`. The threshold used to be `live + 64`, which
/// made fewer passes but cost more than they saved. The dead nodes it let pile up were
/// freed late and cold, so later allocations and node initializations missed the cache.
/// Lowering it made W2 with TTLs 21 % faster and W4's TTL inserts 7 % faster. Each pass
/// also frees a quarter as many nodes, which halved the worst insert into a
/// 10^6-entry cache (9.0 to 4.0–4.4 ms). See `docs/benchmarks.md`, "The dead-timer
/// threshold, again".
const COMPACT_LIVE_SHARE: isize = 4;

/// Dead timers a shard may hold beyond `live / COMPACT_LIVE_SHARE` before the wheel is
/// compacted, so that small shards do not compact on every other write.
const COMPACT_SLACK: isize = 64;

/// How many times `validate()` tries for a wheel that another thread (the cache's own
/// cleaner) holds, yielding between tries, before it reports the wheel as stuck.
const VALIDATE_WAIT_ROUNDS: usize = 100_000;

/// The first wheel tick at or after `deadline` (so a timer never fires early).
pub(crate) fn tick_at_or_after(deadline: u64) -> u64 {
    deadline.div_ceil(1 << TICK_SHIFT)
}

/// A node pointer as stored in the wheel.
pub(crate) struct TimerRef<K, V>(*const Node<K, V>);

// Manual impls: a derive would demand `K: Copy, V: Copy`.
impl<K, V> Clone for TimerRef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for TimerRef<K, V> {}

// SAFETY: a `TimerRef` is only dereferenced by the thread that owns the wheel (under the
// `busy` flag or `&mut`), and nodes are `Send + Sync` when K and V are.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for TimerRef<K, V> {}
// SAFETY: as above.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for TimerRef<K, V> {}

impl<K, V> TimerRef<K, V> {
    pub(crate) fn shared<'g>(self) -> Shared<'g, Node<K, V>> {
        Shared::from(self.0)
    }

    pub(crate) fn as_ptr(self) -> *const Node<K, V> {
        self.0
    }
}

/// One shard's timers.
///
/// Invariants: every timed node holds exactly one timer reference, in the inbox or in the
/// wheel (or in the hands of the thread holding `busy`); `pending` counts them all and
/// `dead` those whose node is no longer live.
pub(crate) struct ShardTimers<K, V> {
    /// Timer references of nodes scheduled since the wheel's owner last drained it.
    inbox: SegmentedQueue<Node<K, V>>,
    wheel: ExclusiveCell<TimingWheel<TimerRef<K, V>>>,
    busy: AtomicBool,
    pub(crate) pending: AtomicUsize,
    pub(crate) dead: AtomicUsize,
    /// The tick the wheel was last advanced to; skips pointless advances.
    last_tick: AtomicU64,
    /// A lower bound on the wheel's next deadline tick (`u64::MAX` when empty), so writes
    /// skip the wheel entirely until something can fire or the inbox fills.
    next_tick: AtomicU64,
}

// SAFETY: the wheel (raw node pointers) is only touched under `busy` or `&mut self`; the
// inbox is a lock-free queue of pointers it never dereferences.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for ShardTimers<K, V> {}
// SAFETY: as above.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for ShardTimers<K, V> {}

/// Resets the `busy` flag even if the wheel's owner unwinds.
struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<K, V> ShardTimers<K, V> {
    pub(crate) fn new() -> Self {
        ShardTimers {
            inbox: SegmentedQueue::new(),
            wheel: ExclusiveCell::new(TimingWheel::new()),
            busy: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            dead: AtomicUsize::new(0),
            last_tick: AtomicU64::new(0),
            next_tick: AtomicU64::new(u64::MAX),
        }
    }

    /// Takes the `busy` try-flag, which grants exclusive access to the wheel until the
    /// returned guard drops; `None` if another thread holds it (never waits).
    fn own_wheel(&self) -> Option<BusyGuard<'_>> {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| BusyGuard(&self.busy))
    }

    /// Hands the timer reference of a freshly linked timed node to the shard. Lock-free:
    /// straight into the wheel if its `busy` flag is free (the node is still in this
    /// thread's cache, and no drain has to touch it again later), else onto the inbox.
    pub(crate) fn schedule(&self, node: Shared<'_, Node<K, V>>, guard: &Guard) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let Some(_busy) = self.own_wheel() else {
            self.inbox.push(node, guard);
            return;
        };
        // SAFETY: the caller linked `node` under `guard` and hands us its timer reference.
        let tick = tick_at_or_after(unsafe { node.deref() }.deadline());
        // SAFETY: we hold `busy`, which grants exclusive access to the wheel.
        unsafe {
            self.wheel.with_mut(|wheel| {
                wheel.schedule(TimerRef(node.as_raw()), tick);
                // Timers of entries evicted, replaced or removed long before their
                // deadline pile up while nothing is due: without this, a churn of long
                // TTLs would only compact when a drain or a due tick runs the wheel.
                self.maybe_compact(wheel, guard);
            })
        };
        // Keeps `next_tick` a lower bound. Only holders of `busy` store to it, so a load
        // and a store suffice (no locked instruction on the insert path).
        if tick < self.next_tick.load(Ordering::Relaxed) {
            self.next_tick.store(tick, Ordering::Relaxed);
        }
    }

    /// A timed node was killed by someone other than the wheel.
    pub(crate) fn note_dead(&self) {
        self.dead.fetch_add(1, Ordering::Relaxed);
    }

    /// True if advancing to `now` could do anything.
    #[inline]
    pub(crate) fn due(&self, now: u64, guard: &Guard) -> bool {
        let tick = now >> TICK_SHIFT;
        self.pending.load(Ordering::Relaxed) != 0
            && tick > self.last_tick.load(Ordering::Relaxed)
            && (tick >= self.next_tick.load(Ordering::Relaxed) || self.inbox.has_items(guard))
    }

    /// If no other thread owns the wheel: drains the inbox, advances the wheel to `now`,
    /// kills every live node whose deadline has passed and returns them (their timer
    /// references still held, for the caller to account, unlink and release). Returns
    /// `None` if another thread owns the wheel.
    pub(crate) fn expire<'g>(
        &self,
        now: u64,
        guard: &'g Guard,
    ) -> Option<Vec<Shared<'g, Node<K, V>>>> {
        let _busy = self.own_wheel()?;
        let mut expired = Vec::new();
        // SAFETY: we hold `busy`, which grants exclusive access to the wheel.
        unsafe {
            self.wheel.with_mut(|wheel| {
                self.drain_inbox(wheel, guard);
                self.advance(wheel, now, guard, &mut expired);
                self.maybe_compact(wheel, guard);
                let next = wheel.next_deadline().unwrap_or(u64::MAX);
                self.next_tick.store(next, Ordering::Relaxed);
            })
        };
        self.last_tick
            .fetch_max(now >> TICK_SHIFT, Ordering::Relaxed);
        Some(expired)
    }

    /// Moves the inbox's timers into the wheel (up to the last slot written: a push still
    /// in flight lands in the next drain).
    fn drain_inbox(&self, wheel: &mut TimingWheel<TimerRef<K, V>>, guard: &Guard) {
        self.inbox.drain(guard, |ptr| {
            let timer = TimerRef(ptr.as_raw());
            // SAFETY: draining handed us the timer reference, so the node is not freed.
            let node = unsafe { ptr.deref() };
            if node.is_live(guard) {
                wheel.schedule(timer, tick_at_or_after(node.deadline()));
            } else {
                self.drop_dead(timer, guard);
            }
        });
    }

    fn advance<'g>(
        &self,
        wheel: &mut TimingWheel<TimerRef<K, V>>,
        now: u64,
        guard: &'g Guard,
        expired: &mut Vec<Shared<'g, Node<K, V>>>,
    ) {
        wheel.advance(now >> TICK_SHIFT, |timer, _tick| {
            // SAFETY: the wheel holds the timer reference.
            let node = unsafe { timer.shared().deref() };
            if !node.is_live(guard) {
                self.drop_dead(timer, guard);
                return Fired::Done;
            }
            let deadline = node.deadline();
            if deadline > now {
                // Time-to-idle moved it, or the tick rounded: not yet.
                return Fired::Reschedule(timer, tick_at_or_after(deadline));
            }
            if node.kill(guard) {
                expired.push(timer.shared());
            } else {
                self.drop_dead(timer, guard);
            }
            Fired::Done
        });
    }

    /// Releases the timer reference of a node someone else killed.
    fn drop_dead(&self, timer: TimerRef<K, V>, guard: &Guard) {
        self.dead.fetch_sub(1, Ordering::Relaxed);
        self.pending.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: we hold this timer reference and give it up once, here.
        unsafe { release(timer.shared(), UNTIMED, guard) };
    }

    /// Releases the timer reference of a node the wheel expired (after the caller's
    /// bookkeeping).
    pub(crate) fn release_expired(&self, node: Shared<'_, Node<K, V>>, guard: &Guard) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `expire` handed this timer reference to the caller, who gives it up once.
        unsafe { release(node, UNTIMED, guard) };
    }

    fn maybe_compact(&self, wheel: &mut TimingWheel<TimerRef<K, V>>, guard: &Guard) {
        let dead = self.dead.load(Ordering::Relaxed) as isize;
        let pending = self.pending.load(Ordering::Relaxed) as isize;
        if dead <= (pending - dead) / COMPACT_LIVE_SHARE + COMPACT_SLACK {
            return;
        }
        wheel.retain(|timer| {
            // SAFETY: the wheel holds the timer reference.
            let live = unsafe { timer.shared().deref() }.is_live(guard);
            if !live {
                self.drop_dead(*timer, guard);
            }
            live
        });
    }

    /// Validates the wheel and calls `f` on every timer reference the shard holds (inbox
    /// and wheel). For `validate()`, which runs while no other thread uses the cache.
    pub(crate) fn validate_with(
        &self,
        guard: &Guard,
        mut f: impl FnMut(TimerRef<K, V>),
    ) -> Result<(), String> {
        // The cache's own cleaner thread may be advancing this wheel: wait for it, but not
        // forever (a flag never released is a bug to report, not to hang on).
        let busy = (0..VALIDATE_WAIT_ROUNDS).find_map(|_| {
            let busy = self.own_wheel();
            if busy.is_none() {
                yield_now();
            }
            busy
        });
        let Some(_busy) = busy else {
            return Err("another thread kept the wheel".into());
        };
        self.inbox.for_each(guard, |ptr| f(TimerRef(ptr.as_raw())));
        // SAFETY: we hold `busy`, which grants exclusive access to the wheel.
        unsafe {
            self.wheel.with_mut(|wheel| {
                wheel.for_each(|t| f(*t));
                wheel.validate()?;
                match wheel.len() <= self.pending.load(Ordering::Relaxed) {
                    true => Ok(()),
                    false => Err("the wheel holds more timers than pending".into()),
                }
            })
        }
    }

    /// Empties the inbox and the wheel, handing each timer reference to `f`.
    pub(crate) fn drain_exclusive(&mut self, mut f: impl FnMut(TimerRef<K, V>)) {
        // SAFETY: `&mut self`: no other thread uses the inbox; the segments the pops
        // retire are freed at once, which is right since nobody else can read them.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        self.inbox.drain(guard, |ptr| f(TimerRef(ptr.as_raw())));
        // SAFETY: `&mut self` grants exclusive access to the wheel.
        let drained = unsafe { self.wheel.with_mut(|wheel| wheel.drain()) };
        drained.into_iter().for_each(f);
    }
}

#[cfg(all(test, not(clockwheel_loom)))]
mod tests {
    use std::time::Duration;

    use super::{COMPACT_LIVE_SHARE, COMPACT_SLACK};
    use crate::sync::Ordering;
    use crate::Cache;

    /// Every write that schedules a timer compacts the wheel as soon as its dead timers
    /// exceed a quarter of the live ones plus the slack, so a replacement churn never holds
    /// more dead timers (and dead nodes) than that.
    #[test]
    fn dead_timers_stay_within_a_quarter_of_the_live_ones() {
        let cache = Cache::<u32, u32>::builder()
            .max_capacity(10_000)
            .shards(1)
            .default_ttl(Duration::from_secs(3600))
            .build()
            .unwrap();
        (0..1000).for_each(|k| {
            cache.insert(k, k);
        });
        let timers = &cache.core.shards[0].timers;
        let mut most_dead = 0;
        for round in 0..2000 {
            // Each replacement leaves one dead timer behind.
            cache.insert(round % 10, round);
            let dead = timers.dead.load(Ordering::Relaxed);
            let live = timers.pending.load(Ordering::Relaxed) - dead;
            assert_eq!(live, 1000);
            assert!(dead as isize <= live as isize / COMPACT_LIVE_SHARE + COMPACT_SLACK);
            most_dead = most_dead.max(dead);
        }
        assert_eq!(
            most_dead as isize,
            1000 / COMPACT_LIVE_SHARE + COMPACT_SLACK
        );
        cache.validate().unwrap();
    }
}
