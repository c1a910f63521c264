//! Popularity positions to objects, laid out for the generator's hot loop.
//!
//! The generator draws a Zipf rank, shifts it by the drift into a position,
//! and needs the key and size of the object at that position. For populations
//! up to [`TABLE_LIMIT`] both are tabulated in one 8-byte entry per position,
//! so a request costs one table read instead of a hash, a logarithm and an
//! exponential. Ranks are drawn a block at a time ([`Lookahead`]) so the
//! cache misses of independent table reads overlap.

use crate::rng::Rng;
use crate::trace::{key_prefix, key_with_prefix};
use crate::zipf::Zipf;

/// Largest population whose objects and sizes are tabulated up front (8 MiB).
pub const TABLE_LIMIT: u32 = 1 << 20;

/// Bits of a packed entry that hold the object index (`objects ≤ 2^20`).
const OBJ_BITS: u32 = 20;
const OBJ_MASK: u32 = (1 << OBJ_BITS) - 1;

/// Key and size of the object at one popularity position, packed: the
/// object index in the low 20 bits, above it the key's class (4 bits) and
/// model type (3 bits, as there are at most 8 types).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    packed: u32,
    size: u32,
}

impl Entry {
    /// Packs `key` (object index below 2^20, model type below 8) and `size`.
    pub fn new(key: u64, size: u32) -> Self {
        let prefix = key_prefix(key) as u32;
        let (class, model) = (prefix >> 12, prefix & 0xFFF);
        debug_assert!(model < 8 && key & !0xFFFF_0000_0000_0000 <= OBJ_MASK as u64);
        Entry {
            packed: (class << (OBJ_BITS + 3)) | (model << OBJ_BITS) | (key as u32 & OBJ_MASK),
            size,
        }
    }

    /// The entry's key and size.
    #[inline]
    pub fn get(self) -> (u64, u32) {
        let code = self.packed >> OBJ_BITS;
        let prefix = ((code >> 3) << 12) | (code & 7);
        let key = key_with_prefix(prefix as u16, (self.packed & OBJ_MASK) as u64);
        (key, self.size)
    }
}

/// Ranks drawn per block.
const AHEAD: usize = 32;

/// Zipf ranks drawn a block at a time from their own PRNG stream, software
/// pipelined so no request waits on memory: a refill turns the random bits
/// drawn one refill earlier (whose alias buckets were prefetched then) into
/// ranks, prefetches the table entries those ranks map to under the current
/// shift, and draws and prefetches the next block's bits. The entry is read
/// when the rank is used, under the shift of that moment; a drift of a few
/// positions since the refill lands on the same or a neighbouring cache
/// line, and the result never depends on when the block was drawn.
pub struct Lookahead {
    rng: Rng,
    ranks: [u32; AHEAD],
    /// The next block's random bits, their alias buckets prefetched.
    bits: [u64; AHEAD],
    next: usize,
}

impl Lookahead {
    /// An empty block on a stream derived from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(crate::rng::mix64(seed ^ 0x2A4E_5ED0));
        let bits = std::array::from_fn(|_| rng.next_u64());
        Lookahead {
            rng,
            ranks: [0; AHEAD],
            bits,
            next: AHEAD,
        }
    }

    /// The next rank of `zipf`; a refill prefetches `table` at `shift`.
    #[inline]
    pub fn next(&mut self, zipf: &Zipf, table: &[Entry], shift: u64) -> u64 {
        if self.next == AHEAD {
            self.refill(zipf, table, shift);
        }
        let r = self.ranks[self.next];
        self.next += 1;
        r as u64
    }

    #[cold]
    fn refill(&mut self, zipf: &Zipf, table: &[Entry], shift: u64) {
        for (rank, &bits) in self.ranks.iter_mut().zip(&self.bits) {
            *rank = zipf.sample(bits);
        }
        if !table.is_empty() {
            let n = table.len() as u64;
            for &r in &self.ranks {
                prefetch(table, wrap(r as u64 + shift, n) as usize);
            }
        }
        // The generator in a local keeps its state in registers.
        let mut rng = self.rng.clone();
        for bits in &mut self.bits {
            *bits = rng.next_u64();
            zipf.prefetch(*bits);
        }
        self.rng = rng;
        self.next = 0;
    }
}

