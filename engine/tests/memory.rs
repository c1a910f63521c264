//! Memory tests with a counting global allocator: the heap stays bounded under churn
//! (evictions, removals, replacements, short TTLs), every entry is accounted for, and
//! dropping a cache gives its memory back. Also prints the bytes per entry of a
//! `u64 -> u64` cache (informational; the benches measure it formally).
//!
//! Removed entries are freed through crossbeam-epoch, whose garbage waits in thread-local
//! bags until the epoch advances; these tests check that this garbage stays bounded.
//! Every test runs through `alone`, so no two of them count each other's allocations.
//! Leaks are checked one way (at most 64 KiB above the start): garbage of an earlier test
//! that the epoch frees during a later one only makes the count go down.
//! Release builds run millions of operations (`.ci/stress`); debug builds a fiftieth.

mod churn;

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicIsize, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use churn::{scaled, watchdog, Rng};
use clockwheel::{Cache, RemovalCause};
use quanta::{Clock, Mock};

/// `System`, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees carry over; the counter is bookkeeping only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract (non-zero size is the caller's obligation).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract, as in `dealloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated right now, by every thread of this process.
fn live() -> i64 {
    LIVE.load(Relaxed) as i64
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs a test body alone: under `SERIAL`, on a thread of its own that has fully exited
/// before the next test starts. A test thread that used the cache pins the epoch once
/// more when it exits (crossbeam moves its last garbage bag to the global queue); if that
/// exit overlapped the next test (say glibc consolidating a freed million-entry arena),
/// the epoch could not advance and the next test's garbage would pile up meanwhile.
fn alone(body: impl FnOnce() + Send) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    watchdog("memory test", || thread::scope(|s| s.spawn(body).join()))
        .unwrap_or_else(|panic| resume_unwind(panic));
}

/// Advances the global epoch on this thread until every garbage bag has been freed: what
/// a process eventually does on its own as its threads pin. Each flush frees at most 8
/// bags of 64 objects, so a large backlog takes many; stops once 64 flushes in a row
/// bring the heap no lower than it has been (collecting itself defers the queue's own
/// cells, so the heap wobbles by a few bytes forever).
fn settle_epoch() {
    let (mut lowest, mut quiet) = (live(), 0);
    for _ in 0..10_000_000 {
        crossbeam_epoch::pin().flush();
        let now = live();
        if now < lowest {
            (lowest, quiet) = (now, 0);
        } else if quiet == 64 {
            return;
        } else {
            quiet += 1;
        }
    }
    panic!("the epoch garbage never settled");
}

/// Values own heap memory, so a value that is never dropped shows up in the count.
type Val = Arc<[u64; 8]>;

/// Measures the heap every `every` operations (counted across threads) and remembers
/// the highest reading.
struct Sampler {
    every: u64,
    ops: AtomicU64,
    max: AtomicI64,
}

/// Ops a thread performs between reports to the [`Sampler`].
const BATCH: u64 = 500;

impl Sampler {
    fn new() -> Self {
        Sampler {
            every: scaled(100_000).max(BATCH),
            ops: AtomicU64::new(0),
            max: AtomicI64::new(i64::MIN),
        }
    }

    /// Called every `BATCH` ops by each thread.
    fn tick(&self) {
        let before = self.ops.fetch_add(BATCH, Relaxed);
        if (before + BATCH) / self.every != before / self.every {
            let now = live();
            self.max.fetch_max(now, Relaxed);
            if std::env::var_os("CLOCKWHEEL_MEMORY_TRACE").is_some() {
                eprintln!("{} ops: {now} B", before + BATCH);
            }
        }
    }
}

/// Heap readings of a churn run, in bytes above the heap before the cache existed.
#[derive(Debug)]
struct Heap {
    /// After the warm-up round, with the epoch settled.
    warm: i64,
    /// The highest reading sampled while the threads ran.
    max_running: i64,
    /// The highest reading after a round, with the epoch settled.
    max_settled: i64,
}

impl Heap {
    fn running_ratio(&self) -> f64 {
        self.max_running as f64 / self.warm as f64
    }

