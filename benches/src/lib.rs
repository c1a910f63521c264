//! Shared workload generators and drivers for the Clockwheel benchmarks.
//!
//! Everything here runs *before* timing starts: key streams are generated up
//! front so that a timed iteration costs one cache operation plus a load from a
//! precomputed array. The generators are deterministic (fixed seeds, no
//! dependency on an external RNG crate), so every engine sees exactly the same
//! key sequence in every run.
//!
//! * [`SplitMix64`] — a tiny 64-bit PRNG (Steele, Lea & Flood, "Fast splittable
//!   pseudorandom number generators", OOPSLA 2014).
//! * [`Zipf`] — a Zipf(s) sampler over ranks `0..n` by inversion of a
//!   precomputed cumulative distribution (binary search per sample).
//! * [`key_of_rank`] — a bijection from rank to key, so that the hottest keys
//!   are not small consecutive integers (which would flatter some hashers).
//! * [`Streams`] — per-thread key streams and the multi-threaded driver used
//!   with criterion's `iter_custom`: wall time of a fixed number of operations
//!   per thread, all threads started together.
//! * [`report`] — reads back criterion's estimates from the same run and
//!   prints throughput ratios between engines.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

pub mod report;

/// Number of distinct keys in W1 (all cached) and the key universe of W2.
pub const UNIVERSE: u64 = 1_000_000;

/// Default length of each per-thread key stream (a power of two, so the
/// driver can wrap around with a mask).
pub const STREAM_LEN: usize = 1 << 20;

/// Stream length for workloads whose outcome depends on the order of misses
/// (W2, W4): a stream replayed in a loop is a periodic trace, and over a
/// 1,000,000-key universe a period of only 2^20 lets frequency-aware policies
/// score above the best static cache. 2^23 keys (64 MB per stream) makes the
/// fastest engine replay its stream only a few times per run.
pub const LONG_STREAM_LEN: usize = 1 << 23;

/// Operations one thread performs per criterion iteration. Throughput is
/// reported as `threads * OPS_PER_ITER` elements per iteration.
pub const OPS_PER_ITER: u64 = 1024;

/// Base seed; thread `t` of workload `w` uses a seed derived from it.
pub const SEED: u64 = 0x00C1_0C4B_EE15_2024;

/// SplitMix64: a fast, statistically decent, fully deterministic PRNG.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Zipf(s) over ranks `0..n`: `P(rank = i) ∝ 1 / (i + 1)^s`.
///
/// Sampling inverts the cumulative distribution with a binary search over a
/// table of `n` `f64`s (8 MB for a million ranks). Building the table is
/// `O(n)`; each sample is `O(log n)`. Both happen before timing.
///
/// ```
/// use clockwheel_benches::{SplitMix64, Zipf};
/// let zipf = Zipf::new(1000, 0.99);
/// let mut rng = SplitMix64::new(1);
/// assert!((0..100).all(|_| zipf.sample(&mut rng) < 1000));
/// // The 100 hottest ranks carry most of the mass at this skew.
/// assert!(zipf.top_mass(100) > 0.6 && zipf.top_mass(100) < 0.7);
/// ```
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks with exponent `s`.
    ///
    /// # Panics
    /// If `n == 0` or `s` is not finite and non-negative.
    pub fn new(n: u64, s: f64) -> Self {
        assert!(n > 0, "Zipf needs at least one rank");
        assert!(s.is_finite() && s >= 0.0, "Zipf exponent must be >= 0");
        let mut cdf = Vec::with_capacity(n as usize);
        let mut total = 0.0f64;
        for i in 0..n {
            total += ((i + 1) as f64).powf(-s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        // Guard against rounding: the last bucket must catch every u < 1.
        *cdf.last_mut().expect("n > 0") = 1.0;
        Self { cdf }
    }

    /// Number of ranks.
    pub fn len(&self) -> u64 {
        self.cdf.len() as u64
    }

    /// Always false: construction requires at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }

    /// One rank in `0..n`, 0 being the most popular.
    pub fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let u = rng.next_f64();
        self.cdf.partition_point(|&c| c <= u) as u64
    }

    /// The probability mass of the `k` most popular ranks (the best hit
    /// ratio any cache of `k` entries can reach on an independent stream).
    pub fn top_mass(&self, k: u64) -> f64 {
        match k {
            0 => 0.0,
            k if k >= self.len() => 1.0,
            k => self.cdf[k as usize - 1],
        }
    }
}

