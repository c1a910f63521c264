//! A profiling driver for the read path, outside criterion: one engine or
//! experiment per run, single-threaded, timed with this thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so time spent descheduled on a busy machine
//! does not count. Small enough to run under `perf record` or
//! `valgrind --tool=callgrind`.
//!
//! ```text
//! cargo run --release -p clockwheel-benches --example read_path -- MODE [OPS]
//! ```
//!
//! W1 modes (1,000,000 keys all cached, Zipf(0.99) lookups): `hashbrown`,
//! `hashbrown_pin` (plus an epoch pin per lookup), `hashbrown_rdtsc` (plus a
//! `quanta` clock read per hit), `hashbrown_coarse` (plus a
//! `CLOCK_MONOTONIC_COARSE` read per hit), `quick_cache`, `clockwheel`,
//! `clockwheel_nostats`, `clockwheel_default_ttl`, `clockwheel_reverse_fill`
//! (keys inserted coldest first, so hot keys sit at the heads of their
//! chains), `clockwheel_shuffled_fill` (keys inserted in a random order),
//! `clockwheel_held_pin` (the thread holds an epoch guard throughout,
//! so the engine's own pin is only a counter increment).
//!
//! Floors (see [`floor`]): the bare lookup of two lock-free table layouts,
//! without any of the engine's bookkeeping, to show what any design built on
//! them can reach. `floor_chain` (bucket heads and chained 32-byte nodes, the
//! engine's layout) and `floor_bucket` (64-byte buckets of seven tagged node
//! references, the bucketized layout), each with an epoch pin per lookup, and
//! `floor_chain_nopin` / `floor_bucket_nopin` without it.
//!
//! Lookup-only W2 modes: `w2l_` followed by a W1 lookup mode (`w2l_hashbrown`,
//! `w2l_quick_cache`, `w2l_clockwheel`, `w2l_floor_chain`, ...) hold W2's
//! 100,000 hottest keys and time lookups of W2's Zipf(0.9) stream, no inserts:
//! what W2's hits alone cost each design.
//!
//! W2 modes (Zipf(0.9) over 1,000,000 keys, capacity 100,000, get then insert
//! on a miss, a 2^23-key stream that is never replayed): `w2_quick_cache`,
//! `w2_clockwheel`, `w2_clockwheel_nostats`, `w2_clockwheel_ttl` (inserts with
//! `insert_with_ttl`, 30 to 90 minutes, as `benches/benches/w2_cache_aside.rs`
//! does). These also print the hit ratio.
//!
//! W4 modes (W2's stream, every operation an insert at capacity 100,000):
//! `w4_insert` (plain `insert`), `w4_insert_ttl` (`insert_with_ttl`, 30 to 90
//! minutes). The "hit ratio" printed is the share of inserts that replaced a
//! live entry.

use std::hint::black_box;
use std::time::Duration;

use clockwheel_benches::{
    key_of_rank, key_stream, ttl_of, Zipf, LONG_STREAM_LEN, STREAM_LEN, UNIVERSE,
};

// The crate root sits in `examples/`; its modules live in `examples/read_path/`.
#[path = "read_path/floor.rs"]
mod floor;

/// This thread's CPU time so far.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A `clock_gettime` implementation: glibc's wrapper or the vDSO's own entry point.
type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int;

/// The vDSO's `__vdso_clock_gettime`, called directly (skipping glibc's wrapper).
fn vdso_fn() -> ClockGettime {
    // SAFETY: both strings are NUL-terminated; `RTLD_NOLOAD` only looks up the vDSO the
    // kernel already mapped, and the symbol it exports has `clock_gettime`'s signature.
    unsafe {
        let h = libc::dlopen(
            c"linux-vdso.so.1".as_ptr(),
            libc::RTLD_LAZY | libc::RTLD_NOLOAD,
        );
        assert!(!h.is_null());
        let f = libc::dlsym(h, c"__vdso_clock_gettime".as_ptr());
        assert!(!f.is_null());
        std::mem::transmute::<*mut libc::c_void, ClockGettime>(f)
    }
}