    fn settled_ratio(&self) -> f64 {
        self.max_settled as f64 / self.warm as f64
    }

    /// The engine's own structures (live entries, dead nodes awaiting the hand or
    /// compaction, timers, queues) stay within 3x of the warm heap; the heap sampled
    /// while threads run, which also holds the garbage the epoch has not yet freed,
    /// stays within `running_factor` of it.
    fn assert_bounded(&self, running_factor: f64) {
        assert!(
            self.settled_ratio() <= 3.0,
            "settled heap grew to {:.2}x its warm size: {self:?}",
            self.settled_ratio()
        );
        assert!(
            self.running_ratio() <= running_factor,
            "running heap grew to {:.2}x its warm size: {self:?}",
            self.running_ratio()
        );
    }
}

/// Rounds after the warm-up; the epoch is settled and the heap read between rounds.
const ROUNDS: u64 = 8;

/// Runs `round` once to warm up, then `ROUNDS` more times, each on `threads` threads
/// (`round(thread, sampler)`), reading the heap as described on [`Heap`].
fn measure_rounds(threads: u64, before: i64, round: impl Fn(u64, &Sampler) + Sync) -> Heap {
    let run_round = || {
        let sampler = Sampler::new();
        thread::scope(|s| {
            for t in 0..threads {
                let (round, sampler) = (&round, &sampler);
                s.spawn(move || round(t, sampler));
            }
        });
        sampler.max.load(Relaxed)
    };
    run_round();
    settle_epoch();
    let warm = live() - before;
    let (mut max_running, mut max_settled) = (warm, warm);
    for _ in 0..ROUNDS {
        max_running = max_running.max(run_round() - before);
        settle_epoch();
        max_settled = max_settled.max(live() - before);
    }
    Heap {
        warm,
        max_running,
        max_settled,
    }
}

// ------------------------------------------------------------------ steady state

/// One churn thread: inserts, reads, removes and replaces over `universe` keys.
fn churn(cache: &Cache<u64, Val>, seed: u64, ops: u64, universe: u64, sampler: &Sampler) {
    let mut rng = Rng::new(seed);
    for i in 1..=ops {
        let key = rng.below(universe);
        match rng.below(100) {
            0..=59 => {
                cache.insert(key, Arc::new([key; 8]));
            }
            60..=84 => {
                if let Some(v) = cache.get(&key) {
                    assert_eq!(v[0], key);
                }
            }
            _ => {
                cache.remove(&key);
            }
        }
        if i % BATCH == 0 {
            sampler.tick();
        }
    }
}

/// Churns a cache of `capacity` (every entry living `ttl`, if given) over `universe` keys
/// with `threads` threads, `ops` ops in all after the warm-up.
fn steady_state(
    (capacity, ttl): (u64, Option<Duration>),
    universe: u64,
    threads: u64,
    ops: u64,
) -> (Heap, Cache<u64, Val>) {
    settle_epoch();
    let before = live();
    let builder = Cache::builder().max_capacity(capacity);
    let cache: Cache<u64, Val> = match ttl {
        Some(ttl) => builder.default_ttl(ttl).build().unwrap(),
        None => builder.build().unwrap(),
    };
    let per_thread = ops / ROUNDS / threads;
    let seeds = AtomicU64::new(1);
    let heap = measure_rounds(threads, before, |_, sampler| {
        let seed = seeds.fetch_add(1, Relaxed);
        churn(&cache, seed, per_thread, universe, sampler)
    });
    cache.validate().unwrap();
    (heap, cache)
}

/// The garbage crossbeam-epoch holds while threads run depends on how often a pinned
/// thread is descheduled (the epoch cannot advance past it meanwhile): with more threads
/// than cores it is several times the live set. Single-threaded it is negligible.
const RUNNING_FACTOR_ONE_THREAD: f64 = 3.0;
/// See [`RUNNING_FACTOR_ONE_THREAD`]: still catches garbage that is never collected while
/// the workload runs (millions of operations would grow the heap by hundreds of times).
const RUNNING_FACTOR_OVERSUBSCRIBED: f64 = 32.0;

