//! A hashed hierarchical timing wheel: the data structure behind per-entry TTL.
//!
//! The design is the hierarchical scheme (scheme 7) of Varghese and Lauck, "Hashed and
//! Hierarchical Timing Wheels: Data Structures for the Efficient Implementation of a Timer
//! Facility", SOSP 1987, with the bit-group hashing and per-level occupancy bitmaps that
//! tokio's timer wheel uses (studied for the idea; this code is our own).
//!
//! # Geometry
//!
//! Time is an integer tick (`u64`; in the engine one tick is 2^20 ns ≈ 1.05 ms). The wheel
//! has [`LEVELS`] levels of [`SLOTS`] slots. A slot of level `L` covers 64^L ticks, so level
//! `L` as a whole covers 64^(L+1) ticks (see [`LEVELS`] for the table). A deadline `d` is
//! hashed relative to the current tick `elapsed`: it goes to the level of the highest 6-bit
//! group in which `d` and `elapsed` differ, and within that level to the slot named by
//! `d`'s own 6-bit group there. Deadlines that differ from `elapsed` above bit 36 (every
//! deadline at least 64^6 ticks ahead, and nearer ones that cross a 2^36-tick boundary) go
//! to an overflow list; deadlines at or before `elapsed` go to a due list.
//!
//! # Operations
//!
//! - [`TimingWheel::schedule`] is O(1) (amortized, as it pushes onto a `Vec`).
//! - [`TimingWheel::advance`] finds the next occupied slot with one `trailing_zeros` per
//!   level, never stepping tick by tick: it costs O(levels + items fired + items cascaded),
//!   however far time jumps, plus one pass over the overflow list each time time enters the
//!   2^36-tick epoch of the earliest overflow deadline. When a slot above level 0 comes due,
//!   its items either fire (deadline reached) or cascade to a lower level, re-hashed against
//!   the new `elapsed`; an item cascades at most once per level.
//! - Precision is one tick: an item fires at the first `advance(now)` with
//!   `now >= deadline`, never earlier, never rounded to a slot boundary.
//!
//! Cancellation is lazy: the engine makes obsolete timers harmless (it checks the entry
//! when the timer fires) and compacts them with [`TimingWheel::retain`].
//!
//! The wheel is single-threaded (`&mut self` everywhere); the engine lets one thread at a
//! time own a shard's wheel.

use std::mem;

/// Number of levels of the wheel.
///
/// Slot width and span of each level, in ticks and at the engine's tick of 2^20 ns:
///
/// | level | slot width | level span     | level span at 2^20 ns |
/// |-------|------------|----------------|-----------------------|
/// | 0     | 1          | 64 = 2^6       | ≈ 67 ms               |
/// | 1     | 2^6        | 4 096 = 2^12   | ≈ 4.3 s               |
/// | 2     | 2^12       | 2^18           | ≈ 4.6 min             |
/// | 3     | 2^18       | 2^24           | ≈ 4.9 h               |
/// | 4     | 2^24       | 2^30           | ≈ 13 days             |
/// | 5     | 2^30       | 2^36           | ≈ 2.3 years           |
///
/// Deadlines beyond level 5 (in a later 2^36-tick epoch than `elapsed`) wait in the
/// overflow list and fire just as exactly.
pub(crate) const LEVELS: usize = 6;

/// Slots per level: 64, so a level's occupancy is one `u64` bitmap and a level index is
/// one 6-bit group of the tick ([`LEVEL_BITS`]).
pub(crate) const SLOTS: usize = 64;

/// Bits of the tick consumed per level: log2([`SLOTS`]) = 6.
pub(crate) const LEVEL_BITS: u32 = SLOTS.trailing_zeros();

/// Bits of the tick covered by the whole wheel: 6 × 6 = 36, i.e. 64^6 = 2^36 ticks
/// (≈ 2.3 years at 2^20 ns per tick). Deadlines whose tick differs from `elapsed` at or
/// above this bit go to the overflow list.
pub(crate) const WHEEL_BITS: u32 = LEVEL_BITS * LEVELS as u32;

/// Mask of one level's 6-bit slot group.
const SLOT_MASK: u64 = SLOTS as u64 - 1;

