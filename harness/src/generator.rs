//! The synthetic S3 workload generator (deterministic by seed).
//!
//! Each *regular* request picks an operation from the mix and a key by
//! popularity: Zipf(α) over object ranks (alias method, see [`Zipf`]), where
//! rank `r` maps to object `perm((r + shift) mod N)` and `shift` grows by
//! `drift` per regular request, so the hot set slides through the population. Around the regular stream the
//! generator adds one-hit wonders (fresh object ids), flash crowds (a burst
//! concentrated on a few cold objects), scans (a block of GETs walking
//! consecutive objects once) and, after each model PUT or DELETE, two
//! invalidations (`s3v:list:{Type}:*` and `s3v:count:{Type}:*`).

use crate::error::TraceError;
use crate::popularity::{wrap, Entry, Lookahead, Permutation, TABLE_LIMIT};
use crate::rng::{lognormal, mix64, normal_from_hash, pareto, unit_f64, Exponential, Rng};
use crate::source::RequestSource;
use crate::trace::{key_class, make_key, pattern_key, KeyClass, Op, Request, NO_NEXT};
use crate::workload::WorkloadParams;
use crate::zipf::Zipf;

/// Largest upload size the model produces (1 GiB).
const MAX_SIZE: f64 = (1u64 << 30) as f64;

/// Operations in the order of [`Generator`]'s mix thresholds.
const MIX_OPS: [Op; 5] = [Op::Get, Op::Head, Op::Put, Op::Delete, Op::List];

/// Fractional bits of the fixed-point popularity shift.
const SHIFT_BITS: u32 = 32;

/// Generates the requests of a [`WorkloadParams`].
///
/// Random choices compare 63-bit draws with precomputed integer thresholds
/// (`p · 2^63`), so a share of 0 never and a share of 1 always happens.
///
/// ```
/// use clockwheel_harness::{generator::Generator, workload::WorkloadParams};
/// let mut p = WorkloadParams::preset("zipf").unwrap();
/// p.requests = 1_000;
/// let a: Vec<_> = Generator::new(p.clone()).collect();
/// let b: Vec<_> = Generator::new(p).collect();
/// assert_eq!(a.len(), 1_000);
/// assert_eq!(a, b); // deterministic by seed
/// ```
pub struct Generator {
    p: WorkloadParams,
    rng: Rng,
    arrivals: Exponential,
    /// Mean gap between arrivals, milliseconds.
    gap_ms: f64,
    objects: Zipf,
    lists: Zipf,
    counts: Zipf,
    /// Op `MIX_OPS[i]` where `i` counts the thresholds a draw reaches.
    mix: [u64; 4],
    /// The only operation of a single-op mix (no draw needed).
    only_op: Option<Op>,
    one_hit: u64,
    flash_share: u64,
    count_share: u64,
    /// TTL in milliseconds by key class (top 4 bits of the key).
    ttl_ms: [u32; 16],
    n: u64,
    emitted: u64,
    time_ms: f64,
    pending: [u64; 2],
    pending_len: usize,
    pending_time: u64,
    scan_left: u64,
    scan_cursor: u64,
    flash_left: u64,
    flash_base: u64,
    fresh: u64,
    perm: Permutation,
    salt: u64,
    /// Popularity shift in ranks, fixed point with [`SHIFT_BITS`]
    /// fractional bits, kept below `n << SHIFT_BITS`.
    shift: u64,
    drift: u64,
    /// Regular requests until the next scan / flash crowd starts (0 = never).
    until_scan: u64,
    until_flash: u64,
    /// The object at each popularity position (empty for populations above
    /// [`TABLE_LIMIT`], which compute keys and sizes per request).
    by_position: Vec<Entry>,
    /// Popularity ranks drawn ahead (their own PRNG stream).
    ahead: Lookahead,
    /// Size of list key `rank` of model type `m` at `m * list_keys + rank`
    /// (empty when there are more than [`TABLE_LIMIT`] list keys).
    list_sizes: Vec<u32>,
}

/// `p · 2^63`: a 63-bit draw below it happens with probability `p ∈ [0, 1]`.
fn threshold(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64
}

