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
use crate::rng::{lognormal, mix64, normal_from_hash, pareto, unit_f64, Rng};
use crate::source::RequestSource;
use crate::trace::{key_class, make_key, pattern_key, KeyClass, Op, Request, NO_NEXT};
use crate::workload::WorkloadParams;
use crate::zipf::Zipf;

/// Largest upload size the model produces (1 GiB).
const MAX_SIZE: f64 = (1u64 << 30) as f64;

/// Generates the requests of a [`WorkloadParams`].
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
    objects: Zipf,
    lists: Zipf,
    counts: Zipf,
    cum_mix: [f64; 5],
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
    perm_mul: u64,
    salt: u64,
    /// Popularity shift in ranks, kept within `0..objects`.
    shift: f64,
    /// Regular requests until the next scan / flash crowd starts (0 = never).
    until_scan: u64,
    until_flash: u64,
    /// `(object, size)` at each popularity position (empty for
    /// populations above [`TABLE_LIMIT`], which compute them per request).
    by_position: Vec<(u32, u32)>,
    /// Popularity ranks drawn ahead (their own PRNG stream).
    ahead: Lookahead,
    /// Size of list key `rank` of model type `m` at `m * list_keys + rank`
    /// (empty when there are more than [`TABLE_LIMIT`] list keys).
    list_sizes: Vec<u32>,
}

/// Ranks drawn per block.
const AHEAD: usize = 32;

/// Zipf ranks drawn a block at a time from their own PRNG stream, each with
/// the table entry it maps to under the shift at draw time. Independent
/// samples and lookups in one loop let the CPU overlap their cache misses,
/// which otherwise dominate generation; an entry is used only if the shift
/// has not moved the rank to another position since it was drawn.
struct Lookahead {
    rng: Rng,
    ranks: [u64; AHEAD],
    positions: [u64; AHEAD],
    entries: [(u32, u32); AHEAD],
    next: usize,
}

impl Lookahead {
    fn new(seed: u64) -> Self {
        Lookahead {
            rng: Rng::new(mix64(seed ^ 0x2A4E_5ED0)),
            ranks: [0; AHEAD],
            positions: [u64::MAX; AHEAD],
            entries: [(0, 0); AHEAD],
            next: AHEAD,
        }
    }

    /// Draws the next block: ranks, their positions at `shift`, entries.
    fn refill(&mut self, zipf: &Zipf, table: &[(u32, u32)], shift: u64) {
        let n = zipf.len() as u64;
        // Two passes, each of independent loads, so misses overlap.
        for rank in &mut self.ranks {
            *rank = zipf.sample(self.rng.f64()) as u64;
        }
        for i in 0..AHEAD {
            let pos = wrap(self.ranks[i] + shift, n);
            self.positions[i] = pos;
            self.entries[i] = table.get(pos as usize).copied().unwrap_or((0, 0));
        }
        self.next = 0;
    }
}

/// `x mod n` for `x < 2n`.
#[inline]
fn wrap(x: u64, n: u64) -> u64 {
    if x >= n {
        x - n
    } else {
        x
    }
}

/// Largest population whose objects and sizes are tabulated up front (8 MiB).
const TABLE_LIMIT: u32 = 1 << 20;

impl Generator {
    /// Prepares a generator; building the Zipf tables costs O(objects).
    pub fn new(p: WorkloadParams) -> Self {
        let n = p.objects.max(1);
        let m = &p.mix;
        let t = m.total().max(f64::MIN_POSITIVE);
        let mut acc = 0.0;
        let mut cum_mix = [0.0; 5];
        for (i, w) in [m.get, m.head, m.put, m.delete, m.list].iter().enumerate() {
            acc += w / t;
            cum_mix[i] = acc;
        }
        cum_mix[4] = 1.0;
        let mut g = Generator {
            rng: Rng::new(p.seed),
            objects: Zipf::new(n, p.alpha),
            lists: Zipf::new(p.list_keys.max(1), p.list_alpha),
            counts: Zipf::new(p.count_keys.max(1), 0.5),
            cum_mix,
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
            perm_mul: coprime_multiplier(n as u64, p.seed),
            salt: mix64(p.seed ^ 0x5EED),
            shift: 0.0,
            until_scan: p.scan_every,
            until_flash: p.flash_every,
            by_position: Vec::new(),
            ahead: Lookahead::new(p.seed),
            list_sizes: Vec::new(),
            p,
        };
        if n <= TABLE_LIMIT {
            g.by_position = (0..n as u64)
                .map(|pos| {
                    let obj = g.permute(pos);
                    (obj as u32, g.size_of(g.object_key(obj)))
                })
                .collect();
        }
        let models = g.p.model_types.max(1) as u64;
        let lists = g.lists.len() as u64;
        if models * lists <= TABLE_LIMIT as u64 {
            g.list_sizes = (0..models * lists)
                .map(|i| g.size_of(make_key(KeyClass::List, (i / lists) as u16, i % lists)))
                .collect();
        }
        g
    }

    /// The parameters being generated.
    pub fn params(&self) -> &WorkloadParams {
        &self.p
    }

    /// The next request, or `None` after `requests` have been emitted.
    #[inline]
    pub fn next_request(&mut self) -> Option<Request> {
        if self.emitted >= self.p.requests {
            return None;
        }
        self.emitted += 1;
        if self.pending_len > 0 {
            return Some(self.pop_invalidation());
        }
        self.time_ms += self.rng.exp(1000.0 / self.p.rate.max(1e-9));
        if self.scan_left > 0 {
            return Some(self.scan_request());
        }
        Some(self.regular_request())
    }

    fn now(&self) -> u64 {
        self.time_ms as u64
    }

