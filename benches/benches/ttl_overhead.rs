//! Issue 3's two TTL targets as paired comparisons, for a verdict that this machine's
//! drift cannot flip. On a shared two-vCPU machine, criterion's rows swing 10–20 % from
//! run to run: more than either target's margin, and criterion times one engine for
//! seconds, then the next.
//!
//! - **W4**: `insert_with_ttl` (30 to 90 minutes per entry, `ttl_of`) against plain
//!   `insert`, each engine inserting W2's key stream into its own cache, at capacity
//!   100,000. Target: at most 1.3× the time.
//! - **W1**: read hits on 1,000,000 entries, Zipf(0.99), with `default_ttl(1 h)` against
//!   none. Target: throughput within 10 %, i.e. at most 1/0.9 ≈ 1.111× the time.
//!
//! Each engine runs in a process of its own (this binary, started again with `--serve`),
//! as a cache does in a user's service: the two engines share no allocator and no
//! process-wide state (the ticker thread, the epoch). Sharing one process moved both
//! ratios on the development machine. In W4 the plain cache's freed nodes fed the TTL
//! cache's allocations. In W1 one of the two caches, in some processes, ran up to half
//! again as slow (see `docs/benchmarks.md`, "Paired").
//!
//! The parent starts [`Plan::processes`] pairs of engine processes in turn, and runs
//! [`Plan::rounds`] pairs of short batches on each. The two engines of a pair run
//! back to back, in alternating order (plain first in even rounds, TTL first in odd ones),
//! each timed batch right after an untimed one of the same engine, so that neither starts
//! on caches the other just filled. Each pair gives one ratio, TTL time over plain time.
//! Slow drift, such as another tenant's load, slows both halves of a pair alike and
//! cancels; a burst that hits one half makes one outlying ratio, which the median ignores.
//! The result is the median ratio, with a bootstrap 95 % confidence interval of that
//! median. Both engines get the same keys in the same order (the same seeds).
//!
//! Not criterion (`harness = false`, plain `main`). Run it with
//! `cargo bench -p clockwheel-benches --bench ttl_overhead`. Results go to stdout and to
//! `target/criterion-extra/ttl-overhead.txt` (inside `$CARGO_TARGET_DIR` when set). With
//! `--test` (what `cargo test --benches` passes), it runs a small smoke version and writes
//! no file.

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use clockwheel_benches::{
    bench_threads, key_of_rank, write_extra, SplitMix64, Streams, Zipf, UNIVERSE,
};
use common::{BenchCache, Clockwheel, ClockwheelDefaultTtl, ClockwheelTtl};

/// The W1 and W4 seeds of `w1_read_hits` and `w4_ttl`, so the same keys are drawn.
const W1_SEED: u64 = 0x5731;
const W4_SEED: u64 = 0x5734;
/// W4's capacity, and how many keys warm each W4 cache before timing.
const W4_CAPACITY: u64 = 100_000;
const W4_WARM: usize = 1 << 20;
/// Resamples for the bootstrap confidence interval.
const RESAMPLES: usize = 4000;

/// The sizes of one run: the full one, or the smoke test's.
struct Plan {
    /// Pairs of engine processes started, one pair after the other, per comparison.
    processes: usize,
    /// Pairs of batches per pair of processes.
    rounds: usize,
    universe: u64,
    w1_batch: u64,
    w4_batch: u64,
}

/// Five pairs of processes, six pairs of batches each: 30 ratios per comparison. A W1
/// batch is 2^18 lookups and a W4 batch 2^17 inserts per thread, so each batch takes
/// 20–50 ms on this machine.
const FULL: Plan = Plan {
    processes: 5,
    rounds: 6,
    universe: UNIVERSE,
    w1_batch: 1 << 18,
    w4_batch: 1 << 17,
};

const SMOKE: Plan = Plan {
    processes: 1,
    rounds: 3,
    universe: 10_000,
    w1_batch: 1 << 10,
    w4_batch: 1 << 10,
};

/// One comparison's ratios (TTL time / plain time), one per pair.
struct Paired {
    what: &'static str,
    threads: usize,
    ratios: Vec<f64>,
}

impl Paired {
    fn median(&self) -> f64 {
        median(&mut self.ratios.clone())
    }

