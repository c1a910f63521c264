//! Concurrent mode: T threads replay one trace against one shared cache.
//!
//! Thread `i` takes requests `i, i + T, i + 2T, ...` so all threads sweep the
//! trace together. Every operation is timed (hdrhistogram, nanoseconds,
//! including ~20–30 ns of timer overhead): hits, misses and inserts apart.
//! The [`OriginModel`] turns each miss into an S3 round trip so the report
//! also gives end-to-end latency percentiles and origin requests saved.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::{CapacitySpec, OutputArgs, SourceArgs};
use crate::origin::OriginModel;
use crate::policy::list::{ListCache, ListMode};
use crate::policy::{CacheSim, Capacity};
use crate::replay::{footprint, resolve_invalidations};
use crate::report::{emit, OutputFormat};
use crate::rng::Rng;
use crate::source::{collect, VecSource};
use crate::trace::{Op, Request};

/// Arguments of `concurrent`.
#[derive(Args, Debug, Clone)]
pub struct ConcurrentArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Threads replaying the trace.
    #[arg(long, short, default_value_t = 2)]
    threads: usize,
    /// Capacity (as for `run`).
    #[arg(long, default_value = "10%")]
    capacity: String,
    /// Shared caches to compare, comma separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    caches: Vec<SharedKind>,
    #[command(flatten)]
    origin: OriginModel,
    #[command(flatten)]
    output: OutputArgs,
}

/// A cache that several threads can share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SharedKind {
    /// Clockwheel, CLOCK eviction.
    ClockwheelClock,
    /// Clockwheel, FIFO eviction.
    ClockwheelFifo,
    /// Exact LRU behind one mutex (the naive baseline).
    MutexLru,
    /// moka 0.12 sync (feature `peers`).
    Moka,
    /// quick_cache 0.7 sync (feature `peers`).
    QuickCache,
}

/// Operations on a shared cache; values are `(deadline, size)` stamps.
pub trait SharedCache: Send + Sync {
    /// True on a hit (an expired entry is removed and misses).
    fn get(&self, key: u64, now: u64) -> bool;
    /// Inserts or replaces.
    fn insert(&self, key: u64, size: u32, deadline: u64);
    /// Removes.
    fn remove(&self, key: u64);
}

macro_rules! stamp_cache {
    ($ty:ty, $remove:ident) => {
        impl SharedCache for $ty {
            fn get(&self, key: u64, now: u64) -> bool {
                match self.get(&key) {
                    Some((deadline, _)) if deadline <= now => {
                        self.$remove(&key);
                        false
                    }
                    Some(_) => true,
                    None => false,
                }
            }
            fn insert(&self, key: u64, size: u32, deadline: u64) {
                self.insert(key, (deadline, size));
            }
            fn remove(&self, key: u64) {
                self.$remove(&key);
            }
        }
    };
}

stamp_cache!(clockwheel::Cache<u64, crate::policy::engine::Stamp>, remove);
#[cfg(feature = "peers")]
stamp_cache!(moka::sync::Cache<u64, crate::policy::peers::Stamp>, invalidate);
#[cfg(feature = "peers")]
stamp_cache!(
    quick_cache::sync::Cache<
        u64,
        crate::policy::peers::Stamp,
        crate::policy::peers::StampWeighter,
    >,
    remove
);

impl SharedCache for Mutex<ListCache> {
    fn get(&self, key: u64, now: u64) -> bool {
        let req = Request {
            time_ms: now,
            ..Request::get(0, key, 0)
        };
        self.lock().expect("no panics while locked").get(&req)
    }
    fn insert(&self, key: u64, size: u32, deadline: u64) {
        let req = Request {
            ttl_ms: 0,
            ..Request::get(0, key, size)
        };
        let mut c = self.lock().expect("no panics while locked");
        c.insert(&req);
        c.set_deadline(key, deadline);
    }
    fn remove(&self, key: u64) {
        self.lock().expect("no panics while locked").remove(key);
    }
}

