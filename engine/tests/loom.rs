//! Loom models of the engine's lock-free protocols: the table (hazards 1, 4, 9 of
//! `docs/architecture.md`), the CLOCK hand and reclamation (hazards 2, 3, 5, 6) and the
//! per-entry TTL timers (inbox, wheel and expiry-on-read; issue 3).
//!
//! Run with `.ci/loom`, which amounts to
//! `RUSTFLAGS="--cfg clockwheel_loom --cfg crossbeam_loom --cfg crossbeam_sanitize"
//!  LOOM_MAX_PREEMPTIONS=2 cargo test -p clockwheel --release --test loom -- --nocapture`
//! in a target directory of its own; each model prints its execution count and time.
//!
//! Every model drives the public API of a one-shard, one-bucket cache (so every key
//! shares one chain, one CLOCK queue and one timing wheel, and the hasher's seed cannot
//! change the schedule) on a mock clock, with two threads doing one operation each, then
//! joins and checks (`harness.rs`):
//! - the outcomes the threads saw form a linearizable history;
//! - `validate()`: no key with two live nodes, dead nodes unlinked, every live node queued
//!   once and, if it can expire, holding one timer; `len`, the dead-node and timer counts
//!   and `weighted_size` recomputed exactly; the cache within capacity at quiescence;
//! - the accounting: every node that left the cache was reported to the listener exactly
//!   once with one cause, the statistics agree with those reports, and no inserted value
//!   vanished unreported;
//! - memory: values check a canary on every clone (a read of a node freed too early
//!   panics), refuse to be dropped twice, and must all be dropped once the cache is (no
//!   leak, no double free); `crossbeam_sanitize` makes the epoch reclaim eagerly.

#![cfg(clockwheel_loom)]

#[path = "loom/harness.rs"]
mod harness;
#[path = "loom/queue.rs"]
mod queue;
#[path = "loom/ticker.rs"]
mod ticker;

use std::collections::HashMap;
use std::sync::Arc;

use clockwheel::RemovalCause::{Evicted, Expired, Removed, Replaced};
use harness::{finish, model, model_with, spawn, Key, Limits, Run, TTL};
use loom::thread;

/// For models too large to explore completely at 2 preemptions, but not at 1.
const ONE_PREEMPTION: Limits = Limits {
    preemptions: 1,
    executions: None,
};

/// For models too large to explore completely even at 1 preemption: the first
/// `executions` of loom's depth-first search. Loom first runs the spawning thread on
/// until it blocks, then varies the end of that schedule first, so the spawned thread
/// is preempted into the *end* of the main thread's operation: models using this put
/// the operation whose tail matters on the main thread.
const fn partial(executions: usize) -> Limits {
    Limits {
        preemptions: 2,
        executions: Some(executions),
    }
}

const A: Key = 1;
const B: Key = 2;
const C: Key = 3;

// ---------------------------------------------------------------- the table

/// Hazard 1: two inserts of one absent key. The head CAS lets one win; the loser must
/// find the winner's node and replace it, never link a second live node.
#[test]
fn same_key_insert_race() {
    model("same_key_insert_race", || {
        let run = Run::new(2);
        let t = spawn(&run, |r| r.insert(A));
        let (mine, my_old) = run.insert(A);
        let (theirs, their_old) = t.join().unwrap();
        let entries = run.check();
        assert_eq!(entries.len(), 1);
        // Linearizable: one insert saw the key absent, the other replaced it, and the
        // replaced node is reported exactly once, as replaced.
        let (first, last) = match (my_old, their_old) {
            (None, Some(o)) => (o, theirs),
            (Some(o), None) => (o, mine),
            other => panic!("both or neither insert saw the other: {other:?}"),
        };
        assert!(first == mine || first == theirs);
        assert_ne!(first, last);
        assert_eq!(entries[&A], last);
        assert_eq!(run.log(), vec![(A, first, Replaced)]);
        let stats = run.cache.stats();
        assert_eq!((stats.insertions, stats.replacements), (1, 1));
        finish(run)
    });
}

