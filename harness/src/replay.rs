//! Simulation-mode replay: one thread, every policy fed the same requests in
//! the same order, exact counts.
//!
//! Semantics per operation (cache-aside, write-through):
//! - GET, LIST: lookup; a miss is filled (inserted with the request's size and TTL).
//! - HEAD, COPY: lookup only; a miss is not filled.
//! - PUT: insert/update (write-through). DELETE: remove.
//! - INVALIDATE: remove every key with the request key's prefix that was
//!   filled or written since the prefix's previous invalidation.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::error::TraceError;
use crate::policy::{CacheSim, Capacity, IdBuildHasher, SimCounters};
use crate::source::RequestSource;
use crate::trace::{key_prefix, KeyClass, Op, Request};

/// Requests per batch handed to each policy in turn.
pub const BATCH: usize = 4096;

/// Counts for one operation class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OpStats {
    /// Requests of this class.
    pub count: u64,
    /// Lookups that hit (lookup classes only).
    pub hits: u64,
    /// Bytes requested (lookup classes only).
    pub bytes: u64,
    /// Bytes served from the cache.
    pub hit_bytes: u64,
}

/// The outcome of replaying a trace against one policy.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyResult {
    /// Policy name.
    pub policy: String,
    /// Capacity it ran with.
    pub capacity: Capacity,
    /// Per operation class, indexed by `Op as usize`.
    pub ops: [OpStats; 7],
    /// Policy counters (evictions, expiries, rejections).
    pub counters: SimCounters,
    /// Entries removed by DELETE and INVALIDATE.
    pub removed: u64,
    /// Entries held at the end.
    pub final_len: usize,
    /// Seconds spent inside this policy's replay loop.
    pub seconds: f64,
}

impl PolicyResult {
    fn new(sim: &dyn CacheSim, capacity: Capacity) -> Self {
        PolicyResult {
            policy: sim.name().to_string(),
            capacity,
            ops: [OpStats::default(); 7],
            counters: SimCounters::default(),
            removed: 0,
            final_len: 0,
            seconds: 0.0,
        }
    }

    fn lookups(&self) -> impl Iterator<Item = &OpStats> {
        Op::ALL
            .into_iter()
            .filter(|op| op.is_lookup())
            .map(|op| &self.ops[op as usize])
    }

    /// Total requests replayed.
    pub fn requests(&self) -> u64 {
        self.ops.iter().map(|o| o.count).sum()
    }

    /// Hits / lookups (0 when there were no lookups).
    pub fn hit_ratio(&self) -> f64 {
        let (h, n) = self
            .lookups()
            .fold((0, 0), |a, o| (a.0 + o.hits, a.1 + o.count));
        ratio(h, n)
    }

    /// Bytes served from the cache / bytes requested, over the lookups that
    /// transfer a body (GET and LIST; HEAD and COPY move no bytes to the client).
    pub fn byte_hit_ratio(&self) -> f64 {
        let (h, n) = [Op::Get, Op::List]
            .into_iter()
            .map(|op| &self.ops[op as usize])
            .fold((0, 0), |a, o| (a.0 + o.hit_bytes, a.1 + o.bytes));
        ratio(h, n)
    }

    /// Hit ratio of one operation class (`None` if it had no requests).
    pub fn op_hit_ratio(&self, op: Op) -> Option<f64> {
        let o = &self.ops[op as usize];
        (op.is_lookup() && o.count > 0).then(|| ratio(o.hits, o.count))
    }