/// A slot's `Vec` whose capacity is at most this many items is kept for reuse after the
/// slot fires; larger ones are freed, so a burst does not pin memory.
const KEEP_CAPACITY: usize = 32;

// The occupancy bitmap of a level is one `u64`, one bit per slot.
const _: () = assert!(SLOTS == u64::BITS as usize);
const _: () = assert!(SLOTS == 1 << LEVEL_BITS);
const _: () = assert!(WHEEL_BITS < u64::BITS);

/// What the caller of [`TimingWheel::advance`] decided for an item that came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fired<T> {
    /// The item is consumed; the wheel forgets it.
    Done,
    /// Put the item back with a new deadline. A deadline at or before the `now` of the
    /// current advance fires on the *next* advance, not again in this one (no livelock).
    Reschedule(T, u64),
}

/// Where a deadline belongs, relative to a given `elapsed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// `deadline <= elapsed`: fires on the next advance.
    Due,
    /// In the wheel proper.
    Slot { level: usize, slot: usize },
    /// In a later 2^36-tick epoch than `elapsed`.
    Overflow,
}

/// Hashes `deadline` relative to `elapsed`: the level is the highest 6-bit group in which
/// they differ, the slot is the deadline's own group at that level.
fn position(elapsed: u64, deadline: u64) -> Position {
    if deadline <= elapsed {
        return Position::Due;
    }
    let significant = (deadline ^ elapsed) | SLOT_MASK;
    let level = ((u64::BITS - 1 - significant.leading_zeros()) / LEVEL_BITS) as usize;
    if level >= LEVELS {
        Position::Overflow
    } else {
        Position::Slot {
            level,
            slot: slot_index(deadline, level),
        }
    }
}

/// The 6-bit group of `tick` at `level`.
fn slot_index(tick: u64, level: usize) -> usize {
    ((tick >> (LEVEL_BITS * level as u32)) & SLOT_MASK) as usize
}

/// First tick covered by `slot` of `level` in the rotation of that level that contains
/// `elapsed` (the bits of `elapsed` above the level are kept, those below are zeroed).
fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    let shift = LEVEL_BITS * level as u32;
    let above = shift + LEVEL_BITS;
    (elapsed >> above << above) | ((slot as u64) << shift)
}

/// First tick of the 2^36-tick epoch containing `tick`.
fn epoch_start(tick: u64) -> u64 {
    tick >> WHEEL_BITS << WHEEL_BITS
}

/// Keeps the allocation of an emptied `Vec` in `home` if `home` has none and it is small.
fn recycle<T>(home: &mut Vec<(T, u64)>, mut spent: Vec<(T, u64)>) {
    if home.capacity() == 0 && spent.capacity() <= KEEP_CAPACITY {
        spent.clear();
        *home = spent;
    }
}

/// One level: [`SLOTS`] slots and their occupancy bitmap.
///
/// Invariant: bit `s` of `occupied` is set iff `slots[s]` is non-empty; `slots` is either
/// empty (never used: a wheel costs no slot memory until a level is needed) or exactly
/// [`SLOTS`] long.
struct Level<T> {
    occupied: u64,
    slots: Box<[Vec<(T, u64)>]>,
}

impl<T> Level<T> {
    fn new() -> Self {
        Level {
            occupied: 0,
            slots: Box::default(),
        }
    }

    fn push(&mut self, slot: usize, item: T, deadline: u64) {
        if self.slots.is_empty() {
            self.slots = (0..SLOTS).map(|_| Vec::new()).collect();
        }
        self.slots[slot].push((item, deadline));
        self.occupied |= 1 << slot;
    }

    /// The lowest occupied slot.
    fn first_occupied(&self) -> Option<usize> {
        (self.occupied != 0).then(|| self.occupied.trailing_zeros() as usize)
    }

    fn take(&mut self, slot: usize) -> Vec<(T, u64)> {
        self.occupied &= !(1 << slot);
        mem::take(&mut self.slots[slot])
    }

    /// Indices of the occupied slots, lowest first.
    fn occupied_slots(&self) -> impl Iterator<Item = usize> {
        let mut bits = self.occupied;
        std::iter::from_fn(move || {
            let slot = (bits != 0).then(|| bits.trailing_zeros() as usize)?;
            bits &= bits - 1;
            Some(slot)
        })
    }
}

