//! The harness of the loom models: tracked values that detect use after free, double
//! drop and leaks; one model run (a one-shard, one-bucket cache with a mock clock and a
//! logging listener); the quiescent checks; and the `model` runner that times each model.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clockwheel::{Cache, CacheBuilder, RemovalCause};
use loom::thread;
use quanta::{Clock, Mock};

// ---------------------------------------------------------------- tracked values

/// Live tracked values: allocation id -> model run. Plain `std` (not loom): this is
/// instrumentation, and loom runs one model thread at a time, so the lock is never
/// contended across a loom scheduling point.
static LIVE: Mutex<Option<HashMap<u64, u64>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn live() -> std::sync::MutexGuard<'static, Option<HashMap<u64, u64>>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

const CANARY: u64 = 0x5afe_c0de_5afe_c0de;

/// A cache value that detects use after free, double drop and leaks.
///
/// `origin` names the `Val::new` this value was cloned from: it identifies the node
/// that carries it, since every insert in a model inserts a fresh origin.
#[derive(Debug)]
pub(crate) struct Val {
    id: u64,
    run: u64,
    origin: u64,
    canary: u64,
}

impl Val {
    fn new(run: u64) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        live().get_or_insert_with(HashMap::new).insert(id, run);
        Val {
            id,
            run,
            origin: id,
            canary: CANARY ^ id,
        }
    }

    /// Checks that this value is still alive, then names its node.
    pub(crate) fn origin(&self) -> u64 {
        let canary = unsafe { std::ptr::read_volatile(&self.canary) };
        assert_eq!(
            canary ^ self.id,
            CANARY,
            "use after free: read a value whose node was already destroyed"
        );
        assert!(
            live().as_ref().is_some_and(|l| l.contains_key(&self.id)),
            "use after free: value {} was already dropped",
            self.id
        );
        self.origin
    }
}

impl Clone for Val {
    fn clone(&self) -> Self {
        let origin = self.origin();
        let mut v = Val::new(self.run);
        v.origin = origin;
        v
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        let canary = unsafe { std::ptr::read_volatile(&self.canary) };
        let was_live = live().as_mut().and_then(|l| l.remove(&self.id)).is_some();
        if !std::thread::panicking() {
            assert_eq!(canary ^ self.id, CANARY, "dropped a destroyed value");
            assert!(was_live, "value {} dropped twice", self.id);
        }
        // Poison, so that a later read through a dangling node fails the canary check.
        unsafe { std::ptr::write_volatile(&mut self.canary, 0) };
    }
}

// ---------------------------------------------------------------- one model run

pub(crate) type Key = u8;
type Log = Arc<Mutex<Vec<(Key, u64, RemovalCause)>>>;

/// The time-to-live of every model that sets one.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// One execution of a model: the cache, its mock clock, the listener's log, and every
/// origin inserted.
pub(crate) struct Run {
    id: u64,
    pub(crate) cache: Cache<Key, Val>,
    mock: Arc<Mock>,
    log: Log,
    inserted: Mutex<Vec<(Key, u64)>>,
}

impl Run {
    /// A one-shard cache whose keys all share one bucket chain, without expiry.
    pub(crate) fn new(capacity: u64) -> Arc<Run> {
        Run::with(capacity, |b| b)
    }

    /// As [`Run::new`], with the builder adjusted by `configure` (TTL settings). The
    /// clock is always a mock, so time moves only when a model says so.
    pub(crate) fn with(
        capacity: u64,
        configure: impl FnOnce(CacheBuilder<Key, Val>) -> CacheBuilder<Key, Val>,
    ) -> Arc<Run> {
        let log: Log = Arc::default();
        let sink = Arc::clone(&log);
        let (clock, mock) = Clock::mock();
        let builder = Cache::builder()
            .max_capacity(capacity)
            .shards(1)
            .estimated_entries(1)
            .clock(clock)
            .eviction_listener(move |k: &Key, v: &Val, cause| {
                let origin = v.origin();
                sink.lock().unwrap().push((*k, origin, cause));
            });
        Arc::new(Run {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            cache: configure(builder).build().unwrap(),
            mock,
            log,
            inserted: Mutex::new(Vec::new()),
        })
    }

    /// Inserts a fresh value; returns its origin and the origin of the value it replaced.
    pub(crate) fn insert(&self, key: Key) -> (u64, Option<u64>) {
        let val = Val::new(self.id);
        let origin = val.origin;
        self.inserted.lock().unwrap().push((key, origin));
        let old = self.cache.insert(key, val);
        (origin, old.map(|v| v.origin()))
    }

    pub(crate) fn get(&self, key: Key) -> Option<u64> {
        self.cache.get(&key).map(|v| v.origin())
    }

    pub(crate) fn remove(&self, key: Key) -> Option<u64> {
        self.cache.remove(&key).map(|v| v.origin())
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.mock.increment(by);
    }

    pub(crate) fn log(&self) -> Vec<(Key, u64, RemovalCause)> {
        self.log.lock().unwrap().clone()
    }

    /// Why the node carrying `origin` left the cache (`None`: it did not).
    pub(crate) fn cause_of(&self, origin: u64) -> Option<RemovalCause> {
        self.log()
            .iter()
            .find(|(_, o, _)| *o == origin)
            .map(|(_, _, c)| *c)
    }

    /// The live entries, as key -> origin.
    fn entries(&self) -> HashMap<Key, u64> {
        let mut map = HashMap::new();
        for (k, v) in self.cache.iter() {
            assert!(
                map.insert(k, v.origin()).is_none(),
                "iter yields a key twice"
            );
        }
        map
    }

