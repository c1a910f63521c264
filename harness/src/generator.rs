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
use crate::rng::{mix64, pareto, unit_f64, Rng};
use crate::source::RequestSource;
use crate::trace::{key_class, make_key, pattern_key, KeyClass, Op, Request, NO_NEXT};
use crate::workload::WorkloadParams;
use crate::ziggurat::{Exponential, HashNormal};
use crate::zipf::{Discrete, Zipf};

/// Largest upload size the model produces (1 GiB).
const MAX_SIZE: f64 = (1u64 << 30) as f64;

/// Kinds of regular request in the order of [`Generator`]'s thresholds: a
/// one-hit wonder (a GET of a fresh object), then the operation mix.
const KINDS: [Op; 6] = [Op::Get, Op::Get, Op::Head, Op::Put, Op::Delete, Op::List];
/// Index of the one-hit wonder in [`KINDS`].
const ONE_HIT: usize = 0;

/// Keys sized per block while building the position table.
const SIZE_BLOCK: usize = 1024;

/// One-hit wonders sized per block.
const FRESH_BLOCK: usize = 32;

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
    /// Per-object normals behind the lognormal sizes.
    normals: HashNormal,
    /// Mean gap between arrivals, milliseconds.
    gap_ms: f64,
    objects: Zipf,
    lists: Zipf,
    counts: Zipf,
    /// Kind `KINDS[i]` where `i` counts the thresholds a draw reaches: one
    /// draw decides both one-hit wonder or not and the operation.
    kinds: [u64; 5],
    /// The only kind possible, when there is one (no draw needed).
    only_kind: Option<usize>,
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
    /// The object the running scan reaches next, and its popularity position.
    scan_obj: u64,
    scan_pos: u64,
    flash_left: u64,
    flash_base: u64,
    /// The next fresh object not yet in `fresh_sized`.
    fresh: u64,
    /// Keys and sizes of the next one-hit wonders (consecutive fresh
    /// objects), sized a block at a time so their exponentials overlap.
    fresh_sized: [(u64, u32); FRESH_BLOCK],
    fresh_next: usize,
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
    /// LIST lookups when there are at most [`TABLE_LIMIT`] list and count
    /// keys in all: one draw picks model type, list or count key and rank
    /// jointly, and the outcome's key and size are tabulated.
    list_keys: Option<(Discrete, Vec<Entry>)>,
}

/// A 63-bit draw, for the `p · 2^63` thresholds.
#[inline]
fn draw(rng: &mut Rng) -> u64 {
    rng.next_u64() >> 1
}

/// `p · 2^63`: a 63-bit draw below it happens with probability `p ∈ [0, 1]`.
fn threshold(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64
}

impl Generator {
    /// Prepares a generator; building the Zipf tables costs O(objects).
    pub fn new(p: WorkloadParams) -> Self {
        let n = p.objects.max(1);
        let (kinds, only_kind) = kind_thresholds(&p);
        let n_fixed = (n as u64) << SHIFT_BITS;
        let drift = (p.drift % n as f64 * (1u64 << SHIFT_BITS) as f64) as u64 % n_fixed;
        let mut ttl_ms = [p.ttl_upload_s.saturating_mul(1000); 16];
        ttl_ms[KeyClass::Model as usize] = p.ttl_model_s.saturating_mul(1000);
        ttl_ms[KeyClass::List as usize] = p.ttl_list_s.saturating_mul(1000);
        ttl_ms[KeyClass::Count as usize] = p.ttl_list_s.saturating_mul(1000);
        let mut g = Generator {
            rng: Rng::new(p.seed),
            arrivals: Exponential::new(),
            normals: HashNormal::new(),
            gap_ms: 1000.0 / p.rate.max(1e-9),
            objects: Zipf::new(n, p.alpha),
            lists: Zipf::new(p.list_keys.max(1), p.list_alpha),
            counts: Zipf::new(p.count_keys.max(1), 0.5),
            kinds,
            only_kind,
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
            scan_obj: 0,
            scan_pos: 0,
            flash_left: 0,
            flash_base: 0,
            fresh: n as u64,
            fresh_sized: [(0, 0); FRESH_BLOCK],
            fresh_next: FRESH_BLOCK,
            perm: Permutation::new(n as u64, p.seed),
            salt: mix64(p.seed ^ 0x5EED),
            shift: 0,
            drift,
            until_scan: p.scan_every,
            until_flash: p.flash_every,
            by_position: Vec::new(),
            ahead: Lookahead::new(p.seed),
            list_keys: None,
            p,
        };
        g.scan_pos = g.perm.position(0);
        g.build_tables();
        g
    }

