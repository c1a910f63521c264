//! Proptest state-machine test: random operation sequences against the reference model
//! in `support/model.rs`, checked after every operation (see `support/driver.rs`).
//!
//! - Single-shard caches (capacity 1..=8, by count and by weight, CLOCK and FIFO) and
//!   sharded caches with a deterministic hasher are compared *exactly*: every return
//!   value, the full contents, `len`, `weighted_size`, the listener log, the statistics
//!   counters, and `validate()`.
//! - Sharded caches with the default random hasher are checked for containment: the
//!   cache holds exactly the last inserted value of every key not removed or reported
//!   evicted or expired since, each eviction was needed, each expiry was due, every
//!   insert that fits is readable at once (`support/tracked.rs`).
//! - Expiry runs on a mock clock: per-entry TTLs (including none and above `MAX_TTL`),
//!   a cache-wide default TTL and time-to-idle, clock steps that land on wheel tick and
//!   level boundaries, `run_pending_tasks` and `remaining_ttl`. The exact model predicts
//!   which expired entries each write's amortized wheel advance reclaims
//!   (`support/timers.rs`).
//!
//! `PROPTEST_CASES` overrides the case count of every property.

#[path = "support/driver.rs"]
mod driver;
#[path = "support/model.rs"]
mod model;
#[path = "support/tracked.rs"]
mod tracked;

use driver::{Config, Exact, Op, PATTERNS};
use model::{Cause, Model, Policy};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tracked::TrackedCache;

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn weight() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 1u64..=3,
        1 => Just(0u64),
        2 => 0u64..=10,
        1 => prop_oneof![Just(u64::MAX), 11u64..=64],
    ]
}

/// One tick of the engine's timing wheel, in nanoseconds.
const TICK: u64 = 1 << model::TICK_SHIFT;

/// TTLs in nanoseconds: around one tick, a few ticks, seconds, beyond the wheel's six
/// levels (2^36 ticks ≈ 2.3 years), above `MAX_TTL`, and none.
fn ttl() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(0)),
        3 => (0..3u64, 0..3u64).prop_map(|(ticks, off)| Some((ticks * TICK + off).saturating_sub(1))),
        4 => (1..64 * TICK).prop_map(Some),
        2 => prop_oneof![Just(Some(1_000_000_000)), Just(Some(60_000_000_000))],
        1 => prop_oneof![Just(Some(TICK << 36)), Just(Some(u64::MAX)), (1u64..=u64::MAX).prop_map(Some)],
    ]
}

/// Clock steps in nanoseconds: none, one ns either side of a tick, a few ticks, past a
/// level-1 slot, seconds, years.
fn advance() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4u64, 0..3u64).prop_map(|(ticks, off)| Op::Advance((ticks * TICK + off).saturating_sub(1))),
        3 => (0..80 * TICK).prop_map(Op::Advance),
        1 => prop_oneof![Just(Op::Advance(1_000_000_000)), Just(Op::Advance(61_000_000_000))],
        1 => (0u64..=(TICK << 37)).prop_map(Op::Advance),
        2 => (0u8..7).prop_map(Op::AlignTick),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = any::<u8>();
    prop_oneof![
        8 => (key, weight()).prop_map(|(key, weight)| Op::Insert { key, weight }),
        2 => (key, weight()).prop_map(|(key, weight)| Op::TryInsert { key, weight }),
        4 => (key, weight(), ttl()).prop_map(|(key, weight, ttl)| Op::InsertWithTtl { key, weight, ttl }),
        1 => (key, weight(), ttl()).prop_map(|(key, weight, ttl)| Op::TryInsertWithTtl { key, weight, ttl }),
        4 => key.prop_map(Op::Get),
        1 => key.prop_map(Op::GetWith),
        2 => key.prop_map(Op::Peek),
        2 => key.prop_map(Op::Contains),
        2 => key.prop_map(Op::Remove),
        1 => key.prop_map(Op::Invalidate),
        1 => Just(Op::Clear),
        1 => (1u8..=4, 0u8..4).prop_map(|(modulus, residue)| Op::Retain { modulus, residue }),
        1 => (0..=PATTERNS.len() as u8).prop_map(Op::RemoveMatching),
        5 => advance(),
        2 => Just(Op::RunPendingTasks),
        1 => key.prop_map(Op::RemainingTtl),
    ]
}

