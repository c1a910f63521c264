//! Single-flight loading with blocking callers (threads), plus deterministic async
//! interleavings driven by hand-polling (no executor): who leads, who waits, what every
//! waiter receives, and that no record outlives its load.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use clockwheel::{Cache, LoadError, LoadOptions};

fn cache() -> Cache<u64, u64> {
    Cache::with_capacity(10_000).unwrap()
}

/// Spins (yielding the CPU) until `cond` holds; panics after 30 s so a bug fails the
/// test instead of hanging it.
fn until(cond: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < give_up, "condition not reached in 30 s");
        thread::yield_now();
    }
}

#[test]
fn thousand_concurrent_misses_run_one_load() {
    const CALLERS: usize = 1_000;
    let cache = cache();
    let loads = AtomicUsize::new(0);
    let start = Barrier::new(CALLERS);
    let values: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    cache.get_or_insert_with(7, || {
                        loads.fetch_add(1, SeqCst);
                        // Hold the load until every other caller waits on it.
                        until(|| cache.load_waiters(&7) == Some(CALLERS - 1));
                        49
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(loads.load(SeqCst), 1);
    assert!(values.iter().all(|&v| v == 49));
    assert_eq!(cache.stats().misses, CALLERS as u64);
    assert_eq!(cache.get(&7), Some(49));
    assert_eq!(cache.load_waiters(&7), None);
}

#[derive(Debug, PartialEq)]
struct OriginDown(usize);

#[test]
fn a_failing_load_reaches_every_waiter_and_is_not_cached() {
    const CALLERS: usize = 32;
    let cache = cache();
    let loads = AtomicUsize::new(0);
    let results: Vec<Result<u64, Arc<OriginDown>>> = thread::scope(|s| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|_| {
                s.spawn(|| {
                    cache.try_get_or_insert_with(1, || {
                        let n = loads.fetch_add(1, SeqCst);
                        until(|| cache.load_waiters(&1) == Some(CALLERS - 1));
                        Err(OriginDown(n))
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(loads.load(SeqCst), 1);
    let first = results[0].as_ref().unwrap_err();
    for r in &results {
        // One shared error: every waiter holds the leader's very allocation.
        assert!(Arc::ptr_eq(r.as_ref().unwrap_err(), first));
    }
    assert_eq!(**first, OriginDown(0));
    assert_eq!(cache.get(&1), None, "an error must not be cached");
    let again = cache.try_get_or_insert_with(1, || {
        loads.fetch_add(1, SeqCst);
        Ok::<_, OriginDown>(11)
    });
    assert_eq!(again.unwrap(), 11);
    assert_eq!(loads.load(SeqCst), 2, "the next call loads again");
}

#[test]
fn a_panicking_loader_hands_the_load_to_a_waiter() {
    const WAITERS: usize = 16;
    let cache = cache();
    let takeovers = AtomicUsize::new(0);
    thread::scope(|s| {
        let leader = s.spawn(|| {
            cache.get_or_insert_with(3, || {
                until(|| cache.load_waiters(&3) == Some(WAITERS));
                panic!("loader bug");
            })
        });
        until(|| cache.load_waiters(&3).is_some());
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                s.spawn(|| {
                    // A stranded waiter fails after 30 s instead of hanging the test, and
                    // one woken only by its deadline fails the elapsed-time check.
                    let patient = LoadOptions::default().with_timeout(Duration::from_secs(30));
                    let begun = Instant::now();
                    let r = cache.try_get_or_insert_with_options(3, patient, || {
                        takeovers.fetch_add(1, SeqCst);
                        Ok::<_, ()>(9)
                    });
                    assert!(begun.elapsed() < Duration::from_secs(15), "not woken");
                    r.expect("a waiter is stranded")
                })
            })
            .collect();
        assert!(
            leader.join().is_err(),
            "the leader's panic reaches its caller"
        );
        for w in waiters {
            assert_eq!(w.join().unwrap(), 9);
        }
    });
    assert_eq!(takeovers.load(SeqCst), 1, "exactly one waiter takes over");
    assert_eq!(cache.load_waiters(&3), None);
    // Nothing is poisoned: the key and others load normally afterwards.
    assert_eq!(cache.get_or_insert_with(3, || unreachable!()), 9);
    assert_eq!(cache.get_or_insert_with(4, || 16), 16);
}

#[test]
fn a_panic_with_no_waiters_leaves_nothing_behind() {
    let cache = cache();
    let r = catch_unwind(AssertUnwindSafe(|| {
        cache.get_or_insert_with(5, || panic!("boom"))
    }));
    assert!(r.is_err());
    assert_eq!(cache.load_waiters(&5), None);
    assert_eq!(cache.get_or_insert_with(5, || 25), 25);
}

#[test]
fn a_waiter_gives_up_at_its_timeout_while_the_load_goes_on() {
    let cache = &cache();
    let (release, hold) = mpsc::channel::<()>();
    thread::scope(|s| {
        let leader = s.spawn(move || {
            cache.get_or_insert_with(8, || {
                hold.recv().unwrap();
                64
            })
        });
        until(|| cache.load_waiters(&8).is_some());
        let timeout = Duration::from_millis(50);
        let options = LoadOptions::default().with_timeout(timeout);
        let started = Instant::now();
        let r = cache.try_get_or_insert_with_options(8, options, || Ok::<u64, ()>(0));
        assert!(matches!(r, Err(LoadError::TimedOut(t)) if t == timeout));
        assert!(started.elapsed() >= timeout);
        release.send(()).unwrap();
        assert_eq!(leader.join().unwrap(), 64);
    });
    assert_eq!(cache.get(&8), Some(64));
}

#[test]
fn a_waiter_with_another_error_type_loads_for_itself() {
    let cache = cache();
    thread::scope(|s| {
        let leader = s.spawn(|| {
            cache.try_get_or_insert_with(2, || {
                until(|| cache.load_waiters(&2) == Some(1));
                Err::<u64, _>("text error")
            })
        });
        until(|| cache.load_waiters(&2).is_some());
        let other = cache.try_get_or_insert_with(2, || Ok::<_, std::io::Error>(4));
        assert_eq!(other.unwrap(), 4);
        assert_eq!(*leader.join().unwrap().unwrap_err(), "text error");
    });
    assert_eq!(cache.get(&2), Some(4));
}

#[test]
fn the_loaded_entry_takes_the_ttl_of_the_options() {
    let (clock, mock) = quanta::Clock::mock();
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(10)
        .clock(clock)
        .build()
        .unwrap();
    let options = LoadOptions::default().with_ttl(Some(Duration::from_secs(5)));
    let v = cache.try_get_or_insert_with_options(1, options, || Ok::<_, ()>(1));
    assert_eq!(v.unwrap(), 1);
    mock.increment(Duration::from_secs(6));
    assert_eq!(cache.get(&1), None);
}

// ---- Deterministic async interleavings, polled by hand -----------------------------

/// A loader future that stays pending until `go` is set, counting its polls.
struct Gate {
    go: Arc<AtomicBool>,
    value: u64,
}

impl Future for Gate {
    type Output = u64;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u64> {
        if self.go.load(SeqCst) {
            Poll::Ready(self.value)
        } else {
            Poll::Pending
        }
    }
}

fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

#[test]
fn a_dropped_leader_future_hands_the_load_to_a_waiter() {
    let cache = cache().to_async();
    let never = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(true));
    let mut leader = Box::pin(cache.get_or_insert_with(
        1,
        Gate {
            go: never,
            value: 0,
        },
    ));
    assert!(poll_once(leader.as_mut()).is_pending());
    let mut waiters: Vec<_> = (0..3)
        .map(|i| {
            Box::pin(cache.get_or_insert_with(
                1,
                Gate {
                    go: go.clone(),
                    value: 10 + i,
                },
            ))
        })
        .collect();
    for w in &mut waiters {
        assert!(poll_once(w.as_mut()).is_pending());
    }
    assert_eq!(cache.load_waiters(&1), Some(3));
    drop(leader); // cancelled mid-load
                  // The first waiter polled again leads with its own loader; the others then get its value.
    let values: Vec<u64> = waiters
        .iter_mut()
        .map(|w| match poll_once(w.as_mut()) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("a waiter is stranded"),
        })
        .collect();
    assert_eq!(values, vec![10, 10, 10]);
    assert_eq!(cache.load_waiters(&1), None);
}

#[test]
fn a_blocking_caller_waits_on_an_async_leader() {
    let sync = cache();
    let cache = sync.to_async();
    let go = Arc::new(AtomicBool::new(false));
    let mut leader = Box::pin(cache.get_or_insert_with(
        6,
        Gate {
            go: go.clone(),
            value: 36,
        },
    ));
    assert!(poll_once(leader.as_mut()).is_pending());
    thread::scope(|s| {
        let waiter = s.spawn(|| sync.get_or_insert_with(6, || unreachable!("waits instead")));
        until(|| sync.load_waiters(&6) == Some(1));
        go.store(true, SeqCst);
        assert_eq!(poll_once(leader.as_mut()), Poll::Ready(36));
        assert_eq!(waiter.join().unwrap(), 36);
    });
}

#[test]
fn a_dropped_waiter_leaves_the_others_working() {
    let cache = cache().to_async();
    let go = Arc::new(AtomicBool::new(false));
    let mut leader = Box::pin(cache.get_or_insert_with(
        2,
        Gate {
            go: go.clone(),
            value: 4,
        },
    ));
    assert!(poll_once(leader.as_mut()).is_pending());
    let mut quitter = Box::pin(cache.get_or_insert_with(2, async { 0 }));
    let mut stayer = Box::pin(cache.get_or_insert_with(2, async { 0 }));
    assert!(poll_once(quitter.as_mut()).is_pending());
    assert!(poll_once(stayer.as_mut()).is_pending());
    drop(quitter);
    go.store(true, SeqCst);
    assert_eq!(poll_once(leader.as_mut()), Poll::Ready(4));
    assert_eq!(poll_once(stayer.as_mut()), Poll::Ready(4));
}

// ---- Each cache owns its in-flight table -------------------------------------------

#[test]
fn caches_of_one_type_do_not_share_flights() {
    let (a, b) = (cache(), cache());
    let v = a.get_or_insert_with(1, || {
        assert_eq!((a.load_waiters(&1), b.load_waiters(&1)), (Some(0), None));
        // Would wait for itself if the two caches shared a record for key 1.
        b.get_or_insert_with(1, || 2) + 1
    });
    assert_eq!((v, b.get(&1)), (3, Some(2)));
}

#[test]
fn a_leaked_leader_keeps_neither_the_cache_nor_its_values_alive() {
    let cache = Cache::<u64, Arc<u64>>::with_capacity(10)
        .unwrap()
        .to_async();
    let value = Arc::new(7);
    let stored = Arc::downgrade(&value);
    futures::executor::block_on(cache.insert(0, value));
    let go = Arc::new(AtomicBool::new(false));
    let mut leader =
        Box::pin(cache.get_or_insert_with(1, async { Arc::new(Gate { go, value: 1 }.await) }));
    assert!(poll_once(leader.as_mut()).is_pending());
    std::mem::forget(leader); // its `Lead` guard never runs
    assert_eq!(cache.load_waiters(&1), Some(0));
    drop(cache);
    assert!(stored.upgrade().is_none(), "the cache was not freed");
}

#[test]
fn a_waiter_armed_with_a_timeout_does_not_keep_the_cache_alive() {
    let cache = Cache::<u64, Arc<u64>>::with_capacity(10)
        .unwrap()
        .to_async();
    let go = Arc::new(AtomicBool::new(false));
    let mut leader = Box::pin(cache.get_or_insert_with(1, async {
        Arc::new(
            Gate {
                go: go.clone(),
                value: 5,
            }
            .await,
        )
    }));
    assert!(poll_once(leader.as_mut()).is_pending());
    // The waiter arms the timer thread with an hour-long deadline.
    let options = LoadOptions::default().with_timeout(Duration::from_secs(3600));
    let load = cache.try_get_or_insert_with_options(1, options, async { Ok::<_, ()>(Arc::new(0)) });
    let mut waiter = Box::pin(load);
    assert!(poll_once(waiter.as_mut()).is_pending());
    go.store(true, SeqCst);
    let loaded = match poll_once(leader.as_mut()) {
        Poll::Ready(v) => Arc::downgrade(&v),
        Poll::Pending => panic!("the leader's loader is ready"),
    };
    assert!(matches!(poll_once(waiter.as_mut()), Poll::Ready(Ok(v)) if *v == 5));
    drop((leader, waiter));
    drop(cache);
    assert!(
        loaded.upgrade().is_none(),
        "the loaded value outlived its cache"
    );
}
