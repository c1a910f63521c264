//! W4, the cost of per-entry TTLs on writes: W2's key stream (a 1,000,000-key
//! universe, Zipf(0.9)) where every operation is an insert into a cache of
//! capacity 100,000, so most inserts evict and the rest replace. 1 and 2
//! threads by default (`CW_BENCH_THREADS` for more).
//!
//! Engines: `clockwheel` (plain `insert`, no TTL), `clockwheel_ttl`
//! (`insert_with_ttl` with a per-entry TTL of 30 to 90 minutes), `moka` (plain
//! `insert`) and `moka_expiry` (moka with a per-entry `Expiry` whose
//! `expire_after_create` returns the same TTLs). Nothing expires during a run,
//! so the difference is the bookkeeping: deadline computation and timer
//! scheduling on insert, timer removal on eviction and replacement.
//!
//! After the group, the ratios (`clockwheel_ttl / engine`) and the TTL insert
//! cost relative to a plain insert are printed and saved.
//!
//! Run only this group: `cargo bench --bench w4_ttl`.

mod common;

use std::fmt::Write as _;
use std::time::SystemTime;

use clockwheel_benches::report::RatioTable;
use clockwheel_benches::{
    bench_threads, write_extra, Streams, Zipf, LONG_STREAM_LEN, OPS_PER_ITER, UNIVERSE,
};
use common::{configure, BenchCache, Clockwheel, ClockwheelTtl, Moka, MokaExpiry};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

const ZIPF_S: f64 = 0.9;
const CAPACITY: u64 = 100_000;
const W4_SEED: u64 = 0x5734;
const GROUP: &str = "w4_ttl_inserts";

/// A fresh cache per thread count, filled to capacity by the first 2^20 keys
/// of the spare (last) stream before timing, so every timed insert runs at
/// capacity.
fn bench_engine<C: BenchCache>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    streams: &Streams,
    threads: &[usize],
) {
    let warm = &streams.stream(streams_len(threads) - 1)[..1 << 20];
    for &t in threads {
        let cache = C::with_capacity(CAPACITY);
        for &key in warm {
            cache.insert(key, key);
        }
        cache.settle();
        group.throughput(Throughput::Elements(t as u64 * OPS_PER_ITER));
        group.bench_function(BenchmarkId::new(C::NAME, t), |b| {
            b.iter_custom(|iters| {
                streams.run(t, iters * OPS_PER_ITER, |lane| {
                    lane.keys().fold(0u64, |n, key| {
                        cache.insert(key, key);
                        n.wrapping_add(key)
                    })
                })
            })
        });
    }
}

/// Streams needed: one per thread of the largest count, plus one for warming.
fn streams_len(threads: &[usize]) -> usize {
    threads.iter().copied().max().unwrap_or(1) + 1
}

/// The time of one `insert_with_ttl` relative to one plain `insert`, per
/// thread count (the target is at most 1.3).
fn ttl_cost_lines(table: &RatioTable, threads: &[usize]) -> String {
    let mut out = String::from("# insert_with_ttl cost / insert cost (clockwheel)\n");
    for &t in threads {
        match (
            table.mops(Clockwheel::NAME, t),
            table.mops(ClockwheelTtl::NAME, t),
        ) {
            (Some(plain), Some(ttl)) => writeln!(out, "{t}thr {:.3}", plain / ttl),
            _ => writeln!(out, "{t}thr -"),
        }
        .expect("writing to a String cannot fail");
    }
    out
}

fn w4_ttl(c: &mut Criterion) {
    let since = SystemTime::now();
    let threads = bench_threads();
    let zipf = Zipf::new(UNIVERSE, ZIPF_S);
    let streams = Streams::with_len(&zipf, streams_len(&threads), W4_SEED, LONG_STREAM_LEN);

    let mut group = c.benchmark_group(GROUP);
    configure(&mut group);
    bench_engine::<Clockwheel>(&mut group, &streams, &threads);
    bench_engine::<ClockwheelTtl>(&mut group, &streams, &threads);
    bench_engine::<Moka>(&mut group, &streams, &threads);
    bench_engine::<MokaExpiry>(&mut group, &streams, &threads);
    group.finish();

    let table = RatioTable::new(GROUP, ClockwheelTtl::NAME, OPS_PER_ITER, since);
    let engines = [
        ClockwheelTtl::NAME,
        Clockwheel::NAME,
        MokaExpiry::NAME,
        Moka::NAME,
    ];
    table.publish(&engines, &threads);
    let cost = ttl_cost_lines(&table, &threads);
    eprintln!("{cost}");
    write_extra("w4-ttl-cost.txt", &cost);
}

criterion_group!(benches, w4_ttl);
criterion_main!(benches);
