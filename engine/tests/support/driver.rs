//! Runs operation sequences against a real [`Cache`] and checks every step against the
//! exact reference [`Model`] ([`Exact`]); `tracked.rs` holds the checker for caches whose
//! shard of a key is unknown. Shared by `engine/tests/model.rs` and
//! `fuzz/fuzz_targets/ops.rs`, which include this file by path next to `model.rs` and
//! `tracked.rs` (as `crate::model`, `crate::driver`, `crate::tracked`).
//!
//! Every cache runs on a mock clock (`quanta::Clock::mock()`) that only the `Advance`
//! and `AlignTick` operations move, so expiry is deterministic.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clockwheel::{Cache, CacheBuilder, EvictionPolicy, InsertError, Pattern, RemovalCause};
use quanta::{Clock, Mock};

use crate::model::{Cause, Model, Policy, Refused, Stats, MAX_TTL};

/// Values carry a unique sequence number and the weight the weigher reads.
pub type Val = (u32, u64);
pub type Event = (String, Val, Cause);
pub type Log = Arc<Mutex<Vec<(String, Val, RemovalCause)>>>;
pub type Got = Result<Option<Val>, (String, InsertError)>;

/// The virtual clock never passes this (2^62 ns ≈ 146 years), so it cannot overflow.
pub const CLOCK_LIMIT: u64 = 1 << 62;

/// The key universe; a configuration uses a prefix of it. Prefixed keys are spread
/// through the list so that small universes still give the globs something to match.
pub const KEYS: [&str; 22] = [
    "k0",
    "user:1",
    "k1",
    "list:a",
    "k2",
    "user:10",
    "k3",
    "user:1:posts",
    "k4",
    "list:b",
    "k5",
    "user:2",
    "k6",
    "k7",
    "k8",
    "k9",
    "k10",
    "k11",
    "k12",
    "k13",
    "k14",
    "k15",
];

/// Globs for `remove_matching`; index `PATTERNS.len()` is a pattern over the length limit.
pub const PATTERNS: [&str; 14] = [
    "k1*",
    "k?",
    "user:*",
    "user:1*",
    "user:?",
    "*:*",
    "list:[ab]",
    "list:[!a]",
    "k[0-4]",
    "*",
    "nomatch*",
    "k1",
    "*1*",
    "[!k]*",
];

/// The pattern text for a `RemoveMatching` index.
pub fn pattern_text(index: u8) -> String {
    match PATTERNS.get(index as usize) {
        Some(p) => (*p).to_string(),
        None => "*".repeat(Pattern::MAX_LEN + 1),
    }
}

/// One operation. Keys are indices into the configuration's key universe; inserted
/// values get a fresh sequence number from the runner. TTLs and clock steps are in
/// nanoseconds.
#[derive(Clone, Debug)]
pub enum Op {
    Insert {
        key: u8,
        weight: u64,
    },
    TryInsert {
        key: u8,
        weight: u64,
    },
    /// `insert_with_ttl`; `None` never expires, above `MAX_TTL` is clamped.
    InsertWithTtl {
        key: u8,
        weight: u64,
        ttl: Option<u64>,
    },
    /// `try_insert_with_ttl`; above `MAX_TTL` is refused.
    TryInsertWithTtl {
        key: u8,
        weight: u64,
        ttl: Option<u64>,
    },
    Get(u8),
    GetWith(u8),
    Peek(u8),
    Contains(u8),
    Remove(u8),
    Invalidate(u8),
    Clear,
    /// Keeps the entries whose sequence number `% modulus != residue` (`modulus >= 1`).
    Retain {
        modulus: u8,
        residue: u8,
    },
    /// Index into [`PATTERNS`], or one past it for an over-long (invalid) pattern.
    RemoveMatching(u8),
    /// Moves the mock clock forward by this many nanoseconds.
    Advance(u64),
    /// Moves the mock clock to the next multiple of 2^(20 + 6 × (level % 7)) ns: the
    /// next boundary of a wheel level's slot (level 6: of the 2^36-tick epoch).
    AlignTick(u8),
    RunPendingTasks,
    RemainingTtl(u8),
}

