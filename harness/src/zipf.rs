//! Zipf(α) sampling over ranks `0..n` in O(1) time with one table read.
//!
//! The sampler is Walker's alias method, built with Vose's algorithm (1991):
//! bucket `i` of `n` equal buckets keeps rank `i` with probability
//! `threshold[i] / 2^32` and otherwise gives its `alias`. A sample scales 64
//! random bits by `n`: the integer part picks the bucket, the fraction is
//! compared with the threshold. One 8-byte table entry per rank and no
//! data-dependent search, so independent samples overlap their cache misses.

/// One alias bucket: keep the bucket's own rank if the 32-bit fraction is
/// below `threshold`, else take `alias`. Full buckets have `alias` = own rank.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    threshold: u32,
    alias: u32,
}

/// Alias-table Zipf sampler: `P(rank = r) ∝ (r + 1)^-alpha`.
#[derive(Clone, Debug)]
pub struct Zipf {
    alias: Discrete,
    alpha: f64,
    /// 1 / Σ (r + 1)^-alpha.
    norm: f64,
}

impl Zipf {
    /// Builds a sampler over `n ≥ 1` ranks with exponent `alpha ≥ 0`.
    ///
    /// ```
    /// use clockwheel_harness::zipf::Zipf;
    /// let z = Zipf::new(1000, 1.0);
    /// assert!(z.sample(u64::MAX / 2) < 1000);
    /// assert!(z.probability(0) > z.probability(1));
    /// ```
    pub fn new(n: u32, alpha: f64) -> Self {
        let n = n.max(1);
        let weights = weights(n, alpha);
        let total: f64 = weights.iter().sum();
        Zipf {
            alias: Discrete::new(weights),
            alpha,
            norm: 1.0 / total,
        }
    }

    /// Number of ranks.
    pub fn len(&self) -> u32 {
        self.alias.len()
    }

    /// Always false: a sampler has at least one rank.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Probability of rank `r`.
    pub fn probability(&self, r: u32) -> f64 {
        ((r + 1) as f64).powf(-self.alpha) * self.norm
    }

    /// Maps 64 uniform random bits to a rank (see [`Discrete::sample`]).
    #[inline]
    pub fn sample(&self, bits: u64) -> u32 {
        self.alias.sample(bits)
    }

    /// Brings in the bucket [`Self::sample`] will read for `bits`.
    #[inline]
    pub fn prefetch(&self, bits: u64) {
        self.alias.prefetch(bits)
    }
}

/// Ranks below this get `powf`; above, the series of [`weights`] converges
/// to full precision in [`SERIES_TERMS`] terms for any `alpha ≤ 16`.
const SERIES_FROM: u32 = 1024;
const SERIES_TERMS: usize = 10;
/// Ranks between two exact `powf` anchors, which bound rounding drift.
const ANCHOR_EVERY: u32 = 4096;

/// `(r + 1)^-alpha` for `r = 0..n`. Past [`SERIES_FROM`] each weight is
/// the previous one times `(1 + 1/r)^-alpha`, by its binomial series
/// (`x = 1/r ≤ 2^-10`, truncation below 2^-60 for `alpha ≤ 16`), re-anchored
/// with an exact `powf` every [`ANCHOR_EVERY`] ranks: relative error below
/// `ANCHOR_EVERY · 2^-52 ≈ 1e-12` (tested), at a fraction of a `powf` each.
fn weights(n: u32, alpha: f64) -> Vec<f64> {
    let exact = |r: u32| ((r + 1) as f64).powf(-alpha);
    // c[k] = -(alpha + k) / (k + 1): successive binomial coefficients.
    let c: [f64; SERIES_TERMS] = std::array::from_fn(|k| -(alpha + k as f64) / (k + 1) as f64);
    let mut w = Vec::with_capacity(n as usize);
    let mut last = 0.0;
    for r in 0..n {
        last = if r < SERIES_FROM || alpha > 16.0 || r % ANCHOR_EVERY == 0 {
            exact(r)
        } else {
            let x = 1.0 / r as f64;
            let s = c.iter().rev().fold(1.0, |s, &ck| 1.0 + ck * x * s);
            last * s
        };
        w.push(last);
    }
    w
}

/// Alias-table sampler of any distribution over `0..n` given by weights.
#[derive(Clone, Debug)]
pub struct Discrete {
    table: Vec<Bucket>,
}

impl Discrete {
    /// A sampler with `P(i) ∝ weights[i]` (non-negative, not all zero; an
    /// empty list samples 0).
    ///
    /// ```
    /// use clockwheel_harness::zipf::Discrete;
    /// let d = Discrete::new(vec![0.0, 1.0, 0.0]);
    /// assert_eq!(d.sample(0), 1);
    /// assert_eq!(d.sample(u64::MAX), 1);
    /// ```
    pub fn new(mut weights: Vec<f64>) -> Self {
        if weights.is_empty() {
            weights.push(1.0);
        }
        let n = weights.len() as f64;
        let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        weights.iter_mut().for_each(|w| *w *= n / total);
        Discrete {
            table: vose(weights),
        }
    }

    /// Number of outcomes.
    pub fn len(&self) -> u32 {
        self.table.len() as u32
    }