/// Which bucket holds the next items to process.
#[derive(Clone, Copy)]
enum Bucket {
    Slot { level: usize, slot: usize },
    Overflow,
}

/// A hierarchical timing wheel of items `T` with `u64` tick deadlines.
///
/// Invariants (checked by `validate`), between calls:
/// - every item in `levels[L].slots[s]` has `position(elapsed, deadline) == Slot { L, s }`;
///   hence `deadline > elapsed`, and every item of a lower level is due before every item
///   of a higher one, so the lowest occupied slot of the lowest non-empty level holds the
///   earliest deadline of the wheel proper;
/// - every item in `due` has `deadline <= elapsed`; every item in `overflow` has
///   `position(elapsed, deadline) == Overflow` (a later 2^36-tick epoch than `elapsed`);
/// - `due_min` / `overflow_min` are the least deadline of `due` / `overflow` (`u64::MAX`
///   when empty);
/// - `len` is the total number of items;
/// - each level's occupancy bitmap matches its slots (see [`Level`]).
pub(crate) struct TimingWheel<T> {
    /// The current tick: every deadline up to it has fired or sits in `due`. Never
    /// decreases.
    elapsed: u64,
    len: usize,
    levels: [Level<T>; LEVELS],
    /// Items whose deadline is already reached: scheduled in the past, or rescheduled by
    /// `advance` to a tick it had reached. They fire on the next advance.
    due: Vec<(T, u64)>,
    due_min: u64,
    /// Items in a later 2^36-tick epoch than `elapsed`, re-examined when `elapsed` enters
    /// the epoch of `overflow_min`.
    overflow: Vec<(T, u64)>,
    overflow_min: u64,
    /// Buckets processed by `advance` since creation: lets tests check the cost bound.
    #[cfg(test)]
    steps: u64,
}

impl<T> Default for TimingWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimingWheel<T> {
    /// An empty wheel at tick 0. Allocates nothing until the first `schedule`.
    pub(crate) fn new() -> Self {
        TimingWheel {
            elapsed: 0,
            len: 0,
            levels: std::array::from_fn(|_| Level::new()),
            due: Vec::new(),
            due_min: u64::MAX,
            overflow: Vec::new(),
            overflow_min: u64::MAX,
            #[cfg(test)]
            steps: 0,
        }
    }

    /// The current tick: the largest `now` passed to `advance` (0 initially).
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of scheduled items.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `item` to fire at the first `advance(now)` with `now >= deadline`. A
    /// deadline at or before `elapsed()` fires on the next advance. O(1).
    pub(crate) fn schedule(&mut self, item: T, deadline: u64) {
        self.len += 1;
        self.place(item, deadline);
    }