    fn build_tables(&mut self) {
        if self.n <= TABLE_LIMIT as u64 {
            self.by_position = self.position_table();
        }
        let models = self.p.model_types.max(1) as u64;
        let per_model = (self.lists.len() + self.counts.len()) as u64;
        if models * per_model <= TABLE_LIMIT as u64 {
            self.list_keys = Some(self.list_table(models));
        }
    }

    /// Key and size of the object at every popularity position, built a
    /// block at a time so keys and exponents stay in cache (no
    /// population-sized scratch vectors to fault in).
    fn position_table(&self) -> Vec<Entry> {
        let mut table = Vec::with_capacity(self.n as usize);
        let mut objects = self.perm.objects();
        let mut keys = [0u64; SIZE_BLOCK];
        loop {
            let got = keys.iter_mut().zip(&mut objects).fold(0, |i, (k, o)| {
                *k = self.object_key(o);
                i + 1
            });
            if got == 0 {
                return table;
            }
            self.push_sized(&keys[..got], &mut table);
        }
    }

    /// The joint LIST distribution: model type uniform, then a count key
    /// (Zipf(0.5)) with `count_share`, else a list key (Zipf(`list_alpha`)).
    fn list_table(&self, models: u64) -> (Discrete, Vec<Entry>) {
        let share = self.p.count_share.clamp(0.0, 1.0);
        let mut weights = Vec::new();
        let mut entries = Vec::new();
        for m in 0..models as u16 {
            let lists =
                (0..self.lists.len()).map(|r| (KeyClass::List, r, &self.lists, 1.0 - share));
            let counts = (0..self.counts.len()).map(|r| (KeyClass::Count, r, &self.counts, share));
            for (class, rank, zipf, w) in lists.chain(counts) {
                let key = make_key(class, m, rank as u64);
                weights.push(w * zipf.probability(rank));
                entries.push(Entry::new(key, self.size_of(key)));
            }
        }
        (Discrete::new(weights), entries)
    }

    /// The parameters being generated.
    pub fn params(&self) -> &WorkloadParams {
        &self.p
    }

    /// Whether the workload can produce INVALIDATE requests (model PUTs or
    /// DELETEs with some model documents in the population).
    ///
    /// ```
    /// use clockwheel_harness::{generator::Generator, workload::WorkloadParams};
    /// let g = |name| Generator::new(WorkloadParams::preset(name).unwrap());
    /// assert!(g("s3-app").may_invalidate());
    /// assert!(!g("zipf").may_invalidate()); // GETs only
    /// ```
    pub fn may_invalidate(&self) -> bool {
        // Some draw lands between the HEAD and the DELETE thresholds.
        self.p.upload_share < 1.0 && self.kinds[2] < self.kinds[4]
    }

    /// The next request, or `None` after `requests` have been emitted.
    ///
    /// Always inlined into its callers' loops, and assembled here from the
    /// `(key, size, op)` the helpers return in registers, so the request is
    /// written once, straight into its destination.
    #[inline(always)]
    pub fn next_request(&mut self) -> Option<Request> {
        let mut rng = self.rng.clone();
        let req = self.next_with(&mut rng);
        self.rng = rng;
        req
    }

