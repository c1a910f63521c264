//! A lock-free multi-producer multi-consumer FIFO of pointers, kept in linked
//! fixed-size segments whose memory is reclaimed through the epoch.
//!
//! It carries each shard's CLOCK queue (`crate::clock`) and each shard's timer inbox
//! (`crate::expiry`). A linked queue with one cell per item (Michael & Scott, PODC 1996)
//! costs an allocation, a free and a dependent cache miss per item; here a push claims
//! the next slot of the tail segment with one `fetch_add` and a pop claims the next slot
//! of the head segment with one CAS, so an allocation happens once per [`SEGMENT`] pushes
//! and a sweep of the hand reads its pointers sequentially. The layout is that of the
//! segmented queues of Morrison & Afek ("Fast Concurrent Queues for x86 Processors",
//! PPoPP 2013) and crossbeam's `SegQueue`; as in the former (and unlike the latter) a
//! pop never waits for a push: a pop that reaches a slot whose pusher has claimed it but
//! not yet written it marks the slot *skipped* and moves on, and the pusher, finding its
//! slot skipped, claims another. So a preempted pusher cannot stall the pops, and the
//! queue is lock-free on both ends.
//!
//! # Invariants
//! - A segment's slots change at most once each: from null to an item (its pusher's
//!   CAS) or from null to [`skipped`] (a pop's CAS), and never afterwards, so a pop may
//!   read a slot before it claims it.
//! - `pushed` counts claims on a segment's slots; claims at or past [`SEGMENT`] are
//!   failures (the segment is full) and claim nothing. `popped` counts the slots handed
//!   to poppers (items, or skipped), and only ever passes a slot that is no longer null.
//! - `head` and `tail` only move forward along `next`. A segment is retired (handed to
//!   the epoch) by the pop that moves `head` past it, which happens only once all its
//!   slots are non-null and popped, and after `tail` has been moved off it; so no new
//!   reader can reach it, no pusher can still claim one of its slots, and a pusher still
//!   holding a claim there (pinned since before the retirement) finds its slot skipped.
//!
//! # Memory orderings
//! A slot is written with Release and read with Acquire, so the item's contents (written
//! before the push) are visible to the popper. The claim counters order nothing but
//! themselves (Relaxed `fetch_add`, AcqRel CAS for `popped` so that successive poppers of
//! a segment see each other's claims in order); `head`, `tail` and `next` are published
//! with Release and read with Acquire, like any epoch-managed pointer.

use crate::sync::{prefetch, Atomic, AtomicUsize, Guard, Ordering, Owned, Shared};
use crossbeam_utils::CachePadded;

/// The mark a pop leaves in a claimed slot it would not wait for: a null pointer with
/// tag 1 (items are at least 8-byte aligned, so no item has a tag).
fn skipped<'g, T>() -> Shared<'g, T> {
    Shared::null().with_tag(1)
}

/// Slots per segment: 64 pointers, 512 bytes. Under loom 2, so that the models cross
/// segment boundaries (allocation, `next` linking, retirement) within a few operations.
pub const SEGMENT: usize = if cfg!(clockwheel_loom) { 2 } else { 64 };

/// Items after a popped one whose memory a pop asks the CPU to prefetch.
const PREFETCH: usize = 2;

struct Segment<T> {
    /// Claims made on `slots` by pushers (may run past `SEGMENT`: failed claims).
    pushed: AtomicUsize,
    /// Slots handed to poppers; at most `SEGMENT`.
    popped: AtomicUsize,
    next: Atomic<Segment<T>>,
    slots: [Atomic<T>; SEGMENT],
}

impl<T> Segment<T> {
    fn new() -> Self {
        Segment {
            pushed: AtomicUsize::new(0),
            popped: AtomicUsize::new(0),
            next: Atomic::null(),
            slots: std::array::from_fn(|_| Atomic::null()),
        }
    }
}

/// A FIFO of non-null `Shared<T>` pointers. (`pub` only for the loom models, through
/// `loom_internals`; the module is private.) The queue never dereferences nor frees the
/// items: what a pointer means (an owner reference, see `crate::node`) is the caller's.
pub struct SegmentedQueue<T> {
    head: CachePadded<Atomic<Segment<T>>>,
    tail: CachePadded<Atomic<Segment<T>>>,
}