impl Generator {
    /// Prepares a generator; building the Zipf tables costs O(objects).
    pub fn new(p: WorkloadParams) -> Self {
        let n = p.objects.max(1);
        let (mix, only_op) = mix_thresholds(&p);
        let n_fixed = (n as u64) << SHIFT_BITS;
        let drift = (p.drift % n as f64 * (1u64 << SHIFT_BITS) as f64) as u64 % n_fixed;
        let mut ttl_ms = [p.ttl_upload_s.saturating_mul(1000); 16];
        ttl_ms[KeyClass::Model as usize] = p.ttl_model_s.saturating_mul(1000);
        ttl_ms[KeyClass::List as usize] = p.ttl_list_s.saturating_mul(1000);
        ttl_ms[KeyClass::Count as usize] = p.ttl_list_s.saturating_mul(1000);
        let mut g = Generator {
            rng: Rng::new(p.seed),
            arrivals: Exponential::new(),
            gap_ms: 1000.0 / p.rate.max(1e-9),
            objects: Zipf::new(n, p.alpha),
            lists: Zipf::new(p.list_keys.max(1), p.list_alpha),
            counts: Zipf::new(p.count_keys.max(1), 0.5),
            mix,
            only_op,
            one_hit: threshold(p.one_hit_share),
            flash_share: threshold(p.flash_share),
            count_share: threshold(p.count_share),
            ttl_ms,
            n: n as u64,
            emitted: 0,
            time_ms: 0.0,
            pending: [0; 2],
            pending_len: 0,
            pending_time: 0,
            scan_left: 0,
            scan_cursor: 0,
            flash_left: 0,
            flash_base: 0,
            fresh: n as u64,
            perm: Permutation::new(n as u64, p.seed),
            salt: mix64(p.seed ^ 0x5EED),
            shift: 0,
            drift,
            until_scan: p.scan_every,
            until_flash: p.flash_every,
            by_position: Vec::new(),
            ahead: Lookahead::new(p.seed),
            list_sizes: Vec::new(),
            p,
        };
        g.build_tables();
        g
    }

    fn build_tables(&mut self) {
        if self.n <= TABLE_LIMIT as u64 {
            self.by_position = (0..self.n)
                .map(|pos| {
                    let key = self.object_key(self.perm.object(pos));
                    Entry::new(key, self.size_of(key))
                })
                .collect();
        }
        let models = self.p.model_types.max(1) as u64;
        let lists = self.lists.len() as u64;
        if models * lists <= TABLE_LIMIT as u64 {
            self.list_sizes = (0..models * lists)
                .map(|i| self.size_of(make_key(KeyClass::List, (i / lists) as u16, i % lists)))
                .collect();
        }
    }

    /// The parameters being generated.
    pub fn params(&self) -> &WorkloadParams {
        &self.p
    }

    /// Whether the workload can produce INVALIDATE requests (model PUTs or
    /// DELETEs with some model documents in the population).
    pub fn may_invalidate(&self) -> bool {
        self.p.upload_share < 1.0 && self.mix[1] < self.mix[3]
    }

    /// The next request, or `None` after `requests` have been emitted.
    ///
    /// Always inlined into its callers' loops, and assembled here from the
    /// `(key, size, op)` the helpers return in registers, so the request is
    /// written once, straight into its destination.
    #[inline(always)]
    pub fn next_request(&mut self) -> Option<Request> {
        if self.emitted >= self.p.requests {
            return None;
        }
        self.emitted += 1;
        if self.pending_len > 0 {
            return Some(self.pop_invalidation());
        }
        self.time_ms += self.arrivals.sample(&mut self.rng) * self.gap_ms;
        let (key, size, op) = if self.scan_left > 0 {
            self.scan_object()
        } else {
            self.regular_pick()
        };
        let req = self.request(op, key, size);
        if matches!(op, Op::Put | Op::Delete) && key_class(key) == KeyClass::Model {
            self.queue_invalidations(key, req.time_ms);
        }
        Some(req)
    }