/// Hints the CPU to bring `slice[i]`'s cache line in; no effect on results.
#[inline]
pub fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = slice.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint that never faults, and the pointer
        // is to a live element of `slice` anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}

/// `x mod n` for `x < 2n`.
#[inline]
pub fn wrap(x: u64, n: u64) -> u64 {
    if x >= n {
        x - n
    } else {
        x
    }
}

/// The bijection `pos ↦ (pos · mul + 12345) mod n` from popularity positions
/// to object indices, and its inverse.
#[derive(Clone, Copy, Debug)]
pub struct Permutation {
    n: u64,
    mul: u64,
    inv: u64,
}

impl Permutation {
    /// A permutation of `0..n` (`1 ≤ n ≤ 2^32`) chosen by `seed`.
    pub fn new(n: u64, seed: u64) -> Self {
        let mul = coprime_multiplier(n, seed);
        Permutation {
            n,
            mul,
            inv: mod_inverse(mul, n),
        }
    }

    /// The object at position `pos < n`.
    #[inline]
    pub fn object(&self, pos: u64) -> u64 {
        // pos, mul < n <= 2^32, so the product and offset fit in u64.
        (pos * self.mul + 12_345) % self.n
    }

    /// The objects at positions `0, 1, …, n − 1` in order, by additions
    /// instead of a division each.
    pub fn objects(&self) -> impl Iterator<Item = u64> {
        let (n, mul) = (self.n, self.mul);
        std::iter::successors(Some(12_345 % n), move |&obj| Some(wrap(obj + mul, n)))
            .take(n as usize)
    }

    /// `position(obj + 1 mod n)` given `pos = position(obj)`: positions are
    /// linear in the object, `(obj − 12345) · inv mod n`.
    #[inline]
    pub fn next_position(&self, pos: u64) -> u64 {
        wrap(pos + self.inv, self.n)
    }

    /// The position of object `obj < n` (inverse of [`Self::object`]).
    #[inline]
    pub fn position(&self, obj: u64) -> u64 {
        let shifted = (obj + self.n - 12_345 % self.n) % self.n;
        shifted * self.inv % self.n
    }
}

/// An odd multiplier coprime with `n`, chosen from the seed, reduced below
/// `n` (reduction keeps it coprime: gcd(a mod n, n) = gcd(a, n)).
fn coprime_multiplier(n: u64, seed: u64) -> u64 {
    let mut a = (crate::rng::mix64(seed) % n.max(2)) | 1;
    while gcd(a, n) != 1 {
        a += 2;
    }
    a % n.max(1)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The inverse of `a` modulo `n` (`gcd(a, n) = 1`; 0 when `n = 1`), by the
/// extended Euclidean algorithm.
fn mod_inverse(a: u64, n: u64) -> u64 {
    let (mut r0, mut r1) = (n as i128, a as i128);
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    t0.rem_euclid(n as i128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{make_key, KeyClass};

    #[test]
    fn entries_round_trip() {
        for (class, model, obj, size) in [
            (KeyClass::Model, 0, 0, 1),
            (KeyClass::Model, 7, OBJ_MASK as u64, u32::MAX),
            (KeyClass::Upload, 3, 123_456, 1 << 30),
        ] {
            let key = make_key(class, model, obj);
            assert_eq!(Entry::new(key, size).get(), (key, size));
        }
    }

    #[test]
    fn permutation_is_a_bijection_with_its_inverse() {
        for (n, seed) in [(1u64, 3), (2, 5), (1000, 42), (12_345, 7), (65_536, 1)] {
            let p = Permutation::new(n, seed);
            let mut seen = vec![false; n as usize];
            for pos in 0..n {
                let obj = p.object(pos);
                assert!(!seen[obj as usize], "n {n}: {obj} twice");
                seen[obj as usize] = true;
                assert_eq!(p.position(obj), pos, "n {n}");
            }
            assert!(p.objects().eq((0..n).map(|pos| p.object(pos))), "n {n}");
            for obj in 0..n {
                let next = p.position((obj + 1) % n);
                assert_eq!(p.next_position(p.position(obj)), next, "n {n}");
            }
        }
    }
}
