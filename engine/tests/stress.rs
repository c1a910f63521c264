//! Multi-threaded stress tests: several threads (more than the machine has cores) mix
//! every operation over overlapping keys, then the run is checked against what the
//! callers and the eviction listener recorded.
//!
//! Checked during the run:
//! - the capacity budget: a sampler thread reads `weighted_size()` throughout; it must
//!   never exceed the capacity by more than the weight of the inserts in flight (one per
//!   worker: `docs/architecture.md`, "The capacity budget");
//! - no lost update: each worker owns some keys and writes increasing versions to them;
//!   its later reads must see exactly its last version, or nothing if the listener heard
//!   that version leave (evicted, expired, or removed by another thread's bulk call);
//!   a read of a key it removed must miss (no resurrection);
//! - reads never return an expired entry, nor a value stored under another key.
//!
//! Checked after the threads join: `validate()`, the statistics against the listener,
//! `len` against insertions minus departures, and, key by key, that every entry inserted
//! either left exactly once or is still there.
//!
//! Also here: user code that panics (hazard 10, `churn/panicky.rs`) and single-flight
//! loading under the same kind of churn (`churn/flight.rs`).
//!
//! Release builds run the full op counts (`.ci/stress`); debug builds a fiftieth of them,
//! so `cargo test --workspace` still runs every check once. `CLOCKWHEEL_STRESS_SCALE`
//! (percent) scales them further. A watchdog aborts a test still running after
//! `CLOCKWHEEL_STRESS_WATCHDOG_S` seconds (default 300), so a hang fails CI loudly.

#[path = "churn/checks.rs"]
mod checks;
mod churn;
#[path = "churn/flight.rs"]
mod flight;
#[path = "churn/panicky.rs"]
mod panicky;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use checks::{check_per_key, check_quiescent, check_totals, report, validate_settled};
use churn::{scaled, watchdog, Ledger, Rng};
use clockwheel::{Cache, EvictionPolicy, InsertError};
use quanta::{Clock, Mock};

/// The value stored: which key it belongs to, which write produced it, its weight, and
/// whether it was given a TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Val {
    id: u32,
    version: u64,
    weight: u64,
    expires: bool,
}

#[derive(Clone, Copy)]
struct Config {
    threads: usize,
    /// Keys every worker reads and writes: ids `0..shared`.
    shared: usize,
    /// Keys each worker alone writes: ids `shared + t * owned ..`.
    owned: usize,
    capacity: u64,
    /// Entries weigh `1..=max_entry_weight`; 1 means a count-bounded cache (no weigher).
    max_entry_weight: u64,
    policy: EvictionPolicy,
    shards: Option<usize>,
    /// Mock clock advanced in step with the ops, random short TTLs, a cleaner thread.
    ttl: bool,
    ops_per_thread: u64,
    /// One whole-cache operation (retain, remove_matching, iter, rarely clear) per this
    /// many ops of each worker (not scaled below 4,000 in debug builds, or the bulk
    /// removals would keep the cache too empty to evict).
    bulk_every: u64,
}

impl Config {
    fn keys(&self) -> usize {
        self.shared + self.threads * self.owned
    }

    /// The documented bound on `weighted_size()` while inserts race: the capacity plus
    /// one entry per worker (an insert that replaces counts its old weight until it
    /// returns, so "one entry" means the heaviest possible).
    fn overshoot_bound(&self) -> u64 {
        self.capacity + self.threads as u64 * self.max_entry_weight
    }
}

/// Longest TTL the TTL stress gives (mock time).
const MAX_TEST_TTL: Duration = Duration::from_millis(40);
/// Mock nanoseconds that pass per operation performed in the TTL stress.
const NANOS_PER_OP: u64 = 2_000;
/// Ops a worker performs between reports of its progress to the clock thread.
const PROGRESS_BATCH: u64 = 256;

fn key_text(cfg: &Config, id: usize) -> String {
    if id < cfg.shared {
        format!("s:{id:06}")
    } else {
        format!("o{}:{id:06}", (id - cfg.shared) / cfg.owned)
    }
}