    /// [`Self::next_request`] drawing from `rng` (the generator's stream,
    /// which the caller keeps in a local: stores into the output could
    /// alias `self`, so a field would round-trip through memory, and the
    /// store-to-load latency of every draw sits on the path to the branches
    /// on the drawn operation).
    #[inline(always)]
    fn next_with(&mut self, rng: &mut Rng) -> Option<Request> {
        if self.emitted >= self.p.requests {
            return None;
        }
        self.emitted += 1;
        if self.pending_len > 0 {
            return Some(self.pop_invalidation());
        }
        self.time_ms += self.arrivals.sample(rng) * self.gap_ms;
        let (key, size, op) = if self.scan_left > 0 {
            self.scan_object()
        } else {
            self.regular_pick(rng)
        };
        let req = self.request(op, key, size);
        if matches!(op, Op::Put | Op::Delete) && key_class(key) == KeyClass::Model {
            self.queue_invalidations(key, req.time_ms);
        }
        Some(req)
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
        let (obj, pos) = (self.scan_obj, self.scan_pos);
        self.scan_obj = wrap(obj + 1, self.n);
        self.scan_pos = self.perm.next_position(pos);
        let (key, size) = match self.by_position.is_empty() {
            true => self.object_key_size(obj),
            false => self.at_position(pos),
        };
        (key, size, Op::Get)
    }

    /// Key, size and operation of a regular request.
    #[inline(always)]
    fn regular_pick(&mut self, rng: &mut Rng) -> (u64, u32, Op) {
        self.maybe_start_episodes(rng);
        // The hot set slides by `drift` ranks per regular request, modulo n.
        self.shift += self.drift;
        if self.shift >= self.n << SHIFT_BITS {
            self.shift -= self.n << SHIFT_BITS;
        }
        let kind = match self.only_kind {
            Some(kind) => kind,
            None => {
                let r = draw(rng);
                self.kinds.iter().map(|&t| (r >= t) as usize).sum::<usize>()
            }
        };
        if kind == ONE_HIT {
            if self.fresh_next == FRESH_BLOCK {
                self.size_fresh();
            }
            let (key, size) = self.fresh_sized[self.fresh_next];
            self.fresh_next += 1;
            return (key, size, Op::Get);
        }
        let op = KINDS[kind];
        let (key, size) = match op {
            Op::List => self.list_key_size(rng),
            _ => self.popular_object(rng),
        };
        (key, size, op)
    }