    /// The invariants every model checks at quiescence; returns the live entries.
    pub(crate) fn check(&self) -> HashMap<Key, u64> {
        if let Err(e) = self.cache.validate() {
            panic!("validate: {e}");
        }
        let entries = self.entries();
        assert_eq!(self.cache.len(), entries.len());
        assert_eq!(self.cache.weighted_size(), entries.len() as u64);
        let log = self.log();
        let inserted = self.inserted.lock().unwrap().clone();
        check_reports(&log, &inserted, &entries);
        let count = |c| log.iter().filter(|(_, _, cause)| *cause == c).count() as u64;
        let stats = self.cache.stats();
        assert_eq!(stats.evictions, count(RemovalCause::Evicted), "{stats:?}");
        assert_eq!(stats.removals, count(RemovalCause::Removed), "{stats:?}");
        assert_eq!(
            stats.replacements,
            count(RemovalCause::Replaced),
            "{stats:?}"
        );
        assert_eq!(stats.expirations, count(RemovalCause::Expired), "{stats:?}");
        assert_eq!(
            stats.insertions + stats.replacements,
            inserted.len() as u64,
            "every insert is counted once: {stats:?}"
        );
        entries
    }
}

/// Each node leaves the cache at most once and is then no longer live; every node
/// inserted is either live or reported gone (no value lost).
fn check_reports(
    log: &[(Key, u64, RemovalCause)],
    inserted: &[(Key, u64)],
    entries: &HashMap<Key, u64>,
) {
    let mut gone = HashSet::new();
    for (k, origin, cause) in log {
        assert!(
            gone.insert(*origin),
            "node {origin} reported twice: {log:?}"
        );
        assert!(
            inserted.contains(&(*k, *origin)),
            "reported an unknown node"
        );
        assert_ne!(entries.get(k), Some(origin), "{cause:?} node still live");
    }
    for (k, origin) in inserted {
        assert!(
            entries.get(k) == Some(origin) || gone.contains(origin),
            "node {origin} of key {k} vanished without a report: {log:?}"
        );
    }
}

/// How much of a model's state space to explore.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// Preemptions per execution, capped by `LOOM_MAX_PREEMPTIONS` (default 2).
    pub(crate) preemptions: usize,
    /// Stop after this many executions: a partial, depth-first exploration for models
    /// whose whole space is too large for CI (what it finds is real; what it misses is
    /// not ruled out). `None`: explore everything.
    pub(crate) executions: Option<usize>,
}

/// Runs `body` as a loom model named `name`, exploring it completely; see [`model_with`].
pub(crate) fn model(name: &str, body: impl Fn() -> u64 + Sync + Send + 'static) {
    let all = Limits {
        preemptions: usize::MAX,
        executions: None,
    };
    model_with(name, all, body);
}

/// Runs `body` as a loom model named `name` within `limits`, and prints its execution
/// count, wall time and CPU time. After each execution, checks that every value created
/// in it was dropped exactly once (the cache's `Drop` and the epoch freed every node).
///
/// Defaults, each overridden by its environment variable: `LOOM_MAX_PREEMPTIONS=2`, and
/// `LOOM_MAX_BRANCHES=100000` (every engine operation pins a freshly registered epoch
/// participant, so one execution makes a few thousand atomic accesses).
pub(crate) fn model_with(
    name: &str,
    limits: Limits,
    body: impl Fn() -> u64 + Sync + Send + 'static,
) {
    let mut builder = loom::model::Builder::new();
    let bound = builder
        .preemption_bound
        .unwrap_or(2)
        .min(limits.preemptions);
    builder.preemption_bound = Some(bound);
    builder.max_permutations = match (builder.max_permutations, limits.executions) {
        (Some(env), Some(ours)) => Some(env.min(ours)),
        (env, ours) => env.or(ours),
    };
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = 100_000;
    }
    let cap = builder.max_permutations;
    if cap.is_some() {
        // Loom checks the cap only every `checkpoint_interval` executions.
        builder.checkpoint_interval = 1;
    }
    let iterations = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&iterations);
    let (wall, cpu) = (Instant::now(), thread_cpu_secs());
    builder.check(move || {
        count.fetch_add(1, Ordering::Relaxed);
        let run = body();
        assert_no_leak(run);
    });
    let done = iterations.load(Ordering::Relaxed);
    let scope = match cap {
        Some(cap) if done as usize + 1 >= cap => "partial: execution cap reached",
        _ => "complete",
    };
    eprintln!(
        "loom model {name}: {done} executions ({scope}), preemptions <= {bound}, \
         {:.1} s wall, {:.1} s cpu",
        wall.elapsed().as_secs_f64(),
        thread_cpu_secs() - cpu
    );
}

/// CPU time of the calling OS thread (loom runs a model's threads as coroutines on it),
/// from `/proc/thread-self/stat`; 0 where that is unavailable.
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// Every value created by model run `run` has been dropped.
fn assert_no_leak(run: u64) {
    let leaked: Vec<u64> = live()
        .as_ref()
        .map(|l| {
            l.iter()
                .filter(|(_, r)| **r == run)
                .map(|(id, _)| *id)
                .collect()
        })
        .unwrap_or_default();
    assert!(
        leaked.is_empty(),
        "leaked values (nodes never freed): {leaked:?}"
    );
}

/// Spawns `f` on a loom thread with its own handle to the run.
pub(crate) fn spawn<R: Send + 'static>(
    run: &Arc<Run>,
    f: impl FnOnce(&Run) -> R + Send + 'static,
) -> thread::JoinHandle<R> {
    let run = Arc::clone(run);
    thread::spawn(move || f(&run))
}

/// Finishes a run: drops the cache and returns the id the leak check looks for.
pub(crate) fn finish(run: Arc<Run>) -> u64 {
    let run = Arc::into_inner(run).expect("threads joined");
    run.id
}