    /// Always false: a sampler has at least one outcome.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Maps 64 uniform random bits to an outcome.
    ///
    /// The 128-bit product `bits × n` splits into the bucket (high 64 bits,
    /// uniform on `0..n`) and a fraction (low 64 bits, uniform, independent
    /// of the bucket), whose top 32 bits are compared with the threshold: one
    /// multiply, one table read, no floating point.
    #[inline]
    pub fn sample(&self, bits: u64) -> u32 {
        let (i, frac) = self.bucket(bits);
        let b = self.table[i];
        // Keep-or-alias is a coin flip for most buckets: select with a mask,
        // not a branch the CPU would mispredict (the black box keeps the
        // compiler from turning the mask back into a branch).
        let keep = std::hint::black_box(((frac < b.threshold) as u32).wrapping_neg());
        (i as u32 & keep) | (b.alias & !keep)
    }

    /// Brings in the bucket [`Self::sample`] will read for `bits`.
    #[inline]
    pub fn prefetch(&self, bits: u64) {
        crate::popularity::prefetch(&self.table, self.bucket(bits).0);
    }

    /// The bucket of `bits` and the 32-bit fraction within it.
    #[inline]
    fn bucket(&self, bits: u64) -> (usize, u32) {
        let wide = bits as u128 * self.table.len() as u128;
        ((wide >> 64) as usize, (wide as u64 >> 32) as u32)
    }
}

/// Vose's alias construction from probabilities scaled to mean 1.
fn vose(mut scaled: Vec<f64>) -> Vec<Bucket> {
    let n = scaled.len();
    let mut table: Vec<Bucket> = (0..n as u32)
        .map(|i| Bucket {
            threshold: u32::MAX,
            alias: i,
        })
        .collect();
    // u32 indices (n ≤ 2^32 outcomes) halve the stacks' memory to fault in.
    let mut small: Vec<u32> = Vec::with_capacity(n);
    let mut large: Vec<u32> = Vec::new();
    for (i, &w) in scaled.iter().enumerate() {
        match w < 1.0 {
            true => small.push(i as u32),
            false => large.push(i as u32),
        }
    }
    while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
        let (s, l) = (s as usize, l as usize);
        // Bucket s keeps its own mass; the rest of the bucket goes to l.
        table[s].threshold = (scaled[s] * 4_294_967_296.0) as u32;
        table[s].alias = l as u32;
        scaled[l] -= 1.0 - scaled[s];
        if scaled[l] < 1.0 {
            large.pop();
            small.push(l as u32);
        }
    }
    // Leftovers are full buckets up to rounding: they keep their own rank.
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn matches_probabilities() {
        let z = Zipf::new(1000, 1.0);
        let mut r = Rng::new(3);
        let n = 400_000;
        let mut counts = vec![0u32; 1000];
        for _ in 0..n {
            counts[z.sample(r.next_u64()) as usize] += 1;
        }
        for rank in [0u32, 1, 9, 99, 999] {
            let expect = z.probability(rank) * n as f64;
            let got = counts[rank as usize] as f64;
            assert!(
                (got - expect).abs() < 5.0 * expect.sqrt() + 5.0,
                "{rank}: {got} vs {expect}"
            );
        }
        // Rank 0 of Zipf(1) over 1000 ranks has probability 1/H(1000) ≈ 0.1336.
        assert!((z.probability(0) - 0.1336).abs() < 0.001);
    }

    #[test]
    fn table_reproduces_the_distribution_exactly() {
        // Summing each bucket's kept share and aliased share per rank gives
        // back n * P(r), up to the 2^-32 threshold resolution.
        for (n, alpha) in [(1u32, 0.9), (7, 0.0), (500, 0.9), (2000, 1.3)] {
            let z = Zipf::new(n, alpha);
            let mut mass = vec![0.0f64; n as usize];
            for (i, b) in z.alias.table.iter().enumerate() {
                let keep = if b.alias as usize == i {
                    1.0
                } else {
                    b.threshold as f64 / 4_294_967_296.0
                };
                mass[i] += keep;
                mass[b.alias as usize] += 1.0 - keep;
            }
            for (r, m) in mass.iter().enumerate() {
                let want = z.probability(r as u32) * n as f64;
                assert!(
                    (m - want).abs() < 1e-6,
                    "n {n} α {alpha} rank {r}: {m} vs {want}"
                );
            }
        }
    }

    #[test]
    fn series_weights_match_powf() {
        for alpha in [0.0, 0.5, 0.9, 1.3, 3.0, 16.0] {
            let w = weights(300_000, alpha);
            for (r, &got) in w.iter().enumerate() {
                let want = ((r + 1) as f64).powf(-alpha);
                let err = (got / want - 1.0).abs();
                assert!(err < 1e-12, "alpha {alpha} rank {r}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn edges() {
        let z = Zipf::new(1, 0.9);
        assert_eq!(z.sample(0), 0);
        assert_eq!(z.sample(u64::MAX), 0);
        // Uniform popularity: every bucket is full, the bits pick the rank.
        let z = Zipf::new(70_000, 0.0);
        assert_eq!(z.sample(u64::MAX), 69_999);
        assert_eq!(z.sample(0), 0);
        assert_eq!(z.sample(u64::MAX / 2), 34_999);
        assert!(Zipf::new(10, 2.0).sample(u64::MAX) < 10);
    }
}
