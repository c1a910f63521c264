//! Incremental compaction: [`TimingWheel::retain`] spread over many calls, a bounded
//! number of items each, so that no single call pays for a scan of the whole wheel.
//!
//! A *pass* visits the buckets top down: the overflow list, then the slots of level 5
//! down to level 0, then the due list. Items only ever move downward in that order
//! between calls (`advance` cascades an item to a lower level, moves overflow items into
//! the levels and late reschedules into the due list), so an item the pass has not
//! visited yet cannot move into a bucket it has already left. What a pass guarantees is
//! therefore that every item present when it started, that `keep` rejects throughout and
//! that no `advance` fired, has gone by the time it ends (items rescheduled by `advance`
//! may be missed, and are compacted by the next pass). Within a bucket the pass removes
//! with `swap_remove`, re-examining the item that moves into the hole, so items pushed
//! onto the bucket meanwhile are visited as well; order within a bucket means nothing.

use super::{min_deadline, Level, TimingWheel, KEEP_CAPACITY, LEVELS, SLOTS};

/// Buckets in the order a pass visits them: overflow, the 64 slots of each level from
/// level 5 down to level 0, the due list.
const BUCKETS: usize = 1 + LEVELS * SLOTS + 1;

/// Where a pass stands: the bucket it is in (an index in visiting order) and the next
/// item of that bucket to examine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PassCursor {
    bucket: usize,
    item: usize,
}

/// Which list a bucket index names.
enum Visit {
    Overflow,
    Slot { level: usize, slot: usize },
    Due,
}

fn visit(bucket: usize) -> Visit {
    match bucket {
        0 => Visit::Overflow,
        b if b == BUCKETS - 1 => Visit::Due,
        b => Visit::Slot {
            level: LEVELS - 1 - (b - 1) / SLOTS,
            slot: (b - 1) % SLOTS,
        },
    }
}

impl<T> TimingWheel<T> {
    /// True while a compaction pass is under way.
    pub(crate) fn compacting(&self) -> bool {
        self.pass.is_some()
    }

    /// Continues the compaction pass (starting one if none is under way): examines at
    /// most `budget` items (at least one), drops those for which `keep` returns false,
    /// and returns true if the pass has ended. See the module doc for what a pass
    /// guarantees.
    pub(crate) fn compact_some(&mut self, budget: usize, mut keep: impl FnMut(&T) -> bool) -> bool {
        let mut cursor = self
            .pass
            .take()
            .unwrap_or(PassCursor { bucket: 0, item: 0 });
        let mut budget = budget.max(1);
        while cursor.bucket < BUCKETS {
            let (done, examined) = self.compact_bucket(cursor, budget, &mut keep);
            budget -= examined;
            match done {
                None => {
                    cursor = PassCursor {
                        bucket: self.next_bucket_after(cursor.bucket),
                        item: 0,
                    }
                }
                Some(item) => {
                    self.pass = Some(PassCursor { item, ..cursor });
                    return false;
                }
            }
            if budget == 0 {
                self.pass = (cursor.bucket < BUCKETS).then_some(cursor);
                return self.pass.is_none();
            }
        }
        true
    }

    /// Examines up to `budget` items of the cursor's bucket from its item on. Returns
    /// the index to resume at if the budget ran out first (`None`: the bucket is done)
    /// and the number of items examined.
    fn compact_bucket(
        &mut self,
        cursor: PassCursor,
        budget: usize,
        keep: &mut impl FnMut(&T) -> bool,
    ) -> (Option<usize>, usize) {
        let items = match visit(cursor.bucket) {
            Visit::Overflow => &mut self.overflow,
            Visit::Due => &mut self.due,
            Visit::Slot { level, slot } => match self.levels[level].slots.get_mut(slot) {
                Some(items) => items,
                None => return (None, 0),
            },
        };
        let (mut at, mut examined, before) = (cursor.item, 0, items.len());
        while at < items.len() && examined < budget {
            examined += 1;
            if keep(&items[at].0) {
                at += 1;
            } else {
                // The last item moves into the hole and is examined next.
                items.swap_remove(at);
            }
        }
        let resume = (at < items.len()).then_some(at);
        let removed = before - items.len();
        self.len -= removed;
        if removed > 0 {
            self.after_removal(cursor.bucket);
        }
        (resume, examined)
    }

    /// Restores the invariants a removal may have broken in `bucket`: the exact minimum
    /// of the due and overflow lists, a slot's occupancy bit, and no big idle allocation.
    fn after_removal(&mut self, bucket: usize) {
        match visit(bucket) {
            Visit::Overflow => self.overflow_min = min_deadline(&self.overflow),
            Visit::Due => self.due_min = min_deadline(&self.due),
            Visit::Slot { level, slot } => release_if_empty(&mut self.levels[level], slot),
        }
    }

    /// The next bucket after `bucket` worth visiting: empty slots are skipped with the
    /// levels' occupancy bitmaps.
    fn next_bucket_after(&self, bucket: usize) -> usize {
        let mut next = bucket + 1;
        // Past the last slot come the due list and the end of the pass.
        while next < BUCKETS - 1 {
            let Visit::Slot { level, slot } = visit(next) else {
                break;
            };
            let above = self.levels[level].occupied >> slot;
            if above != 0 {
                return next + above.trailing_zeros() as usize;
            }
            // Nothing left on this level: jump to the first slot of the next one down.
            next += SLOTS - slot;
        }
        next
    }
}

/// Clears an emptied slot's occupancy bit and frees its allocation if it is big.
fn release_if_empty<T>(level: &mut Level<T>, slot: usize) {
    let items = &mut level.slots[slot];
    if items.is_empty() {
        level.occupied &= !(1 << slot);
        if items.capacity() > KEEP_CAPACITY {
            *items = Vec::new();
        }
    }
}