impl SharedKind {
    fn name(self) -> &'static str {
        match self {
            SharedKind::ClockwheelClock => "clockwheel-clock",
            SharedKind::ClockwheelFifo => "clockwheel-fifo",
            SharedKind::MutexLru => "mutex-lru",
            SharedKind::Moka => "moka",
            SharedKind::QuickCache => "quick_cache",
        }
    }

    fn build(self, capacity: Capacity) -> Result<Box<dyn SharedCache>> {
        use crate::policy::engine::engine_cache;
        Ok(match self {
            SharedKind::ClockwheelClock => Box::new(engine_cache(capacity, false)?),
            SharedKind::ClockwheelFifo => Box::new(engine_cache(capacity, true)?),
            SharedKind::MutexLru => Box::new(Mutex::new(ListCache::new(ListMode::Lru, capacity))),
            #[cfg(feature = "peers")]
            SharedKind::Moka => Box::new(crate::policy::peers::moka_cache(capacity)),
            #[cfg(feature = "peers")]
            SharedKind::QuickCache => Box::new(crate::policy::peers::quick_sync_cache(capacity)),
            #[cfg(not(feature = "peers"))]
            SharedKind::Moka | SharedKind::QuickCache => {
                anyhow::bail!("{} needs the `peers` feature", self.name())
            }
        })
    }

    fn defaults() -> Vec<SharedKind> {
        let mut v = vec![
            SharedKind::ClockwheelClock,
            SharedKind::ClockwheelFifo,
            SharedKind::MutexLru,
        ];
        if cfg!(feature = "peers") {
            v.extend([SharedKind::Moka, SharedKind::QuickCache]);
        }
        v
    }
}

/// Percentiles of one histogram.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Result of one shared cache.
#[derive(Clone, Debug, Serialize)]
pub struct ConcurrentResult {
    /// Cache name.
    pub cache: String,
    /// Threads.
    pub threads: usize,
    /// Requests replayed.
    pub requests: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Millions of requests per second, all threads together.
    pub mops: f64,
    /// Hit ratio over lookups.
    pub hit_ratio: f64,
    /// Lookup latency of hits, ns.
    pub hit_ns: Percentiles,
    /// Lookup latency of misses, ns.
    pub miss_ns: Percentiles,
    /// Insert latency, ns.
    pub insert_ns: Percentiles,
    /// End-to-end latency of lookups with the origin model, µs.
    pub end_to_end_us: Percentiles,
    /// Origin requests without a cache (every lookup).
    pub origin_requests_without_cache: u64,
    /// Origin requests with this cache (lookup misses).
    pub origin_requests: u64,
}

struct ThreadHists {
    hit: Histogram<u64>,
    miss: Histogram<u64>,
    insert: Histogram<u64>,
    e2e: Histogram<u64>,
    lookups: u64,
    hits: u64,
}

impl ThreadHists {
    fn new() -> Self {
        let h =
            || Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
        ThreadHists {
            hit: h(),
            miss: h(),
            insert: h(),
            e2e: h(),
            lookups: 0,
            hits: 0,
        }
    }

    fn merge(&mut self, o: &ThreadHists) {
        self.hit.add(&o.hit).expect("same bounds");
        self.miss.add(&o.miss).expect("same bounds");
        self.insert.add(&o.insert).expect("same bounds");
        self.e2e.add(&o.e2e).expect("same bounds");
        self.lookups += o.lookups;
        self.hits += o.hits;
    }
}

fn elapsed_ns(t: Instant) -> u64 {
    (t.elapsed().as_nanos() as u64).max(1)
}

struct Worker<'a> {
    cache: &'a dyn SharedCache,
    trace: &'a [Request],
    invalidations: &'a HashMap<usize, Vec<u64>>,
    origin: OriginModel,
}

