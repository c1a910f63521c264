//! W1, read hits: 1,000,000 `u64` keys, all inserted before timing, looked
//! up with Zipf(0.99) popularity; 1 and 2 threads by default
//! (`CW_BENCH_THREADS="1,2,4,8,16"` for more).
//!
//! Every engine is built with capacity for the whole key set, filled, then
//! checked for residency (a warning is printed if some keys did not stay:
//! those lookups are misses and the throughput is then not pure hits).
//! The floor is a bare single-threaded `hashbrown::HashMap` doing the same
//! lookups. `clockwheel_nostats` is Clockwheel with `record_stats(false)` and
//! `clockwheel_default_ttl` with `default_ttl(1 h)` (every hit checks its deadline).
//! That row shares this process with the other engines. On the development machine, a
//! cache sharing a process ran up to half again as slow in some processes, so the row's
//! ratio to `clockwheel` swings by tens of percent. Issue 3's read target is measured by
//! `ttl_overhead`, which gives each engine a process of its own (see
//! `docs/benchmarks.md`, "Paired").
//! After the group, a table of throughputs and `clockwheel / engine` ratios
//! from this run is printed and saved (see `clockwheel_benches::report`).
//!
//! Run only this group: `cargo bench --bench w1_read_hits`.

mod common;

use std::time::SystemTime;

use clockwheel_benches::report::RatioTable;
use clockwheel_benches::{bench_threads, key_of_rank, Streams, Zipf, OPS_PER_ITER, UNIVERSE};
use common::{
    configure, BenchCache, Clockwheel, ClockwheelDefaultTtl, ClockwheelNoStats, Moka, MutexLru,
    QuickCache,
};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

const ZIPF_S: f64 = 0.99;
const W1_SEED: u64 = 0x5731;

fn fill<C: BenchCache>() -> C {
    let cache = C::with_capacity(UNIVERSE);
    for rank in 0..UNIVERSE {
        cache.insert(key_of_rank(rank), rank);
    }
    cache.settle();
    let resident = (0..UNIVERSE)
        .filter(|&rank| cache.get(key_of_rank(rank)).is_some())
        .count() as u64;
    cache.settle();
    if resident < UNIVERSE {
        eprintln!(
            "w1: {} kept {resident} of {UNIVERSE} keys at capacity {UNIVERSE}; \
             its lookups include misses",
            C::NAME
        );
    }
    cache
}

/// One filled cache per engine, shared by its thread counts (the fill is the
/// expensive part of the setup and reads do not change what is cached).
fn bench_engine<C: BenchCache>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    streams: &Streams,
    threads: &[usize],
) {
    let cache = fill::<C>();
    for &t in threads {
        group.throughput(Throughput::Elements(t as u64 * OPS_PER_ITER));
        group.bench_function(BenchmarkId::new(C::NAME, t), |b| {
            b.iter_custom(|iters| {
                streams.run(t, iters * OPS_PER_ITER, |lane| {
                    lane.keys().fold(0u64, |sum, key| {
                        sum.wrapping_add(cache.get(key).unwrap_or(0))
                    })
                })
            })
        });
    }
}

/// The floor: one thread, a plain `hashbrown::HashMap`, same lookups.
fn bench_hashbrown(group: &mut BenchmarkGroup<'_, WallTime>, streams: &Streams) {
    let mut map = hashbrown::HashMap::with_capacity(UNIVERSE as usize);
    for rank in 0..UNIVERSE {
        map.insert(key_of_rank(rank), rank);
    }
    group.throughput(Throughput::Elements(OPS_PER_ITER));
    group.bench_function(BenchmarkId::new("hashbrown", 1), |b| {
        b.iter_custom(|iters| {
            streams.run(1, iters * OPS_PER_ITER, |lane| {
                lane.keys().fold(0u64, |sum, key| {
                    sum.wrapping_add(map.get(&key).copied().unwrap_or(0))
                })
            })
        })
    });
}

const GROUP: &str = "w1_read_hits";

fn w1_read_hits(c: &mut Criterion) {
    let since = SystemTime::now();
    let threads = bench_threads();
    let max_threads = threads.iter().copied().max().unwrap_or(1);
    let zipf = Zipf::new(UNIVERSE, ZIPF_S);
    let streams = Streams::new(&zipf, max_threads, W1_SEED);

    let mut group = c.benchmark_group(GROUP);
    configure(&mut group);
    bench_hashbrown(&mut group, &streams);
    bench_engine::<Clockwheel>(&mut group, &streams, &threads);
    bench_engine::<ClockwheelNoStats>(&mut group, &streams, &threads);
    bench_engine::<ClockwheelDefaultTtl>(&mut group, &streams, &threads);
    bench_engine::<QuickCache>(&mut group, &streams, &threads);
    bench_engine::<Moka>(&mut group, &streams, &threads);
    bench_engine::<MutexLru>(&mut group, &streams, &threads);
    group.finish();

    let engines = [
        Clockwheel::NAME,
        ClockwheelNoStats::NAME,
        ClockwheelDefaultTtl::NAME,
        QuickCache::NAME,
        Moka::NAME,
        MutexLru::NAME,
        "hashbrown",
    ];
    RatioTable::new(GROUP, Clockwheel::NAME, OPS_PER_ITER, since).publish(&engines, &threads);
}

criterion_group!(benches, w1_read_hits);
criterion_main!(benches);
