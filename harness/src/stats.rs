//! Measured statistics of a trace: op mix, popularity slope, one-hit-wonder
//! share, size quantiles per key class. `stats` prints them and the preset
//! tests compare them with the generator's parameters.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::TraceError;
use crate::policy::IdBuildHasher;
use crate::replay::BATCH;
use crate::source::RequestSource;
use crate::trace::{key_class, KeyClass, Op};

/// Statistics of one trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStats {
    /// Requests.
    pub requests: u64,
    /// Share of each op among non-INVALIDATE requests, in `Op::ALL` order.
    pub op_share: Vec<(String, f64)>,
    /// INVALIDATE requests.
    pub invalidations: u64,
    /// Distinct keys looked up or written.
    pub keys: u64,
    /// Share of lookups and writes whose key occurs exactly once.
    pub one_hit_share: f64,
    /// Zipf exponent fitted on ranks 1..=100 of model/upload/opaque keys.
    pub zipf_alpha: f64,
    /// Size quantiles (p50, p90, p99) per key class over distinct keys.
    pub size_quantiles: Vec<(String, [u64; 3])>,
    /// Share of distinct upload keys larger than `tail_probe` bytes (16 MiB).
    pub upload_share_over_16mib: f64,
    /// Trace duration in seconds.
    pub duration_s: f64,
}

#[derive(Default)]
struct KeyInfo {
    count: u32,
    size: u32,
}

impl TraceStats {
    /// Reads `source` once (keeps one small record per distinct key).
    ///
    /// ```
    /// use clockwheel_harness::{generator::Generator, stats::TraceStats, workload::WorkloadParams};
    /// let mut p = WorkloadParams::preset("zipf").unwrap();
    /// p.requests = 50_000;
    /// let s = TraceStats::measure(&mut Generator::new(p)).unwrap();
    /// assert_eq!(s.requests, 50_000);
    /// assert!((s.zipf_alpha - 0.9).abs() < 0.15);
    /// ```
    pub fn measure(source: &mut dyn RequestSource) -> Result<TraceStats, TraceError> {
        let mut ops = [0u64; 7];
        let mut keys: HashMap<u64, KeyInfo, IdBuildHasher> = HashMap::default();
        let (mut first, mut last) = (u64::MAX, 0u64);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            batch.clear();
            if source.read_batch(&mut batch, BATCH)? == 0 {
                break;
            }
            for r in &batch {
                ops[r.op as usize] += 1;
                first = first.min(r.time_ms);
                last = last.max(r.time_ms);
                if r.op.is_lookup() || r.op == Op::Put {
                    let k = keys.entry(r.key).or_default();
                    k.count += 1;
                    k.size = r.size;
                }
            }
        }
        Ok(Self::summarise(&ops, &keys, first, last))
    }

    fn summarise(
        ops: &[u64; 7],
        keys: &HashMap<u64, KeyInfo, IdBuildHasher>,
        first: u64,
        last: u64,
    ) -> TraceStats {
        let requests: u64 = ops.iter().sum();
        let inv = ops[Op::Invalidate as usize];
        let base = (requests - inv).max(1) as f64;
        let op_share = Op::ALL
            .into_iter()
            .filter(|&op| op != Op::Invalidate)
            .map(|op| (op.name().to_string(), ops[op as usize] as f64 / base))
            .collect();
        let touches: u64 = keys.values().map(|k| k.count as u64).sum();
        let once = keys.values().filter(|k| k.count == 1).count() as u64;
        let mut object_counts: Vec<u32> = keys
            .iter()
            .filter(|(&k, _)| !matches!(key_class(k), KeyClass::List | KeyClass::Count))
            .map(|(_, v)| v.count)
            .collect();
        object_counts.sort_unstable_by(|a, b| b.cmp(a));
        let uploads: Vec<u64> = sizes_of(keys, KeyClass::Upload);
        let big = uploads.iter().filter(|&&s| s > 16 << 20).count();
        TraceStats {
            requests,
            op_share,
            invalidations: inv,
            keys: keys.len() as u64,
            one_hit_share: once as f64 / touches.max(1) as f64,
            zipf_alpha: fit_zipf(&object_counts, 100),
            size_quantiles: size_quantiles(keys),
            upload_share_over_16mib: big as f64 / uploads.len().max(1) as f64,
            duration_s: last.saturating_sub(first.min(last)) as f64 / 1000.0,
        }
    }

    /// The share of `op` among non-INVALIDATE requests.
    pub fn share(&self, op: Op) -> f64 {
        self.op_share
            .iter()
            .find(|(n, _)| n == op.name())
            .map_or(0.0, |(_, v)| *v)
    }

    /// Size quantiles of a class (p50, p90, p99), if present.
    pub fn quantiles(&self, class: &str) -> Option<[u64; 3]> {
        self.size_quantiles
            .iter()
            .find(|(n, _)| n == class)
            .map(|(_, q)| *q)
    }

    /// A readable summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "requests:        {}", self.requests);
        let _ = writeln!(out, "duration:        {:.1} s", self.duration_s);
        let _ = writeln!(out, "distinct keys:   {}", self.keys);
        let _ = writeln!(out, "invalidations:   {}", self.invalidations);
        let mix: Vec<String> = self
            .op_share
            .iter()
            .filter(|(_, v)| *v > 0.0)
            .map(|(n, v)| format!("{n} {:.2}%", v * 100.0))
            .collect();
        let _ = writeln!(out, "op mix:          {}", mix.join(", "));
        let _ = writeln!(out, "one-hit share:   {:.2}%", self.one_hit_share * 100.0);
        let _ = writeln!(out, "zipf alpha (fit): {:.3}", self.zipf_alpha);
        for (class, q) in &self.size_quantiles {
            let h = |b: u64| crate::report::human_bytes(b);
            let _ = writeln!(
                out,
                "size {class:<8} p50 {}  p90 {}  p99 {}",
                h(q[0]),
                h(q[1]),
                h(q[2])
            );
        }
        out
    }
}