impl Op {
    /// Operations whose listener events come in bucket order rather than a fixed one.
    fn is_bulk(&self) -> bool {
        matches!(self, Op::Clear | Op::Retain { .. } | Op::RemoveMatching(_))
    }

    /// How far a clock operation moves a clock standing at `now` (0 past
    /// [`CLOCK_LIMIT`], or for any other operation).
    pub fn clock_step(&self, now: u64) -> u64 {
        let step = match *self {
            Op::Advance(nanos) => nanos,
            Op::AlignTick(level) => {
                let unit = 1u64 << (20 + 6 * u32::from(level % 7));
                (now / unit + 1) * unit - now
            }
            _ => 0,
        };
        match now.checked_add(step) {
            Some(to) if to <= CLOCK_LIMIT => step,
            _ => 0,
        }
    }
}

/// A TTL operand as a `Duration`.
pub fn ttl(nanos: Option<u64>) -> Option<Duration> {
    nanos.map(Duration::from_nanos)
}

/// How to build the cache under test.
#[derive(Clone, Debug)]
pub struct Config {
    pub capacity: u64,
    /// Bounded by total weight (a weigher reading `Val.1`) rather than by count.
    pub weighted: bool,
    pub fifo: bool,
    /// Requested shard count (the builder rounds it up to a power of two).
    pub shards: usize,
    pub estimated_entries: Option<usize>,
    pub record_stats: bool,
    /// How many of [`KEYS`] are in play (1..=KEYS.len()).
    pub universe: usize,
    /// Seed of the deterministic hasher ([`Exact`] only).
    pub seed: u64,
    /// Builder `default_ttl` in nanoseconds (`Some(0)` is not a valid setting).
    pub default_ttl: Option<u64>,
    /// Builder `time_to_idle` in nanoseconds.
    pub time_to_idle: Option<u64>,
}

impl Config {
    pub fn key(&self, index: u8) -> String {
        KEYS[index as usize % self.universe.clamp(1, KEYS.len())].to_string()
    }

    /// The keys in play.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.universe.clamp(1, KEYS.len()) as u8).map(|i| self.key(i))
    }

    pub fn weight(&self, value: &Val) -> u64 {
        if self.weighted {
            value.1
        } else {
            1
        }
    }

    /// The builder, on a fresh mock clock (returned).
    pub fn builder(&self, log: &Log) -> (CacheBuilder<String, Val>, Arc<Mock>) {
        let sink = Arc::clone(log);
        let (clock, mock) = Clock::mock();
        let mut builder = Cache::<String, Val>::builder()
            .shards(self.shards)
            .policy(if self.fifo {
                EvictionPolicy::Fifo
            } else {
                EvictionPolicy::Clock
            })
            .record_stats(self.record_stats)
            .clock(clock)
            .eviction_listener(move |k: &String, v: &Val, cause| {
                sink.lock().unwrap().push((k.clone(), *v, cause))
            });
        builder = if self.weighted {
            builder
                .weigher(|_k: &String, v: &Val| v.1)
                .max_weight(self.capacity)
        } else {
            builder.max_capacity(self.capacity)
        };
        if let Some(n) = self.estimated_entries {
            builder = builder.estimated_entries(n);
        }
        if let Some(t) = ttl(self.default_ttl) {
            builder = builder.default_ttl(t);
        }
        if let Some(t) = ttl(self.time_to_idle) {
            builder = builder.time_to_idle(t);
        }
        (builder, mock)
    }
}

/// A deterministic, seeded hasher, so that the model can know each key's shard.
#[derive(Clone, Copy, Debug)]
pub struct SeededState(pub u64);

/// FNV-1a over the bytes, finished with the splitmix64 mixer so the top bits (which
/// pick the shard) are well spread.
pub struct SeededHasher(u64);