fn key_id(key: &str) -> usize {
    let digits = key.split_once(':').expect("test keys contain ':'").1;
    digits.parse().expect("test keys end in a number")
}

/// Everything the threads share.
struct World {
    cfg: Config,
    cache: Cache<String, Val>,
    ledger: Arc<Ledger>,
    mock: Option<Arc<Mock>>,
    done: AtomicBool,
    /// Ops performed (in batches), for the clock thread.
    progress: AtomicU64,
    max_weight_seen: AtomicU64,
    /// Removals the callers saw: `remove` hits, `retain` and `remove_matching` counts.
    removed_by_calls: AtomicU64,
    cleared: AtomicBool,
    rejections: AtomicU64,
    /// Reads of owned keys made after their deadline had certainly passed.
    expired_reads: AtomicU64,
    /// Misses on owned keys seen before the listener reported the departure: the
    /// listener runs after the kill, so these are checked again after the join.
    late: Mutex<Vec<(usize, u64)>>,
}

impl World {
    fn new(cfg: Config) -> Arc<World> {
        let ledger = Arc::new(Ledger::new(cfg.keys()));
        let sink = Arc::clone(&ledger);
        let mut b = Cache::builder().policy(cfg.policy).eviction_listener(
            move |k: &String, v: &Val, cause| sink.hear(key_id(k), v.version, cause),
        );
        b = if cfg.max_entry_weight > 1 {
            b.weigher(|_k: &String, v: &Val| v.weight)
                .max_weight(cfg.capacity)
                .estimated_entries(cfg.keys())
        } else {
            b.max_capacity(cfg.capacity)
        };
        if let Some(shards) = cfg.shards {
            b = b.shards(shards);
        }
        let mut mock = None;
        if cfg.ttl {
            let (clock, m) = Clock::mock();
            // The cleaner thread advances the wheels too, racing the writers.
            b = b.clock(clock).cleanup_interval(Duration::from_micros(200));
            mock = Some(m);
        }
        Arc::new(World {
            cfg,
            cache: b.build().expect("valid stress configuration"),
            ledger,
            mock,
            done: AtomicBool::new(false),
            progress: AtomicU64::new(0),
            max_weight_seen: AtomicU64::new(0),
            removed_by_calls: AtomicU64::new(0),
            cleared: AtomicBool::new(false),
            rejections: AtomicU64::new(0),
            expired_reads: AtomicU64::new(0),
            late: Mutex::new(Vec::new()),
        })
    }

    fn now(&self) -> u64 {
        self.mock.as_ref().map_or(0, |m| m.value())
    }

    fn random_ttl(&self, rng: &mut Rng) -> Option<Duration> {
        if self.cfg.ttl {
            let max = MAX_TEST_TTL.as_nanos() as u64;
            rng.chance(80)
                .then(|| Duration::from_nanos(rng.between(max / 40, max)))
        } else {
            // A real clock and an hour: timers exist, nothing expires during the run.
            rng.chance(50).then(|| Duration::from_secs(3600))
        }
    }

    fn value(&self, id: usize, version: u64, ttl: Option<Duration>, rng: &mut Rng) -> Val {
        Val {
            id: id as u32,
            version,
            weight: rng.between(1, self.cfg.max_entry_weight),
            expires: ttl.is_some(),
        }
    }
}

/// Panics unless `v` was stored under key `id`.
fn check_belongs(v: Option<&Val>, id: usize, what: &str) {
    if let Some(v) = v {
        assert_eq!(
            v.id as usize, id,
            "{what} returned another key's value: {v:?}"
        );
    }
}

// ------------------------------------------------------------------ shared keys