    /// The 2.5th and 97.5th percentiles of the median over [`RESAMPLES`] resamples
    /// (with replacement) of the ratios.
    fn interval(&self) -> (f64, f64) {
        let mut rng = SplitMix64::new(0x7A1C ^ self.threads as u64);
        let n = self.ratios.len();
        let mut medians: Vec<f64> = (0..RESAMPLES)
            .map(|_| {
                let mut sample: Vec<f64> = (0..n)
                    .map(|_| self.ratios[(rng.next_u64() % n as u64) as usize])
                    .collect();
                median(&mut sample)
            })
            .collect();
        medians.sort_by(f64::total_cmp);
        let at = |q: f64| medians[((RESAMPLES - 1) as f64 * q).round() as usize];
        (at(0.025), at(0.975))
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() % 2 {
        1 => values[mid],
        _ => (values[mid - 1] + values[mid]) / 2.0,
    }
}

/// Runs `rounds` pairs of batches of `plain` and `ttl` in alternating order; returns
/// each pair's `ttl / plain` time ratio.
fn pairs(rounds: usize, plain: &mut Engine, ttl: &mut Engine) -> Vec<f64> {
    (0..rounds)
        .map(|round| {
            let (p, t) = if round % 2 == 0 {
                let p = plain.batch();
                (p, ttl.batch())
            } else {
                let t = ttl.batch();
                (plain.batch(), t)
            };
            t.as_secs_f64() / p.as_secs_f64()
        })
        .collect()
}

/// One engine, served by a child process (`--serve KIND THREADS`): it builds and warms
/// its cache, prints `ready`, then for each `run` line on its stdin runs an untimed and a
/// timed batch and prints the timed batch's nanoseconds.
struct Engine {
    child: Child,
    commands: ChildStdin,
    replies: BufReader<ChildStdout>,
}

impl Engine {
    fn start(kind: &str, threads: usize, smoke: bool) -> Engine {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut command = Command::new(exe);
        command.args(["--serve", kind, &threads.to_string()]);
        if smoke {
            command.arg("--test");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start an engine process");
        let commands = child.stdin.take().expect("piped stdin");
        let replies = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut engine = Engine {
            child,
            commands,
            replies,
        };
        assert_eq!(engine.reply(), "ready", "{kind}: no ready line");
        engine
    }

    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.replies
            .read_line(&mut line)
            .expect("read from an engine");
        line.trim().to_owned()
    }

    /// One timed batch (after its untimed warm-up batch).
    fn batch(&mut self) -> Duration {
        writeln!(self.commands, "run").expect("write to an engine");
        let nanos = self.reply();
        Duration::from_nanos(nanos.parse().expect("an engine replies in nanoseconds"))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = writeln!(self.commands, "quit");
        let _ = self.child.wait();
    }
}

/// The child's side: serves batches of `batch` until told to quit.
fn serve(mut batch: impl FnMut() -> Duration) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").expect("write to the parent");
    out.flush().expect("write to the parent");
    for line in std::io::stdin().lock().lines() {
        if line.expect("read from the parent").trim() != "run" {
            break;
        }
        batch();
        let nanos = batch().as_nanos();
        writeln!(out, "{nanos}").expect("write to the parent");
        out.flush().expect("write to the parent");
    }
}

/// A W1 cache: every rank of the universe inserted, hottest first (as `w1_read_hits`).
fn w1_cache<C: BenchCache>(universe: u64) -> C {
    let cache = C::with_capacity(universe);
    for rank in 0..universe {
        cache.insert(key_of_rank(rank), rank);
    }
    cache
}

/// `batch` lookups per thread on `threads` threads.
fn w1_batch<C: BenchCache>(cache: &C, streams: &Streams, threads: usize, batch: u64) -> Duration {
    streams.run(threads, batch, |lane| {
        lane.keys().fold(0u64, |sum, key| {
            sum.wrapping_add(cache.get(key).unwrap_or(0))
        })
    })
}

/// The child's side of W1: fills its cache and serves lookup batches.
fn serve_w1<C: BenchCache>(plan: &Plan, threads: usize) {
    let zipf = Zipf::new(plan.universe, 0.99);
    let cache: C = w1_cache(plan.universe);
    let keys = Streams::new(&zipf, threads, W1_SEED);
    serve(|| w1_batch(&cache, &keys, threads, plan.w1_batch));
}

