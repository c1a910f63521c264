//! A small deterministic PRNG and the distributions the workload model needs.
//!
//! Traces must be reproducible from a seed across platforms and crate
//! versions, so the generator does not depend on `rand`'s algorithms: it uses
//! xoshiro256++ seeded through SplitMix64, and samples every distribution
//! itself: by inversion (per-object normals through Acklam's quantile
//! approximation), Box–Muller, or for the arrival process, where speed
//! matters, the ziggurat method, which is exact in distribution.

/// SplitMix64 finaliser: a fast, well-mixed 64-bit hash of `x`.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Maps a 64-bit hash to a uniform `f64` in `[0, 1)`.
#[inline]
pub fn unit_f64(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// xoshiro256++ (Blackman & Vigna, 2019): 256 bits of state, period 2^256 − 1.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the generator deterministically from one 64-bit value.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *word = mix64(x);
        }
        Rng { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        unit_f64(self.next_u64())
    }

    /// Uniform in `[0, n)` (Lemire's multiply-shift; `n` must be non-zero).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Exponential with the given mean (inversion).
    #[inline]
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Layers of the exponential ziggurat.
const LAYERS: usize = 256;
/// Right edge of the base layer (Marsaglia & Tsang 2000, 256 layers).
const ZIG_R: f64 = 7.697_117_470_131_05;
/// Area of each layer, tail included.
const ZIG_V: f64 = 3.949_659_822_581_572e-3;
/// Uniforms of the ziggurat are 53-bit integers: `u / 2^53` lies in `[0, 1)`.
const ZIG_SCALE: f64 = (1u64 << 53) as f64;

/// Standard exponential sampler by the ziggurat method (Marsaglia & Tsang,
/// "The Ziggurat Method for Generating Random Variables", 2000).
///
/// The density is covered by 256 layers of equal area `ZIG_V`: the base
/// layer `[0, ZIG_R)` plus the tail, and 255 rectangles of widths
/// `x[1] = ZIG_R > x[2] > … > x[256] = 0`. One 64-bit draw picks a layer (low
/// 8 bits) and a 53-bit uniform (high bits), so ~98.9 % of samples cost one
/// multiply and one comparison; the rest test the wedge under the curve or
/// sample the tail (`ZIG_R` plus a fresh exponential, by memorylessness).
/// Accept/reject keeps the distribution exact up to floating-point rounding.
#[derive(Clone, Debug)]
pub struct Exponential {
    /// Fast-path bound: accept if the 53-bit uniform is below `k[i]`.
    k: [u64; LAYERS],
    /// `x[i] / 2^53`: turns the uniform into a point of layer `i`.
    w: [f64; LAYERS],
    /// `exp(-x[i])`, `i = 0..=256` (`x[0]` is the base layer's virtual width).
    f: [f64; LAYERS + 1],
}

impl Default for Exponential {
    fn default() -> Self {
        Self::new()
    }
}

impl Exponential {
    /// Builds the layer tables (256 logarithms and exponentials).
    ///
    /// ```
    /// use clockwheel_harness::rng::{Exponential, Rng};
    /// let (e, mut r) = (Exponential::new(), Rng::new(1));
    /// let mean = (0..100_000).map(|_| e.sample(&mut r)).sum::<f64>() / 1e5;
    /// assert!((mean - 1.0).abs() < 0.02);
    /// ```
    pub fn new() -> Self {
        // x[0] = V / f(R) (base layer incl. tail, as a rectangle), x[1] = R,
        // f(x[i+1]) = f(x[i]) + V / x[i]: every rectangle has area V.
        let mut x = [0.0f64; LAYERS + 1];
        x[0] = ZIG_V / (-ZIG_R).exp();
        x[1] = ZIG_R;
        for i in 1..LAYERS - 1 {
            x[i + 1] = -(ZIG_V / x[i] + (-x[i]).exp()).ln();
        }
        x[LAYERS] = 0.0;
        let mut e = Exponential {
            k: [0; LAYERS],
            w: [0.0; LAYERS],
            f: [0.0; LAYERS + 1],
        };
        for i in 0..LAYERS {
            e.k[i] = (x[i + 1] / x[i] * ZIG_SCALE) as u64;
            e.w[i] = x[i] / ZIG_SCALE;
        }
        for (f, x) in e.f.iter_mut().zip(x) {
            *f = (-x).exp();
        }
        e
    }

    /// A standard exponential sample (mean 1).
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        let bits = rng.next_u64();
        let (i, u) = ((bits & 0xFF) as usize, bits >> 11);
        if u < self.k[i] {
            return u as f64 * self.w[i];
        }
        self.slow(rng, i, u)
    }

    /// The base layer's tail and the wedges (about 1.1 % of samples).
    #[cold]
    fn slow(&self, rng: &mut Rng, mut i: usize, mut u: u64) -> f64 {
        loop {
            if i == 0 {
                return ZIG_R - (1.0 - rng.f64()).ln();
            }
            let x = u as f64 * self.w[i];
            // Layer i spans heights f(x[i]) .. f(x[i+1]); accept under the curve.
            let y = self.f[i] + rng.f64() * (self.f[i + 1] - self.f[i]);
            if y < (-x).exp() {
                return x;
            }
            let bits = rng.next_u64();
            (i, u) = ((bits & 0xFF) as usize, bits >> 11);
            if u < self.k[i] {
                return u as f64 * self.w[i];
            }
        }
    }
}