fn shared_op(w: &World, rng: &mut Rng) {
    let id = rng.below(w.cfg.shared as u64) as usize;
    let key = key_text(&w.cfg, id);
    let c = &w.cache;
    match rng.below(100) {
        0..=29 => check_belongs(c.get(&key).as_ref(), id, "get"),
        30..=39 => check_belongs(c.peek(&key).as_ref(), id, "peek"),
        40..=44 => {
            let _ = c.contains_key(&key);
        }
        45..=79 => {
            let ttl = w.random_ttl(rng);
            let v = w.value(id, rng.next_u64() >> 1, ttl, rng);
            let old = c.insert_with_ttl(key, v, ttl);
            check_belongs(old.as_ref(), id, "insert");
            w.ledger.note_insert(id, old.is_some());
        }
        80..=91 => {
            let old = c.remove(&key);
            check_belongs(old.as_ref(), id, "remove");
            w.removed_by_calls
                .fetch_add(u64::from(old.is_some()), Relaxed);
        }
        92..=97 => check_belongs(c.get_with(&key, |v| *v).as_ref(), id, "get_with"),
        _ if w.cfg.max_entry_weight > 1 => too_heavy_insert(w, key, id, rng),
        _ => check_belongs(c.get(&key).as_ref(), id, "get"),
    }
}

/// An insert heavier than the whole cache must be refused and change nothing.
fn too_heavy_insert(w: &World, key: String, id: usize, rng: &mut Rng) {
    let mut v = w.value(id, 0, None, rng);
    v.weight = w.cfg.capacity + 1;
    match w.cache.try_insert(key, v) {
        Err((_, InsertError::TooHeavy { weight, .. })) => assert_eq!(weight, v.weight),
        other => panic!("too heavy insert accepted: {other:?}"),
    }
    w.rejections.fetch_add(1, Relaxed);
}

// ------------------------------------------------------------------ owned keys

/// What a worker last did to one of its keys.
#[derive(Clone, Copy, Default)]
struct Owned {
    /// The version it last wrote, when, and with which TTL; `None` once it removed the
    /// key or saw it gone.
    last: Option<(u64, u64, Option<Duration>)>,
    next_version: u64,
}

fn owned_op(w: &World, t: usize, state: &mut [Owned], rng: &mut Rng) {
    let j = rng.below(state.len() as u64) as usize;
    let id = w.cfg.shared + t * w.cfg.owned + j;
    let key = key_text(&w.cfg, id);
    let s = &mut state[j];
    match rng.below(100) {
        0..=39 => owned_insert(w, id, key, s, rng),
        40..=74 => {
            let before = w.now();
            let got = w.cache.get(&key);
            owned_read(w, id, s, got, before, "get");
        }
        75..=84 => {
            let before = w.now();
            let got = w.cache.peek(&key);
            owned_read(w, id, s, got, before, "peek");
        }
        _ => {
            let got = w.cache.remove(&key);
            w.removed_by_calls
                .fetch_add(u64::from(got.is_some()), Relaxed);
            owned_read(w, id, s, got, 0, "remove");
            s.last = None;
        }
    }
}

fn owned_insert(w: &World, id: usize, key: String, s: &mut Owned, rng: &mut Rng) {
    s.next_version += 1;
    let ttl = w.random_ttl(rng);
    let v = w.value(id, s.next_version, ttl, rng);
    let old = w.cache.insert_with_ttl(key, v, ttl);
    let written_at = w.now();
    if let Some(old) = old {
        let last = s.last.map(|l| l.0);
        assert_eq!(
            Some(old.version),
            last,
            "key {id}: insert replaced version {} but the owner last wrote {last:?}",
            old.version
        );
        assert_eq!(old.id as usize, id);
    }
    if let (None, Some((version, _, _))) = (old, s.last) {
        // The previous version must have left (maybe the listener has yet to hear it).
        if !w.ledger.key(id).heard_gone(version) {
            w.late.lock().unwrap().push((id, version));
        }
    }
    w.ledger.note_insert(id, old.is_some());
    s.last = Some((s.next_version, written_at, ttl));
}

/// Checks what a read (or remove) of an owned key returned against the owner's record.
fn owned_read(w: &World, id: usize, s: &mut Owned, got: Option<Val>, before: u64, what: &str) {
    if let (Some((_, written_at, Some(ttl))), true) = (s.last, what != "remove") {
        let deadline = written_at + ttl.as_nanos() as u64;
        if before >= deadline {
            w.expired_reads.fetch_add(1, Relaxed);
            assert!(
                got.is_none(),
                "key {id}: {what} at {before} returned an entry whose deadline was at most {deadline}"
            );
        }
    }
    match (got, s.last) {
        (Some(v), Some((version, _, _))) => assert_eq!(
            (v.id as usize, v.version),
            (id, version),
            "key {id}: {what} returned {v:?}, the owner last wrote version {version}"
        ),
        (Some(v), None) => panic!("key {id}: {what} returned {v:?} after it was removed"),
        (None, Some((version, _, _))) => {
            if !w.ledger.key(id).heard_gone(version) {
                w.late.lock().unwrap().push((id, version));
            }
            s.last = None;
        }
        (None, None) => {}
    }
}