impl Hasher for SeededHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl BuildHasher for SeededState {
    type Hasher = SeededHasher;

    fn build_hasher(&self) -> SeededHasher {
        SeededHasher(self.0 ^ 0xcbf2_9ce4_8422_2325)
    }
}

#[macro_export]
macro_rules! ensure_eq {
    ($got:expr, $want:expr, $($what:tt)+) => {{
        let (got, want) = (&$got, &$want);
        if got != want {
            return Err(format!(
                "{}: engine {:?}, expected {:?}",
                format_args!($($what)+),
                got,
                want
            ));
        }
    }};
}

fn cause(c: RemovalCause) -> Cause {
    match c {
        RemovalCause::Evicted => Cause::Evicted,
        RemovalCause::Removed => Cause::Removed,
        RemovalCause::Replaced => Cause::Replaced,
        RemovalCause::Expired => Cause::Expired,
        other => panic!("the model does not know removal cause {other:?}"),
    }
}

pub fn drain(log: &Log) -> Vec<Event> {
    let mut log = log.lock().unwrap();
    log.drain(..).map(|(k, v, c)| (k, v, cause(c))).collect()
}

pub fn sorted(mut events: Vec<Event>) -> Vec<Event> {
    events.sort();
    events
}

/// Puts each run of consecutive `Expired` events in order: one wheel advance expires
/// its entries in wheel order, which is unspecified.
pub fn canonical(mut events: Vec<Event>) -> Vec<Event> {
    let mut start = 0;
    while start < events.len() {
        let run = events[start..]
            .iter()
            .take_while(|e| e.2 == Cause::Expired)
            .count();
        events[start..start + run].sort();
        start += run.max(1);
    }
    events
}

fn counters(cache_stats: clockwheel::CacheStats) -> Stats {
    Stats {
        hits: cache_stats.hits,
        misses: cache_stats.misses,
        insertions: cache_stats.insertions,
        replacements: cache_stats.replacements,
        evictions: cache_stats.evictions,
        removals: cache_stats.removals,
        rejections: cache_stats.rejections,
        expirations: cache_stats.expirations,
    }
}

/// Everything observable the checker expects of the cache after an operation.
pub struct Expected<'a> {
    /// The unexpired entries, by key: what `iter` yields.
    pub entries: &'a [(String, Val)],
    /// Entries in the table, expired ones nothing has killed yet included: `len`.
    pub len: usize,
    pub weighted: u64,
    pub stats: Stats,
    /// `remaining_ttl` of each key in play.
    pub remaining: Vec<(String, Option<Option<Duration>>)>,
}

/// Compares everything observable about the cache's state with the expectation.
pub fn check_state<S: BuildHasher>(
    cache: &Cache<String, Val, S>,
    cfg: &Config,
    want: &Expected<'_>,
) -> Result<(), String> {
    cache.validate().map_err(|e| format!("validate: {e}"))?;
    let mut got: Vec<(String, Val)> = cache.iter().collect();
    got.sort();
    ensure_eq!(got, want.entries, "contents (iter)");
    ensure_eq!(cache.len(), want.len, "len");
    ensure_eq!(cache.is_empty(), want.len == 0, "is_empty");
    ensure_eq!(cache.weighted_size(), want.weighted, "weighted_size");
    if want.weighted > cfg.capacity {
        return Err(format!(
            "weighted_size {} over capacity {}",
            want.weighted, cfg.capacity
        ));
    }
    let snapshot = cache.stats();
    let stats = if cfg.record_stats {
        want.stats
    } else {
        Stats::default()
    };
    ensure_eq!(counters(snapshot), stats, "stats counters");
    ensure_eq!(
        (snapshot.len, snapshot.weighted_size, snapshot.capacity),
        (want.len as u64, want.weighted, cfg.capacity),
        "stats len / weighted_size / capacity"
    );
    for (key, remaining) in &want.remaining {
        ensure_eq!(
            cache.remaining_ttl(key.as_str()),
            *remaining,
            "remaining_ttl({key})"
        );
    }
    Ok(())
}

