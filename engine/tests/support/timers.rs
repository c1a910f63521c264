//! The model of one shard's expiry timers (`ShardTimers` in `engine/src/expiry.rs`): a
//! wheel of `(timer, tick)` pairs, plus the two gates that decide when a *write* bothers
//! to advance the wheel. (The engine's inbox only takes timers while another thread owns
//! the wheel; the exact model is single-threaded, so its timers go straight to the wheel.)
//!
//! Reads never use this: they compare deadlines exactly (see `model.rs`). The timers only
//! decide which expired entries nobody read are reclaimed, and when; that is observable
//! (listener, statistics, `len`), so the exact model must predict it to the operation.
//!
//! What the engine does, and this model with it (`t` is a tick, `now >> TICK_SHIFT`):
//! - A write that links a timed node schedules its timer in the wheel at tick
//!   `ceil(deadline / 2^20)` of its deadline at that moment, and lowers `next_tick` to
//!   that tick if it is earlier. Then, if dead timers outnumber a quarter of the live
//!   ones by more than 64, they are compacted away (`next_tick` stays: still a lower
//!   bound).
//! - `expire(now)` (on a write when [`ShardTimers::due`], or always on
//!   `run_pending_tasks`) fires every timer of tick `<= t`: a dead node's timer is
//!   dropped, a node whose deadline moved past `now` (time-to-idle) is rescheduled at its
//!   new deadline's tick, any other node expires. Then, if dead timers outnumber a
//!   quarter of the live ones by more than 64, they are compacted away. Last, it records
//!   `t` as the last tick and the wheel's `next_deadline()` as the next tick.
//! - A write advances its shard's wheel and then its neighbour's, each only if
//!   `pending != 0 && t > last_tick && t >= next_tick`, and only if one of the two shards
//!   holds a timer at all.
//!
//! `next_tick` is the wheel's *lower bound* on its next deadline, not the exact minimum:
//! for a timer at a level above 0 it is the start of that timer's slot. The gate
//! `t >= next_tick` can thus open a tick where nothing fires, which moves `last_tick` and
//! keeps a later write of the same tick from advancing. That is observable in one corner
//! (a zero TTL inserted exactly on a tick boundary), so [`wheel_lower_bound`] mirrors the
//! wheel's hashing (`position` in `engine/src/wheel.rs`) rather than approximating it.

/// Nanoseconds per wheel tick: 2^20 (`TICK_SHIFT` in `engine/src/expiry.rs`).
pub const TICK_SHIFT: u32 = 20;

/// Dead timers a shard may hold beyond `live / COMPACT_LIVE_SHARE` before compaction
/// (`COMPACT_LIVE_SHARE` and `COMPACT_SLACK` in `engine/src/expiry.rs`).
const COMPACT_LIVE_SHARE: usize = 4;
const COMPACT_SLACK: usize = 64;

/// Bits of the tick per wheel level, and the number of levels.
const LEVEL_BITS: u32 = 6;
const LEVELS: u32 = 6;

/// The first tick at or after `deadline` nanoseconds: the wheel never fires early.
pub fn tick_at_or_after(deadline: u64) -> u64 {
    deadline.div_ceil(1 << TICK_SHIFT)
}

/// The wheel's `next_deadline()` once every pending tick is after `elapsed`: the start of
/// the slot holding the earliest tick (a slot of level `L` spans 64^L ticks, and the level
/// is the highest 6-bit group in which the tick and `elapsed` differ), or the earliest
/// tick itself when it lies beyond the six levels (the overflow list is exact).
pub fn wheel_lower_bound(elapsed: u64, ticks: impl Iterator<Item = u64>) -> u64 {
    let Some(earliest) = ticks.min() else {
        return u64::MAX;
    };
    debug_assert!(earliest > elapsed);
    let differ = (earliest ^ elapsed) | ((1 << LEVEL_BITS) - 1);
    let level = (63 - differ.leading_zeros()) / LEVEL_BITS;
    if level >= LEVELS {
        earliest
    } else {
        let width = LEVEL_BITS * level;
        earliest >> width << width
    }
}

/// One shard's timers. `K` identifies the node's key; a timer `(id, key)` belongs to a
/// live node iff the model's entry for `key` still has node id `id`.
pub struct ShardTimers<K> {
    wheel: Vec<(u64, K, u64)>,
    last_tick: u64,
    next_tick: u64,
}

impl<K> Default for ShardTimers<K> {
    fn default() -> Self {
        ShardTimers {
            wheel: Vec::new(),
            last_tick: 0,
            next_tick: u64::MAX,
        }
    }
}

impl<K> ShardTimers<K> {
    /// Timers held, live or dead (the engine's `pending`).
    pub fn pending(&self) -> usize {
        self.wheel.len()
    }

    /// A write just linked timed node `id` of `key`, expiring at `deadline`; then, as
    /// the engine does while it holds the wheel, compacts if dead timers outnumber live
    /// ones by more than 64 (`deadline_of` as for [`Self::expire`]).
    pub fn schedule(
        &mut self,
        (id, key, deadline): (u64, K, u64),
        deadline_of: impl Fn(u64, &K) -> Option<u64>,
    ) {
        let tick = tick_at_or_after(deadline);
        self.wheel.push((id, key, tick));
        self.next_tick = self.next_tick.min(tick);
        self.compact(0, &deadline_of);
    }

    /// The engine's `ShardTimers::due`: would a write at `now` advance this wheel?
    pub fn due(&self, now: u64) -> bool {
        let tick = now >> TICK_SHIFT;
        self.pending() != 0 && tick > self.last_tick && tick >= self.next_tick
    }

    /// Advances the wheel to `now`; returns the keys whose nodes expire.
    /// `deadline_of(id, key)` is the current deadline of node `id` if it is live.
    pub fn expire(&mut self, now: u64, deadline_of: impl Fn(u64, &K) -> Option<u64>) -> Vec<K> {
        let tick = now >> TICK_SHIFT;
        let mut expired = Vec::new();
        let mut kept = Vec::new();
        for (id, key, at) in std::mem::take(&mut self.wheel) {
            match deadline_of(id, &key) {
                _ if at > tick => kept.push((id, key, at)),
                None => {} // a dead node's timer fires harmlessly
                Some(d) if d > now => kept.push((id, key, tick_at_or_after(d))),
                Some(_) => expired.push((id, key)),
            }
        }
        self.wheel = kept;
        // The expired nodes' timers still count as pending here: the engine releases them
        // only after `expire` returns, so they weigh on the compaction threshold.
        self.compact(expired.len(), &deadline_of);
        self.last_tick = self.last_tick.max(tick);
        self.next_tick = wheel_lower_bound(tick, self.wheel.iter().map(|t| t.2));
        expired.into_iter().map(|(_, key)| key).collect()
    }

    fn compact(&mut self, in_hand: usize, deadline_of: &impl Fn(u64, &K) -> Option<u64>) {
        let live = |t: &(u64, K, u64)| deadline_of(t.0, &t.1).is_some();
        let dead = self.wheel.iter().filter(|t| !live(t)).count();
        let pending = self.wheel.len() + in_hand;
        if dead > (pending - dead) / COMPACT_LIVE_SHARE + COMPACT_SLACK {
            self.wheel.retain(live);
        }
    }
}