impl Worker<'_> {
    fn run(&self, thread: usize, threads: usize) -> ThreadHists {
        let mut h = ThreadHists::new();
        let mut rng = Rng::new(0xC0FFEE ^ thread as u64);
        for i in (thread..self.trace.len()).step_by(threads) {
            self.one(i, &mut h, &mut rng);
        }
        h
    }

    fn one(&self, i: usize, h: &mut ThreadHists, rng: &mut Rng) {
        let r = &self.trace[i];
        match r.op {
            Op::Get | Op::List | Op::Head | Op::Copy => self.lookup(r, h, rng),
            Op::Put => {
                let t = Instant::now();
                self.cache.insert(r.key, r.size, r.deadline());
                let _ = h.insert.record(elapsed_ns(t));
            }
            Op::Delete => self.cache.remove(r.key),
            Op::Invalidate => {
                for &k in self.invalidations.get(&i).map_or(&[][..], Vec::as_slice) {
                    self.cache.remove(k);
                }
            }
        }
    }

    fn lookup(&self, r: &Request, h: &mut ThreadHists, rng: &mut Rng) {
        h.lookups += 1;
        let t = Instant::now();
        let hit = self.cache.get(r.key, r.time_ms);
        let ns = elapsed_ns(t);
        if hit {
            h.hits += 1;
            let _ = h.hit.record(ns);
            let _ = h.e2e.record((ns / 1000).max(1));
            return;
        }
        let _ = h.miss.record(ns);
        let body = matches!(r.op, Op::Get | Op::List);
        let mut total_ns = ns + self.origin.sample_us(rng, r.size, body) * 1000;
        if body {
            let t = Instant::now();
            self.cache.insert(r.key, r.size, r.deadline());
            let ins = elapsed_ns(t);
            let _ = h.insert.record(ins);
            total_ns += ins;
        }
        let _ = h.e2e.record((total_ns / 1000).max(1));
    }
}

fn run_one(
    kind: SharedKind,
    capacity: Capacity,
    trace: &[Request],
    invalidations: &HashMap<usize, Vec<u64>>,
    args: &ConcurrentArgs,
) -> Result<ConcurrentResult> {
    let cache = kind.build(capacity)?;
    let threads = args.threads.max(1);
    let worker = Worker {
        cache: cache.as_ref(),
        trace,
        invalidations,
        origin: args.origin,
    };
    let barrier = Barrier::new(threads + 1);
    let (hists, seconds) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (w, b) = (&worker, &barrier);
                s.spawn(move || {
                    b.wait();
                    w.run(t, threads)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let hists: Vec<ThreadHists> = handles
            .into_iter()
            .map(|h| h.join().expect("worker thread panicked"))
            .collect();
        (hists, start.elapsed().as_secs_f64())
    });
    let mut all = ThreadHists::new();
    hists.iter().for_each(|h| all.merge(h));
    Ok(ConcurrentResult {
        cache: kind.name().into(),
        threads,
        requests: trace.len() as u64,
        seconds,
        mops: trace.len() as f64 / seconds / 1e6,
        hit_ratio: all.hits as f64 / all.lookups.max(1) as f64,
        hit_ns: Percentiles::of(&all.hit),
        miss_ns: Percentiles::of(&all.miss),
        insert_ns: Percentiles::of(&all.insert),
        end_to_end_us: Percentiles::of(&all.e2e),
        origin_requests_without_cache: all.lookups,
        origin_requests: all.lookups - all.hits,
    })
}