/// A bijection on `u64` (an odd multiplier then an xor-shift, both
/// invertible) mapping rank to key, so hot keys are spread over the key space.
pub fn key_of_rank(rank: u64) -> u64 {
    let x = rank.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

/// `len` keys drawn from `zipf` with the generator seeded by `seed`.
pub fn key_stream(zipf: &Zipf, len: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64::new(seed);
    (0..len)
        .map(|_| key_of_rank(zipf.sample(&mut rng)))
        .collect()
}

/// The per-entry TTL the TTL benchmarks give `key`: between 30 and 90
/// minutes, spread by key so that deadlines land in many timer slots. Nothing
/// expires during a run.
#[inline]
pub fn ttl_of(key: u64) -> Duration {
    Duration::from_secs(1800 + key % 3600)
}

/// Thread counts to benchmark, from `CW_BENCH_THREADS` (comma separated,
/// e.g. `1,2,4,8,16`); `1,2` when unset or unparsable.
pub fn bench_threads() -> Vec<usize> {
    let parsed: Option<Vec<usize>> = std::env::var("CW_BENCH_THREADS").ok().and_then(|s| {
        s.split(',')
            .map(|p| p.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect()
    });
    match parsed {
        Some(v) if !v.is_empty() => v,
        _ => vec![1, 2],
    }
}

/// Per-thread key streams, each with a read position that persists across
/// timed calls: consecutive criterion samples continue the stream instead of
/// replaying its first keys (which would flatter W2's hit ratio).
///
/// ```
/// use clockwheel_benches::{Streams, Zipf};
/// let streams = Streams::with_len(&Zipf::new(100, 0.9), 2, 7, 1 << 10);
/// // Two threads, 500 keys each; the closure's result only feeds a black box.
/// let elapsed = streams.run(2, 500, |lane| lane.keys().count() as u64);
/// assert!(elapsed.as_nanos() > 0);
/// ```
pub struct Streams {
    keys: Vec<Vec<u64>>,
    cursors: Vec<Cursor>,
    /// Stream length minus one (lengths are powers of two).
    mask: usize,
}

/// A thread's read position, padded so two threads' cursors share no line.
#[repr(align(128))]
struct Cursor(AtomicUsize);

/// The keys one thread works through in one timed call.
#[derive(Clone, Copy)]
pub struct Lane<'a> {
    stream: &'a [u64],
    start: usize,
    ops: usize,
    mask: usize,
}

impl<'a> Lane<'a> {
    /// The `ops` keys of this call, wrapping around the stream.
    #[inline]
    pub fn keys(self) -> impl Iterator<Item = u64> + 'a {
        let (stream, mask) = (self.stream, self.mask);
        (self.start..self.start + self.ops).map(move |i| stream[i & mask])
    }
}

impl Streams {
    /// `threads` independent streams of [`STREAM_LEN`] keys drawn from `zipf`.
    pub fn new(zipf: &Zipf, threads: usize, workload_seed: u64) -> Self {
        Self::with_len(zipf, threads, workload_seed, STREAM_LEN)
    }

    /// `threads` independent streams of `len` keys drawn from `zipf`.
    ///
    /// # Panics
    /// If `len` is not a power of two.
    pub fn with_len(zipf: &Zipf, threads: usize, workload_seed: u64, len: usize) -> Self {
        assert!(
            len.is_power_of_two(),
            "stream length must be a power of two"
        );
        let keys = (0..threads)
            .map(|t| {
                let seed = workload_seed ^ SEED.wrapping_add(t as u64);
                key_stream(zipf, len, seed)
            })
            .collect();
        let cursors = (0..threads).map(|_| Cursor(AtomicUsize::new(0))).collect();
        Streams {
            keys,
            cursors,
            mask: len - 1,
        }
    }

    /// The stream of thread `t` from its start (for warming a cache).
    pub fn stream(&self, t: usize) -> &[u64] {
        &self.keys[t]
    }

