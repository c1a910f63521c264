//! Exponential and normal samples by the ziggurat method (Marsaglia & Tsang,
//! "The Ziggurat Method for Generating Random Variables", J. Stat. Softw.
//! 5(8), 2000), exact in distribution up to floating-point rounding.
//!
//! A decreasing density `f` on `x ≥ 0` is covered by 256 layers of equal
//! area `V`: the base layer `[0, R)` plus the tail beyond `R`, and 255
//! rectangles of widths `x[1] = R > x[2] > … > x[256] = 0`, where
//! `f(x[i+1]) = f(x[i]) + V / x[i]`. One 64-bit draw picks a layer (low 8
//! bits) and a 53-bit uniform (high bits): about 98 % of samples cost one
//! multiply and one comparison; the rest test the wedge under the curve or
//! sample the tail, with further draws.

use crate::rng::{mix64, Rng};

/// Layers of a ziggurat.
const LAYERS: usize = 256;
/// Uniforms are 53-bit integers: `u / 2^53` lies in `[0, 1)`.
const SCALE: f64 = (1u64 << 53) as f64;

/// The layer tables of one density.
#[derive(Clone, Debug)]
struct Layers {
    /// Fast-path bound: accept if the 53-bit uniform is below `k[i]`.
    k: [u64; LAYERS],
    /// `x[i] / 2^53`: turns the uniform into a point of layer `i`.
    w: [f64; LAYERS],
    /// `f(x[i])`, `i = 0..=256` (`x[0] = V / f(R)` is the base layer's
    /// width as a rectangle of area `V`).
    f: [f64; LAYERS + 1],
}

impl Layers {
    /// The tables for density `f` (decreasing, `f(0) = 1`, inverse `f_inv`)
    /// with base edge `r` and layer area `v`.
    fn new(r: f64, v: f64, f: fn(f64) -> f64, f_inv: fn(f64) -> f64) -> Self {
        let mut x = [0.0f64; LAYERS + 1];
        x[0] = v / f(r);
        x[1] = r;
        for i in 1..LAYERS - 1 {
            x[i + 1] = f_inv(v / x[i] + f(x[i]));
        }
        let mut t = Layers {
            k: [0; LAYERS],
            w: [0.0; LAYERS],
            f: [0.0; LAYERS + 1],
        };
        for i in 0..LAYERS {
            t.k[i] = (x[i + 1] / x[i] * SCALE) as u64;
            t.w[i] = x[i] / SCALE;
        }
        for (fi, xi) in t.f.iter_mut().zip(x) {
            *fi = f(xi);
        }
        t
    }

    /// The layer (low 8 bits) and 53-bit uniform (high bits) of a draw.
    #[inline]
    fn split(bits: u64) -> (usize, u64) {
        ((bits & 0xFF) as usize, bits >> 11)
    }

    /// The point of layer `i` at uniform `u` if it lies under the curve for
    /// certain (inside the next layer's width).
    #[inline]
    fn fast(&self, i: usize, u: u64) -> Option<f64> {
        (u < self.k[i]).then(|| u as f64 * self.w[i])
    }

    /// The wedge test of layer `i ≥ 1` at `u`, with a second uniform `v`:
    /// the point if it lies under `f`.
    fn wedge(&self, i: usize, u: u64, v: f64, f: fn(f64) -> f64) -> Option<f64> {
        let x = u as f64 * self.w[i];
        // Layer i spans heights f(x[i]) .. f(x[i+1]).
        let y = self.f[i] + v * (self.f[i + 1] - self.f[i]);
        (y < f(x)).then_some(x)
    }
}

/// Exponential ziggurat constants for 256 layers: base edge and layer area.
const EXP_R: f64 = 7.697_117_470_131_05;
const EXP_V: f64 = 3.949_659_822_581_572e-3;

fn exp_density(x: f64) -> f64 {
    (-x).exp()
}