    #[inline]
    fn draw(&mut self) -> u64 {
        self.rng.next_u64() >> 1
    }

    #[inline]
    fn pop_invalidation(&mut self) -> Request {
        self.pending_len -= 1;
        Request {
            time_ms: self.pending_time,
            key: self.pending[self.pending_len],
            op: Op::Invalidate,
            ..Request::default_none()
        }
    }

    /// The next object of the running scan: a GET.
    fn scan_object(&mut self) -> (u64, u32, Op) {
        self.scan_left -= 1;
        let obj = self.scan_cursor % self.n;
        self.scan_cursor += 1;
        let (key, size) = match self.by_position.is_empty() {
            true => self.object_key_size(obj),
            false => self.at_position(self.perm.position(obj)),
        };
        (key, size, Op::Get)
    }

    /// Key, size and operation of a regular request.
    fn regular_pick(&mut self) -> (u64, u32, Op) {
        self.maybe_start_episodes();
        // The hot set slides by `drift` ranks per regular request, modulo n.
        self.shift += self.drift;
        if self.shift >= self.n << SHIFT_BITS {
            self.shift -= self.n << SHIFT_BITS;
        }
        if self.one_hit > 0 && self.draw() < self.one_hit {
            let (key, size) = self.object_key_size(self.fresh);
            self.fresh += 1;
            return (key, size, Op::Get);
        }
        let op = match self.only_op {
            Some(op) => op,
            None => {
                let r = self.draw();
                MIX_OPS[self.mix.iter().map(|&t| (r >= t) as usize).sum::<usize>()]
            }
        };
        let (key, size) = match op {
            Op::List => self.list_key_size(),
            _ => self.popular_object(),
        };
        (key, size, op)
    }

    /// Counts a regular request towards the next scan and flash crowd: a
    /// scan starts after every `scan_every`-th regular request, a flash
    /// crowd after every `flash_every`-th.
    #[inline]
    fn maybe_start_episodes(&mut self) {
        if self.until_scan > 0 {
            self.until_scan -= 1;
            if self.until_scan == 0 {
                self.until_scan = self.p.scan_every;
                self.scan_left = self.p.scan_len;
            }
        }
        if self.until_flash > 0 {
            self.until_flash -= 1;
            if self.until_flash == 0 {
                self.until_flash = self.p.flash_every;
                self.start_flash();
            }
        }
    }

    #[cold]
    fn start_flash(&mut self) {
        self.flash_left = self.p.flash_len;
        self.flash_base = self.n / 2 + self.rng.below((self.n / 2).max(1));
    }

    /// `(key, size)` of a popular object: Zipf rank shifted by the drift, or
    /// during a flash crowd (with `flash_share`) one of its objects.
    #[inline]
    fn popular_object(&mut self) -> (u64, u32) {
        if self.flash_left > 0 {
            self.flash_left -= 1;
            if self.draw() < self.flash_share {
                let j = self.rng.below(self.p.flash_objects.max(1) as u64);
                return self.at_position((self.flash_base + j) % self.n);
            }
        }
        let shift = self.shift >> SHIFT_BITS;
        let rank = self.ahead.next(&self.objects, &self.by_position, shift);
        self.at_position(wrap(rank + shift, self.n))
    }

    /// The object at popularity position `pos < objects`.
    #[inline]
    fn at_position(&self, pos: u64) -> (u64, u32) {
        match self.by_position.get(pos as usize) {
            Some(e) => e.get(),
            None => self.object_key_size(self.perm.object(pos)),
        }
    }

    fn object_key_size(&self, obj: u64) -> (u64, u32) {
        let key = self.object_key(obj);
        (key, self.size_of(key))
    }

    /// A LIST's key and size: a count key (with `count_share`) or a list
    /// page, of a uniform model type.
    fn list_key_size(&mut self) -> (u64, u32) {
        let model = self.rng.below(self.p.model_types.max(1) as u64) as u16;
        if self.draw() < self.count_share {
            let rank = self.counts.sample(self.rng.next_u64());
            let key = make_key(KeyClass::Count, model, rank as u64);
            return (key, self.size_of(key));
        }
        let rank = self.lists.sample(self.rng.next_u64());
        let key = make_key(KeyClass::List, model, rank as u64);
        let i = model as usize * self.lists.len() as usize + rank as usize;
        match self.list_sizes.get(i) {
            Some(&size) => (key, size),
            None => (key, self.size_of(key)),
        }
    }

