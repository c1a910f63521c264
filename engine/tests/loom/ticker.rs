//! Loom model of the ticker's lifecycle (`engine/src/ticker.rs`): two caches each
//! subscribe, read the published clock twice and unsubscribe, while the ticker threads
//! they start run their rounds. Checks:
//! - one thread at a time: a ticker thread that is still publishing is the last one
//!   started (a second thread would mean two writers of the reading);
//! - a subscriber always finds a thread marked running;
//! - readings never go backwards while published (0 means none);
//! - once everyone is gone: no subscriber, no thread, nothing published (a stale reading
//!   would outlive its thread and break the lease).

use std::sync::Arc;

use clockwheel::loom_internals::Ticker;
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use loom::thread::{self, JoinHandle};

struct World {
    ticker: Ticker,
    /// The clock the ticker threads read: every reading is a new, larger value.
    clock: AtomicU64,
    /// How many ticker threads were started.
    started: AtomicUsize,
}

fn ticker_thread(world: Arc<World>) -> JoinHandle<()> {
    let generation = world.started.fetch_add(1, Ordering::SeqCst) + 1;
    thread::spawn(move || {
        while world
            .ticker
            .round(|| world.clock.fetch_add(1, Ordering::SeqCst) + 1)
        {
            assert_eq!(
                world.started.load(Ordering::SeqCst),
                generation,
                "a second ticker thread started while this one publishes"
            );
            thread::yield_now();
        }
    })
}

fn cache(world: Arc<World>) -> Option<JoinHandle<()>> {
    let handle = world
        .ticker
        .subscribe()
        .then(|| ticker_thread(Arc::clone(&world)));
    assert!(
        world.ticker.lifecycle().1,
        "subscribed with no thread running"
    );
    let first = world.ticker.published();
    let second = world.ticker.published();
    assert!(
        first == 0 || second == 0 || second >= first,
        "reading went back from {first} to {second}"
    );
    world.ticker.unsubscribe();
    handle
}

#[test]
fn ticker_lifecycle() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(2));
    let started = std::time::Instant::now();
    builder.check(|| {
        let world = Arc::new(World {
            ticker: Ticker::new(),
            clock: AtomicU64::new(0),
            started: AtomicUsize::new(0),
        });
        let caches: Vec<_> = (0..2)
            .map(|_| {
                let world = Arc::clone(&world);
                thread::spawn(move || cache(world))
            })
            .collect();
        for cache in caches {
            if let Some(ticker) = cache.join().unwrap() {
                ticker.join().unwrap();
            }
        }
        assert_eq!(world.ticker.lifecycle(), (0, false));
        assert_eq!(
            world.ticker.published(),
            0,
            "a stopped ticker left a reading"
        );
        assert!(world.started.load(Ordering::SeqCst) >= 1);
    });
    println!("ticker_lifecycle: {:.1?}", started.elapsed());
}