// ------------------------------------------------------------------ bulk operations

const PATTERNS: [&str; 6] = ["s:*7", "o1:*", "s:00[0-4]*", "*:*99", "o?:*5", "nomatch*"];

fn bulk_op(w: &World, rng: &mut Rng) {
    let c = &w.cache;
    match rng.below(100) {
        0..=29 => {
            let modulus = rng.between(3, 20);
            let n = c.retain(|k, v| {
                check_belongs(Some(v), key_id(k), "retain");
                v.version % modulus != 0
            });
            w.removed_by_calls.fetch_add(n as u64, Relaxed);
        }
        30..=59 => {
            let pattern = PATTERNS[rng.below(PATTERNS.len() as u64) as usize];
            let n = c.remove_matching(pattern).expect("valid pattern");
            w.removed_by_calls.fetch_add(n as u64, Relaxed);
        }
        60..=89 => {
            for (k, v) in c.iter() {
                check_belongs(Some(&v), key_id(&k), "iter");
            }
        }
        90..=94 => {
            w.cleared.store(true, Relaxed);
            c.clear();
        }
        _ => c.run_pending_tasks(),
    }
}

// ------------------------------------------------------------------ threads

fn worker(w: &World, t: usize) -> Vec<Owned> {
    let mut rng = Rng::new(0x5EED + t as u64);
    let mut state = vec![Owned::default(); w.cfg.owned];
    for i in 1..=w.cfg.ops_per_thread {
        if i % w.cfg.bulk_every == 0 {
            bulk_op(w, &mut rng);
        } else if rng.chance(30) {
            owned_op(w, t, &mut state, &mut rng);
        } else {
            shared_op(w, &mut rng);
        }
        if i % PROGRESS_BATCH == 0 {
            w.progress.fetch_add(PROGRESS_BATCH, Relaxed);
        }
    }
    state
}

/// Samples the budget until the workers are done.
fn sampler(w: &World) {
    while !w.done.load(Relaxed) {
        w.max_weight_seen
            .fetch_max(w.cache.weighted_size(), Relaxed);
        thread::yield_now();
    }
}

/// Moves mock time forward in step with the work done, whatever the scheduling.
fn clock_driver(w: &World, mock: &Mock) {
    let mut advanced = 0;
    while !w.done.load(Relaxed) {
        let target = w.progress.load(Relaxed) * NANOS_PER_OP;
        if target > advanced {
            mock.increment(target - advanced);
            advanced = target;
        }
        thread::yield_now();
    }
}

/// Runs the workers (plus the sampler and, for TTLs, the clock thread) and checks
/// everything; returns the world for test-specific checks.
fn run(name: &str, cfg: Config) -> Arc<World> {
    watchdog(name, || run_unguarded(cfg))
}

fn run_unguarded(cfg: Config) -> Arc<World> {
    let w = World::new(cfg);
    let start = Arc::new(Barrier::new(cfg.threads));
    let workers: Vec<_> = (0..cfg.threads)
        .map(|t| {
            let (w, start) = (Arc::clone(&w), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                worker(&w, t)
            })
        })
        .collect();
    let helpers = thread::scope(|s| {
        s.spawn(|| sampler(&w));
        if let Some(mock) = &w.mock {
            s.spawn(|| clock_driver(&w, mock));
        }
        let joined: Vec<_> = workers.into_iter().map(|h| h.join()).collect();
        // Stop the helpers before reporting a failed worker, or the scope never ends.
        w.done.store(true, Relaxed);
        joined
    });
    let helpers: Vec<Vec<Owned>> = helpers
        .into_iter()
        .map(|r| r.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        .collect();
    if w.cfg.ttl {
        // Iteration skips entries past their deadline that the wheel has not reaped yet
        // (up to a tick late, or left to the cleaner thread): a read reaps them.
        for id in 0..cfg.keys() {
            w.cache.peek(&key_text(&cfg, id));
        }
    }
    check_quiescent(&w, &helpers);
    w
}