/// Insert (replace) and remove of one present key: the replace CAS and the remove's kill
/// race on the old node's `next`. Exactly one of them kills it.
#[test]
fn insert_vs_remove_present_key() {
    model("insert_vs_remove_present_key", || {
        let run = Run::new(2);
        let (old, _) = run.insert(A);
        let t = spawn(&run, |r| r.remove(A));
        let (new, replaced) = run.insert(A);
        let removed = t.join().unwrap();
        let entries = run.check();
        match (replaced, removed) {
            // insert, then remove
            (Some(o), Some(n)) => {
                assert_eq!((o, n), (old, new));
                assert!(entries.is_empty());
                // The two listener calls may come in either order.
                assert_eq!(run.cause_of(old), Some(Replaced));
                assert_eq!(run.cause_of(new), Some(Removed));
            }
            // remove, then insert
            (None, Some(o)) => {
                assert_eq!(o, old);
                assert_eq!(entries[&A], new);
                assert_eq!(run.log(), vec![(A, old, Removed)]);
            }
            other => panic!("not linearizable: {other:?}"),
        }
        finish(run)
    });
}

/// Insert and remove of one absent key: the remove finds nothing or the new node.
#[test]
fn insert_vs_remove_absent_key() {
    model("insert_vs_remove_absent_key", || {
        let run = Run::new(2);
        let t = spawn(&run, |r| r.remove(A));
        let (new, replaced) = run.insert(A);
        let removed = t.join().unwrap();
        let entries = run.check();
        assert_eq!(replaced, None);
        match removed {
            Some(n) => {
                assert_eq!(n, new);
                assert!(entries.is_empty());
                assert_eq!(run.cause_of(new), Some(Removed));
            }
            None => assert_eq!(entries[&A], new),
        }
        finish(run)
    });
}

/// Hazard 4: a get racing a replace sees the old value or the new one: never a miss,
/// never a freed node (the canary of `Val`).
#[test]
fn replace_vs_get() {
    model("replace_vs_get", || {
        let run = Run::new(2);
        let (old, _) = run.insert(A);
        let t = spawn(&run, |r| r.get(A));
        let (new, replaced) = run.insert(A);
        let seen = t.join().unwrap();
        assert_eq!(replaced, Some(old));
        assert!(
            seen == Some(old) || seen == Some(new),
            "get saw {seen:?} during replace {old} -> {new}"
        );
        let entries = run.check();
        assert_eq!(entries[&A], new);
        assert_eq!(run.log(), vec![(A, old, Replaced)]);
        finish(run)
    });
}

/// Hazard 9: `clear` racing an insert. An entry present for the whole `clear` is
/// removed; the racing insert may or may not survive, and is reported iff it does not.
#[test]
fn clear_vs_insert() {
    model("clear_vs_insert", || {
        let run = Run::new(2);
        let (a, _) = run.insert(A);
        let t = spawn(&run, |r| r.cache.clear());
        let (b, _) = run.insert(B);
        t.join().unwrap();
        let entries = run.check();
        assert_eq!(run.cause_of(a), Some(Removed));
        assert!(!entries.contains_key(&A));
        match run.cause_of(b) {
            Some(cause) => assert_eq!(cause, Removed),
            None => assert_eq!(entries[&B], b),
        }
        finish(run)
    });
}

// ---------------------------------------------------------------- the CLOCK hand

/// Hazard 2: a reader holds a value (inside `get_with`, across a yield) while an insert
/// evicts that entry and the epoch tries to reclaim it. The reader must still see a
/// valid value; the node must be freed exactly once, after the reader unpins.
#[test]
fn get_vs_eviction_and_reclamation() {
    model("get_vs_eviction_and_reclamation", || {
        let run = Run::new(1);
        let (a, _) = run.insert(A);
        let t = spawn(&run, |r| {
            r.cache.get_with(&A, |v| {
                thread::yield_now();
                v.origin()
            })
        });
        let (b, _) = run.insert(B);
        let seen = t.join().unwrap();
        assert!(seen.is_none() || seen == Some(a), "get saw {seen:?}");
        let entries = run.check();
        assert_eq!(entries, HashMap::from([(B, b)]));
        assert_eq!(run.log(), vec![(A, a, Evicted)]);
        finish(run)
    });
}