/// A cache-wide duration setting (default TTL, time-to-idle): off, or from a tick's
/// worth to a minute (zero is not a valid setting).
fn duration_setting() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        2 => Just(None),
        2 => (1..8 * TICK).prop_map(Some),
        1 => prop_oneof![Just(Some(TICK)), Just(Some(60_000_000_000))],
    ]
}

/// Small bucket arrays keep chains shared; `None` is the builder's own sizing.
fn estimate() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), Just(Some(1)), Just(Some(4)), Just(Some(64))]
}

fn cfg(
    capacity: impl Strategy<Value = u64>,
    shards: impl Strategy<Value = usize>,
    universe: impl Strategy<Value = usize>,
) -> impl Strategy<Value = Config> {
    (
        capacity,
        any::<bool>(),
        any::<bool>(),
        shards,
        estimate(),
        prop::bool::weighted(0.9),
        universe,
        any::<u64>(),
        (duration_setting(), duration_setting()),
    )
        .prop_map(
            |(
                capacity,
                weighted,
                fifo,
                shards,
                estimated_entries,
                record_stats,
                universe,
                seed,
                (default_ttl, time_to_idle),
            )| {
                Config {
                    capacity,
                    weighted,
                    fifo,
                    shards,
                    estimated_entries,
                    record_stats,
                    universe,
                    seed,
                    default_ttl,
                    time_to_idle,
                }
            },
        )
}

fn run_exact(cfg: Config, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut exact = Exact::new(cfg);
    for (i, op) in ops.iter().enumerate() {
        exact
            .step(op)
            .map_err(|e| TestCaseError::fail(format!("op #{i}: {e}")))?;
    }
    Ok(())
}

fn run_tracked(cfg: Config, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut tracked = TrackedCache::new(cfg);
    for (i, op) in ops.iter().enumerate() {
        tracked
            .step(op)
            .map_err(|e| TestCaseError::fail(format!("op #{i}: {e}")))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1500))]
    /// One shard, capacity 1..=8: exact CLOCK / FIFO order.
    #[test]
    fn exact_single_shard(
        cfg in cfg(1u64..=8, Just(1usize), 1usize..=22),
        ops in prop::collection::vec(op(), 1..48),
    ) {
        run_exact(cfg, &ops)?;
    }
}

proptest! {
    #![proptest_config(config(40))]
    /// Long runs over a few keys: replacements pile up dead queue nodes until the
    /// shard compacts its queue, which must keep the CLOCK order and bits.
    #[test]
    fn exact_single_shard_long_runs(
        cfg in cfg(1u64..=8, Just(1usize), 1usize..=4),
        ops in prop::collection::vec(op(), 150..400),
    ) {
        run_exact(cfg, &ops)?;
    }
}

proptest! {
    #![proptest_config(config(400))]
    /// 2..=16 shards with a deterministic hasher, so the model knows each key's shard:
    /// still exact, including the hand's round-robin over shards.
    #[test]
    fn exact_sharded(
        cfg in cfg(2u64..=24, 2usize..=16, 4usize..=22),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run_exact(cfg, &ops)?;
    }
}

proptest! {
    #![proptest_config(config(400))]
    /// 2..=16 shards with the default random hasher: containment, capacity, listener.
    #[test]
    fn tracked_sharded(
        cfg in cfg(2u64..=24, 2usize..=16, 4usize..=22),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run_tracked(cfg, &ops)?;
    }
}

fn single(capacity: u64, weighted: bool, universe: usize) -> Config {
    Config {
        capacity,
        weighted,
        fifo: false,
        shards: 1,
        estimated_entries: None,
        record_stats: true,
        universe,
        seed: 7,
        default_ttl: None,
        time_to_idle: None,
    }
}