    /// Runs `per_thread(lane)` on `threads` threads at once, each lane `ops`
    /// keys long, and returns the wall time from a common start barrier until
    /// the last thread finishes. With one thread the body runs on the calling
    /// thread (no spawn). `per_thread`'s result goes into a black box so the
    /// work cannot be optimized away.
    ///
    /// # Panics
    /// If `threads` is zero or exceeds the number of streams.
    pub fn run<F>(&self, threads: usize, ops: u64, per_thread: F) -> Duration
    where
        F: Fn(Lane<'_>) -> u64 + Sync,
    {
        assert!((1..=self.keys.len()).contains(&threads), "bad thread count");
        let ops = ops as usize;
        let lane = |t: usize| Lane {
            stream: &self.keys[t],
            start: self.cursors[t].0.fetch_add(ops, Ordering::Relaxed) & self.mask,
            ops,
            mask: self.mask,
        };
        if threads == 1 {
            let lane = lane(0);
            let start = Instant::now();
            std::hint::black_box(per_thread(lane));
            return start.elapsed();
        }
        let barrier = Barrier::new(threads + 1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (barrier, per_thread, lane) = (&barrier, &per_thread, lane(t));
                    scope.spawn(move || {
                        barrier.wait();
                        std::hint::black_box(per_thread(lane))
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            for h in handles {
                h.join().expect("benchmark thread panicked");
            }
            start.elapsed()
        })
    }
}

/// Directory for results criterion does not store itself (hit ratios,
/// memory): `criterion-extra/` inside the cargo target directory
/// (`$CARGO_TARGET_DIR`, or the workspace's `target/`).
pub fn extra_output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("criterion-extra")
}

/// Writes `contents` to `name` in [`extra_output_dir`], reporting (not
/// failing on) I/O errors, and returns the path written.
pub fn write_extra(name: &str, contents: &str) -> Option<PathBuf> {
    let dir = extra_output_dir();
    let path = dir.join(name);
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, contents)) {
        Ok(()) => Some(path),
        Err(e) => {
            eprintln!("warning: could not write {}: {e}", path.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Mutex;

    #[test]
    fn splitmix_is_deterministic() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut r = SplitMix64::new(7);
        assert!(a.iter().all(|&x| x == r.next_u64()));
    }

    #[test]
    fn zipf_ranks_in_range_and_skewed() {
        let z = Zipf::new(1000, 0.99);
        let mut rng = SplitMix64::new(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..200_000 {
            let r = z.sample(&mut rng);
            assert!(r < 1000);
            counts[r as usize] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
        // Rank 0 should get roughly top_mass(1) of the samples.
        let expect = z.top_mass(1) * 200_000.0;
        assert!((counts[0] as f64 - expect).abs() < expect * 0.05);
    }

    #[test]
    fn zipf_zero_exponent_is_uniform_mass() {
        let z = Zipf::new(10, 0.0);
        assert!((z.top_mass(5) - 0.5).abs() < 1e-12);
        assert_eq!(z.top_mass(10), 1.0);
    }

    #[test]
    fn key_of_rank_is_injective_on_a_range() {
        let mut keys: Vec<u64> = (0..100_000).map(key_of_rank).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 100_000);
    }

    #[test]
    fn run_gives_every_thread_its_own_stream() {
        let streams = Streams::new(&Zipf::new(1000, 0.5), 3, 9);
        let total = AtomicU64::new(0);
        streams.run(3, 10, |lane| {
            let sum = lane.keys().fold(0u64, u64::wrapping_add);
            total.fetch_add(sum, Ordering::Relaxed);
            sum
        });
        let expect = (0..3).fold(0u64, |acc, t| {
            streams.stream(t)[..10]
                .iter()
                .fold(acc, |a, &k| a.wrapping_add(k))
        });
        assert_eq!(total.load(Ordering::Relaxed), expect);
    }

    #[test]
    fn run_continues_where_the_last_call_stopped_and_wraps() {
        const LEN: usize = 64;
        let streams = Streams::with_len(&Zipf::new(1000, 0.5), 1, 3, LEN);
        let seen = Mutex::new(Vec::new());
        let record = |lane: Lane<'_>| {
            seen.lock().unwrap().extend(lane.keys());
            0
        };
        streams.run(1, 7, record);
        streams.run(1, (LEN - 7) as u64 + 2, record);
        streams.run(1, 3, record);
        let seen = seen.into_inner().unwrap();
        let s = streams.stream(0);
        assert_eq!(s.len(), LEN);
        assert_eq!(seen.len(), LEN + 5);
        assert_eq!(&seen[..LEN], s);
        assert_eq!(&seen[LEN..], &s[..5]);
    }
}