    /// Advances the current tick to `now` (a `now` below `elapsed()` counts as
    /// `elapsed()`: time never goes backwards) and fires every item whose deadline is at
    /// or before it, calling `fire(item, deadline)` with the deadline it was scheduled
    /// with. Items fire roughly, not strictly, in deadline order.
    ///
    /// If `fire` returns [`Fired::Reschedule`]`(item, d)` the item is scheduled again with
    /// deadline `d`; if `d <= now` it fires on the next advance, not in this one.
    ///
    /// Cost: O(`LEVELS` + items fired + items cascaded), independent of `now - elapsed()`,
    /// plus a pass over the overflow list when time enters the 2^36-tick epoch of its
    /// earliest deadline.
    ///
    /// If `fire` panics, the items of the bucket being processed that had not been handed
    /// to `fire` yet, and the items rescheduled to `d <= now` in this call, are dropped;
    /// the wheel itself stays consistent.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(T, u64) -> Fired<T>) {
        let now = now.max(self.elapsed);
        let mut later = Vec::new();
        if !self.due.is_empty() {
            let items = mem::take(&mut self.due);
            self.due_min = u64::MAX;
            self.process(items, now, &mut fire, &mut later);
        }
        while let Some((bucket, start)) = self.next_bucket() {
            if start > now {
                break;
            }
            // Every other bucket starts later than this one, so moving `elapsed` here keeps
            // all of them correctly hashed.
            self.elapsed = start;
            #[cfg(test)]
            {
                self.steps += 1;
            }
            match bucket {
                Bucket::Slot { level, slot } => {
                    let items = self.levels[level].take(slot);
                    let spent = self.process(items, now, &mut fire, &mut later);
                    recycle(&mut self.levels[level].slots[slot], spent);
                }
                Bucket::Overflow => {
                    let items = mem::take(&mut self.overflow);
                    self.overflow_min = u64::MAX;
                    self.process_overflow(items, now, &mut fire, &mut later);
                }
            }
        }
        // The loop stopped because every bucket left starts after `now`: all of them stay
        // correctly hashed when `elapsed` moves up to `now`.
        self.elapsed = now;
        self.len += later.len();
        for (item, deadline) in later {
            self.push_due(item, deadline);
        }
    }

    /// A lower bound on the earliest pending deadline, `None` if the wheel is empty. It is
    /// exact for due items, level 0 and the overflow list, and the start tick of the
    /// earliest occupied slot otherwise. `advance(t)` for `t` below it fires nothing.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if !self.due.is_empty() {
            return Some(self.due_min);
        }
        self.next_bucket().map(|(bucket, start)| match bucket {
            Bucket::Slot { .. } => start,
            Bucket::Overflow => self.overflow_min,
        })
    }

    /// Keeps only the items for which `keep` returns true (compaction of obsolete timers).
    /// O(len + occupied slots).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut kept = 0;
        for level in &mut self.levels {
            for slot in level.occupied_slots() {
                let items = &mut level.slots[slot];
                items.retain(|(item, _)| keep(item));
                if items.is_empty() {
                    level.occupied &= !(1 << slot);
                    if items.capacity() > KEEP_CAPACITY {
                        *items = Vec::new();
                    }
                }
                kept += items.len();
            }
        }
        self.due.retain(|(item, _)| keep(item));
        self.due_min = min_deadline(&self.due);
        self.overflow.retain(|(item, _)| keep(item));
        self.overflow_min = min_deadline(&self.overflow);
        self.len = kept + self.due.len() + self.overflow.len();
    }

    /// Calls `f` on every pending item, in no particular order (used by `validate()`).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
        let slots = self.levels.iter().flat_map(|level| level.slots.iter());
        slots
            .chain([&self.due, &self.overflow])
            .flatten()
            .for_each(|(item, _)| f(item));
    }

    /// Removes and returns every item, in no particular order; `elapsed()` is unchanged.
    /// The wheel's slot memory is released.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        for level in &mut self.levels {
            let level = mem::replace(level, Level::new());
            for items in level.slots.into_vec() {
                out.extend(items.into_iter().map(|(item, _)| item));
            }
        }
        out.extend(mem::take(&mut self.due).into_iter().map(|(item, _)| item));
        out.extend(
            mem::take(&mut self.overflow)
                .into_iter()
                .map(|(item, _)| item),
        );
        self.due_min = u64::MAX;
        self.overflow_min = u64::MAX;
        self.len = 0;
        out
    }

    /// Puts an item counted in `len` where its deadline belongs relative to `elapsed`.
    fn place(&mut self, item: T, deadline: u64) {
        match position(self.elapsed, deadline) {
            Position::Due => self.push_due(item, deadline),
            Position::Slot { level, slot } => self.levels[level].push(slot, item, deadline),
            Position::Overflow => {
                self.overflow_min = self.overflow_min.min(deadline);
                self.overflow.push((item, deadline));
            }
        }
    }

    fn push_due(&mut self, item: T, deadline: u64) {
        self.due_min = self.due_min.min(deadline);
        self.due.push((item, deadline));
    }

    /// The bucket holding the earliest deadlines and the first tick it covers: the lowest
    /// occupied slot of the lowest non-empty level, else the overflow list (whose start is
    /// the epoch of its earliest deadline).
    fn next_bucket(&self) -> Option<(Bucket, u64)> {
        for (level, l) in self.levels.iter().enumerate() {
            if let Some(slot) = l.first_occupied() {
                let start = slot_start(self.elapsed, level, slot);
                return Some((Bucket::Slot { level, slot }, start));
            }
        }
        (!self.overflow.is_empty()).then(|| (Bucket::Overflow, epoch_start(self.overflow_min)))
    }

    /// Fires or cascades every item of a bucket taken out of the wheel; returns the
    /// emptied `Vec` for reuse.
    fn process(
        &mut self,
        mut items: Vec<(T, u64)>,
        now: u64,
        fire: &mut impl FnMut(T, u64) -> Fired<T>,
        later: &mut Vec<(T, u64)>,
    ) -> Vec<(T, u64)> {
        self.len -= items.len();
        for (item, deadline) in items.drain(..) {
            self.expire_or_cascade(item, deadline, now, fire, later);
        }
        items
    }

    /// Like `process`, for the overflow list: items of the epoch just entered move into
    /// the wheel, due ones fire, later ones go back to the overflow list.
    #[cold]
    fn process_overflow(
        &mut self,
        items: Vec<(T, u64)>,
        now: u64,
        fire: &mut impl FnMut(T, u64) -> Fired<T>,
        later: &mut Vec<(T, u64)>,
    ) {
        let spent = self.process(items, now, fire, later);
        recycle(&mut self.overflow, spent);
    }

    /// An item taken out of the wheel (not counted in `len`) at `elapsed <= now`: fires it
    /// if due, else re-hashes it relative to `elapsed` (a lower level than it came from).
    fn expire_or_cascade(
        &mut self,
        item: T,
        deadline: u64,
        now: u64,
        fire: &mut impl FnMut(T, u64) -> Fired<T>,
        later: &mut Vec<(T, u64)>,
    ) {
        if deadline > now {
            self.len += 1;
            self.place(item, deadline);
            return;
        }
        match fire(item, deadline) {
            Fired::Done => {}
            Fired::Reschedule(item, deadline) if deadline <= now => later.push((item, deadline)),
            Fired::Reschedule(item, deadline) => {
                self.len += 1;
                self.place(item, deadline);
            }
        }
    }

    /// Recomputes everything from scratch and checks the invariants listed on the type.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut count = 0;
        for (index, level) in self.levels.iter().enumerate() {
            count += validate_level(level, index, self.elapsed)?;
        }
        for &(_, deadline) in &self.due {
            if deadline > self.elapsed {
                return Err(format!(
                    "due item with deadline {deadline} > elapsed {}",
                    self.elapsed
                ));
            }
        }
        for &(_, deadline) in &self.overflow {
            let found = position(self.elapsed, deadline);
            if found != Position::Overflow {
                return Err(format!(
                    "overflow item with deadline {deadline} belongs to {found:?} at elapsed {}",
                    self.elapsed
                ));
            }
        }
        if self.due_min != min_deadline(&self.due) {
            return Err(format!("due_min {} is stale", self.due_min));
        }
        if self.overflow_min != min_deadline(&self.overflow) {
            return Err(format!("overflow_min {} is stale", self.overflow_min));
        }
        count += self.due.len() + self.overflow.len();
        if count != self.len {
            return Err(format!("len is {} but {count} items are stored", self.len));
        }
        Ok(())
    }
}