/// Hazard 6: a hit setting the reference bit while the hand examines the node. The bit
/// is a hint, but an atomic one: if the hand spared A, the get must have hit it.
#[test]
fn hand_vs_reference_bit() {
    model("hand_vs_reference_bit", || {
        let run = Run::new(2);
        let (a, _) = run.insert(A);
        let (b, _) = run.insert(B);
        let t = spawn(&run, |r| r.get(A));
        let (c, _) = run.insert(C);
        let seen = t.join().unwrap();
        let entries = run.check();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[&C], c);
        if entries.contains_key(&A) {
            assert_eq!(seen, Some(a), "A got a second chance without a hit");
            assert_eq!(run.log(), vec![(B, b, Evicted)]);
        } else {
            assert!(seen.is_none() || seen == Some(a));
            assert_eq!(entries[&B], b);
            assert_eq!(run.log(), vec![(A, a, Evicted)]);
        }
        finish(run)
    });
}

/// Hazards 5 and 6: two inserters each run the hand on a full cache of capacity 1.
/// `pop` gives each node to one hand, so A is evicted exactly once, and the cache ends
/// within capacity. Both inserters may see the transient overshoot (2 > 1) after
/// linking and each evict once more, so the cache may end emptier than needed
/// (over-eviction, a known imprecision of the relaxed budget), but never over capacity.
/// (Same root cause as `remove_vs_eviction_keeps_new_entry`.) Two full evicting
/// inserts take over 10 minutes even at 1 preemption: explored partially.
#[test]
fn two_evictors() {
    model_with("two_evictors", partial(150_000), || {
        let run = Run::new(1);
        let (a, _) = run.insert(A);
        let t = spawn(&run, |r| r.insert(C));
        let (b, _) = run.insert(B);
        let (c, _) = t.join().unwrap();
        let entries = run.check();
        assert!(entries.len() <= 1);
        assert!(entries.iter().all(|e| e == (&B, &b) || e == (&C, &c)));
        assert_eq!(run.cause_of(a), Some(Evicted));
        assert!(run.log().iter().all(|(_, _, cause)| *cause == Evicted));
        finish(run)
    });
}

/// Dead nodes a shard's queue may hold beyond its live count before it is compacted
/// (`COMPACT_SLACK` in `engine/src/core.rs`).
const COMPACT_SLACK: usize = 64;

/// Hazard 3: queue compaction (a rotation under the `compacting` try-flag) racing the
/// hand. A has been replaced until one more dead node triggers compaction; the replace
/// that triggers it races an insert of B that must evict. Every dead node is discarded
/// once (`validate` recomputes the dead count), the new A or B survives (or both were
/// evicted, see [`two_evictors`]), each reported once.
///
///
/// With the engine's slack of 64 dead nodes the queue holds 67 nodes, and even one
/// preemption takes well over 5 minutes: explored partially. A loom-only slack in
/// `engine/src/core.rs` (`#[cfg(clockwheel_loom)] const COMPACT_SLACK: isize = 1;`, with
/// [`COMPACT_SLACK`] here to match) would make this a small, complete model.
#[test]
fn compaction_vs_hand() {
    model_with("compaction_vs_hand", partial(20_000), || {
        let run = Run::new(1);
        // One insert and COMPACT_SLACK + 1 replaces: the next replace makes the dead
        // count exceed live + COMPACT_SLACK.
        for _ in 0..COMPACT_SLACK + 2 {
            run.insert(A);
        }
        // The replace (and its compaction, at the end of the insert) on the main thread.
        let t = spawn(&run, |r| r.insert(B));
        let (a, _) = run.insert(A);
        let (b, _) = t.join().unwrap();
        let entries = run.check();
        assert!(entries.len() <= 1);
        assert!(entries.iter().all(|e| e == (&A, &a) || e == (&B, &b)));
        finish(run)
    });
}