// ------------------------------------------------------------------ the tests

const BASE: Config = Config {
    threads: 6,
    shared: 3_000,
    owned: 200,
    capacity: 1_500,
    max_entry_weight: 1,
    policy: EvictionPolicy::Clock,
    shards: None,
    ttl: false,
    ops_per_thread: 1_200_000,
    bulk_every: 20_000,
};

#[test]
fn mixed_ops_clock() {
    let cfg = Config {
        ops_per_thread: scaled(BASE.ops_per_thread),
        bulk_every: scaled(BASE.bulk_every).max(4_000),
        ..BASE
    };
    let w = run("mixed_ops_clock", cfg);
    report("mixed_ops_clock", &w);
    assert!(
        w.cache.stats().evictions > 0,
        "the run must exercise eviction"
    );
}

#[test]
fn mixed_ops_fifo() {
    let cfg = Config {
        policy: EvictionPolicy::Fifo,
        threads: 5,
        ops_per_thread: scaled(BASE.ops_per_thread),
        bulk_every: scaled(BASE.bulk_every).max(4_000),
        ..BASE
    };
    let w = run("mixed_ops_fifo", cfg);
    report("mixed_ops_fifo", &w);
    assert!(w.cache.stats().evictions > 0);
}

#[test]
fn mixed_ops_weighted() {
    let cfg = Config {
        capacity: 40_000,
        max_entry_weight: 64,
        threads: 6,
        ops_per_thread: scaled(BASE.ops_per_thread),
        bulk_every: scaled(BASE.bulk_every).max(4_000),
        ..BASE
    };
    let w = run("mixed_ops_weighted", cfg);
    report("mixed_ops_weighted", &w);
    let s = w.cache.stats();
    assert!(s.evictions > 0 && s.rejections > 0, "{s:?}");
}

#[test]
fn mixed_ops_ttl_with_mock_clock() {
    let cfg = Config {
        ttl: true,
        threads: 6,
        ops_per_thread: scaled(BASE.ops_per_thread),
        bulk_every: scaled(BASE.bulk_every).max(4_000),
        ..BASE
    };
    let w = run("mixed_ops_ttl_with_mock_clock", cfg);
    report("mixed_ops_ttl_with_mock_clock", &w);
    // Past every deadline, the wheels reap every entry with a TTL without any read. A
    // sweep skips a shard whose wheel the cleaner thread is advancing, so allow a few.
    w.mock.as_ref().unwrap().increment(MAX_TEST_TTL * 2);
    let reaped = (0..1_000).any(|_| {
        w.cache.run_pending_tasks();
        let visible: Vec<Val> = w.cache.iter().map(|(_, v)| v).collect();
        assert!(
            visible.iter().all(|v| !v.expires),
            "iter showed an expired entry"
        );
        visible.len() == w.cache.len() || {
            thread::yield_now();
            false
        }
    });
    assert!(
        reaped,
        "expired entries left unreaped: len {}",
        w.cache.len()
    );
    validate_settled(&w).expect("validate() after the final expiry");
    check_per_key(&w);
    check_totals(&w);
    assert!(w.cache.stats().expirations > 0);
    assert!(w.expired_reads.load(Relaxed) > 0, "no read tested expiry");
}

/// Hazard 1: many threads hammering a handful of keys in a tiny single-shard cache.
#[test]
fn same_keys_tiny_cache() {
    let cfg = Config {
        threads: 8,
        shared: 6,
        owned: 2,
        capacity: 8,
        shards: Some(1),
        ops_per_thread: scaled(600_000),
        bulk_every: scaled(5_000),
        ..BASE
    };
    let w = run("same_keys_tiny_cache", cfg);
    report("same_keys_tiny_cache", &w);
}
