//! Incremental compaction: a cursor that goes round the wheel's slots a few items at a
//! time, dropping the items its caller rejects (timers of entries that died before their
//! deadline).
//!
//! Why: compacting the whole wheel at once (`retain`) walks every timer and frees a
//! burst of thousands of dead ones, which costs the insert that triggers it a
//! millisecond and sends the allocator through its slow paths. Sweeping `b` items per
//! schedule costs O(b) each time; if a fraction `f` of the timers is dead, each sweep
//! removes `b·f` of them on average, so while at most one timer dies per schedule the
//! dead fraction settles at or below `1/b`. The full `retain` stays as the backstop
//! (deaths without schedules: removals, `clear`) and is the only one that looks at the
//! `due` and `overflow` lists.

use super::{TimingWheel, KEEP_CAPACITY, LEVELS, SLOTS};

/// Where the next sweep resumes: a level, a slot of it, and an index in that slot.
///
/// Any value is valid: slots change under the cursor (advances take and cascade them),
/// so the sweep re-checks the position it resumes from and moves on when it is past the
/// end of its slot.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SweepCursor {
    level: usize,
    slot: usize,
    index: usize,
}

impl<T> TimingWheel<T> {
    /// Examines up to `budget` items, starting where the last sweep stopped and going
    /// round the occupied slots of every level, and removes those for which `keep`
    /// returns false (swap-remove: order within a slot means nothing). Then shows `ahead`
    /// the next `budget` items of the cursor's slot, so that a `keep` that dereferences
    /// items finds them cached next time. Returns the number of items removed.
    /// O(`budget` + `LEVELS`): each step moves to the next item or slot.
    pub(crate) fn sweep(
        &mut self,
        budget: usize,
        mut keep: impl FnMut(&T) -> bool,
        ahead: impl Fn(&T),
    ) -> usize {
        let (mut examined, mut removed) = (0, 0);
        // A hop that finds no item moves the cursor to the next occupied slot, where the
        // next step finds one; only with every level empty do hops run out the bound.
        let mut hops = 0;
        while examined < budget && hops <= budget + 2 * LEVELS {
            if !self.sweep_positioned() {
                hops += 1;
                continue;
            }
            let SweepCursor { level, slot, index } = self.sweep_cursor;
            let items = &mut self.levels[level].slots[slot];
            if keep(&items[index].0) {
                self.sweep_cursor.index += 1;
            } else {
                items.swap_remove(index);
                removed += 1;
            }
            examined += 1;
        }
        self.len -= removed;
        let SweepCursor { level, slot, .. } = self.sweep_cursor;
        if self.levels[level]
            .slots
            .get(slot)
            .is_some_and(Vec::is_empty)
        {
            self.release_slot(level, slot);
        }
        self.sweep_prefetch(budget, ahead);
        removed
    }

    /// True if the cursor is on an item; otherwise moves it to the start of the next
    /// occupied slot (round the levels). A slot the sweep emptied is released on the way.
    fn sweep_positioned(&mut self) -> bool {
        let SweepCursor { level, slot, index } = self.sweep_cursor;
        match self.levels[level].slots.get(slot).map(Vec::len) {
            Some(len) if index < len => return true,
            Some(0) => self.release_slot(level, slot),
            _ => {}
        }
        self.sweep_cursor = self.next_occupied_after(level, slot);
        false
    }

    /// The first occupied slot after `slot` of `level`, in level-major order, wrapping
    /// from the last level to the first (the start of level 0 if every level is empty).
    fn next_occupied_after(&self, level: usize, slot: usize) -> SweepCursor {
        let above = |s: usize| if s + 1 >= SLOTS { 0 } else { !0u64 << (s + 1) };
        let mut mask = above(slot);
        for step in 0..=LEVELS {
            let level = (level + step) % LEVELS;
            let bits = self.levels[level].occupied & mask;
            if bits != 0 {
                let slot = bits.trailing_zeros() as usize;
                return SweepCursor {
                    level,
                    slot,
                    index: 0,
                };
            }
            mask = !0;
        }
        SweepCursor::default()
    }

    /// Marks an emptied slot unoccupied, giving back a large allocation as `retain` does.
    fn release_slot(&mut self, level: usize, slot: usize) {
        let l = &mut self.levels[level];
        l.occupied &= !(1 << slot);
        if l.slots[slot].capacity() > KEEP_CAPACITY {
            l.slots[slot] = Vec::new();
        }
    }

    /// Shows `ahead` the next `count` items under the cursor.
    fn sweep_prefetch(&self, count: usize, ahead: impl Fn(&T)) {
        let SweepCursor { level, slot, index } = self.sweep_cursor;
        if let Some(items) = self.levels[level].slots.get(slot) {
            let end = items.len().min(index + count);
            items
                .get(index..end)
                .into_iter()
                .flatten()
                .for_each(|(item, _)| ahead(item));
        }
    }
}