/// `CLOCK_MONOTONIC_COARSE` through `gettime`, in nanoseconds: a few loads from the vDSO
/// page, no TSC read, with the kernel tick's resolution.
fn coarse_via(gettime: ClockGettime) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    unsafe { gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `op` over `ops` keys of `stream` (wrapping) and returns (CPU ns per
/// op, how many times `op` returned true).
fn timed(stream: &[u64], ops: usize, mut op: impl FnMut(u64) -> bool) -> (f64, u64) {
    let mask = stream.len() - 1;
    let start = cpu_time();
    let trues = (0..ops).filter(|&i| op(stream[i & mask])).count() as u64;
    let ns = (cpu_time() - start).as_nanos() as f64 / ops as f64;
    (ns, trues)
}

fn clockwheel(capacity: u64, stats: bool, ttl: Option<Duration>) -> clockwheel::Cache<u64, u64> {
    let builder = clockwheel::Cache::builder()
        .max_capacity(capacity)
        .record_stats(stats);
    let builder = match ttl {
        Some(ttl) => builder.default_ttl(ttl),
        None => builder,
    };
    builder.build().expect("valid configuration")
}

/// Every rank below `keys` once, in a fixed pseudo-random order (Fisher–Yates).
fn shuffled_ranks(keys: u64) -> Vec<u64> {
    let mut ranks: Vec<u64> = (0..keys).collect();
    let mut rng = clockwheel_benches::SplitMix64::new(5);
    for i in (1..ranks.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        ranks.swap(i, j);
    }
    ranks
}

/// W1: fills with every rank (hottest first unless the mode says otherwise),
/// then looks up. A `w2l_` mode holds W2's 100,000 hottest keys instead and
/// looks up W2's stream.
fn w1(mode: &str, ops: usize) -> (f64, u64) {
    let (mode, keys, theta) = match mode.strip_prefix("w2l_") {
        Some(mode) => (mode, 100_000, 0.9),
        None => (mode, UNIVERSE, 0.99),
    };
    let stream = key_stream(&Zipf::new(UNIVERSE, theta), STREAM_LEN, 77);
    let ranks = || (0..keys).map(key_of_rank);
    match mode {
        "floor_chain" | "floor_chain_nopin" => {
            let table = floor::ChainTable::new(ranks());
            let pin = mode == "floor_chain";
            timed(&stream, ops, |k| table.get(k, pin) == Some(k))
        }
        "floor_bucket" | "floor_bucket_nopin" => {
            let table = floor::BucketTable::new(ranks());
            let pin = mode == "floor_bucket";
            timed(&stream, ops, |k| table.get(k, pin) == Some(k))
        }
        "hashbrown" | "hashbrown_pin" | "hashbrown_rdtsc" | "hashbrown_coarse"
        | "hashbrown_vdso" | "hashbrown_atomic" => {
            let vdso = vdso_fn();
            let recent = std::sync::atomic::AtomicU64::new(5);
            let map: hashbrown::HashMap<u64, u64> = ranks().map(|k| (k, k)).collect();
            let clock = quanta::Clock::new();
            timed(&stream, ops, |k| {
                let _guard = (mode == "hashbrown_pin").then(crossbeam_epoch::pin);
                let hit = map.get(&k).is_some();
                if hit && mode == "hashbrown_rdtsc" {
                    black_box(clock.raw());
                }
                if hit && mode == "hashbrown_vdso" {
                    black_box(coarse_via(vdso));
                }
                if hit && mode == "hashbrown_atomic" {
                    black_box(recent.load(std::sync::atomic::Ordering::Relaxed));
                }
                if hit && mode == "hashbrown_coarse" {
                    black_box(coarse_via(libc::clock_gettime));
                }
                hit
            })
        }
        "quick_cache" => {
            let cache = quick_cache::sync::Cache::new(keys as usize);
            ranks().for_each(|k| cache.insert(k, k));
            timed(&stream, ops, |k| cache.get(&k).is_some())
        }
        _ => {
            let ttl = matches!(mode, "clockwheel_default_ttl" | "clockwheel_tsc_ttl")
                .then(|| Duration::from_secs(3600));
            let cache = if mode == "clockwheel_tsc_ttl" {
                clockwheel::Cache::builder()
                    .max_capacity(keys)
                    .default_ttl(Duration::from_secs(3600))
                    .clock(quanta::Clock::new())
                    .build()
                    .expect("valid configuration")
            } else {
                clockwheel(keys, mode != "clockwheel_nostats", ttl)
            };
            if mode == "clockwheel_reverse_fill" {
                (0..keys).rev().for_each(|r| {
                    cache.insert(key_of_rank(r), r);
                });
            } else if mode == "clockwheel_shuffled_fill" {
                shuffled_ranks(keys).into_iter().for_each(|r| {
                    cache.insert(key_of_rank(r), r);
                });
            } else {
                ranks().for_each(|k| {
                    cache.insert(k, k);
                });
            }
            let _held = (mode == "clockwheel_held_pin").then(crossbeam_epoch::pin);
            timed(&stream, ops, |k| cache.get(&k).is_some())
        }
    }
}

/// W2: warms with 2^20 keys, then times `ops` cache-aside operations.
fn w2(mode: &str, ops: usize) -> (f64, u64) {
    let zipf = Zipf::new(UNIVERSE, 0.9);
    let warm = key_stream(&zipf, STREAM_LEN, 1);
    let stream = key_stream(&zipf, LONG_STREAM_LEN, 2);
    let aside = |get: &dyn Fn(u64) -> bool, insert: &dyn Fn(u64), k: u64| {
        let hit = get(k);
        if !hit {
            insert(k);
        }
        hit
    };
    if mode == "w2_quick_cache" {
        let c = quick_cache::sync::Cache::new(100_000);
        let (get, ins) = (|k| c.get(&k).is_some(), |k| c.insert(k, k));
        warm.iter().for_each(|&k| {
            aside(&get, &ins, k);
        });
        timed(&stream, ops, |k| aside(&get, &ins, k))
    } else {
        let c = clockwheel(100_000, mode != "w2_clockwheel_nostats", None);
        let ttl = mode == "w2_clockwheel_ttl";
        let (get, ins) = (
            |k| c.get(&k).is_some(),
            |k| {
                match ttl {
                    true => c.insert_with_ttl(k, k, Some(ttl_of(k))),
                    false => c.insert(k, k),
                };
            },
        );
        warm.iter().for_each(|&k| {
            aside(&get, &ins, k);
        });
        timed(&stream, ops, |k| aside(&get, &ins, k))
    }
}

/// W4: fills to capacity with 2^20 keys, then times `ops` inserts (each an
/// eviction or a replace); `w4_insert_ttl` gives each entry a TTL of 30 to 90
/// minutes, as `benches/benches/w4_ttl.rs` does.
fn w4(mode: &str, ops: usize) -> (f64, u64) {
    let zipf = Zipf::new(UNIVERSE, 0.9);
    let warm = key_stream(&zipf, STREAM_LEN, 1);
    let stream = key_stream(&zipf, LONG_STREAM_LEN, 2);
    let cache = clockwheel(100_000, true, None);
    let ttl = mode == "w4_insert_ttl";
    let insert = |k: u64| {
        if ttl {
            cache.insert_with_ttl(k, k, Some(ttl_of(k))).is_some()
        } else {
            cache.insert(k, k).is_some()
        }
    };
    warm.iter().for_each(|&k| {
        insert(k);
    });
    let result = timed(&stream, ops, insert);
    let started = std::time::Instant::now();
    drop(cache);
    eprintln!("{mode}: dropping the cache took {:.1?}", started.elapsed());
    result
}

const W1_MODES: [&str; 18] = [
    "hashbrown",
    "hashbrown_pin",
    "hashbrown_rdtsc",
    "hashbrown_coarse",
    "hashbrown_vdso",
    "hashbrown_atomic",
    "quick_cache",
    "clockwheel",
    "clockwheel_nostats",
    "clockwheel_default_ttl",
    "clockwheel_tsc_ttl",
    "clockwheel_reverse_fill",
    "clockwheel_shuffled_fill",
    "clockwheel_held_pin",
    "floor_chain",
    "floor_chain_nopin",
    "floor_bucket",
    "floor_bucket_nopin",
];
const W2_MODES: [&str; 4] = [
    "w2_quick_cache",
    "w2_clockwheel",
    "w2_clockwheel_nostats",
    "w2_clockwheel_ttl",
];
const W4_MODES: [&str; 2] = ["w4_insert", "w4_insert_ttl"];

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let known = |modes: &[&str]| modes.contains(&mode.as_str());
    let lookup_only = mode
        .strip_prefix("w2l_")
        .is_some_and(|m| W1_MODES.contains(&m));
    if !known(&W1_MODES) && !lookup_only && !known(&W2_MODES) && !known(&W4_MODES) {
        eprintln!(
            "usage: read_path MODE [OPS]\nmodes: {W1_MODES:?} (each also with a w2l_ prefix) \
             {W2_MODES:?} {W4_MODES:?}"
        );
        std::process::exit(2);
    }
    let ops = match args.next().map(|s| s.parse::<usize>()) {
        None => 5_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("OPS must be a positive integer");
            std::process::exit(2);
        }
    };
    // W2's and W4's stream is never replayed, so it bounds the operation count.
    let (ns, hits) = if known(&W2_MODES) {
        w2(&mode, ops.min(LONG_STREAM_LEN))
    } else if known(&W4_MODES) {
        w4(&mode, ops.min(LONG_STREAM_LEN))
    } else {
        w1(&mode, ops)
    };
    println!(
        "{mode}: {ns:.1} CPU ns/op, hit ratio {:.4} over {ops} ops",
        hits as f64 / ops as f64
    );
}