/// Lognormal sample from a standard normal `z`: `exp(mu + sigma * z)`.
#[inline]
pub fn lognormal(mu: f64, sigma: f64, z: f64) -> f64 {
    (mu + sigma * z).exp()
}

/// Pareto(x_m, alpha) sample by inversion from a uniform `u` in `[0, 1)`.
#[inline]
pub fn pareto(x_m: f64, alpha: f64, u: f64) -> f64 {
    x_m / (1.0 - u).powf(1.0 / alpha)
}

/// A standard normal derived deterministically from a hash (for per-object
/// attributes that must not depend on request order): the normal quantile
/// of one uniform taken from the hash.
#[inline]
pub fn normal_from_hash(h: u64) -> f64 {
    // (k + 0.5) / 2^53 lies strictly inside (0, 1).
    let u = ((mix64(h) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
    normal_quantile(u)
}

/// The standard normal quantile `Φ⁻¹(p)` for `p ∈ (0, 1)`, by Acklam's
/// rational approximation (relative error below 1.2e-9, far below what any
/// size statistic can resolve). The central 95 % needs no logarithm.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const LOW: f64 = 0.024_25;
    if !(LOW..=1.0 - LOW).contains(&p) {
        // Tails: odd symmetry around p = 1/2.
        let x = normal_tail(p.min(1.0 - p));
        return if p < 0.5 { x } else { -x };
    }
    let q = p - 0.5;
    let r = q * q;
    let num = ((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5];
    let den = ((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0;
    num * q / den
}

/// Acklam's lower-tail branch: `Φ⁻¹(p)` for `0 < p < 0.02425`.
#[cold]
fn normal_tail(p: f64) -> f64 {
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let q = (-2.0 * p.ln()).sqrt();
    let num = ((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5];
    let den = (((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0;
    num / den
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let a: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..8)
            .scan(Rng::new(8), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn moments_are_close() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let mean_u: f64 = (0..n).map(|_| r.f64()).sum::<f64>() / n as f64;
        assert!((mean_u - 0.5).abs() < 0.005, "{mean_u}");
        let mean_e: f64 = (0..n).map(|_| r.exp(3.0)).sum::<f64>() / n as f64;
        assert!((mean_e - 3.0).abs() < 0.05, "{mean_e}");
        let zs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = zs.iter().sum::<f64>() / n as f64;
        let v = zs.iter().map(|z| (z - m) * (z - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.02, "{m} {v}");
        assert!((0..1000).all(|_| r.below(10) < 10));
    }

    #[test]
    fn normal_quantile_matches_known_values() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.9, 1.281_551_565_544_601),
            (0.001, -3.090_232_306_167_813),
            (1e-10, -6.361_340_902_404_056),
            (1.0 - 1e-10, 6.361_340_889_697_422),
        ] {
            let got = normal_quantile(p);
            assert!(
                (got - z).abs() < 1e-8 * z.abs().max(1.0),
                "{p}: {got} vs {z}"
            );
        }
        // Hash-derived normals: standard moments and a symmetric 1.96 band.
        let zs: Vec<f64> = (0..200_000u64).map(normal_from_hash).collect();
        let n = zs.len() as f64;
        let m = zs.iter().sum::<f64>() / n;
        let v = zs.iter().map(|z| (z - m) * (z - m)).sum::<f64>() / n;
        let out = zs.iter().filter(|z| z.abs() > 1.959_964).count() as f64 / n;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.02, "{m} {v}");
        assert!((out - 0.05).abs() < 0.003, "{out}");
    }

    #[test]
    fn ziggurat_tables_close_the_layers() {
        // The top rectangle, of area V, must reach height f(0) = 1 exactly
        // (up to rounding): otherwise the 256 layers miss or overlap mass.
        let e = Exponential::new();
        let top = LAYERS - 1;
        let x_top = e.w[top] * ZIG_SCALE;
        assert!((e.f[top] + ZIG_V / x_top - 1.0).abs() < 1e-9);
        assert_eq!(e.k[top], 0, "the top layer is all wedge");
        // Base layer: R inside the virtual width V / f(R), accepted ~88.5 %.
        assert!((e.k[0] as f64 / ZIG_SCALE - 0.885).abs() < 0.001);
    }

    #[test]
    fn ziggurat_matches_the_exponential_cdf() {
        // P(X <= x) = 1 - e^-x at points spanning the fast path, the wedges
        // and the tail beyond ZIG_R; binomial tolerance of 5 sigma.
        let (e, mut r) = (Exponential::new(), Rng::new(11));
        let n = 2_000_000;
        let xs = [0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, 10.0];
        let mut below = [0u32; 9];
        let mut sum = 0.0;
        for _ in 0..n {
            let s = e.sample(&mut r);
            sum += s;
            for (b, x) in below.iter_mut().zip(xs) {
                *b += (s <= x) as u32;
            }
        }
        for (b, x) in below.iter().zip(xs) {
            let p = 1.0 - f64::exp(-x);
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            let got = *b as f64 / n as f64;
            assert!((got - p).abs() < 5.0 * sigma + 1e-7, "x {x}: {got} vs {p}");
        }
        assert!((sum / n as f64 - 1.0).abs() < 0.005);
    }
}
