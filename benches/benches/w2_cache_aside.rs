//! W2, cache-aside: a 1,000,000-key universe with Zipf(0.9) popularity, a
//! cache of capacity 100,000; each operation is `get`, then `insert` on a
//! miss. 1 and 2 threads by default (`CW_BENCH_THREADS` for more).
//!
//! Each (engine, thread count) gets a fresh cache, warmed by one single-threaded
//! pass over a stream before timing. Hits and operations are counted during
//! every timed call (warm-up included; each thread counts locally and adds its
//! totals once per call) and the resulting hit ratio is printed to stderr and
//! written to `target/criterion-extra/w2-hit-ratios.txt` (inside
//! `$CARGO_TARGET_DIR` when that is set), next to the ideal hit ratio of a
//! static cache holding the 100,000 most popular keys (the best any cache of
//! that size can do in expectation on independent draws). Each thread's stream
//! is 2^23 keys long, so even the fastest engine replays it only a few times: a
//! shorter, often-replayed stream is a periodic trace on which frequency-aware
//! policies beat that bound.
//!
//! `clockwheel_nostats` is Clockwheel with `record_stats(false)`;
//! `clockwheel_ttl` inserts with `insert_with_ttl` and a per-entry TTL, and
//! `moka_expiry` is moka with a per-entry `Expiry` giving the same TTLs. After
//! the group, a table of throughputs and `clockwheel / engine` ratios from this
//! run is printed and saved (see `clockwheel_benches::report`).
//!
//! Run only this group: `cargo bench --bench w2_cache_aside`.

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use clockwheel_benches::report::RatioTable;
use clockwheel_benches::{
    bench_threads, key_stream, write_extra, Streams, Zipf, LONG_STREAM_LEN, OPS_PER_ITER,
    STREAM_LEN, UNIVERSE,
};
use common::{
    configure, BenchCache, Clockwheel, ClockwheelNoStats, ClockwheelTtl, Moka, MokaExpiry,
    MutexLru, QuickCache,
};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

const ZIPF_S: f64 = 0.9;
const CAPACITY: u64 = 100_000;
const W2_SEED: u64 = 0x5732;
const WARM_SEED: u64 = 0x5732_0000_0000_FFFF;

/// One cache-aside operation; returns whether it hit.
#[inline]
fn cache_aside<C: BenchCache>(cache: &C, key: u64) -> bool {
    if cache.get(key).is_some() {
        true
    } else {
        cache.insert(key, key);
        false
    }
}

struct Report {
    lines: String,
}

fn bench_engine<C: BenchCache>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    streams: &Streams,
    warm: &[u64],
    threads: &[usize],
    report: &mut Report,
) {
    for &t in threads {
        let cache = C::with_capacity(CAPACITY);
        for &key in warm {
            cache_aside(&cache, key);
        }
        cache.settle();
        let hits = AtomicU64::new(0);
        let ops_done = AtomicU64::new(0);
        group.throughput(Throughput::Elements(t as u64 * OPS_PER_ITER));
        group.bench_function(BenchmarkId::new(C::NAME, t), |b| {
            b.iter_custom(|iters| {
                let ops = iters * OPS_PER_ITER;
                streams.run(t, ops, |lane| {
                    let h = lane.keys().filter(|&key| cache_aside(&cache, key)).count() as u64;
                    hits.fetch_add(h, Ordering::Relaxed);
                    ops_done.fetch_add(ops, Ordering::Relaxed);
                    h
                })
            })
        });
        let ops = ops_done.load(Ordering::Relaxed);
        if ops > 0 {
            let ratio = hits.load(Ordering::Relaxed) as f64 / ops as f64;
            let line = format!("{}/{t}: hit ratio {ratio:.4} over {ops} ops", C::NAME);
            eprintln!("w2: {line}");
            let _ = writeln!(report.lines, "{line}");
        }
    }
}

const GROUP: &str = "w2_cache_aside";

fn w2_cache_aside(c: &mut Criterion) {
    let since = SystemTime::now();
    let threads = bench_threads();
    let max_threads = threads.iter().copied().max().unwrap_or(1);
    let zipf = Zipf::new(UNIVERSE, ZIPF_S);
    let streams = Streams::with_len(&zipf, max_threads, W2_SEED, LONG_STREAM_LEN);
    let warm = key_stream(&zipf, STREAM_LEN, WARM_SEED);
    let mut report = Report {
        lines: format!(
            "# W2 cache-aside hit ratios: universe {UNIVERSE}, Zipf({ZIPF_S}), capacity {CAPACITY}\n\
             # ideal static top-{CAPACITY} hit ratio: {:.4}\n",
            zipf.top_mass(CAPACITY)
        ),
    };

    let mut group = c.benchmark_group(GROUP);
    configure(&mut group);
    bench_engine::<Clockwheel>(&mut group, &streams, &warm, &threads, &mut report);
    bench_engine::<ClockwheelNoStats>(&mut group, &streams, &warm, &threads, &mut report);
    bench_engine::<ClockwheelTtl>(&mut group, &streams, &warm, &threads, &mut report);
    bench_engine::<QuickCache>(&mut group, &streams, &warm, &threads, &mut report);
    bench_engine::<Moka>(&mut group, &streams, &warm, &threads, &mut report);
    bench_engine::<MokaExpiry>(&mut group, &streams, &warm, &threads, &mut report);
    bench_engine::<MutexLru>(&mut group, &streams, &warm, &threads, &mut report);
    group.finish();

    let engines = [
        Clockwheel::NAME,
        ClockwheelNoStats::NAME,
        ClockwheelTtl::NAME,
        QuickCache::NAME,
        Moka::NAME,
        MokaExpiry::NAME,
        MutexLru::NAME,
    ];
    RatioTable::new(GROUP, Clockwheel::NAME, OPS_PER_ITER, since).publish(&engines, &threads);

    if report.lines.lines().count() > 2 {
        if let Some(path) = write_extra("w2-hit-ratios.txt", &report.lines) {
            eprintln!("w2: hit ratios written to {}", path.display());
        }
    }
}

criterion_group!(benches, w2_cache_aside);
criterion_main!(benches);