/// Runs the concurrent command.
pub fn run(args: &ConcurrentArgs) -> Result<()> {
    let input = args.source.input()?;
    let trace = collect(input.open()?.as_mut())?;
    let fp = footprint(&mut VecSource::new(&trace, false), None)?;
    let capacity = CapacitySpec::parse(&args.capacity)?.resolve(&fp);
    let invalidations = resolve_invalidations(&trace);
    let kinds = if args.caches.is_empty() {
        SharedKind::defaults()
    } else {
        args.caches.clone()
    };
    let bar = args.output.progress(Some(kinds.len() as u64), "caches");
    let mut results = Vec::new();
    for kind in kinds {
        match run_one(kind, capacity, &trace, &invalidations, args) {
            Ok(r) => results.push(r),
            Err(e) if args.caches.is_empty() => eprintln!("note: skipping {}: {e}", kind.name()),
            Err(e) => return Err(e),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    match args.output.format() {
        OutputFormat::Table => emit(&table(&input.label(), capacity, &args.origin, &results))?,
        OutputFormat::Json => emit(&(serde_json::to_string_pretty(&results)? + "\n"))?,
        OutputFormat::Csv => emit(&csv(&results))?,
    }
    Ok(())
}

fn table(label: &str, cap: Capacity, o: &OriginModel, results: &[ConcurrentResult]) -> String {
    let mut out = format!("source:   {label}\ncapacity: {cap}\n");
    let _ = writeln!(
        out,
        "origin:   first byte lognormal median {} ms σ {}, {} MB/s",
        o.median_ms, o.sigma, o.mbps
    );
    let _ = writeln!(
        out,
        "{:<17} {:>3} {:>7} {:>6} | {:>24} | {:>24} | {:>18} | {:>18} {:>8}",
        "cache",
        "thr",
        "Mops/s",
        "hit %",
        "hit ns p50/p99/p99.9",
        "miss ns p50/p99/p99.9",
        "insert ns p50/p99",
        "e2e ms p50/p99/max",
        "origin-"
    );
    for r in results {
        let p3 = |p: &Percentiles| format!("{}/{}/{}", p.p50, p.p99, p.p999);
        let saved = 1.0 - r.origin_requests as f64 / r.origin_requests_without_cache.max(1) as f64;
        let e = &r.end_to_end_us;
        let _ = writeln!(
            out,
            "{:<17} {:>3} {:>7.2} {:>6.2} | {:>24} | {:>24} | {:>18} | {:>18} {:>7.1}%",
            r.cache,
            r.threads,
            r.mops,
            r.hit_ratio * 100.0,
            p3(&r.hit_ns),
            p3(&r.miss_ns),
            format!("{}/{}", r.insert_ns.p50, r.insert_ns.p99),
            format!(
                "{:.3}/{:.1}/{:.0}",
                e.p50 as f64 / 1e3,
                e.p99 as f64 / 1e3,
                e.max as f64 / 1e3
            ),
            saved * 100.0
        );
    }
    out.push_str("origin-: origin requests saved by the cache\n");
    out
}

/// Histogram columns of the CSV: name prefix and unit, in output order.
const CSV_HISTOGRAMS: [(&str, &str); 4] = [
    ("hit", "ns"),
    ("miss", "ns"),
    ("insert", "ns"),
    ("e2e", "us"),
];

fn csv(results: &[ConcurrentResult]) -> String {
    let mut out = String::from("cache,threads,requests,seconds,mops,hit_ratio");
    for (name, unit) in CSV_HISTOGRAMS {
        let _ = write!(out, ",{name}_count");
        for q in ["p50", "p90", "p99", "p999", "max"] {
            let _ = write!(out, ",{name}_{q}_{unit}");
        }
    }
    out.push_str(",origin_requests,origin_requests_without_cache\n");
    for r in results {
        let _ = write!(
            out,
            "{},{},{},{:.3},{:.3},{:.6}",
            r.cache, r.threads, r.requests, r.seconds, r.mops, r.hit_ratio
        );
        for p in [&r.hit_ns, &r.miss_ns, &r.insert_ns, &r.end_to_end_us] {
            let _ = write!(
                out,
                ",{},{},{},{},{},{}",
                p.count, p.p50, p.p90, p.p99, p.p999, p.max
            );
        }
        let _ = writeln!(
            out,
            ",{},{}",
            r.origin_requests, r.origin_requests_without_cache
        );
    }
    out
}
