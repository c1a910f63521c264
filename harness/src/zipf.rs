//! Zipf(α) sampling over ranks `0..n` in O(1) expected time.
//!
//! The sampler keeps the cumulative distribution and a guide table (Chen &
//! Asau, 1974): bucket `g` of the table stores the first rank whose cumulative
//! probability exceeds `g / G`, so a sample is one table read plus a binary
//! search inside one bucket, which for the popular head is a single rank.

/// Guide-table Zipf sampler: `P(rank = r) ∝ (r + 1)^-alpha`.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
    guide: Vec<u32>,
}

const GUIDE_BITS: u32 = 16;

impl Zipf {
    /// Builds a sampler over `n ≥ 1` ranks with exponent `alpha ≥ 0`.
    pub fn new(n: u32, alpha: f64) -> Self {
        let n = n.max(1);
        let mut cdf = Vec::with_capacity(n as usize);
        let mut acc = 0.0;
        for r in 0..n {
            acc += ((r + 1) as f64).powf(-alpha);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        *cdf.last_mut().expect("n >= 1") = 1.0;
        let g_len = 1usize << GUIDE_BITS;
        let mut guide = Vec::with_capacity(g_len + 1);
        let mut i = 0usize;
        for g in 0..=g_len {
            let threshold = g as f64 / g_len as f64;
            while i + 1 < cdf.len() && cdf[i] <= threshold {
                i += 1;
            }
            guide.push(i as u32);
        }
        Zipf { cdf, guide }
    }

    /// Number of ranks.
    pub fn len(&self) -> u32 {
        self.cdf.len() as u32
    }

    /// Always false: a sampler has at least one rank.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Probability of rank `r`.
    pub fn probability(&self, r: u32) -> f64 {
        let r = r as usize;
        self.cdf[r] - if r == 0 { 0.0 } else { self.cdf[r - 1] }
    }

    /// Maps a uniform `u ∈ [0, 1)` to a rank.
    #[inline]
    pub fn sample(&self, u: f64) -> u32 {
        let g = (u * (1u64 << GUIDE_BITS) as f64) as usize;
        let lo = self.guide[g] as usize;
        let hi = self.guide[g + 1] as usize;
        if lo == hi || self.cdf[lo] > u {
            return lo as u32;
        }
        // First index in (lo, hi] with cdf > u.
        let slice = &self.cdf[lo..=hi];
        (lo + slice.partition_point(|&c| c <= u)).min(self.cdf.len() - 1) as u32
    }
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
            counts[z.sample(r.f64()) as usize] += 1;
        }
        for rank in [0u32, 1, 9, 99] {
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
    fn edges() {
        let z = Zipf::new(1, 0.9);
        assert_eq!(z.sample(0.0), 0);
        assert_eq!(z.sample(0.999_999), 0);
        let z = Zipf::new(70_000, 0.0);
        assert_eq!(z.sample(0.999_999_999), 69_999);
        assert_eq!(z.sample(0.0), 0);
    }
}