    /// Millions of requests per second through this policy.
    pub fn mrps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests() as f64 / self.seconds / 1e6
        } else {
            0.0
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Keys written since their prefix was last invalidated. Only list and
/// count keys are recorded, so a prefix's log sits at a fixed slot: two per
/// model type (see [`slot`]).
#[derive(Default)]
struct PrefixIndex {
    logs: Vec<KeyLog>,
}

/// The keys recorded for one prefix: `buf[..len]`. A record writes the key
/// at `len` and advances `len` only if the key is kept, so recording or not
/// is data, not a branch. Duplicates are removed (sort and dedup) at the
/// first record after the log reached twice its length after the previous
/// pass, so it holds at most twice the distinct keys plus
/// [`KeyLog::MIN_PASS`]. A drain may hand over duplicates: removing a key
/// twice removes it once.
#[derive(Default)]
struct KeyLog {
    buf: Vec<u64>,
    len: usize,
    next_pass: usize,
    /// `min(buf.len(), max(next_pass, MIN_PASS))`: below it a record
    /// needs neither room nor a dedup pass (one comparison for both).
    limit: usize,
}

impl KeyLog {
    /// Length below which duplicates are left for the drain.
    const MIN_PASS: usize = 64;

    /// Appends `key` if `keep`; otherwise leaves the log as it was.
    #[inline]
    fn record_if(&mut self, key: u64, keep: bool) {
        if self.len >= self.limit {
            self.make_room();
        }
        self.buf[self.len] = key;
        self.len += keep as usize;
    }

    /// Dedups if the log reached its pass length, grows it if full.
    #[cold]
    fn make_room(&mut self) {
        if self.len >= self.next_pass.max(Self::MIN_PASS) {
            self.dedup();
        }
        if self.len == self.buf.len() {
            let room = (2 * self.buf.len()).max(Self::MIN_PASS);
            self.buf.resize(room, 0);
        }
        self.set_limit();
    }

    fn set_limit(&mut self) {
        self.limit = self.buf.len().min(self.next_pass.max(Self::MIN_PASS));
    }

    fn dedup(&mut self) {
        let keys = &mut self.buf[..self.len];
        keys.sort_unstable();
        let mut kept = 0;
        for i in 0..keys.len() {
            if kept == 0 || keys[i] != keys[kept - 1] {
                keys[kept] = keys[i];
                kept += 1;
            }
        }
        self.len = kept;
        self.next_pass = 2 * kept;
    }

    /// Moves the recorded keys to `out`, keeping the log's buffer.
    fn drain_into(&mut self, out: &mut Vec<u64>) {
        out.extend_from_slice(&self.buf[..self.len]);
        self.len = 0;
        self.next_pass = 0;
        self.set_limit();
    }
}

/// The slot of a list or count key's prefix: `2 · model type`, plus 1 for
/// count keys; `None` for other classes, which are never recorded.
#[inline]
fn slot(key: u64) -> Option<usize> {
    let (i, recorded) = slot_of_any(key);
    recorded.then_some(i)
}

/// `(2 · model type + is count key, is list or count key)` of any key,
/// computed without branching on the class.
#[inline]
fn slot_of_any(key: u64) -> (usize, bool) {
    let model = (key_prefix(key) & 0xFFF) as usize;
    let class = key >> 60;
    let is_count = class == KeyClass::Count as u64;
    let recorded = is_count | (class == KeyClass::List as u64);
    (2 * model + is_count as usize, recorded)
}

/// The keys each INVALIDATE of a batch removes, in order: invalidation `i`
/// removes `keys[ends[i - 1]..ends[i]]` (from 0 for the first). Reused
/// across batches, so resolving allocates only while the buffers grow.
#[derive(Default)]
struct Invalidations {
    keys: Vec<u64>,
    ends: Vec<usize>,
}

impl Invalidations {
    fn clear(&mut self) {
        self.keys.clear();
        self.ends.clear();
    }
}

impl PrefixIndex {
    /// Records a fill or write of `key` if it is a list or count key. Any
    /// key is written into its model type's log, and only a list or count
    /// key advances it: GETs and LISTs share one arm of the replay loop
    /// without a mispredicted branch on the key's class.
    #[inline]
    fn record(&mut self, key: u64) {
        let (i, recorded) = slot_of_any(key);
        if i >= self.logs.len() {
            self.grow(i);
        }
        self.logs[i].record_if(key, recorded);
    }

    #[cold]
    fn grow(&mut self, i: usize) {
        self.logs.resize_with(i + 1, Default::default);
    }

    /// Resolves an INVALIDATE of `key`'s prefix: moves the keys recorded
    /// since the previous one to `out`.
    fn invalidate(&mut self, key: u64, out: &mut Invalidations) {
        if let Some(log) = slot(key).and_then(|i| self.logs.get_mut(i)) {
            log.drain_into(&mut out.keys);
        }
        out.ends.push(out.keys.len());
    }
}

/// Resolves every INVALIDATE of an in-memory trace to the keys it removes,
/// by request index (for concurrent replay).
pub fn resolve_invalidations(trace: &[Request]) -> HashMap<usize, Vec<u64>> {
    let mut index = PrefixIndex::default();
    let mut found = Invalidations::default();
    let mut out = HashMap::new();
    for (i, r) in trace.iter().enumerate() {
        match r.op {
            Op::Invalidate => {
                found.clear();
                index.invalidate(r.key, &mut found);
                let mut keys = std::mem::take(&mut found.keys);
                keys.sort_unstable();
                keys.dedup();
                out.insert(i, keys);
            }
            Op::Get | Op::List | Op::Put => index.record(r.key),
            _ => {}
        }
    }
    out
}

/// Applies one batch to one policy. With `index` (the first policy, when
/// the source may invalidate), fills and writes are recorded as they are
/// applied and each INVALIDATE appends the keys it removes to `found`; the
/// other policies replay `found`. Both see every INVALIDATE after exactly
/// the requests that precede it.
fn apply_batch(
    sim: &mut dyn CacheSim,
    batch: &[Request],
    mut index: Option<&mut PrefixIndex>,
    found: &mut Invalidations,
    res: &mut PolicyResult,
) {
    let (mut done, mut start) = (0, 0);
    for r in batch {
        let st = &mut res.ops[r.op as usize];
        st.count += 1;
        match r.op {
            // GET and LIST in one arm (recording is branch-free), so a
            // mixed stream mispredicts only on the rarer operations.
            Op::Get | Op::List => {
                lookup(sim, r, st, true);
                if let Some(ix) = index.as_deref_mut() {
                    ix.record(r.key);
                }
            }
            Op::Head | Op::Copy => lookup(sim, r, st, false),
            Op::Put => {
                sim.insert(r);
                if let Some(ix) = index.as_deref_mut() {
                    ix.record(r.key);
                }
            }
            Op::Delete => res.removed += sim.remove(r.key) as u64,
            Op::Invalidate => {
                if let Some(ix) = index.as_deref_mut() {
                    ix.invalidate(r.key, found);
                }
                let end = found.ends.get(done).copied().unwrap_or(start);
                for &k in &found.keys[start..end] {
                    res.removed += sim.remove(k) as u64;
                }
                (done, start) = (done + 1, end);
            }
        }
    }
}

/// A lookup counted in `st`; a miss is filled if `fill` (cache-aside).
#[inline(always)]
fn lookup(sim: &mut dyn CacheSim, r: &Request, st: &mut OpStats, fill: bool) {
    st.bytes += r.size as u64;
    if sim.get(r) {
        st.hits += 1;
        st.hit_bytes += r.size as u64;
    } else if fill {
        sim.insert(r);
    }
}

/// Replays `source` against every simulator and returns one result each.
///
/// `capacity` is recorded in the results; `progress` (if any) is advanced
/// by the number of requests read.
///
/// ```
/// use clockwheel_harness::policy::{self, Capacity, PolicyKind};
/// use clockwheel_harness::{replay::replay, source::VecSource, trace::Request};
/// let trace: Vec<Request> = [1, 2, 1, 3, 1].iter().map(|&k| Request::get(0, k, 10)).collect();
/// let cap = Capacity::Entries(2);
/// let mut sims = vec![policy::build(PolicyKind::Lru, cap).unwrap()];
/// let res = replay(&mut VecSource::new(&trace, false), &mut sims, cap, None).unwrap();
/// assert_eq!(res[0].hit_ratio(), 0.4); // key 1 hits twice in 5 lookups
/// ```
pub fn replay(
    source: &mut dyn RequestSource,
    sims: &mut [Box<dyn CacheSim>],
    capacity: Capacity,
    progress: Option<&ProgressBar>,
) -> Result<Vec<PolicyResult>, TraceError> {
    let mut results: Vec<PolicyResult> = sims
        .iter()
        .map(|s| PolicyResult::new(s.as_ref(), capacity))
        .collect();
    let mut index = PrefixIndex::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut invalidations = Invalidations::default();
    let track = source.may_invalidate();
    loop {
        batch.clear();
        if source.read_batch(&mut batch, BATCH)? == 0 {
            break;
        }
        invalidations.clear();
        for (i, (sim, res)) in sims.iter_mut().zip(&mut results).enumerate() {
            let t = Instant::now();
            let record = (track && i == 0).then_some(&mut index);
            apply_batch(sim.as_mut(), &batch, record, &mut invalidations, res);
            res.seconds += t.elapsed().as_secs_f64();
        }
        if let Some(p) = progress {
            p.inc(batch.len() as u64);
        }
    }
    for (sim, res) in sims.iter().zip(&mut results) {
        res.counters = sim.counters();
        res.final_len = sim.len();
    }
    Ok(results)
}

/// Distinct keys and bytes a trace touches (lookups and writes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Requests in the trace.
    pub requests: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Sum over distinct keys of the first size seen.
    pub bytes: u64,
}