fn run(exact: &mut Exact, ops: &[Op]) {
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = exact.step(op) {
            panic!("op #{i}: {e}");
        }
    }
}

/// Hundreds of replacements of one key leave far more dead queue nodes than live ones,
/// so the shard compacts its queue; the CLOCK order and bits must come through intact.
#[test]
fn compaction_keeps_clock_order() {
    let mut exact = Exact::new(single(3, false, 8));
    let mut ops = vec![
        Op::Insert { key: 0, weight: 1 },
        Op::Insert { key: 1, weight: 1 },
        Op::Insert { key: 2, weight: 1 },
        Op::Get(0),
    ];
    ops.extend((0..300).map(|_| Op::Insert { key: 1, weight: 1 }));
    ops.extend([Op::Get(2), Op::Remove(0), Op::Insert { key: 0, weight: 1 }]);
    ops.extend((3..8).flat_map(|k| [Op::Insert { key: k, weight: 1 }, Op::Get(k - 1)]));
    run(&mut exact, &ops);
}

/// A replacement that needs more room may evict the key's own old entry first; the
/// insert then becomes a fresh one (`None` returned, `Evicted` reported, no `Replaced`).
#[test]
fn own_old_entry_evicted_while_making_room() {
    let ops = [
        Op::Insert { key: 0, weight: 2 },
        Op::Insert { key: 1, weight: 1 },
        Op::Insert { key: 0, weight: 3 },
    ];
    let mut model: Model<u8, u64> = Model::new(3, Policy::Clock);
    model.insert(0, 10, 2);
    model.insert(1, 11, 1);
    assert_eq!(model.insert(0, 12, 3), None);
    let events = model.take_events();
    assert_eq!(
        events,
        vec![(0, 10, Cause::Evicted), (1, 11, Cause::Evicted)]
    );
    assert_eq!(model.stats().insertions, 3);
    assert_eq!(model.stats().replacements, 0);
    run(&mut Exact::new(single(3, true, 2)), &ops);
}

/// The model itself against the reference LRU / FIFO examples (independent of the
/// engine): CLOCK gives a read entry a second chance, FIFO does not.
#[test]
fn model_follows_reference_examples() {
    let mut clock: Model<&str, u32> = Model::new(3, Policy::Clock);
    for (i, k) in ["key1", "key2", "key3"].into_iter().enumerate() {
        clock.insert(k, i as u32, 1);
    }
    assert_eq!(clock.get(&"key1"), Some(0));
    clock.insert("key4", 3, 1);
    let keys: Vec<&str> = clock.entries().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["key1", "key3", "key4"]);

    let mut fifo: Model<&str, u32> = Model::new(2, Policy::Fifo);
    fifo.insert("key1", 1, 1);
    fifo.insert("key2", 2, 1);
    assert!(fifo.contains_key(&"key1"));
    fifo.insert("key3", 3, 1);
    let keys: Vec<&str> = fifo.entries().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["key2", "key3"]);
    assert_eq!(
        fifo.take_events().last(),
        Some(&("key1", 1, Cause::Evicted))
    );
}

fn timed(key: u8, ticks: u64) -> Op {
    Op::InsertWithTtl {
        key,
        weight: 1,
        ttl: Some(ticks * TICK),
    }
}

fn untimed(key: u8) -> Op {
    Op::Insert { key, weight: 1 }
}