fn exp_inverse(y: f64) -> f64 {
    -y.ln()
}

/// Standard exponential sampler (mean 1).
#[derive(Clone, Debug)]
pub struct Exponential {
    layers: Layers,
}

impl Default for Exponential {
    fn default() -> Self {
        Self::new()
    }
}

impl Exponential {
    /// Builds the layer tables (about 500 logarithms and exponentials).
    ///
    /// ```
    /// use clockwheel_harness::{rng::Rng, ziggurat::Exponential};
    /// let (e, mut r) = (Exponential::new(), Rng::new(1));
    /// let mean = (0..100_000).map(|_| e.sample(&mut r)).sum::<f64>() / 1e5;
    /// assert!((mean - 1.0).abs() < 0.02);
    /// ```
    pub fn new() -> Self {
        Exponential {
            layers: Layers::new(EXP_R, EXP_V, exp_density, exp_inverse),
        }
    }

    /// A standard exponential sample.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        let (i, u) = Layers::split(rng.next_u64());
        match self.layers.fast(i, u) {
            Some(x) => x,
            None => {
                // The cold call gets a copy, so a caller's local `rng` never
                // has its address taken and can stay in registers.
                let mut spill = rng.clone();
                let x = self.slow(&mut spill, i, u);
                *rng = spill;
                x
            }
        }
    }

    /// The tail and the wedges (about 2 % of samples).
    #[cold]
    fn slow(&self, rng: &mut Rng, mut i: usize, mut u: u64) -> f64 {
        loop {
            if i == 0 {
                // Memoryless: the tail beyond R is R plus an exponential.
                return EXP_R - (1.0 - rng.f64()).ln();
            }
            if let Some(x) = self.layers.wedge(i, u, rng.f64(), exp_density) {
                return x;
            }
            (i, u) = Layers::split(rng.next_u64());
            if let Some(x) = self.layers.fast(i, u) {
                return x;
            }
        }
    }
}

/// Normal ziggurat constants for 256 layers of the half-normal
/// `f(x) = exp(-x²/2)`: base edge and layer area.
const NORMAL_R: f64 = 3.654_152_885_361_009;
const NORMAL_V: f64 = 4.928_673_233_99e-3;

fn normal_density(x: f64) -> f64 {
    (-0.5 * x * x).exp()
}

fn normal_inverse(y: f64) -> f64 {
    (-2.0 * y.ln()).sqrt()
}

/// Standard normals derived deterministically from a hash, for per-object
/// attributes that must not depend on request order.
#[derive(Clone, Debug)]
pub struct HashNormal {
    layers: Layers,
}

impl Default for HashNormal {
    fn default() -> Self {
        Self::new()
    }
}

impl HashNormal {
    /// Builds the layer tables.
    ///
    /// ```
    /// use clockwheel_harness::ziggurat::HashNormal;
    /// let n = HashNormal::new();
    /// assert_eq!(n.sample(42), n.sample(42));
    /// let mean = (0..100_000u64).map(|h| n.sample(h)).sum::<f64>() / 1e5;
    /// assert!(mean.abs() < 0.02);
    /// ```
    pub fn new() -> Self {
        HashNormal {
            layers: Layers::new(NORMAL_R, NORMAL_V, normal_density, normal_inverse),
        }
    }

    /// The standard normal of hash `h`: layer, sign (bit 8) and uniform from
    /// `mix64(h)`; the rare samples that need more bits draw them from a
    /// generator seeded with it.
    #[inline]
    pub fn sample(&self, h: u64) -> f64 {
        let bits = mix64(h);
        let (i, u) = Layers::split(bits);
        let x = match self.layers.fast(i, u) {
            Some(x) => x,
            None => self.slow(bits, i, u),
        };
        // Bit 8 is the sign: flipping the sign bit is `-x` exactly, without
        // a branch the CPU would mispredict half the time.
        f64::from_bits(x.to_bits() ^ ((bits & 0x100) << 55))
    }

