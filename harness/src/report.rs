//! Output: readable tables, JSON and CSV.

use std::fmt::Write as _;

use serde::Serialize;

use crate::replay::{Footprint, PolicyResult};
use crate::trace::Op;
use crate::workload::WorkloadParams;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned text table.
    Table,
    /// One JSON document.
    Json,
    /// CSV rows.
    Csv,
}

/// A replay report.
#[derive(Serialize)]
pub struct RunReport<'a> {
    /// Where the requests came from.
    pub source: String,
    /// Workload parameters, for synthetic traces.
    pub workload: Option<&'a WorkloadParams>,
    /// Trace footprint.
    pub footprint: Footprint,
    /// Per-policy results.
    pub results: &'a [PolicyResult],
}

/// Writes `text` to standard output. A closed pipe (`| head`) ends the
/// output quietly instead of failing or panicking as `print!` would.
///
/// ```
/// clockwheel_harness::report::emit("policy,hit_ratio\n").unwrap();
/// ```
pub fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Formats bytes with binary units (`1.5 MiB`).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.2}", v * 100.0))
}

const OP_COLUMNS: [Op; 4] = [Op::Get, Op::Head, Op::List, Op::Copy];

/// Renders the comparison table.
pub fn table(report: &RunReport<'_>) -> String {
    let mut out = String::new();
    let fp = report.footprint;
    let _ = writeln!(out, "source:    {}", report.source);
    let _ = writeln!(
        out,
        "footprint: {} requests, {} distinct keys, {}",
        fp.requests,
        fp.keys,
        human_bytes(fp.bytes)
    );
    if let Some(r) = report.results.first() {
        let _ = writeln!(out, "capacity:  {}", r.capacity);
    }
    let ops: Vec<Op> = OP_COLUMNS
        .into_iter()
        .filter(|&op| report.results.iter().any(|r| r.ops[op as usize].count > 0))
        .collect();
    let mut header = format!("{:<17} {:>7} {:>8}", "policy", "hit %", "byte %");
    for op in &ops {
        let _ = write!(header, " {:>7}", format!("{} %", op.name()));
    }
    let _ = write!(
        header,
        " {:>10} {:>9} {:>8}",
        "evictions", "expired", "Mreq/s"
    );
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{}", "-".repeat(header.len()));
    for r in report.results {
        let _ = write!(
            out,
            "{:<17} {:>7} {:>8}",
            r.policy,
            pct(Some(r.hit_ratio())),
            pct(Some(r.byte_hit_ratio()))
        );
        for &op in &ops {
            let _ = write!(out, " {:>7}", pct(r.op_hit_ratio(op)));
        }
        let _ = writeln!(
            out,
            " {:>10} {:>9} {:>8.1}",
            r.counters.evictions,
            r.counters.expired,
            r.mrps()
        );
    }
    out.push_str(&op_mix_line(report.results));
    out
}

fn op_mix_line(results: &[PolicyResult]) -> String {
    let Some(r) = results.first() else {
        return String::new();
    };
    let total = r.requests().max(1) as f64;
    let parts: Vec<String> = Op::ALL
        .into_iter()
        .filter(|&op| r.ops[op as usize].count > 0)
        .map(|op| {
            let c = r.ops[op as usize].count;
            format!("{} {:.1}%", op.name(), c as f64 * 100.0 / total)
        })
        .collect();
    format!("op mix:    {}\n", parts.join(", "))
}

/// Renders the report as pretty JSON.
pub fn json(report: &RunReport<'_>) -> String {
    serde_json::to_string_pretty(report).expect("report serialises")
}

/// CSV header of [`csv_rows`].
pub const CSV_HEADER: &str = "policy,capacity,capacity_unit,requests,hit_ratio,byte_hit_ratio,get_hit_ratio,head_hit_ratio,list_hit_ratio,evictions,expired,removed,mrps";

/// Renders one CSV row per policy (with header).
pub fn csv_rows(results: &[PolicyResult]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for r in results {
        let op = |o| {
            r.op_hit_ratio(o)
                .map_or(String::new(), |v| format!("{v:.6}"))
        };
        let _ = writeln!(
            out,
            "{},{},{},{:.6},{:.6},{},{},{},{},{},{},{:.3}",
            r.policy,
            r.capacity.csv(),
            r.requests(),
            r.hit_ratio(),
            r.byte_hit_ratio(),
            op(Op::Get),
            op(Op::Head),
            op(Op::List),
            r.counters.evictions,
            r.counters.expired,
            r.removed,
            r.mrps()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