fn class_name(c: KeyClass) -> &'static str {
    match c {
        KeyClass::Opaque => "opaque",
        KeyClass::Model => "model",
        KeyClass::List => "list",
        KeyClass::Count => "count",
        KeyClass::Upload => "upload",
    }
}

fn sizes_of(keys: &HashMap<u64, KeyInfo, IdBuildHasher>, class: KeyClass) -> Vec<u64> {
    let mut v: Vec<u64> = keys
        .iter()
        .filter(|(&k, _)| key_class(k) == class)
        .map(|(_, i)| i.size as u64)
        .collect();
    v.sort_unstable();
    v
}

fn size_quantiles(keys: &HashMap<u64, KeyInfo, IdBuildHasher>) -> Vec<(String, [u64; 3])> {
    let classes = [
        KeyClass::Model,
        KeyClass::List,
        KeyClass::Count,
        KeyClass::Upload,
        KeyClass::Opaque,
    ];
    classes
        .into_iter()
        .filter_map(|c| {
            let v = sizes_of(keys, c);
            let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
            (!v.is_empty()).then(|| (class_name(c).to_string(), [q(0.5), q(0.9), q(0.99)]))
        })
        .collect()
}

/// Least-squares slope of ln(count) on ln(rank) over ranks `1..=top`,
/// negated (a Zipf(α) trace gives ≈ α). `counts` is sorted descending.
pub fn fit_zipf(counts: &[u32], top: usize) -> f64 {
    let pts: Vec<(f64, f64)> = counts
        .iter()
        .take(top)
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| (((i + 1) as f64).ln(), (c as f64).ln()))
        .collect();
    if pts.len() < 2 {
        return 0.0;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    -sxy / sxx
}