    /// The tail and the wedges of the half-normal (about 1.5 % of samples).
    #[cold]
    fn slow(&self, bits: u64, mut i: usize, mut u: u64) -> f64 {
        let mut rng = Rng::new(bits);
        loop {
            if i == 0 {
                return normal_tail(&mut rng);
            }
            if let Some(x) = self.layers.wedge(i, u, rng.f64(), normal_density) {
                return x;
            }
            (i, u) = Layers::split(rng.next_u64());
            if let Some(x) = self.layers.fast(i, u) {
                return x;
            }
        }
    }
}

/// The half-normal beyond `NORMAL_R` (Marsaglia 1964): accept `R + a` for
/// `a` exponential with rate `R` when `2b ≥ a²`, `b` a unit exponential.
fn normal_tail(rng: &mut Rng) -> f64 {
    loop {
        let a = -(1.0 - rng.f64()).ln() / NORMAL_R;
        let b = -(1.0 - rng.f64()).ln();
        if 2.0 * b >= a * a {
            return NORMAL_R + a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top rectangle, of area V, must reach height f(0) = 1 (up to
    /// rounding): otherwise the 256 layers miss or overlap mass.
    fn assert_closed(t: &Layers, v: f64) {
        let top = LAYERS - 1;
        let x_top = t.w[top] * SCALE;
        assert!((t.f[top] + v / x_top - 1.0).abs() < 1e-9);
        assert_eq!(t.k[top], 0, "the top layer is all wedge");
    }

    #[test]
    fn tables_close_the_layers() {
        let e = Exponential::new();
        assert_closed(&e.layers, EXP_V);
        // Base layer: R inside the virtual width V / f(R), accepted ~88.5 %.
        assert!((e.layers.k[0] as f64 / SCALE - 0.885).abs() < 0.001);
        assert_closed(&HashNormal::new().layers, NORMAL_V);
    }

    /// Counts of samples at or below each of `xs`, against the CDF `cdf`,
    /// within 5 binomial standard deviations.
    fn assert_cdf(samples: impl Iterator<Item = f64>, xs: &[(f64, f64)]) {
        let mut below = vec![0u32; xs.len()];
        let mut n = 0u32;
        for s in samples {
            n += 1;
            for (b, (x, _)) in below.iter_mut().zip(xs) {
                *b += (s <= *x) as u32;
            }
        }
        for (b, &(x, p)) in below.iter().zip(xs) {
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            let got = *b as f64 / n as f64;
            assert!((got - p).abs() < 5.0 * sigma + 1e-7, "x {x}: {got} vs {p}");
        }
    }

    #[test]
    fn exponential_matches_its_cdf() {
        // Points in the fast path, the wedges and the tail beyond R = 7.7.
        let xs = [0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, 10.0];
        let cdf: Vec<(f64, f64)> = xs.iter().map(|&x| (x, 1.0 - f64::exp(-x))).collect();
        let (e, mut r) = (Exponential::new(), Rng::new(11));
        assert_cdf((0..2_000_000).map(|_| e.sample(&mut r)), &cdf);
    }

    #[test]
    fn hash_normal_matches_its_cdf() {
        // Φ at points of both signs, including the tail beyond R = 3.65.
        let cdf = [
            (-3.0, 0.001_349_898_031_630_103_5),
            (-1.0, 0.158_655_253_931_457_07),
            (0.25, 0.598_706_325_682_923_7),
            (1.0, 0.841_344_746_068_542_9),
            (2.0, 0.977_249_868_051_820_8),
            (3.0, 0.998_650_101_968_369_9),
            (3.7, 0.999_892_200_266_522_6),
            (4.0, 0.999_968_328_758_166_9),
        ];
        let n = HashNormal::new();
        assert_cdf((0..2_000_000u64).map(|h| n.sample(h)), &cdf);
    }
}
