//! The async single-flight suite, run under three executors: tokio's multi-thread
//! runtime, `futures::executor::block_on` over `join_all` (one task, one thread), and
//! `futures::executor::LocalPool` (many tasks, one thread). The engine depends on none of
//! them; a passing suite under all three shows the loaders only rely on `Waker`s.

use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use clockwheel::{AsyncCache, LoadError, LoadOptions};
use futures::future::{abortable, pending};
use futures::FutureExt;

type Task<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Runs every task to completion, concurrently, and returns their outputs in order.
trait Executor {
    fn run_all<T: Send + 'static>(tasks: Vec<Task<T>>) -> Vec<T>;
}

/// tokio's multi-thread runtime: each future a spawned task, on 4 worker threads.
struct Tokio;

impl Executor for Tokio {
    fn run_all<T: Send + 'static>(tasks: Vec<Task<T>>) -> Vec<T> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        rt.block_on(async {
            let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.expect("task panicked"));
            }
            out
        })
    }
}

/// `futures::executor::block_on(join_all(..))`: all futures in one task on this thread.
struct BlockOn;

impl Executor for BlockOn {
    fn run_all<T: Send + 'static>(tasks: Vec<Task<T>>) -> Vec<T> {
        futures::executor::block_on(futures::future::join_all(tasks))
    }
}

/// `futures::executor::LocalPool`: each future its own task, all on this thread.
struct Local;

impl Executor for Local {
    fn run_all<T: Send + 'static>(tasks: Vec<Task<T>>) -> Vec<T> {
        use futures::task::LocalSpawnExt;
        let mut pool = futures::executor::LocalPool::new();
        let slots: Arc<Mutex<Vec<Option<T>>>> =
            Arc::new(Mutex::new((0..tasks.len()).map(|_| None).collect()));
        for (i, task) in tasks.into_iter().enumerate() {
            let slots = slots.clone();
            let store = async move { slots.lock().unwrap()[i] = Some(task.await) };
            pool.spawner().spawn_local(store).unwrap();
        }
        pool.run();
        let outputs = std::mem::take(&mut *slots.lock().unwrap());
        outputs
            .into_iter()
            .map(|o| o.expect("task finished"))
            .collect()
    }
}

fn task<T>(f: impl Future<Output = T> + Send + 'static) -> Task<T> {
    Box::pin(f)
}

/// Yields to the executor once.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Yields until `cond` holds; panics after 30 s so a bug fails the test, not hangs it.
async fn until(cond: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < give_up, "condition not reached in 30 s");
        yield_now().await;
    }
}

/// Awaits the load of a caller that must not be stranded, with a 30 s timeout so that a
/// bug fails the test instead of hanging it. The result must come long before that
/// timeout: a waiter that the flight forgot to wake would only be polled again by its
/// deadline, so a slow wait fails too.
async fn patiently<F>(cache: &AsyncCache<u64, u64>, key: u64, load: F) -> u64
where
    F: Future<Output = u64>,
{
    let options = LoadOptions::default().with_timeout(Duration::from_secs(30));
    let begun = Instant::now();
    let load = async { Ok::<_, ()>(load.await) };
    let r = cache
        .try_get_or_insert_with_options(key, options, load)
        .await;
    assert!(
        begun.elapsed() < Duration::from_secs(15),
        "a waiter was not woken"
    );
    r.expect("a waiter is stranded")
}