impl<T> SegmentedQueue<T> {
    pub fn new() -> Self {
        let first = Atomic::new(Segment::new());
        // SAFETY: the segment is not shared yet.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        let first_ptr = first.load(Ordering::Relaxed, guard);
        SegmentedQueue {
            head: CachePadded::new(first),
            tail: CachePadded::new(Atomic::from(first_ptr)),
        }
    }

    /// Appends `item` (non-null, untagged) at the tail. Lock-free: a claim fails only
    /// because another push claimed a slot, a write only because a pop went past the
    /// slot, and a full tail segment is replaced by any pusher.
    pub fn push(&self, item: Shared<'_, T>, guard: &Guard) {
        debug_assert!(!item.is_null());
        let mut spare: Option<Owned<Segment<T>>> = None;
        loop {
            let tail = self.tail.load(Ordering::Acquire, guard);
            // SAFETY: `tail` is never null, and a segment is retired only after `tail`
            // has left it, so it is protected by `guard`.
            let segment = unsafe { tail.deref() };
            let slot = segment.pushed.fetch_add(1, Ordering::Relaxed);
            if slot < SEGMENT {
                // The slot is ours alone to write, unless a pop skipped it meanwhile.
                let written = segment.slots[slot].compare_exchange(
                    Shared::null(),
                    item,
                    Ordering::Release,
                    Ordering::Relaxed,
                    guard,
                );
                if written.is_ok() {
                    return;
                }
                continue;
            }
            self.advance_tail(tail, segment, &mut spare, guard);
        }
    }