fn churn_test(name: &str, capacity: (u64, Option<Duration>), universe: u64, ops: u64) {
    for (threads, factor) in [
        (1, RUNNING_FACTOR_ONE_THREAD),
        (4, RUNNING_FACTOR_OVERSUBSCRIBED),
    ] {
        let (heap, cache) = steady_state(capacity, universe, threads, scaled(ops));
        let s = cache.stats();
        println!(
            "{name}, {threads} thread(s): warm heap {} B ({} B/live entry), running max {:.2}x, settled max {:.2}x; {s:?}",
            heap.warm,
            heap.warm / s.len.max(1) as i64,
            heap.running_ratio(),
            heap.settled_ratio()
        );
        assert!(s.removals > 0 && s.replacements > 0, "{s:?}");
        heap.assert_bounded(factor);
        if capacity.0 < universe {
            assert!(s.evictions > 0, "{s:?}");
        } else {
            assert_eq!(s.evictions, 0, "{s:?}");
        }
    }
}

#[test]
fn heap_stays_bounded_under_eviction_churn() {
    alone(|| {
        churn_test("eviction churn", (10_000, None), 100_000, 4_000_000);
    });
}

/// Hazard 3 with timers: entries that live an hour, evicted, replaced and removed long
/// before they expire, leave dead timers in the wheels, which never fire while the test
/// runs; compaction must keep them (and the nodes they hold) bounded.
#[test]
fn heap_stays_bounded_under_long_ttl_churn() {
    alone(|| {
        let hour = Some(Duration::from_secs(3600));
        churn_test("long-TTL churn", (10_000, hour), 100_000, 4_000_000);
    });
}

/// Hazard 3: update and delete churn with no eviction pressure leaves dead nodes in the
/// CLOCK queues; compaction must keep them bounded.
#[test]
fn heap_stays_bounded_under_update_churn_without_eviction() {
    alone(|| {
        churn_test("update churn", (100_000, None), 10_000, 2_000_000);
    });
}

/// Dead entries hold no value memory: a node evicted, replaced or removed long before its
/// deadline stays allocated until its timer goes (up to a quarter of the live count plus 64
/// per shard) and until the CLOCK hand passes its slot, but its value is dropped one epoch
/// after its death. With 64 KiB values that is the difference between about 1× and 2×
/// `max_weight`.
#[test]
fn dead_entries_hold_no_value_memory() {
    alone(|| {
        const VALUE: usize = 64 << 10;
        const MAX_WEIGHT: u64 = 256 * VALUE as u64;
        settle_epoch();
        let before = live();
        let cache: Cache<u64, Vec<u8>> = Cache::builder()
            .weigher(|_k: &u64, v: &Vec<u8>| v.len() as u64)
            .max_weight(MAX_WEIGHT)
            .default_ttl(Duration::from_secs(3600))
            .build()
            .unwrap();
        let mut rng = Rng::new(7);
        // Not scaled down in debug builds: the churn must turn the cache over many times.
        for _ in 0..20_000 {
            let key = rng.below(1_024);
            match rng.below(10) {
                0 => drop(cache.remove(&key)),
                _ => drop(cache.insert(key, vec![key as u8; VALUE])),
            }
        }
        settle_epoch();
        let heap = live() - before;
        let s = cache.stats();
        println!(
            "dead entries: heap {heap} B for weighted size {}; {s:?}",
            s.weighted_size
        );
        assert!(
            s.evictions > 1_000 && s.replacements > 1_000 && s.removals > 100,
            "{s:?}"
        );
        assert!(
            heap as f64 <= 1.25 * MAX_WEIGHT as f64,
            "heap {heap} B for a max_weight of {MAX_WEIGHT} B: dead entries keep their values"
        );
        drop(cache);
    });
}

// ------------------------------------------------------------------ TTL churn

/// Departures heard by the listener, by cause.
#[derive(Default)]
struct Departures {
    expired: AtomicU64,
    evicted: AtomicU64,
    other: AtomicU64,
}

