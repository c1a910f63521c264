//! Proptest state-machine test: random operation sequences against the reference model
//! in `support/model.rs`, checked after every operation (see `support/driver.rs`).
//!
//! - Single-shard caches (capacity 1..=8, by count and by weight, CLOCK and FIFO) and
//!   sharded caches with a deterministic hasher are compared *exactly*: every return
//!   value, the full contents, `len`, `weighted_size`, the listener log, the statistics
//!   counters, and `validate()`.
//! - Sharded caches with the default random hasher are checked for containment: the
//!   cache holds exactly the last inserted value of every key not removed or reported
//!   evicted since, each eviction was needed, every insert that fits is readable at once.
//!
//! `PROPTEST_CASES` overrides the case count of every property.

#[path = "support/driver.rs"]
mod driver;
#[path = "support/model.rs"]
mod model;

use driver::{Config, Exact, Op, Tracked, PATTERNS};
use model::{Cause, Model, Policy};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

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

fn op() -> impl Strategy<Value = Op> {
    let key = any::<u8>();
    prop_oneof![
        8 => (key, weight()).prop_map(|(key, weight)| Op::Insert { key, weight }),
        2 => (key, weight()).prop_map(|(key, weight)| Op::TryInsert { key, weight }),
        4 => key.prop_map(Op::Get),
        1 => key.prop_map(Op::GetWith),
        2 => key.prop_map(Op::Peek),
        2 => key.prop_map(Op::Contains),
        2 => key.prop_map(Op::Remove),
        1 => key.prop_map(Op::Invalidate),
        1 => Just(Op::Clear),
        1 => (1u8..=4, 0u8..4).prop_map(|(modulus, residue)| Op::Retain { modulus, residue }),
        1 => (0..=PATTERNS.len() as u8).prop_map(Op::RemoveMatching),
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
    let mut tracked = Tracked::new(cfg);
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