/// Checks that a `try_insert*` was refused for the reason the model gives.
pub fn check_refused(got: Got, key: &str, want: Refused, capacity: u64) -> Result<(), String> {
    let want = match want {
        Refused::TooHeavy(weight) => InsertError::TooHeavy { weight, capacity },
        Refused::TtlTooLarge(ttl) => InsertError::TtlTooLarge { ttl },
    };
    match got {
        Err((k, e)) => {
            ensure_eq!((k.as_str(), e), (key, want), "refusal");
            Ok(())
        }
        Ok(old) => Err(format!("expected {want:?}, the insert succeeded ({old:?})")),
    }
}

// ---------------------------------------------------------------------- exact

/// A cache with a deterministic hasher, checked after every operation against the
/// exact reference model (any shard count).
pub struct Exact {
    cfg: Config,
    cache: Cache<String, Val, SeededState>,
    mock: Arc<Mock>,
    model: Model<String, Val>,
    log: Log,
    seq: u32,
}

impl Exact {
    pub fn new(cfg: Config) -> Self {
        assert_eq!(MAX_TTL, clockwheel::MAX_TTL, "the model's MAX_TTL");
        let log = Log::default();
        let state = SeededState(cfg.seed);
        let (builder, mock) = cfg.builder(&log);
        let cache = builder.hasher(state).build().expect("valid config");
        let shards = cache.shard_count();
        assert_eq!(shards, cfg.shards.next_power_of_two(), "shard rounding");
        // The engine takes the shard index from the hash's top 16 bits (`shard_index`
        // in `core.rs`); the model must place keys the same way to predict the hand.
        let shard_of = move |k: &String| (state.hash_one(k) >> 48) as usize & (shards - 1);
        let policy = if cfg.fifo {
            Policy::Fifo
        } else {
            Policy::Clock
        };
        let model = Model::sharded(cfg.capacity, policy, shards, Box::new(shard_of))
            .with_expiry(ttl(cfg.default_ttl), ttl(cfg.time_to_idle));
        Exact {
            cfg,
            cache,
            mock,
            model,
            log,
            seq: 0,
        }
    }

    pub fn cache(&self) -> &Cache<String, Val, SeededState> {
        &self.cache
    }

    fn value(&mut self, weight: u64) -> Val {
        self.seq += 1;
        (self.seq, weight)
    }