    fn queue_invalidations(&mut self, key: u64, time_ms: u64) {
        let model = crate::trace::key_prefix(key) & 0xFFF;
        self.pending = [
            pattern_key(KeyClass::Count, model),
            pattern_key(KeyClass::List, model),
        ];
        self.pending_len = 2;
        self.pending_time = time_ms;
    }

    /// The key of object index `obj` (class and model type from its hash).
    pub fn object_key(&self, obj: u64) -> u64 {
        let h = mix64(obj ^ self.salt);
        let class = if unit_f64(h) < self.p.upload_share {
            KeyClass::Upload
        } else {
            KeyClass::Model
        };
        // Multiply-shift maps the hash's high half uniformly onto 0..types.
        let model = (((h >> 32) * self.p.model_types.max(1) as u64) >> 32) as u16;
        make_key(class, model, obj)
    }

    /// A request for `key` of `size` with its class's TTL (none for DELETE).
    #[inline]
    fn request(&self, op: Op, key: u64, size: u32) -> Request {
        let ttl_ms = if op == Op::Delete {
            0
        } else {
            self.ttl_ms[(key >> 60) as usize]
        };
        Request {
            time_ms: self.time_ms as u64,
            key,
            next_access: NO_NEXT,
            size,
            ttl_ms,
            op,
        }
    }

    /// The size of `key` in bytes: a deterministic function of key and seed.
    pub fn size_of(&self, key: u64) -> u32 {
        let p = &self.p;
        let z = || normal_from_hash(key ^ self.salt);
        let bytes = match key_class(key) {
            KeyClass::Model => lognormal(p.model_mu, p.model_sigma, z()),
            KeyClass::List => lognormal(p.list_mu, p.list_sigma, z()),
            KeyClass::Count => p.count_size as f64,
            _ => {
                let body = lognormal(p.upload_mu, p.upload_sigma, z());
                if body > p.tail_min {
                    let u = unit_f64(mix64(key ^ self.salt ^ 0x7A11));
                    pareto(p.tail_min, p.tail_alpha, u)
                } else {
                    body
                }
            }
        };
        bytes.clamp(1.0, MAX_SIZE) as u32
    }
}

/// The op-mix thresholds (cumulative weights, normalised, times 2^63) and
/// the single operation of a mix that has only one.
fn mix_thresholds(p: &WorkloadParams) -> ([u64; 4], Option<Op>) {
    let m = &p.mix;
    let weights = [m.get, m.head, m.put, m.delete, m.list];
    let t = m.total().max(f64::MIN_POSITIVE);
    let mut acc = 0.0;
    let mut mix = [0u64; 4];
    for (i, w) in weights[..4].iter().enumerate() {
        acc += w / t;
        mix[i] = threshold(acc);
    }
    let mut used = MIX_OPS.iter().zip(weights).filter(|(_, w)| *w > 0.0);
    let only_op = match (used.next(), used.next()) {
        (Some((&op, _)), None) => Some(op),
        _ => None,
    };
    (mix, only_op)
}

impl Request {
    fn default_none() -> Self {
        Request {
            next_access: NO_NEXT,
            ..Request::default()
        }
    }
}

impl RequestSource for Generator {
    fn read_batch(&mut self, out: &mut Vec<Request>, max: usize) -> Result<usize, TraceError> {
        let before = out.len();
        let n = max.min(self.p.requests.saturating_sub(self.emitted) as usize);
        out.reserve(n);
        for _ in 0..n {
            if let Some(r) = self.next_request() {
                out.push(r);
            }
        }
        Ok(out.len() - before)
    }

    fn may_invalidate(&self) -> bool {
        Generator::may_invalidate(self)
    }
}

impl Iterator for Generator {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.next_request()
    }
}