    fn pop_invalidation(&mut self) -> Request {
        self.pending_len -= 1;
        let key = self.pending[self.pending_len];
        Request {
            time_ms: self.pending_time,
            key,
            op: Op::Invalidate,
            ..Request::default_none()
        }
    }

    fn scan_request(&mut self) -> Request {
        self.scan_left -= 1;
        let obj = self.scan_cursor % self.p.objects.max(1) as u64;
        self.scan_cursor += 1;
        self.object_request(Op::Get, self.object_key(obj))
    }

    fn regular_request(&mut self) -> Request {
        self.maybe_start_episodes();
        // The hot set slides by `drift` ranks per regular request, modulo n.
        self.shift += self.p.drift;
        if self.shift >= self.p.objects.max(1) as f64 {
            self.shift -= self.p.objects.max(1) as f64;
        }
        if self.p.one_hit_share > 0.0 && self.rng.chance(self.p.one_hit_share) {
            let key = self.object_key(self.fresh);
            self.fresh += 1;
            return self.object_request(Op::Get, key);
        }
        let u = self.rng.f64();
        let op = match self.cum_mix.iter().position(|&c| u < c) {
            Some(0) | None => Op::Get,
            Some(1) => Op::Head,
            Some(2) => Op::Put,
            Some(3) => Op::Delete,
            Some(_) => Op::List,
        };
        if op == Op::List {
            return self.list_request();
        }
        let (key, size) = self.popular_object();
        let req = self.request(op, key, size);
        if matches!(op, Op::Put | Op::Delete) && key_class(key) == KeyClass::Model {
            self.queue_invalidations(key, req.time_ms);
        }
        req
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
        let n = self.p.objects.max(1) as u64;
        self.flash_base = n / 2 + self.rng.below((n / 2).max(1));
    }

    /// `(key, size)` of a popular object: Zipf rank shifted by the drift, or
    /// during a flash crowd (with `flash_share`) one of its objects.
    #[inline]
    fn popular_object(&mut self) -> (u64, u32) {
        let n = self.p.objects.max(1) as u64;
        if self.flash_left > 0 {
            self.flash_left -= 1;
            if self.rng.chance(self.p.flash_share) {
                let j = self.rng.below(self.p.flash_objects.max(1) as u64);
                return self.at_position((self.flash_base + j) % n);
            }
        }
        if self.ahead.next == AHEAD {
            let shift = self.shift as u64;
            self.ahead.refill(&self.objects, &self.by_position, shift);
        }
        let i = self.ahead.next;
        self.ahead.next += 1;
        let pos = wrap(self.ahead.ranks[i] + self.shift as u64, n);
        if pos == self.ahead.positions[i] && !self.by_position.is_empty() {
            let (obj, size) = self.ahead.entries[i];
            return (self.object_key(obj as u64), size);
        }
        self.at_position(pos)
    }

    /// The object at popularity position `pos < objects`.
    #[inline]
    fn at_position(&self, pos: u64) -> (u64, u32) {
        match self.by_position.get(pos as usize) {
            Some(&(obj, size)) => (self.object_key(obj as u64), size),
            None => {
                let key = self.object_key(self.permute(pos));
                (key, self.size_of(key))
            }
        }
    }

    fn list_request(&mut self) -> Request {
        let model = self.rng.below(self.p.model_types.max(1) as u64) as u16;
        let key = if self.rng.chance(self.p.count_share) {
            make_key(
                KeyClass::Count,
                model,
                self.counts.sample(self.rng.f64()) as u64,
            )
        } else {
            let rank = self.lists.sample(self.rng.f64());
            let key = make_key(KeyClass::List, model, rank as u64);
            let i = model as usize * self.lists.len() as usize + rank as usize;
            if let Some(&size) = self.list_sizes.get(i) {
                return self.request(Op::List, key, size);
            }
            key
        };
        self.object_request(Op::List, key)
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

    /// Rank-to-object bijection on `0..objects`.
    fn permute(&self, x: u64) -> u64 {
        let n = self.p.objects.max(1) as u64;
        // x, perm_mul < n <= 2^32, so the product and offset fit in u64.
        (x * self.perm_mul + 12_345) % n
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

    fn object_request(&self, op: Op, key: u64) -> Request {
        self.request(op, key, self.size_of(key))
    }

    /// A request for `key` of `size` with its class's TTL (none for DELETE).
    #[inline]
    fn request(&self, op: Op, key: u64, size: u32) -> Request {
        let ttl_s = match key_class(key) {
            KeyClass::Model => self.p.ttl_model_s,
            KeyClass::List | KeyClass::Count => self.p.ttl_list_s,
            _ => self.p.ttl_upload_s,
        };
        let ttl_ms = if op == Op::Delete {
            0
        } else {
            ttl_s.saturating_mul(1000)
        };
        Request {
            time_ms: self.now(),
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

impl Request {
    fn default_none() -> Self {
        Request {
            next_access: NO_NEXT,
            ..Request::default()
        }
    }
}

/// An odd multiplier coprime with `n`, chosen from the seed, reduced below
/// `n` (reduction keeps it coprime: gcd(a mod n, n) = gcd(a, n)).
fn coprime_multiplier(n: u64, seed: u64) -> u64 {
    let mut a = (mix64(seed) % n.max(2)) | 1;
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

impl RequestSource for Generator {
    fn read_batch(&mut self, out: &mut Vec<Request>, max: usize) -> Result<usize, TraceError> {
        let mut n = 0;
        while n < max {
            match self.next_request() {
                Some(r) => out.push(r),
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }
}

impl Iterator for Generator {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.next_request()
    }
}
