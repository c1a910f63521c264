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
use crate::trace::{is_invalidatable, key_prefix, Op, Request};

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

/// Keys written since their prefix was last invalidated.
#[derive(Default)]
struct PrefixIndex {
    sets: HashMap<u16, HashSet<u64, IdBuildHasher>>,
}

impl PrefixIndex {
    /// Records fills/writes and resolves each INVALIDATE of `batch` to the
    /// keys it removes, in order.
    fn resolve(&mut self, batch: &[Request], out: &mut Vec<Vec<u64>>) {
        out.clear();
        for r in batch {
            match r.op {
                Op::Invalidate => {
                    let keys = self.sets.remove(&key_prefix(r.key)).unwrap_or_default();
                    out.push(keys.into_iter().collect());
                }
                Op::Get | Op::List | Op::Put if is_invalidatable(r.key) => {
                    self.sets
                        .entry(key_prefix(r.key))
                        .or_default()
                        .insert(r.key);
                }
                _ => {}
            }
        }
    }
}

/// Resolves every INVALIDATE of an in-memory trace to the keys it removes,
/// by request index (for concurrent replay).
pub fn resolve_invalidations(trace: &[Request]) -> HashMap<usize, Vec<u64>> {
    let mut index = PrefixIndex::default();
    let mut lists = Vec::new();
    let mut out = HashMap::new();
    for (i, r) in trace.iter().enumerate() {
        index.resolve(std::slice::from_ref(r), &mut lists);
        if let Some(keys) = lists.pop() {
            out.insert(i, keys);
        }
    }
    out
}

/// Applies one batch to one policy.
fn apply_batch(
    sim: &mut dyn CacheSim,
    batch: &[Request],
    invalidations: &[Vec<u64>],
    res: &mut PolicyResult,
) {
    let mut inv = invalidations.iter();
    for r in batch {
        let st = &mut res.ops[r.op as usize];
        st.count += 1;
        match r.op {
            Op::Get | Op::List | Op::Head | Op::Copy => {
                st.bytes += r.size as u64;
                if sim.get(r) {
                    st.hits += 1;
                    st.hit_bytes += r.size as u64;
                } else if matches!(r.op, Op::Get | Op::List) {
                    sim.insert(r);
                }
            }
            Op::Put => sim.insert(r),
            Op::Delete => res.removed += sim.remove(r.key) as u64,
            Op::Invalidate => {
                for &k in inv.next().map(Vec::as_slice).unwrap_or(&[]) {
                    res.removed += sim.remove(k) as u64;
                }
            }
        }
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
    let mut invalidations = Vec::new();
    let track = source.may_invalidate();
    loop {
        batch.clear();
        if source.read_batch(&mut batch, BATCH)? == 0 {
            break;
        }
        if track {
            index.resolve(&batch, &mut invalidations);
        }
        for (sim, res) in sims.iter_mut().zip(&mut results) {
            let t = Instant::now();
            apply_batch(sim.as_mut(), &batch, &invalidations, res);
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