/// Measures the footprint of `source` in one streaming pass.
pub fn footprint(
    source: &mut dyn RequestSource,
    progress: Option<&ProgressBar>,
) -> Result<Footprint, TraceError> {
    let mut seen: HashSet<u64, IdBuildHasher> = HashSet::default();
    let mut fp = Footprint::default();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        if source.read_batch(&mut batch, BATCH)? == 0 {
            return Ok(fp);
        }
        fp.requests += batch.len() as u64;
        if let Some(p) = progress {
            p.inc(batch.len() as u64);
        }
        for r in &batch {
            if (r.op.is_lookup() || r.op == Op::Put) && seen.insert(r.key) {
                fp.keys += 1;
                fp.bytes += r.size as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::make_key;

    #[test]
    fn prefix_index_keeps_only_list_and_count_keys_until_drained() {
        let mut index = PrefixIndex::default();
        let list = |m, r| make_key(KeyClass::List, m, r);
        let count = |m, r| make_key(KeyClass::Count, m, r);
        // 300 records of 3 list keys (past several dedup passes), model and
        // upload keys of the same type in between, a count key, another type.
        for i in 0..300u64 {
            index.record(list(1, i % 3));
            index.record(make_key(KeyClass::Model, 1, i));
            index.record(make_key(KeyClass::Upload, 1, i));
        }
        index.record(count(1, 9));
        index.record(list(2, 5));
        let mut found = Invalidations::default();
        index.invalidate(crate::trace::pattern_key(KeyClass::List, 1), &mut found);
        let mut got = found.keys.clone();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got, vec![list(1, 0), list(1, 1), list(1, 2)]);
        assert!(found.keys.len() <= 2 * 3 + KeyLog::MIN_PASS);
        // Drained: a second invalidation of the prefix finds nothing new.
        index.invalidate(crate::trace::pattern_key(KeyClass::List, 1), &mut found);
        assert_eq!(found.ends.len(), 2);
        assert_eq!(found.ends[0], found.ends[1]);
        index.invalidate(crate::trace::pattern_key(KeyClass::Count, 1), &mut found);
        assert_eq!(found.keys[found.ends[1]..], [count(1, 9)]);
        assert_eq!(slot(list(2, 5)), Some(4));
        assert_eq!(slot(make_key(KeyClass::Model, 2, 5)), None);
    }
}
