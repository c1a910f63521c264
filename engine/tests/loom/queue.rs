//! Loom models of the segmented queue (`engine/src/queue.rs`) on its own, with two
//! slots per segment under loom, so that a handful of operations cross segment
//! boundaries: a push that appends a segment, a pop that retires one, and a pop that
//! skips a slot claimed but not yet written (its pusher must then claim another).
//!
//! Items are distinct fake pointers (the queue never dereferences them). After the
//! threads join, the queue is drained; every model checks that each pushed item came
//! out exactly once, that one thread's items came out in its push order, and that the
//! segments the pops retired were freed by the epoch (`crossbeam_sanitize` makes it
//! reclaim eagerly; the sanitizer aborts on a use after free).

use std::sync::Arc;

use clockwheel::loom_internals::{SegmentedQueue, SEGMENT};
use crossbeam_epoch::{Collector, Shared};
use loom::thread;

type Queue = SegmentedQueue<u64>;

fn item(n: usize) -> Shared<'static, u64> {
    Shared::from((n * 8 + 8) as *const u64)
}

fn id(p: Shared<'_, u64>) -> usize {
    p.as_raw() as usize / 8 - 1
}

/// Runs `body` exhaustively (up to `LOOM_MAX_PREEMPTIONS`) with a queue and a
/// collector private to each execution.
fn queue_model(
    name: &str,
    body: impl Fn(Arc<Queue>, Arc<Collector>) -> Vec<usize> + Sync + Send + 'static,
    expected: usize,
) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(2));
    let started = std::time::Instant::now();
    builder.check(move || {
        let collector = Arc::new(Collector::new());
        let queue = Arc::new(Queue::new());
        let mut out = body(Arc::clone(&queue), Arc::clone(&collector));
        let handle = collector.register();
        let guard = handle.pin();
        while let Some(p) = queue.pop(&guard) {
            out.push(id(p));
        }
        let mut sorted = out.clone();
        sorted.sort_unstable();
        assert!(
            sorted.iter().copied().eq(0..expected),
            "items lost or duplicated: {out:?}"
        );
    });
    eprintln!(
        "loom model {name}: complete, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Two pushers fill the rest of the first segment and append the next one while a
/// popper takes the oldest items: nothing is lost or duplicated, and a pop never
/// returns an item pushed after one it has not returned yet from the same thread.
#[test]
fn queue_push_push_pop_across_segments() {
    assert_eq!(
        SEGMENT, 2,
        "the models assume two slots per segment under loom"
    );
    queue_model(
        "queue_push_push_pop_across_segments",
        |queue, collector| {
            let handle = collector.register();
            queue.push(item(0), &handle.pin());
            let pushers: Vec<_> = [(1, 2), (3, 4)]
                .into_iter()
                .map(|(a, b)| {
                    let (queue, collector) = (Arc::clone(&queue), Arc::clone(&collector));
                    thread::spawn(move || {
                        let handle = collector.register();
                        queue.push(item(a), &handle.pin());
                        queue.push(item(b), &handle.pin());
                    })
                })
                .collect();
            let mut out = Vec::new();
            for _ in 0..2 {
                if let Some(p) = queue.pop(&handle.pin()) {
                    out.push(id(p));
                }
            }
            assert!(out.first().is_none_or(|&first| first == 0), "{out:?}");
            for p in pushers {
                p.join().unwrap();
            }
            // Per-producer order, checked on what the main thread popped.
            assert!(!(out.contains(&2) && !out.contains(&1)), "{out:?}");
            assert!(!(out.contains(&4) && !out.contains(&3)), "{out:?}");
            out
        },
        5,
    );
}

/// Two poppers race over a segment boundary (one of them retires the drained first
/// segment) while a pusher appends: each item is handed out once.
#[test]
fn queue_pop_pop_retire_vs_push() {
    queue_model(
        "queue_pop_pop_retire_vs_push",
        |queue, collector| {
            let handle = collector.register();
            for n in 0..3 {
                queue.push(item(n), &handle.pin());
            }
            let popper = {
                let (queue, collector) = (Arc::clone(&queue), Arc::clone(&collector));
                thread::spawn(move || {
                    let handle = collector.register();
                    let mut got = Vec::new();
                    for _ in 0..2 {
                        if let Some(p) = queue.pop(&handle.pin()) {
                            got.push(id(p));
                        }
                    }
                    got
                })
            };
            let pusher = {
                let (queue, collector) = (Arc::clone(&queue), Arc::clone(&collector));
                thread::spawn(move || {
                    let handle = collector.register();
                    queue.push(item(3), &handle.pin());
                })
            };
            let mut out = Vec::new();
            if let Some(p) = queue.pop(&handle.pin()) {
                out.push(id(p));
            }
            let got = popper.join().unwrap();
            assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
            pusher.join().unwrap();
            out.extend(got);
            out
        },
        4,
    );
}

/// A whole-queue drain (one claim CAS per run of slots, as the wheel's owner drains a
/// timer inbox) racing two pushes across a segment boundary and a pop: every item comes
/// out once, and the drain hands out one producer's items in push order.
#[test]
fn queue_drain_vs_push_and_pop() {
    queue_model(
        "queue_drain_vs_push_and_pop",
        |queue, collector| {
            let handle = collector.register();
            queue.push(item(0), &handle.pin());
            let pusher = {
                let (queue, collector) = (Arc::clone(&queue), Arc::clone(&collector));
                thread::spawn(move || {
                    let handle = collector.register();
                    queue.push(item(1), &handle.pin());
                    queue.push(item(2), &handle.pin());
                })
            };
            let popper = {
                let (queue, collector) = (Arc::clone(&queue), Arc::clone(&collector));
                thread::spawn(move || {
                    let handle = collector.register();
                    let guard = handle.pin();
                    queue.pop(&guard).map(id)
                })
            };
            let mut out = Vec::new();
            queue.drain(&handle.pin(), |p| out.push(id(p)));
            assert!(out.windows(2).all(|w| w[0] < w[1]), "{out:?}");
            pusher.join().unwrap();
            out.extend(popper.join().unwrap());
            out
        },
        3,
    );
}
