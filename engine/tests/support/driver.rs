//! Runs operation sequences against a real [`Cache`] and checks every step, either
//! against the exact reference [`Model`] ([`Exact`]) or, for caches whose shard of a key
//! is unknown (random hasher), against contents learned from the eviction listener
//! ([`Tracked`]). Shared by `engine/tests/model.rs` and `fuzz/fuzz_targets/ops.rs`,
//! which include this file by path next to `model.rs` (as `crate::model`).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use clockwheel::{Cache, CacheBuilder, EvictionPolicy, InsertError, Pattern, RemovalCause};

use crate::model::{Cause, Model, Policy, Stats};

/// Values carry a unique sequence number and the weight the weigher reads.
pub type Val = (u32, u64);
type Event = (String, Val, Cause);
type Log = Arc<Mutex<Vec<(String, Val, RemovalCause)>>>;

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
/// values get a fresh sequence number from the runner.
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
}

impl Op {
    /// Operations whose listener events come in bucket order rather than a fixed one.
    fn is_bulk(&self) -> bool {
        matches!(self, Op::Clear | Op::Retain { .. } | Op::RemoveMatching(_))
    }
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
}

impl Config {
    fn key(&self, index: u8) -> String {
        KEYS[index as usize % self.universe.clamp(1, KEYS.len())].to_string()
    }

    fn weight(&self, value: &Val) -> u64 {
        if self.weighted {
            value.1
        } else {
            1
        }
    }