    /// Counts a regular request towards the next scan and flash crowd: a
    /// scan starts after every `scan_every`-th regular request, a flash
    /// crowd after every `flash_every`-th.
    #[inline]
    fn maybe_start_episodes(&mut self, rng: &mut Rng) {
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
                // A copy goes to the cold call, so `rng` itself never has
                // its address taken and can stay in registers.
                let mut spill = rng.clone();
                self.start_flash(&mut spill);
                *rng = spill;
            }
        }
    }

    #[cold]
    fn start_flash(&mut self, rng: &mut Rng) {
        self.flash_left = self.p.flash_len;
        self.flash_base = self.n / 2 + rng.below((self.n / 2).max(1));
    }

    /// `(key, size)` of a popular object: Zipf rank shifted by the drift, or
    /// during a flash crowd (with `flash_share`) one of its objects.
    #[inline(always)]
    fn popular_object(&mut self, rng: &mut Rng) -> (u64, u32) {
        if self.flash_left > 0 {
            self.flash_left -= 1;
            if draw(rng) < self.flash_share {
                let j = rng.below(self.p.flash_objects.max(1) as u64);
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
    #[inline(always)]
    fn list_key_size(&self, rng: &mut Rng) -> (u64, u32) {
        if let Some((joint, entries)) = &self.list_keys {
            return entries[joint.sample(rng.next_u64()) as usize].get();
        }
        let model = rng.below(self.p.model_types.max(1) as u64) as u16;
        let (class, rank) = match draw(rng) < self.count_share {
            true => (KeyClass::Count, self.counts.sample(rng.next_u64())),
            false => (KeyClass::List, self.lists.sample(rng.next_u64())),
        };
        let key = make_key(class, model, rank as u64);
        (key, self.size_of(key))
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
        self.finish_size(key, self.log_size(key).exp())
    }

    /// [`Self::size_of`] for up to [`SIZE_BLOCK`] keys, appended to `table`
    /// as entries: the exponentials run in a loop of their own, where
    /// independent calls overlap (about 3x faster than one key at a time,
    /// whose hash, normal and exponential form a chain).
    /// Sizes the next [`FRESH_BLOCK`] fresh objects (same keys and sizes
    /// as [`Self::object_key_size`] one at a time).
    #[cold]
    fn size_fresh(&mut self) {
        let keys: [u64; FRESH_BLOCK] =
            std::array::from_fn(|j| self.object_key(self.fresh + j as u64));
        self.fresh += FRESH_BLOCK as u64;
        let mut body = keys.map(|k| self.log_size(k));
        body.iter_mut().for_each(|b| *b = b.exp());
        self.fresh_sized = std::array::from_fn(|j| (keys[j], self.finish_size(keys[j], body[j])));
        self.fresh_next = 0;
    }

    fn push_sized(&self, keys: &[u64], table: &mut Vec<Entry>) {
        let mut body = [0f64; SIZE_BLOCK];
        let body = &mut body[..keys.len()];
        body.iter_mut()
            .zip(keys)
            .for_each(|(b, &k)| *b = self.log_size(k));
        body.iter_mut().for_each(|b| *b = b.exp());
        let sized = keys.iter().zip(body.iter());
        table.extend(sized.map(|(&k, &b)| Entry::new(k, self.finish_size(k, b))));
    }

    /// The logarithm of a lognormal size's body, `mu + sigma z` of the
    /// key's class (0 for count keys, whose size is fixed).
    #[inline]
    fn log_size(&self, key: u64) -> f64 {
        let p = &self.p;
        let (mu, sigma) = match key_class(key) {
            KeyClass::Model => (p.model_mu, p.model_sigma),
            KeyClass::List => (p.list_mu, p.list_sigma),
            KeyClass::Count => return 0.0,
            _ => (p.upload_mu, p.upload_sigma),
        };
        mu + sigma * self.normals.sample(key ^ self.salt)
    }

    /// The size from the body `exp(log_size)`: count keys are fixed, an
    /// upload body above `tail_min` is replaced by a Pareto draw, and every
    /// size is clamped to 1 B ..= 1 GiB.
    #[inline]
    fn finish_size(&self, key: u64, body: f64) -> u32 {
        let p = &self.p;
        let bytes = match key_class(key) {
            KeyClass::Count => p.count_size as f64,
            KeyClass::Upload | KeyClass::Opaque if body > p.tail_min => {
                let u = unit_f64(mix64(key ^ self.salt ^ 0x7A11));
                pareto(p.tail_min, p.tail_alpha, u)
            }
            _ => body,
        };
        bytes.clamp(1.0, MAX_SIZE) as u32
    }
}

/// The kind thresholds: `one_hit_share`, then the op mix's cumulative
/// weights spread over the rest, times 2^63; and the only possible kind of a
/// workload that has one.
fn kind_thresholds(p: &WorkloadParams) -> ([u64; 5], Option<usize>) {
    let m = &p.mix;
    let one_hit = p.one_hit_share.clamp(0.0, 1.0);
    let weights = [m.get, m.head, m.put, m.delete, m.list];
    let t = m.total().max(f64::MIN_POSITIVE);
    let mut acc = 0.0;
    let mut kinds = [threshold(one_hit); 5];
    for (i, w) in weights[..4].iter().enumerate() {
        acc += w / t;
        kinds[i + 1] = threshold(one_hit + (1.0 - one_hit) * acc);
    }
    let shares = [one_hit, 1.0 - one_hit];
    let mut used = (0..KINDS.len()).filter(|&k| match k {
        ONE_HIT => shares[0] > 0.0,
        k => shares[1] > 0.0 && weights[k - 1] > 0.0,
    });
    let only_kind = match (used.next(), used.next()) {
        (Some(k), None) => Some(k),
        _ => None,
    };
    (kinds, only_kind)
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
        let mut rng = self.rng.clone();
        for _ in 0..n {
            if let Some(r) = self.next_with(&mut rng) {
                out.push(r);
            }
        }
        self.rng = rng;
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