    /// Applies `op` to both and compares the result and the whole observable state.
    pub fn step(&mut self, op: &Op) -> Result<(), String> {
        self.apply(op)?;
        let mut got = canonical(drain(&self.log));
        let mut want = canonical(self.model.take_events());
        if op.is_bulk() {
            got = sorted(got);
            want = sorted(want);
        }
        ensure_eq!(got, want, "listener events of {op:?}");
        let entries = self.model.entries();
        let remaining = self
            .cfg
            .keys()
            .map(|k| {
                let r = self.model.remaining_ttl(&k);
                (k, r)
            })
            .collect();
        let want = Expected {
            entries: &entries,
            len: self.model.len(),
            weighted: self.model.weighted_size(),
            stats: self.model.stats(),
            remaining,
        };
        check_state(&self.cache, &self.cfg, &want).map_err(|e| format!("after {op:?}: {e}"))
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Insert { key, weight } | Op::InsertWithTtl { key, weight, .. } => {
                let k = self.cfg.key(key);
                let v = self.value(weight);
                let w = self.cfg.weight(&v);
                let (got, want) = match *op {
                    Op::InsertWithTtl { ttl: t, .. } => (
                        self.cache.insert_with_ttl(k.clone(), v, ttl(t)),
                        self.model.insert_with_ttl(k, v, w, ttl(t)),
                    ),
                    _ => (self.cache.insert(k.clone(), v), self.model.insert(k, v, w)),
                };
                ensure_eq!(got, want, "{op:?} returned");
            }
            Op::TryInsert { key, weight } | Op::TryInsertWithTtl { key, weight, .. } => {
                let k = self.cfg.key(key);
                let v = self.value(weight);
                let w = self.cfg.weight(&v);
                let (got, want) = match *op {
                    Op::TryInsertWithTtl { ttl: t, .. } => (
                        self.cache.try_insert_with_ttl(k.clone(), v, ttl(t)),
                        self.model.try_insert_with_ttl(k.clone(), v, w, ttl(t)),
                    ),
                    _ => (
                        self.cache.try_insert(k.clone(), v),
                        self.model.try_insert(k.clone(), v, w),
                    ),
                };
                match want {
                    Ok(want) => match got {
                        Ok(old) => ensure_eq!(old, want, "{op:?} returned"),
                        Err((_, e)) => return Err(format!("{op:?} refused: {e}")),
                    },
                    Err(refused) => check_refused(got, &k, refused, self.cfg.capacity)?,
                }
            }
            Op::Advance(_) | Op::AlignTick(_) => {
                let step = op.clock_step(self.model.now());
                self.mock.increment(step);
                self.model.advance(step);
            }
            Op::RunPendingTasks => {
                self.cache.run_pending_tasks();
                self.model.run_pending_tasks();
            }
            _ => self.apply_read_or_removal(op)?,
        }
        Ok(())
    }

    fn apply_read_or_removal(&mut self, op: &Op) -> Result<(), String> {
        let (cache, model) = (&self.cache, &mut self.model);
        match *op {
            Op::Get(key) => {
                let k = self.cfg.key(key);
                ensure_eq!(cache.get(k.as_str()), model.get(&k), "{op:?}");
            }
            Op::GetWith(key) => {
                let k = self.cfg.key(key);
                let got = cache.get_with(k.as_str(), |v| v.0);
                ensure_eq!(got, model.get(&k).map(|v| v.0), "{op:?}");
            }
            Op::Peek(key) => {
                let k = self.cfg.key(key);
                ensure_eq!(cache.peek(k.as_str()), model.peek(&k), "{op:?}");
            }
            Op::Contains(key) => {
                let k = self.cfg.key(key);
                let want = model.contains_key(&k);
                ensure_eq!(cache.contains_key(k.as_str()), want, "{op:?}");
            }
            Op::Remove(key) => {
                let k = self.cfg.key(key);
                ensure_eq!(cache.remove(k.as_str()), model.remove(&k), "{op:?}");
            }
            Op::Invalidate(key) => {
                let k = self.cfg.key(key);
                let want = model.remove(&k).is_some();
                ensure_eq!(cache.invalidate(k.as_str()), want, "{op:?}");
            }
            Op::RemainingTtl(key) => {
                let k = self.cfg.key(key);
                ensure_eq!(
                    cache.remaining_ttl(k.as_str()),
                    model.remaining_ttl(&k),
                    "{op:?}"
                );
            }
            _ => self.apply_bulk(op)?,
        }
        Ok(())
    }

    fn apply_bulk(&mut self, op: &Op) -> Result<(), String> {
        let (cache, model) = (&self.cache, &mut self.model);
        match *op {
            Op::Clear => {
                cache.clear();
                model.remove_where(|_, _| true);
            }
            Op::Retain { modulus, residue } => {
                let keep = |v: &Val| v.0 % u32::from(modulus.max(1)) != u32::from(residue);
                let got = cache.retain(|_, v| keep(v));
                ensure_eq!(got, model.remove_where(|_, v| !keep(v)), "{op:?} count");
            }
            Op::RemoveMatching(index) => {
                let text = pattern_text(index);
                let got = cache.remove_matching(&text).map_err(|e| e.to_string());
                let want = Pattern::new(&text)
                    .map(|p| model.remove_where(|k, _| p.matches(k)))
                    .map_err(|e| e.to_string());
                ensure_eq!(got, want, "remove_matching({:.20})", text);
            }
            _ => unreachable!("every operation is dispatched: {op:?}"),
        }
        Ok(())
    }
}