    /// Moves `tail` past the full segment `segment`, appending a new one if there is
    /// none. `spare` keeps a segment that lost the append race for the next try.
    fn advance_tail<'g>(
        &self,
        tail: Shared<'g, Segment<T>>,
        segment: &Segment<T>,
        spare: &mut Option<Owned<Segment<T>>>,
        guard: &'g Guard,
    ) {
        let mut next = segment.next.load(Ordering::Acquire, guard);
        if next.is_null() {
            let new = spare.take().unwrap_or_else(|| Owned::new(Segment::new()));
            match segment.next.compare_exchange(
                Shared::null(),
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
                guard,
            ) {
                Ok(appended) => next = appended,
                Err(lost) => {
                    *spare = Some(lost.new);
                    next = lost.current;
                }
            }
        }
        let _ = self
            .tail
            .compare_exchange(tail, next, Ordering::Release, Ordering::Relaxed, guard);
    }

    /// Takes the oldest item, or `None` if the queue is empty. Never waits: a slot
    /// claimed by a push that has not written it yet is skipped (that push retries).
    pub fn pop<'g>(&self, guard: &'g Guard) -> Option<Shared<'g, T>> {
        loop {
            let (segment, index) = self.open_head(guard)?;
            let item = Self::settle(segment, index, guard)?;
            let claimed = segment.popped.compare_exchange(
                index,
                index + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            if claimed.is_ok() && !item.is_null() {
                Self::prefetch_after(segment, index, guard);
                return Some(item);
            }
        }
    }

    /// The head segment and its next unpopped slot, retiring drained head segments on
    /// the way; `None` if the last segment is drained (the queue is empty).
    fn open_head<'g>(&self, guard: &'g Guard) -> Option<(&'g Segment<T>, usize)> {
        loop {
            let head = self.head.load(Ordering::Acquire, guard);
            // SAFETY: `head` is never null; see `push`.
            let segment = unsafe { head.deref() };
            let index = segment.popped.load(Ordering::Acquire);
            if index < SEGMENT {
                return Some((segment, index));
            }
            let next = segment.next.load(Ordering::Acquire, guard);
            if next.is_null() {
                return None;
            }
            self.retire_head(head, next, guard);
        }
    }

    /// Takes every item available now, oldest first, handing each to `f`: the same as
    /// popping until `None`, but a run of slots of one segment is claimed with one CAS
    /// (the wheel's owner drains a whole inbox at once).
    pub fn drain<'g>(&self, guard: &'g Guard, mut f: impl FnMut(Shared<'g, T>))
    where
        T: 'g,
    {
        while let Some((segment, start)) = self.open_head(guard) {
            let mut end = start;
            while end < SEGMENT && Self::settle(segment, end, guard).is_some() {
                end += 1;
            }
            if end == start {
                return;
            }
            let claimed =
                segment
                    .popped
                    .compare_exchange(start, end, Ordering::AcqRel, Ordering::Relaxed);
            if claimed.is_ok() {
                // Settled slots never change again: these are the items we claimed.
                for slot in &segment.slots[start..end] {
                    let item = slot.load(Ordering::Acquire, guard);
                    if !item.is_null() {
                        f(item);
                    }
                }
            }
        }
    }

    /// Asks the CPU to start loading the items of the [`PREFETCH`] slots after `index`:
    /// the caller is about to read the item it popped, and a sweep of the hand reads the
    /// next ones right after, so their cache misses overlap instead of queueing up.
    /// (Not under loom: a hint has no interleavings worth exploring.)
    #[inline]
    fn prefetch_after(segment: &Segment<T>, index: usize, guard: &Guard) {
        if cfg!(clockwheel_loom) {
            return;
        }
        for slot in segment.slots.iter().skip(index + 1).take(PREFETCH) {
            let item = slot.load(Ordering::Relaxed, guard);
            if !item.is_null() {
                prefetch(item.as_raw());
            }
        }
    }

    /// The final content of slot `index` (an item, or [`skipped`]), skipping it if it is
    /// claimed but not written; `None` if nobody has claimed it (the queue is empty).
    fn settle<'g>(segment: &Segment<T>, index: usize, guard: &'g Guard) -> Option<Shared<'g, T>> {
        let slot = &segment.slots[index];
        let item = slot.load(Ordering::Acquire, guard);
        if !item.is_null() || item.tag() != 0 {
            return Some(item);
        }
        if segment.pushed.load(Ordering::Relaxed) <= index {
            return None;
        }
        match slot.compare_exchange(
            Shared::null(),
            skipped(),
            Ordering::Acquire,
            Ordering::Acquire,
            guard,
        ) {
            Ok(_) => Some(skipped()),
            Err(written) => Some(written.current),
        }
    }

    /// Moves `head` from the drained segment `head` to `next`; the winner retires it.
    fn retire_head<'g>(
        &self,
        head: Shared<'g, Segment<T>>,
        next: Shared<'g, Segment<T>>,
        guard: &'g Guard,
    ) {
        if self
            .head
            .compare_exchange(head, next, Ordering::Release, Ordering::Relaxed, guard)
            .is_err()
        {
            return;
        }
        // Never retire the segment `tail` still points to (a pusher that appended `next`
        // may not have moved `tail` yet); once moved, `tail` never returns to it.
        let _ = self
            .tail
            .compare_exchange(head, next, Ordering::Release, Ordering::Relaxed, guard);
        // SAFETY: our CAS unlinked the segment from `head`, `tail` is past it, and its
        // predecessor is retired: no thread can reach it anew, and threads still reading
        // it are pinned. No slot of it is null, so no write to it can succeed.
        unsafe { guard.defer_destroy(head) };
    }

    /// True if a pop now could find an item (a hint: the queue may change at once).
    pub fn has_items(&self, guard: &Guard) -> bool {
        let head = self.head.load(Ordering::Acquire, guard);
        // SAFETY: see `pop`.
        let segment = unsafe { head.deref() };
        let index = segment.popped.load(Ordering::Acquire);
        let claimed = segment.pushed.load(Ordering::Relaxed).min(SEGMENT);
        index < claimed || !segment.next.load(Ordering::Acquire, guard).is_null()
    }

    /// Visits every queued item, oldest first. Only meaningful when quiescent.
    pub fn for_each<'g>(&self, guard: &'g Guard, mut f: impl FnMut(Shared<'g, T>))
    where
        T: 'g,
    {
        let mut cur = self.head.load(Ordering::Acquire, guard);
        // SAFETY: see `pop`; segments reachable from `head` are not retired.
        while let Some(segment) = unsafe { cur.as_ref() } {
            let from = segment.popped.load(Ordering::Acquire);
            let to = segment.pushed.load(Ordering::Acquire).min(SEGMENT);
            for slot in &segment.slots[from.min(to)..to] {
                let item = slot.load(Ordering::Acquire, guard);
                if !item.is_null() {
                    f(item);
                }
            }
            cur = segment.next.load(Ordering::Acquire, guard);
        }
    }

    /// Segments currently linked (for `validate` and the memory tests).
    pub fn segments(&self, guard: &Guard) -> usize {
        let mut count = 0;
        let mut cur = self.head.load(Ordering::Acquire, guard);
        // SAFETY: see `for_each`.
        while let Some(segment) = unsafe { cur.as_ref() } {
            count += 1;
            cur = segment.next.load(Ordering::Acquire, guard);
        }
        count
    }
}