fn ttl_cache(clock: Clock, departures: &Arc<Departures>) -> Cache<u64, Val> {
    let sink = Arc::clone(departures);
    Cache::builder()
        .max_capacity(5_000)
        .clock(clock)
        .eviction_listener(move |_k: &u64, _v: &Val, cause| {
            let counter = match cause {
                RemovalCause::Expired => &sink.expired,
                RemovalCause::Evicted => &sink.evicted,
                _ => &sink.other,
            };
            counter.fetch_add(1, Relaxed);
        })
        .build()
        .unwrap()
}

/// Inserts `n` fresh keys (from `first`) with short random TTLs, a tenth of them an
/// hour (so that evictions leave dead timers behind); no reads; mock time advances 10 us
/// per insert; every 4096 inserts `run_pending_tasks`, otherwise writes drive the wheel.
fn ttl_inserts(cache: &Cache<u64, Val>, mock: &Mock, first: u64, n: u64, sampler: &Sampler) {
    let mut rng = Rng::new(first);
    for key in first..first + n {
        let ttl = if rng.chance(10) {
            Duration::from_secs(3600)
        } else {
            Duration::from_micros(rng.between(1_000, 64_000))
        };
        cache.insert_with_ttl(key, Arc::new([key; 8]), Some(ttl));
        mock.increment(Duration::from_micros(10));
        if key % 4096 == 0 {
            cache.run_pending_tasks();
        }
        if key % BATCH == 0 {
            sampler.tick();
        }
    }
}

/// Issue 3: millions of inserts with short TTLs keep the heap bounded, and every entry
/// is accounted for as expired, evicted or still live.
#[test]
fn ttl_churn_is_bounded_and_accounted_for() {
    alone(|| {
        settle_epoch();
        let before = live();
        let (clock, mock) = Clock::mock();
        let departures = Arc::new(Departures::default());
        let cache = ttl_cache(clock, &departures);
        let per_thread = scaled(3_000_000) / (ROUNDS + 1) / 2;
        let next = AtomicU64::new(0);
        let heap = measure_rounds(2, before, |_, sampler| {
            let first = next.fetch_add(per_thread, Relaxed);
            ttl_inserts(&cache, &mock, first, per_thread, sampler)
        });
        cache.validate().unwrap();
        let s = cache.stats();
        println!(
            "TTL churn: warm heap {} B, running max {:.2}x, settled max {:.2}x; {s:?}",
            heap.warm,
            heap.running_ratio(),
            heap.settled_ratio()
        );
        heap.assert_bounded(RUNNING_FACTOR_OVERSUBSCRIBED);
        assert_eq!(s.insertions, next.load(Relaxed), "every key was fresh");
        assert_eq!(
            s.insertions,
            s.expirations + s.evictions + s.removals + s.len
        );
        assert_eq!(departures.expired.load(Relaxed), s.expirations);
        assert_eq!(departures.evicted.load(Relaxed), s.evictions);
        assert_eq!(departures.other.load(Relaxed), 0);
        assert!(
            s.expirations > s.insertions / 2,
            "expiry must dominate: {s:?}"
        );
        assert!(s.evictions > 0, "long-TTL entries must be evicted: {s:?}");
        drop(cache);
        settle_epoch();
        let leaked = live() - before;
        assert!(leaked < 64 << 10, "{leaked} B still allocated after drop");
    });
}

// ------------------------------------------------------------------ drop

/// A cache (with timers) after 4 threads churned it; returns it with the heap before it
/// existed and the heap now.
fn churned_for_drop() -> (i64, i64, Cache<u64, Val>) {
    settle_epoch();
    let before = live();
    let cache: Cache<u64, Val> = Cache::builder()
        .max_capacity(20_000)
        .default_ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let sampler = Sampler::new();
    thread::scope(|s| {
        for seed in 0..4 {
            let (cache, sampler) = (&cache, &sampler);
            s.spawn(move || churn(cache, seed, scaled(250_000), 50_000, sampler));
        }
    });
    assert!(!cache.is_empty());
    (before, live(), cache)
}