/// A remove and the hand kill the same node: exactly one of them accounts for it, with
/// one cause, and the cache ends within capacity. (That B survives is checked by
/// `remove_vs_eviction_keeps_new_entry`.)
#[test]
fn remove_vs_eviction() {
    model("remove_vs_eviction", || {
        let (run, a, b, removed) = remove_a_while_inserting_b();
        let entries = run.check();
        assert!(entries.is_empty() || entries == HashMap::from([(B, b)]));
        let cause = if removed == Some(a) { Removed } else { Evicted };
        assert!(removed.is_none() || removed == Some(a));
        assert_eq!(run.cause_of(a), Some(cause));
        finish(run)
    });
}

/// Over-eviction, a known limitation this model found: the insert of B can evict B
/// itself, although every sequential order of the two operations leaves exactly {B}.
/// The interleaving (capacity 1, A present):
/// 1. T1 `remove(A)`: `kill(A)` succeeds; `weighted` still counts A (1).
/// 2. T2 `insert(B)`: `make_room` pops A, finds it dead, discards it; the queue is empty,
///    so it gives up. It adds B's weight (`weighted` = 2), links B, pushes B.
/// 3. T2 `shrink_to_capacity` reads 2 > 1, pops B (bit clear) and evicts it.
/// 4. T1 subtracts A's weight: `weighted` = 0, the cache is empty.
///
/// The shrink after linking now spares the new node while anything else is evictable,
/// but here nothing else is, and it cannot tell this apparent overshoot from the real
/// one of `compaction_vs_hand`, where sparing B would leave the cache over capacity; the
/// capacity bound wins (see `shrink_to_capacity` in `engine/src/core.rs`). The cache
/// ends emptier than necessary, never fuller than its capacity, and every removal is
/// reported once (checked by `remove_vs_eviction`).
#[test]
#[ignore = "known limitation: a remove racing an insert at capacity can make the insert evict its own entry"]
fn remove_vs_eviction_keeps_new_entry() {
    model("remove_vs_eviction_keeps_new_entry", || {
        let (run, _, b, removed) = remove_a_while_inserting_b();
        let entries = run.check();
        // Only the insert of B runs a hand, so an `Evicted` B was evicted by its own insert.
        let log = run.log();
        assert_eq!(
            entries,
            HashMap::from([(B, b)]),
            "remove: {removed:?}, {log:?}"
        );
        finish(run)
    });
}

/// Capacity 1 holding A; one thread removes A while another inserts B, which must evict.
/// Returns the run, A's and B's origins, and what the remove returned.
fn remove_a_while_inserting_b() -> (Arc<Run>, u64, u64, Option<u64>) {
    let run = Run::new(1);
    let (a, _) = run.insert(A);
    let t = spawn(&run, |r| r.remove(A));
    let (b, _) = run.insert(B);
    let removed = t.join().unwrap();
    (run, a, b, removed)
}

// ---------------------------------------------------------------- TTL (issue 3)

/// A one-shard cache whose entries live [`TTL`], holding A, already past its deadline.
/// A's timer went straight into the wheel (nobody else owned it); with `drained`, the
/// wheel has also been advanced once since.
fn expired_a(drained: bool) -> (Arc<Run>, u64) {
    let run = Run::with(2, |b| b.default_ttl(TTL));
    let (a, _) = run.insert(A);
    if drained {
        run.cache.run_pending_tasks();
    }
    run.advance(TTL * 2);
    (run, a)
}

/// The wheel expiring A (its first advance since A's timer was scheduled) races a
/// remove of A. Exactly one of them kills A, and the listener and statistics agree.
#[test]
fn ttl_expire_vs_remove() {
    model("ttl_expire_vs_remove", || {
        let (run, a) = expired_a(false);
        let t = spawn(&run, |r| r.cache.run_pending_tasks());
        let removed = run.remove(A);
        t.join().unwrap();
        assert!(run.check().is_empty());
        let cause = if removed == Some(a) { Removed } else { Expired };
        assert!(removed.is_none() || removed == Some(a));
        assert_eq!(run.log(), vec![(A, a, cause)]);
        let stats = run.cache.stats();
        assert_eq!(stats.expirations + stats.removals, 1, "{stats:?}");
        finish(run)
    });
}