impl<T> Drop for SegmentedQueue<T> {
    /// Frees the segments. The items are not the queue's: their owners drain the queue
    /// with [`SegmentedQueue::pop`] first if the pointers mean anything.
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach the queue any more; segments
        // before `head` were retired to the epoch already and are not reachable here.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            let mut cur = self.head.load(Ordering::Acquire, guard);
            while !cur.is_null() {
                let next = cur.deref().next.load(Ordering::Acquire, guard);
                drop(cur.into_owned());
                cur = next;
            }
        }
    }
}

#[cfg(all(test, not(clockwheel_loom)))]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    fn item(n: usize) -> Shared<'static, u64> {
        // Distinct, aligned, never dereferenced: the queue only stores pointers.
        Shared::from((n * 8 + 8) as *const u64)
    }

    proptest! {
        /// Single-threaded, the queue is a FIFO (pushes, pops and whole drains): compared
        /// with `VecDeque` after every operation, across many segment boundaries.
        #[test]
        fn matches_a_fifo(ops in prop::collection::vec(0u8..8, 0..600)) {
            let queue = SegmentedQueue::new();
            let mut model = VecDeque::new();
            let guard = crossbeam_epoch::pin();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    0 => {
                        let mut drained = Vec::new();
                        queue.drain(&guard, |p| drained.push(p));
                        prop_assert!(drained.iter().eq(model.iter()));
                        model.clear();
                    }
                    1..=3 => prop_assert_eq!(queue.pop(&guard), model.pop_front()),
                    _ => {
                        queue.push(item(n), &guard);
                        model.push_back(item(n));
                    }
                }
                prop_assert_eq!(queue.has_items(&guard), !model.is_empty());
                let mut seen = Vec::new();
                queue.for_each(&guard, |p| seen.push(p));
                prop_assert!(seen.iter().eq(model.iter()));
                prop_assert!(queue.segments(&guard) <= model.len() / SEGMENT + 2);
            }
        }
    }

    /// Threads pushing and popping at once: every item comes out exactly once, and each
    /// producer's items come out in the order it pushed them.
    #[test]
    fn concurrent_items_come_out_once_in_producer_order() {
        const PER_THREAD: usize = 20_000;
        let queue = SegmentedQueue::new();
        let popped: Vec<Vec<usize>> = std::thread::scope(|s| {
            for t in 0..2 {
                let queue = &queue;
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        queue.push(item(t * PER_THREAD + i), &crossbeam_epoch::pin());
                    }
                });
            }
            let poppers: Vec<_> = (0..2)
                .map(|_| {
                    let queue = &queue;
                    s.spawn(move || {
                        let mut got = Vec::new();
                        for _ in 0..PER_THREAD * 4 {
                            if let Some(p) = queue.pop(&crossbeam_epoch::pin()) {
                                got.push(p.as_raw() as usize / 8 - 1);
                            }
                        }
                        got
                    })
                })
                .collect();
            poppers.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let guard = crossbeam_epoch::pin();
        let mut all: Vec<usize> = popped.iter().flatten().copied().collect();
        while let Some(p) = queue.pop(&guard) {
            all.push(p.as_raw() as usize / 8 - 1);
        }
        for got in &popped {
            for producer in 0..2 {
                let mine = got.iter().filter(|&&n| n / PER_THREAD == producer);
                assert!(mine.clone().zip(mine.skip(1)).all(|(a, b)| a < b));
            }
        }
        all.sort_unstable();
        assert!(
            all.iter().copied().eq(0..2 * PER_THREAD),
            "lost or duplicated items"
        );
    }
}