/// Hazard 11: dropping a cache that went through concurrent churn gives everything back
/// (nodes still cached, timers, queues, tables, and the churn's garbage once the epoch
/// has freed it).
#[test]
fn drop_returns_the_heap() {
    alone(|| {
        let (before, full, cache) = churned_for_drop();
        drop(cache);
        let after_drop = live() - before;
        settle_epoch();
        let settled = live() - before;
        println!(
        "drop: {} B with the cache, {after_drop} B right after drop, {settled} B once the epoch settled",
        full - before
    );
        assert!(settled < 64 << 10, "{settled} B still allocated after drop");
    });
}

/// The stronger promise of `docs/architecture.md` (hazards 7 and 11: "`Drop` flushes"):
/// dropping the cache alone, with no further pinning by the test, returns the heap.
#[test]
fn drop_alone_returns_the_heap() {
    alone(|| {
        let (before, full, cache) = churned_for_drop();
        drop(cache);
        let after_drop = live() - before;
        println!("drop alone: {after_drop} B of {} B left", full - before);
        assert!(
            after_drop < 1 << 20,
            "{after_drop} B of {} B still allocated right after drop",
            full - before
        );
    });
}

/// A key whose `Eq` panics while [`TOUCHY`] is set, and whose hash is the same for every
/// key (so an insert compares it with every key of the one chain).
#[derive(Debug)]
struct Touchy(u64);

static TOUCHY: AtomicBool = AtomicBool::new(false);

impl PartialEq for Touchy {
    fn eq(&self, other: &Self) -> bool {
        assert!(!TOUCHY.load(Relaxed), "Touchy::eq called while touchy");
        self.0 == other.0
    }
}

impl Eq for Touchy {}

impl std::hash::Hash for Touchy {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// An insert that unwinds (the key's `Eq` panics while it searches the chain) frees the
/// node it allocated and never linked, value included, with the layout it was allocated
/// with: a timed node (40 B) freed as an untimed one (32 B) would leave 8 B on the
/// counting allocator per insert, 80 KiB over this test's 10,000 timed inserts.
#[test]
fn an_unwinding_insert_frees_its_unlinked_node() {
    alone(|| {
        settle_epoch();
        let before = live();
        let cache: Cache<Touchy, Val> = Cache::with_capacity(8).unwrap();
        cache.insert(Touchy(0), Arc::new([0; 8]));
        let value: Val = Arc::new([1; 8]);
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        TOUCHY.store(true, Relaxed);
        for i in 1..=20_000u64 {
            let ttl = (i % 2 == 0).then_some(Duration::from_secs(3600));
            let insert = || cache.insert_with_ttl(Touchy(i), Arc::clone(&value), ttl);
            assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(insert)).is_err());
        }
        TOUCHY.store(false, Relaxed);
        std::panic::set_hook(quiet);
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "a value of an unlinked node leaked"
        );
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&Touchy(0)).is_some());
        drop(cache);
        settle_epoch();
        let left = live() - before;
        assert!(left < 64 << 10, "{left} B still allocated after drop");
    });
}

// ------------------------------------------------------------------ footprint

/// Informational: the heap cost of a full cache of `u64 -> u64`, table included.
#[test]
fn bytes_per_entry_of_a_million_u64_entries() {
    alone(|| {
        let n: u64 = if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        };
        settle_epoch();
        let before = live();
        let cache: Cache<u64, u64> = Cache::with_capacity(n).unwrap();
        let empty = live() - before;
        for i in 0..n {
            cache.insert(i, i);
        }
        let full = live() - before;
        assert_eq!(cache.len() as u64, n);
        let per_entry = full as f64 / n as f64;
        println!(
        "footprint: {n} u64->u64 entries: {per_entry:.1} B/entry ({:.1} B/entry of it allocated empty)",
        empty as f64 / n as f64
    );
        assert!(
            per_entry >= 16.0,
            "cannot store 16 B of data in {per_entry} B"
        );
    });
}