/// The wheel firing A's timer races a replace of A: A leaves once (expired or
/// replaced), the new entry survives with its own timer (checked by `validate`). The
/// replace advances the wheel too (amortized expiry on writes), so both threads run
/// the whole expiry path: explored with 1 preemption.
#[test]
fn ttl_expire_vs_replace() {
    model_with("ttl_expire_vs_replace", ONE_PREEMPTION, || {
        let (run, a) = expired_a(true);
        let t = spawn(&run, |r| r.cache.run_pending_tasks());
        let (new, replaced) = run.insert(A);
        t.join().unwrap();
        let entries = run.check();
        assert_eq!(entries, HashMap::from([(A, new)]));
        let cause = if replaced == Some(a) {
            Replaced
        } else {
            Expired
        };
        assert!(replaced.is_none() || replaced == Some(a));
        assert_eq!(run.log(), vec![(A, a, cause)]);
        finish(run)
    });
}

/// Two ways to expire one entry race: the wheel, and a read that finds it expired.
/// The read misses whatever happens; A is expired exactly once.
#[test]
fn ttl_wheel_vs_expiry_on_read() {
    model("ttl_wheel_vs_expiry_on_read", || {
        let (run, a) = expired_a(true);
        let t = spawn(&run, |r| r.cache.run_pending_tasks());
        let seen = run.get(A);
        t.join().unwrap();
        assert_eq!(seen, None, "read an expired entry");
        assert!(run.check().is_empty());
        assert_eq!(run.log(), vec![(A, a, Expired)]);
        finish(run)
    });
}

/// Two threads advance one shard's wheel: the `busy` try-flag lets one own it, the other
/// skips or comes after; A is expired exactly once.
#[test]
fn ttl_two_expirers() {
    model("ttl_two_expirers", || {
        let (run, a) = expired_a(false);
        let t = spawn(&run, |r| r.cache.run_pending_tasks());
        run.cache.run_pending_tasks();
        t.join().unwrap();
        assert!(run.check().is_empty());
        assert_eq!(run.log(), vec![(A, a, Expired)]);
        finish(run)
    });
}

/// Scheduling races the wheel's owner: B's timer goes straight into the wheel when its
/// `busy` flag is free, else onto the shard's lock-free inbox, which the owner drains.
/// It must land in one of them, never be lost: once time passes B's deadline, the wheel
/// expires it.
#[test]
fn ttl_schedule_vs_drain() {
    model("ttl_schedule_vs_drain", || {
        let run = Run::with(2, |b| b.default_ttl(TTL));
        let t = spawn(&run, |r| r.cache.run_pending_tasks());
        let (b, _) = run.insert(B);
        t.join().unwrap();
        assert_eq!(run.check(), HashMap::from([(B, b)]));
        run.advance(TTL * 2);
        run.cache.run_pending_tasks();
        assert!(run.check().is_empty());
        assert_eq!(run.log(), vec![(B, b, Expired)]);
        finish(run)
    });
}

/// Time-to-idle: the wheel reschedules A's timer (a read moved A's deadline) while A is
/// removed. A leaves once, as removed; the stale timer is later dropped harmlessly.
#[test]
fn ttl_reschedule_vs_remove() {
    model("ttl_reschedule_vs_remove", || {
        let run = Run::with(2, |b| b.default_ttl(TTL).time_to_idle(TTL));
        let (a, _) = run.insert(A);
        run.cache.run_pending_tasks(); // A's timer enters the wheel, due at TTL
        run.advance(TTL * 9 / 10);
        assert_eq!(run.get(A), Some(a)); // deadline moves to 1.9 TTL
        run.advance(TTL * 3 / 10); // past the timer's tick, before the deadline
        let t = spawn(&run, |r| r.cache.run_pending_tasks());
        let removed = run.remove(A);
        t.join().unwrap();
        assert_eq!(removed, Some(a));
        assert!(run.check().is_empty());
        run.advance(TTL * 2);
        run.cache.run_pending_tasks();
        assert!(run.check().is_empty());
        assert_eq!(run.log(), vec![(A, a, Removed)]);
        finish(run)
    });
}