/// Least deadline of a list, `u64::MAX` if empty.
fn min_deadline<T>(items: &[(T, u64)]) -> u64 {
    items.iter().map(|&(_, d)| d).min().unwrap_or(u64::MAX)
}

/// Checks one level's bitmap and hashing; returns its item count.
fn validate_level<T>(level: &Level<T>, index: usize, elapsed: u64) -> Result<usize, String> {
    if level.slots.is_empty() {
        return match level.occupied {
            0 => Ok(0),
            bits => Err(format!("level {index} has no slots but bitmap {bits:#x}")),
        };
    }
    if level.slots.len() != SLOTS {
        return Err(format!("level {index} has {} slots", level.slots.len()));
    }
    let mut count = 0;
    for (slot, items) in level.slots.iter().enumerate() {
        let bit = level.occupied >> slot & 1 == 1;
        if bit == items.is_empty() {
            return Err(format!(
                "level {index} slot {slot}: bit {bit} with {} items",
                items.len()
            ));
        }
        for &(_, deadline) in items {
            let found = position(elapsed, deadline);
            if found != (Position::Slot { level: index, slot }) {
                return Err(format!(
                    "deadline {deadline} sits in level {index} slot {slot} but belongs to \
                     {found:?} at elapsed {elapsed}"
                ));
            }
        }
        count += items.len();
    }
    Ok(count)
}

#[cfg(test)]
#[path = "wheel/tests.rs"]
mod tests;