fn new_cache() -> AsyncCache<u64, u64> {
    AsyncCache::with_capacity(10_000).unwrap()
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn thousand_misses_one_load<X: Executor>() {
    const CALLERS: usize = 1_000;
    let cache = new_cache();
    let loads = counter();
    let tasks = (0..CALLERS)
        .map(|_| {
            let (cache, loads) = (cache.clone(), loads.clone());
            task(async move {
                let watch = cache.clone();
                let load = async move {
                    loads.fetch_add(1, SeqCst);
                    // Hold the load until every other caller waits on it.
                    until(|| watch.load_waiters(&7) == Some(CALLERS - 1)).await;
                    49
                };
                cache.get_or_insert_with(7, load).await
            })
        })
        .collect();
    let values = X::run_all(tasks);
    assert_eq!(loads.load(SeqCst), 1);
    assert_eq!(values.len(), CALLERS);
    assert!(values.iter().all(|&v| v == 49));
    assert_eq!(cache.stats().misses, CALLERS as u64);
    assert_eq!(cache.load_waiters(&7), None);
}

fn dropped_leader_is_taken_over<X: Executor>() {
    const WAITERS: usize = 8;
    let cache = new_cache();
    let (started, takeovers) = (Arc::new(AtomicBool::new(false)), counter());
    let flag = started.clone();
    let stuck = async move {
        flag.store(true, SeqCst);
        pending::<u64>().await
    };
    let leading = cache.clone();
    let (leader, abort) = abortable(async move { leading.get_or_insert_with(1, stuck).await });
    let watch = cache.clone();
    let mut tasks = vec![
        task(async move { leader.await.ok() }),
        task(async move {
            until(|| watch.load_waiters(&1) == Some(WAITERS)).await;
            abort.abort(); // the leader's future is dropped mid-load
            None
        }),
    ];
    for _ in 0..WAITERS {
        let (cache, started, takeovers) = (cache.clone(), started.clone(), takeovers.clone());
        tasks.push(task(async move {
            until(|| started.load(SeqCst)).await;
            let load = async move { 100 + takeovers.fetch_add(1, SeqCst) as u64 };
            Some(patiently(&cache, 1, load).await)
        }));
    }
    let out = X::run_all(tasks);
    assert_eq!(out[0], None, "the leader was cancelled");
    assert!(out[2..].iter().all(|v| *v == Some(100)), "{out:?}");
    assert_eq!(takeovers.load(SeqCst), 1, "exactly one waiter takes over");
    assert_eq!(cache.load_waiters(&1), None);
}

#[derive(Debug, PartialEq)]
struct OriginDown(usize);

fn failing_loader_reaches_everyone<X: Executor>() {
    const CALLERS: usize = 32;
    let cache = new_cache();
    let loads = counter();
    let tasks = (0..CALLERS)
        .map(|_| {
            let (cache, loads) = (cache.clone(), loads.clone());
            task(async move {
                let watch = cache.clone();
                let load = async move {
                    let n = loads.fetch_add(1, SeqCst);
                    until(|| watch.load_waiters(&1) == Some(CALLERS - 1)).await;
                    Err::<u64, _>(OriginDown(n))
                };
                cache.try_get_or_insert_with(1, load).await
            })
        })
        .collect();
    let results = X::run_all(tasks);
    assert_eq!(loads.load(SeqCst), 1);
    let first = results[0].as_ref().unwrap_err();
    assert_eq!(**first, OriginDown(0));
    for r in &results {
        assert!(
            Arc::ptr_eq(r.as_ref().unwrap_err(), first),
            "one shared error"
        );
    }
    let cache2 = cache.clone();
    let again = X::run_all(vec![task(async move {
        cache2
            .try_get_or_insert_with(1, async { Ok::<_, OriginDown>(11) })
            .await
    })]);
    assert_eq!(again[0].as_ref().unwrap(), &11, "the next call loads again");
}

fn panicking_loader_is_taken_over<X: Executor>() {
    const WAITERS: usize = 8;
    let cache = new_cache();
    let (started, takeovers) = (Arc::new(AtomicBool::new(false)), counter());
    let (flag, watch) = (started.clone(), cache.clone());
    let bad = async move {
        flag.store(true, SeqCst);
        until(|| watch.load_waiters(&3) == Some(WAITERS)).await;
        panic!("loader bug")
    };
    let leading = cache.clone();
    let leader = async move { leading.get_or_insert_with(3, bad).await };
    let mut tasks = vec![task(async move {
        AssertUnwindSafe(leader).catch_unwind().await.ok()
    })];
    for _ in 0..WAITERS {
        let (cache, started, takeovers) = (cache.clone(), started.clone(), takeovers.clone());
        tasks.push(task(async move {
            until(|| started.load(SeqCst)).await;
            let load = async move { 9 + takeovers.fetch_add(1, SeqCst) as u64 };
            Some(patiently(&cache, 3, load).await)
        }));
    }
    let out = X::run_all(tasks);
    assert_eq!(out[0], None, "the leader's panic reaches its caller");
    assert!(out[1..].iter().all(|v| *v == Some(9)), "{out:?}");
    assert_eq!(takeovers.load(SeqCst), 1);
    assert_eq!(cache.load_waiters(&3), None);
    let cache2 = cache.clone();
    let next = X::run_all(vec![task(async move {
        cache2.get_or_insert_with(4, async { 16 }).await
    })]);
    assert_eq!(next, vec![16], "nothing poisoned");
}

fn waiter_times_out<X: Executor>() {
    let cache = new_cache();
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let stuck = async move {
        flag.store(true, SeqCst);
        pending::<u64>().await
    };
    let leading = cache.clone();
    let (leader, abort) = abortable(async move { leading.get_or_insert_with(8, stuck).await });
    let timeout = Duration::from_millis(50);
    let waiting = cache.clone();
    let tasks = vec![
        task(async move { leader.await.is_err() }),
        task(async move {
            until(|| started.load(SeqCst)).await;
            let options = LoadOptions::default().with_timeout(timeout);
            let begun = Instant::now();
            let load = async { Ok::<u64, ()>(0) };
            let r = waiting
                .try_get_or_insert_with_options(8, options, load)
                .await;
            let waited = begun.elapsed();
            abort.abort();
            matches!(r, Err(LoadError::TimedOut(t)) if t == timeout) && waited >= timeout
        }),
    ];
    // Nothing but the timer thread wakes the waiter: under `block_on` a missing wake-up
    // would hang here (and fail after the suite's time limit).
    assert_eq!(X::run_all(tasks), vec![true, true]);
}

fn leader_times_out_and_a_waiter_loads<X: Executor>() {
    let cache = new_cache();
    let (started, loads) = (Arc::new(AtomicBool::new(false)), counter());
    let flag = started.clone();
    let stuck = async move {
        flag.store(true, SeqCst);
        pending::<Result<u64, ()>>().await
    };
    let options = LoadOptions::default().with_timeout(Duration::from_millis(100));
    let (leading, waiting) = (cache.clone(), cache.clone());
    let tasks = vec![
        task(async move {
            let r = leading
                .try_get_or_insert_with_options(5, options, stuck)
                .await;
            matches!(r, Err(LoadError::TimedOut(_)))
        }),
        task(async move {
            until(|| started.load(SeqCst)).await;
            let load = async move { 25 + loads.fetch_add(1, SeqCst) as u64 };
            waiting.get_or_insert_with(5, load).await == 25
        }),
    ];
    assert_eq!(X::run_all(tasks), vec![true, true]);
    assert_eq!(cache.to_sync().get(&5), Some(25));
}

fn operations_complete_at_once<X: Executor>() {
    let cache: AsyncCache<String, u64> = AsyncCache::with_capacity(100).unwrap();
    let c = cache.clone();
    let out = X::run_all(vec![task(async move {
        c.insert("s3v:list:a".into(), 1).await;
        c.insert("s3v:model:a".into(), 2).await;
        let removed = c.remove_matching("s3v:list:*").await.unwrap();
        (
            removed,
            c.get("s3v:model:a").await,
            c.remove("s3v:model:a").await,
        )
    })]);
    assert_eq!(out, vec![(1, Some(2), Some(2))]);
    assert!(cache.to_sync().is_empty());
}

macro_rules! suite {
    ($name:ident, $executor:ty) => {
        mod $name {
            use super::*;

            #[test]
            fn thousand_concurrent_misses_run_one_load() {
                thousand_misses_one_load::<$executor>();
            }

            #[test]
            fn a_dropped_leader_future_is_taken_over_by_one_waiter() {
                dropped_leader_is_taken_over::<$executor>();
            }

            #[test]
            fn a_failing_loader_reaches_every_waiter_and_is_not_cached() {
                failing_loader_reaches_everyone::<$executor>();
            }

            #[test]
            fn a_panicking_loader_is_taken_over_and_poisons_nothing() {
                panicking_loader_is_taken_over::<$executor>();
            }

            #[test]
            fn a_waiter_times_out_without_runtime_timers() {
                waiter_times_out::<$executor>();
            }

            #[test]
            fn a_leader_that_times_out_hands_the_load_over() {
                leader_times_out_and_a_waiter_loads::<$executor>();
            }

            #[test]
            fn engine_operations_complete_at_once() {
                operations_complete_at_once::<$executor>();
            }
        }
    };
}

suite!(tokio_multi_thread, Tokio);
suite!(futures_block_on, BlockOn);
suite!(futures_local_pool, Local);