/// The write gate opens on the wheel's *lower bound* of its next deadline. A timer lowers
/// the gate to its own tick when it is scheduled; an advance then resets the gate to the
/// wheel's bound, the start of the slot holding the earliest timer (a level-1 slot
/// starting at tick 64 here), so a write at tick 64 advances the wheel although nothing
/// fires before tick 100, and a zero-TTL insert later in that same tick is not reclaimed
/// by its own write. The exact model has to mirror the bound (`support/timers.rs`).
#[test]
fn write_gate_uses_the_wheels_lower_bound() {
    let mut exact = Exact::new(single(8, false, 8));
    let ops = [
        timed(0, 100), // the gate: tick 100
        Op::Advance(TICK),
        timed(5, 0), // tick 1: the gate drops to 1, this write advances; key 5 expires
        Op::Advance(63 * TICK),
        untimed(2),  // tick 64 >= the bound (slot start 64): advances, nothing fires
        timed(3, 0), // due now, but this tick was already advanced to
    ];
    run(&mut exact, &ops);
    assert_eq!(exact.cache().stats().expirations, 1, "key 5 only");
    assert_eq!(
        exact.cache().len(),
        3,
        "the zero-TTL entry of tick 64 waits for the next tick"
    );
    run(&mut exact, &[Op::AlignTick(0), untimed(4)]);
    assert_eq!(
        exact.cache().stats().expirations,
        2,
        "reclaimed one tick later"
    );
}

/// Dead timers beyond the live ones plus 64 are compacted out of the wheel, which raises
/// its lower bound: 70 replacements leave dead timers at ticks 101..=169 and a live one
/// at 170; the write at tick 101 fires one and compacts the rest away, so the bound moves
/// to 128 (the slot of tick 170), the write at tick 102 finds the gate closed, and the
/// zero-TTL insert that follows is reclaimed by its own write. Without compaction the
/// dead timer at tick 102 would open the gate for the first write of tick 102, and the
/// zero-TTL entry would stay.
#[test]
fn timer_compaction_moves_the_write_gate() {
    let mut exact = Exact::new(single(8, false, 8));
    for _ in 0..70 {
        // Each replacement leaves the previous timer dead in the wheel.
        run(&mut exact, &[Op::Advance(TICK), timed(0, 100)]);
    }
    let ops = [
        Op::Advance(31 * TICK),
        untimed(1), // tick 101: fires the dead timer of 101, compacts 102..=169 away
        Op::Advance(TICK),
        untimed(2),  // tick 102: the gate (128) is shut
        timed(3, 0), // its own tick opens the gate: reclaimed by its own write
    ];
    run(&mut exact, &ops);
    assert_eq!(exact.cache().stats().expirations, 1);
    assert_eq!(exact.cache().len(), 3, "keys 0, 1 and 2 remain");
}

/// Time-to-idle is sliding expiration: an entry starts with `min(ttl, tti)` (here 10
/// ticks of a 1000-tick TTL), each hit moves its deadline to `now + tti` only if that is
/// later, and a read never shortens it. The timer, scheduled at the first deadline,
/// fires there, finds the deadline moved and reschedules it.
#[test]
fn time_to_idle_reads_never_shorten_the_deadline() {
    let mut cfg = single(8, false, 8);
    cfg.time_to_idle = Some(10 * TICK);
    let mut exact = Exact::new(cfg);
    let ops = [
        timed(0, 1000), // deadline: tick 10, not 1000
        Op::Get(0),     // tick 0: now + tti is not later, nothing moves
        Op::Advance(TICK),
        untimed(1), // tick 1: the gate stays shut (the timer sits at tick 10)
        Op::Advance(5 * TICK),
        Op::Get(0), // tick 6: the deadline moves to tick 16
        Op::Advance(5 * TICK),
        Op::RunPendingTasks, // tick 11: the timer fires and is rescheduled at tick 16
    ];
    run(&mut exact, &ops);
    let left = Some(Some(std::time::Duration::from_nanos(5 * TICK)));
    assert_eq!(
        exact.cache().remaining_ttl("k0"),
        left,
        "extended to tick 16"
    );
    run(&mut exact, &[Op::Advance(5 * TICK - 1), Op::Peek(0)]);
    assert_eq!(
        exact.cache().peek("k0").map(|v| v.0),
        Some(1),
        "alive 1 ns before"
    );
    run(&mut exact, &[Op::Advance(1), Op::RunPendingTasks]);
    assert_eq!(exact.cache().len(), 1, "reclaimed at tick 16");
    assert_eq!(exact.cache().stats().expirations, 1);
}