/// A W4 cache at capacity, warmed with the first [`W4_WARM`] keys of the spare stream.
fn w4_cache<C: BenchCache>(streams: &Streams, threads: usize) -> C {
    let cache = C::with_capacity(W4_CAPACITY);
    for &key in &streams.stream(threads)[..W4_WARM] {
        cache.insert(key, key);
    }
    cache
}

/// `batch` inserts per thread on `threads` threads.
fn w4_batch<C: BenchCache>(cache: &C, streams: &Streams, threads: usize, batch: u64) -> Duration {
    streams.run(threads, batch, |lane| {
        lane.keys().fold(0u64, |n, key| {
            cache.insert(key, key);
            n.wrapping_add(key)
        })
    })
}

/// The child's side of W4: warms its cache at capacity and serves insert batches.
fn serve_w4<C: BenchCache>(plan: &Plan, threads: usize) {
    let zipf = Zipf::new(plan.universe, 0.9);
    // One stream per thread and a spare one for warming, long enough that no batch
    // replays keys: each round runs two batches (warm-up and timed).
    let len = (2 * plan.rounds as u64 * plan.w4_batch)
        .next_power_of_two()
        .max(W4_WARM as u64) as usize;
    let keys = Streams::with_len(&zipf, threads + 1, W4_SEED, len);
    let cache: C = w4_cache(&keys, threads);
    serve(|| w4_batch(&cache, &keys, threads, plan.w4_batch));
}

/// One comparison: `plan.processes` times, a child process per engine and
/// `plan.rounds` pairs of batches. Fresh processes each time, because on this machine
/// the ratio moves by up to a fifth from one pair of processes to the next (see
/// `docs/benchmarks.md`, "Paired"): the ratios pooled over several pairs of processes
/// average that out, and the interval shows it.
fn compare(
    what: &'static str,
    kinds: [&str; 2],
    plan: &Plan,
    threads: usize,
    smoke: bool,
) -> Paired {
    let ratios = (0..plan.processes)
        .flat_map(|_| {
            let mut plain = Engine::start(kinds[0], threads, smoke);
            let mut ttl = Engine::start(kinds[1], threads, smoke);
            pairs(plan.rounds, &mut plain, &mut ttl)
        })
        .collect();
    Paired {
        what,
        threads,
        ratios,
    }
}

/// One line of the report, with the verdict against `bound` (the largest time ratio the
/// target allows).
fn line(out: &mut String, paired: &Paired, bound: f64) {
    let median = paired.median();
    let (low, high) = paired.interval();
    let verdict = match (high <= bound, low > bound) {
        (true, _) => "met",
        (_, true) => "missed",
        _ => "undecided (the interval contains the bound)",
    };
    let _ = writeln!(
        out,
        "{:<40} {}thr  median {median:.3}  95% CI {low:.3}-{high:.3}  (n = {}, bound {bound:.3}): {verdict}",
        paired.what,
        paired.threads,
        paired.ratios.len(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--test");
    let plan = if smoke { &SMOKE } else { &FULL };
    if let Some(at) = args.iter().position(|a| a == "--serve") {
        let threads = args[at + 2].parse().expect("a thread count");
        return match args[at + 1].as_str() {
            "w4-plain" => serve_w4::<Clockwheel>(plan, threads),
            "w4-ttl" => serve_w4::<ClockwheelTtl>(plan, threads),
            "w1-plain" => serve_w1::<Clockwheel>(plan, threads),
            "w1-ttl" => serve_w1::<ClockwheelDefaultTtl>(plan, threads),
            kind => panic!("unknown engine {kind}"),
        };
    }
    let threads = bench_threads();
    let mut out = String::from(
        "# TTL overhead, paired: TTL time / plain time per pair of adjacent batches, \
         each engine in its own process\n",
    );
    for &t in &threads {
        let w4 = ["w4-plain", "w4-ttl"];
        let paired = compare("W4 inserts, insert_with_ttl / insert", w4, plan, t, smoke);
        line(&mut out, &paired, 1.3);
    }
    for &t in &threads {
        let w1 = ["w1-plain", "w1-ttl"];
        let paired = compare("W1 read hits, default_ttl(1 h) / none", w1, plan, t, smoke);
        // 1 / 0.9: throughput within 10 %.
        line(&mut out, &paired, 1.0 / 0.9);
    }
    print!("{out}");
    if !smoke {
        if let Some(path) = write_extra("ttl-overhead.txt", &out) {
            eprintln!("ttl_overhead: written to {}", path.display());
        }
    }
}