    fn builder(&self, log: &Log) -> CacheBuilder<String, Val> {
        let sink = Arc::clone(log);
        let mut builder = Cache::<String, Val>::builder()
            .shards(self.shards)
            .policy(if self.fifo {
                EvictionPolicy::Fifo
            } else {
                EvictionPolicy::Clock
            })
            .record_stats(self.record_stats)
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
        match self.estimated_entries {
            Some(n) => builder.estimated_entries(n),
            None => builder,
        }
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

fn drain(log: &Log) -> Vec<Event> {
    let mut log = log.lock().unwrap();
    log.drain(..).map(|(k, v, c)| (k, v, cause(c))).collect()
}

fn sorted(mut events: Vec<Event>) -> Vec<Event> {
    events.sort();
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
    }
}

/// Compares everything observable about the cache's state with the expectation.
fn check_state<S: BuildHasher>(
    cache: &Cache<String, Val, S>,
    cfg: &Config,
    entries: &[(String, Val)],
    weighted: u64,
    stats: Stats,
) -> Result<(), String> {
    cache.validate().map_err(|e| format!("validate: {e}"))?;
    let mut got: Vec<(String, Val)> = cache.iter().collect();
    got.sort();
    ensure_eq!(got, entries, "contents (iter)");
    ensure_eq!(cache.len(), entries.len(), "len");
    ensure_eq!(cache.is_empty(), entries.is_empty(), "is_empty");
    ensure_eq!(cache.weighted_size(), weighted, "weighted_size");
    if weighted > cfg.capacity {
        return Err(format!(
            "weighted_size {weighted} over capacity {}",
            cfg.capacity
        ));
    }
    let snapshot = cache.stats();
    let want = if cfg.record_stats {
        stats
    } else {
        Stats::default()
    };
    ensure_eq!(counters(snapshot), want, "stats counters");
    ensure_eq!(
        (snapshot.len, snapshot.weighted_size, snapshot.capacity),
        (entries.len() as u64, weighted, cfg.capacity),
        "stats len / weighted_size / capacity"
    );
    Ok(())
}

fn check_too_heavy(
    got: Result<Option<Val>, (String, InsertError)>,
    key: &str,
    weight: u64,
    capacity: u64,
) -> Result<(), String> {
    match got {
        Err((
            k,
            InsertError::TooHeavy {
                weight: w,
                capacity: c,
            },
        )) => {
            ensure_eq!(
                (k.as_str(), w, c),
                (key, weight, capacity),
                "try_insert error"
            );
            Ok(())
        }
        Ok(old) => Err(format!(
            "try_insert of weight {weight} > capacity {capacity} succeeded ({old:?})"
        )),
        Err((_, other)) => Err(format!("try_insert failed with {other:?}")),
    }
}

// ---------------------------------------------------------------------- exact

/// A cache with a deterministic hasher, checked after every operation against the
/// exact reference model (any shard count).
pub struct Exact {
    cfg: Config,
    cache: Cache<String, Val, SeededState>,
    model: Model<String, Val>,
    log: Log,
    seq: u32,
}

impl Exact {
    pub fn new(cfg: Config) -> Self {
        let log = Log::default();
        let state = SeededState(cfg.seed);
        let cache = cfg
            .builder(&log)
            .hasher(state)
            .build()
            .expect("valid config");
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
        let model = Model::sharded(cfg.capacity, policy, shards, Box::new(shard_of));
        Exact {
            cfg,
            cache,
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
        let mut got = drain(&self.log);
        let mut want = self.model.take_events();
        if op.is_bulk() {
            got = sorted(got);
            want = sorted(want);
        }
        ensure_eq!(got, want, "listener events of {op:?}");
        check_state(
            &self.cache,
            &self.cfg,
            &self.model.entries(),
            self.model.weighted_size(),
            self.model.stats(),
        )
        .map_err(|e| format!("after {op:?}: {e}"))
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        let (cache, model) = (&self.cache, &mut self.model);
        match *op {
            Op::Insert { key, weight } => {
                let k = self.cfg.key(key);
                let v = self.value(weight);
                let w = self.cfg.weight(&v);
                let got = self.cache.insert(k.clone(), v);
                ensure_eq!(got, self.model.insert(k, v, w), "{op:?} returned");
            }
            Op::TryInsert { key, weight } => {
                let k = self.cfg.key(key);
                let v = self.value(weight);
                let w = self.cfg.weight(&v);
                let got = self.cache.try_insert(k.clone(), v);
                match self.model.try_insert(k.clone(), v, w) {
                    Ok(want) => match got {
                        Ok(old) => ensure_eq!(old, want, "{op:?} returned"),
                        Err((_, e)) => return Err(format!("{op:?} refused: {e}")),
                    },
                    Err(weight) => check_too_heavy(got, &k, weight, self.cfg.capacity)?,
                }
            }
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
                ensure_eq!(
                    cache.contains_key(k.as_str()),
                    model.contains_key(&k),
                    "{op:?}"
                );
            }
            Op::Remove(key) => {
                let k = self.cfg.key(key);
                ensure_eq!(cache.remove(k.as_str()), model.remove(&k), "{op:?}");
            }
            Op::Invalidate(key) => {
                let k = self.cfg.key(key);
                ensure_eq!(
                    cache.invalidate(k.as_str()),
                    model.remove(&k).is_some(),
                    "{op:?}"
                );
            }
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
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------- tracked

/// A cache with the default (randomly seeded) hasher and any shard count. Which entry
/// the hand picks is not predicted; instead the listener tells which entries left, and
/// every step checks that those were live with their latest value, that an insert
/// evicted exactly until the entry fitted (no more, no less), and that the cache then
/// holds exactly the last inserted value of every key not removed or evicted since.
pub struct Tracked {
    cfg: Config,
    cache: Cache<String, Val>,
    log: Log,
    seq: u32,
    contents: BTreeMap<String, Val>,
    stats: Stats,
}

impl Tracked {
    pub fn new(cfg: Config) -> Self {
        let log = Log::default();
        let cache = cfg.builder(&log).build().expect("valid config");
        Tracked {
            cfg,
            cache,
            log,
            seq: 0,
            contents: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    fn total(&self) -> u64 {
        self.contents.values().map(|v| self.cfg.weight(v)).sum()
    }

    pub fn step(&mut self, op: &Op) -> Result<(), String> {
        self.apply(op).map_err(|e| format!("{op:?}: {e}"))?;
        let entries: Vec<(String, Val)> =
            self.contents.iter().map(|(k, v)| (k.clone(), *v)).collect();
        check_state(&self.cache, &self.cfg, &entries, self.total(), self.stats)
            .map_err(|e| format!("after {op:?}: {e}"))
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Insert { key, weight } | Op::TryInsert { key, weight } => {
                let try_insert = matches!(op, Op::TryInsert { .. });
                self.insert(self.cfg.key(key), weight, try_insert)?;
            }
            Op::Get(key) | Op::GetWith(key) | Op::Contains(key) => {
                let k = self.cfg.key(key);
                let want = self.contents.get(&k).copied();
                let got = match op {
                    Op::Get(_) => self.cache.get(k.as_str()),
                    Op::GetWith(_) => self.cache.get_with(k.as_str(), |v| *v),
                    _ => self
                        .cache
                        .contains_key(k.as_str())
                        .then_some(want.unwrap_or_default()),
                };
                ensure_eq!(got, want, "lookup");
                match want {
                    Some(_) => self.stats.hits += 1,
                    None => self.stats.misses += 1,
                }
                ensure_eq!(drain(&self.log), Vec::<Event>::new(), "events");
            }
            Op::Peek(key) => {
                let k = self.cfg.key(key);
                ensure_eq!(
                    self.cache.peek(k.as_str()),
                    self.contents.get(&k).copied(),
                    "peek"
                );
                ensure_eq!(drain(&self.log), Vec::<Event>::new(), "events");
            }
            Op::Remove(key) | Op::Invalidate(key) => {
                let k = self.cfg.key(key);
                let want = self.contents.remove(&k);
                if matches!(op, Op::Remove(_)) {
                    ensure_eq!(self.cache.remove(k.as_str()), want, "remove");
                } else {
                    ensure_eq!(
                        self.cache.invalidate(k.as_str()),
                        want.is_some(),
                        "invalidate"
                    );
                }
                let events: Vec<Event> = want.map(|v| (k, v, Cause::Removed)).into_iter().collect();
                self.stats.removals += events.len() as u64;
                ensure_eq!(drain(&self.log), events, "events");
            }
            Op::Clear => {
                self.cache.clear();
                self.remove_where(|_, _| true, None)?;
            }
            Op::Retain { modulus, residue } => {
                let keep = |v: &Val| v.0 % u32::from(modulus.max(1)) != u32::from(residue);
                let got = self.cache.retain(|_, v| keep(v));
                self.remove_where(|_, v| !keep(v), Some(got))?;
            }
            Op::RemoveMatching(index) => {
                let text = pattern_text(index);
                match (self.cache.remove_matching(&text), Pattern::new(&text)) {
                    (Ok(got), Ok(p)) => self.remove_where(|k, _| p.matches(k), Some(got))?,
                    (Err(_), Err(_)) => ensure_eq!(drain(&self.log), Vec::<Event>::new(), "events"),
                    (got, _) => return Err(format!("remove_matching returned {got:?}")),
                }
            }
        }
        Ok(())
    }

    fn insert(&mut self, k: String, weight: u64, try_insert: bool) -> Result<(), String> {
        self.seq += 1;
        let v = (self.seq, weight);
        let w = self.cfg.weight(&v);
        let old = self.contents.get(&k).copied();
        let got = if try_insert {
            self.cache.try_insert(k.clone(), v)
        } else {
            Ok(self.cache.insert(k.clone(), v))
        };
        let events = drain(&self.log);
        if w > self.cfg.capacity {
            self.stats.rejections += 1;
            if try_insert {
                check_too_heavy(got, &k, w, self.cfg.capacity)?;
                ensure_eq!(events, Vec::<Event>::new(), "events");
                return Ok(());
            }
            ensure_eq!(got, Ok(old), "too-heavy insert returned");
            let removed: Vec<Event> = old
                .map(|v| (k.clone(), v, Cause::Removed))
                .into_iter()
                .collect();
            ensure_eq!(events, removed, "events");
            self.stats.removals += removed.len() as u64;
            self.contents.remove(&k);
            return Ok(());
        }
        let (mut total, mut old_weight) = (self.total(), old.map_or(0, |v| self.cfg.weight(&v)));
        let mut replaced = None;
        for (ek, ev, c) in events {
            match c {
                Cause::Evicted if replaced.is_none() => {
                    if total.saturating_add(w.saturating_sub(old_weight)) <= self.cfg.capacity {
                        return Err(format!("evicted {ek}={ev:?} though {w} already fitted"));
                    }
                    ensure_eq!(self.contents.remove(&ek), Some(ev), "evicted entry {ek}");
                    total -= self.cfg.weight(&ev);
                    if ek == k {
                        old_weight = 0; // its own old entry went: now a fresh insert
                    }
                    self.stats.evictions += 1;
                }
                Cause::Replaced if replaced.is_none() && ek == k => replaced = Some(ev),
                _ => return Err(format!("unexpected event ({ek}, {ev:?}, {c:?})")),
            }
        }
        if total.saturating_add(w.saturating_sub(old_weight)) > self.cfg.capacity {
            return Err(format!(
                "inserted weight {w} without making room (total {total})"
            ));
        }
        let survivor = self.contents.get(&k).copied();
        ensure_eq!(replaced, survivor, "Replaced event");
        ensure_eq!(got, Ok(survivor), "insert returned");
        match survivor {
            Some(_) => self.stats.replacements += 1,
            None => self.stats.insertions += 1,
        }
        self.contents.insert(k.clone(), v);
        // An insert that fits is readable at once (peek: no statistics, no bit).
        ensure_eq!(
            self.cache.peek(k.as_str()),
            Some(v),
            "peek right after insert"
        );
        Ok(())
    }

    fn remove_where(
        &mut self,
        mut doomed: impl FnMut(&String, &Val) -> bool,
        count: Option<usize>,
    ) -> Result<(), String> {
        let victims: Vec<Event> = self
            .contents
            .iter()
            .filter(|(k, v)| doomed(k, v))
            .map(|(k, v)| (k.clone(), *v, Cause::Removed))
            .collect();
        if let Some(got) = count {
            ensure_eq!(got, victims.len(), "removed count");
        }
        ensure_eq!(sorted(drain(&self.log)), victims, "events");
        for (k, _, _) in &victims {
            self.contents.remove(k);
        }
        self.stats.removals += victims.len() as u64;
        Ok(())
    }
}