/// Entries past their deadline that no timer has reclaimed yet: `iter` skips them while
/// `len` counts them; `remove` of one returns `None` and counts an expiration; an insert
/// over one is a fresh insertion; `retain` expires them without asking its predicate.
#[test]
fn expired_entries_are_never_seen_live() {
    let mut exact = Exact::new(single(8, false, 8));
    let ops = [timed(0, 2), timed(1, 2), untimed(3), Op::Advance(2 * TICK)];
    run(&mut exact, &ops);
    assert_eq!(exact.cache().len(), 3, "nothing reclaimed them yet");
    assert_eq!(exact.cache().iter().count(), 1, "iter skips them");
    run(&mut exact, &[Op::Remove(0), untimed(1)]);
    let stats = exact.cache().stats();
    assert_eq!((stats.removals, stats.replacements), (0, 0));
    assert_eq!((stats.expirations, stats.insertions), (2, 4));
    // This write's tick was already advanced to: the timer waits in the wheel.
    run(&mut exact, &[timed(2, 1), Op::Advance(TICK)]);
    let mut asked = Vec::new();
    let removed = exact.cache().retain(|k, _| {
        asked.push(k.clone());
        true
    });
    assert_eq!(removed, 0);
    asked.sort();
    let unexpired = [driver::KEYS[3], driver::KEYS[1]]; // keys 3 and 1, sorted
    assert_eq!(
        asked, unexpired,
        "the expired key 2 is not shown to the predicate"
    );
    assert_eq!(exact.cache().stats().expirations, 3);
}

/// The hand's victim, when past its deadline, is reported and counted as expired.
#[test]
fn expired_victim_of_the_hand_counts_as_expired() {
    let mut exact = Exact::new(single(2, false, 4));
    let ops = [
        timed(0, 1000),
        untimed(1),
        Op::Advance(1000 * TICK),
        untimed(2),
        untimed(3),
    ];
    run(&mut exact, &ops);
    let stats = exact.cache().stats();
    assert_eq!((stats.expirations, stats.evictions), (1, 1), "{stats:?}");
}

/// A timer takes the entry's deadline when it is scheduled, at the insert; a
/// time-to-idle read that moves the deadline later does not move the timer, which fires
/// at the old deadline, finds the new one and reschedules itself. That shows in the write
/// gate: the timer sits at tick 10, so the write at tick 10 advances the wheel (and
/// reschedules the timer at tick 15), and the zero-TTL insert after it, in the same tick,
/// waits for the next tick's write.
#[test]
fn timer_takes_the_deadline_at_schedule_time() {
    let mut cfg = single(8, false, 8);
    cfg.time_to_idle = Some(10 * TICK);
    let mut exact = Exact::new(cfg);
    let ops = [
        timed(0, 1000), // tick 0: deadline tick 10, and so is the timer
        Op::Advance(5 * TICK),
        Op::Get(0), // the deadline moves to tick 15; the timer stays at 10
        Op::Advance(TICK),
        untimed(1), // tick 6: the gate (10) is shut
        Op::Advance(4 * TICK),
        untimed(2),  // tick 10: advances; the timer fires and moves to tick 15
        timed(3, 0), // this tick was already advanced to: it waits
    ];
    run(&mut exact, &ops);
    assert_eq!(exact.cache().len(), 4, "the zero-TTL entry waits");
    assert_eq!(exact.cache().stats().expirations, 0);
    run(&mut exact, &[Op::Advance(TICK), untimed(4)]);
    assert_eq!(exact.cache().stats().expirations, 1, "tick 11 reclaims it");
    assert!(exact.cache().contains_key("k0"), "k0 lives until tick 15");
}

/// `peek` is documented to count neither a hit nor a miss (`Cache::peek`, and
/// `CacheStats::hits` counts `get` / `contains_key` only).
#[test]
fn peek_counts_no_statistics() {
    let cache = clockwheel::Cache::<&str, u32>::builder()
        .max_capacity(4)
        .shards(1)
        .build()
        .unwrap();
    cache.insert("a", 1);
    assert_eq!(cache.peek("a"), Some(1));
    assert_eq!(cache.peek("b"), None);
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (0, 0),
        "peek counted: {stats:?}"
    );
}
