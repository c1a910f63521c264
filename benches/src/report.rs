//! Throughput ratios between engines, read back from criterion's own estimates
//! of the same run.
//!
//! Criterion stores one `estimates.json` per benchmark under
//! `<criterion home>/<group>/<function>/<parameter>/new/`. After a group has
//! finished, [`RatioTable`] reads the estimates written since the bench process
//! started (older files are from another run and are ignored), converts them to
//! throughput, and prints every engine against a base engine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where criterion writes its results, resolved as criterion does:
/// `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the workspace's
/// `target/criterion`.
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// Criterion's headline estimate of nanoseconds per iteration for one
/// benchmark under `home`: the regression slope when it has one, else the
/// mean. `None` if the file is missing, unreadable, or older than `since`.
pub fn ns_per_iter(
    home: &Path,
    (group, function, param): (&str, &str, usize),
    since: SystemTime,
) -> Option<f64> {
    let path = home
        .join(group)
        .join(function)
        .join(param.to_string())
        .join("new/estimates.json");
    let fresh = std::fs::metadata(&path).and_then(|m| m.modified()).ok()? >= since;
    if !fresh {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let point = |stat: &str| json.get(stat)?.get("point_estimate")?.as_f64();
    point("slope").or_else(|| point("mean"))
}

/// A table of throughputs (million operations per second) of several engines
/// at several thread counts, with each engine's ratio to a base engine.
///
/// ```
/// use clockwheel_benches::report::RatioTable;
/// let table = RatioTable::new("no_such_group", "a", 1024, std::time::SystemTime::now());
/// // Nothing of this group ran in this process: every cell is a dash.
/// let text = table.render(&["a", "b"], &[1]);
/// assert_eq!(text.lines().nth(3).unwrap().split_whitespace().collect::<Vec<_>>(), ["b", "-", "-"]);
/// ```
pub struct RatioTable {
    /// Criterion's output directory ([`criterion_home`] for real runs).
    pub home: PathBuf,
    /// Criterion group name.
    pub group: &'static str,
    /// The engine the ratios are taken from (`base / engine`).
    pub base: &'static str,
    /// Operations one thread performs per criterion iteration.
    pub ops_per_thread_iter: u64,
    /// When the bench process started: estimates older than this are stale.
    pub since: SystemTime,
}

impl RatioTable {
    /// A table over criterion's real output directory.
    pub fn new(group: &'static str, base: &'static str, ops: u64, since: SystemTime) -> Self {
        RatioTable {
            home: criterion_home(),
            group,
            base,
            ops_per_thread_iter: ops,
            since,
        }
    }

    /// Throughput in Mops/s of `engine` at `threads`, if it ran in this process.
    pub fn mops(&self, engine: &str, threads: usize) -> Option<f64> {
        let ns = ns_per_iter(&self.home, (self.group, engine, threads), self.since)?;
        Some(threads as f64 * self.ops_per_thread_iter as f64 / ns * 1e3)
    }

    /// The table as text: one row per engine, for each thread count its
    /// throughput and `base / engine` (above 1: the base is faster).
    pub fn render(&self, engines: &[&str], threads: &[usize]) -> String {
        let mut out = format!(
            "# {}: Mops/s, and ratio = {} / engine (same run)\n{:<24}",
            self.group, self.base, "engine"
        );
        for t in threads {
            let _ = write!(out, " {:>9} {:>7}", format!("{t}thr"), "ratio");
        }
        out.push('\n');
        for &engine in engines {
            let _ = write!(out, "{engine:<24}");
            for &t in threads {
                let _ = match (self.mops(engine, t), self.mops(self.base, t)) {
                    (Some(m), Some(b)) => write!(out, " {m:>9.2} {:>7.2}", b / m),
                    (Some(m), None) => write!(out, " {m:>9.2} {:>7}", "-"),
                    _ => write!(out, " {:>9} {:>7}", "-", "-"),
                };
            }
            out.push('\n');
        }
        out
    }

    /// Renders, prints to stderr, and saves as `<group>-ratios.txt` next to
    /// the other extra results (see [`crate::write_extra`]).
    pub fn publish(&self, engines: &[&str], threads: &[usize]) {
        let text = self.render(engines, threads);
        eprintln!("\n{text}");
        if let Some(path) = crate::write_extra(&format!("{}-ratios.txt", self.group), &text) {
            eprintln!("{}: ratios written to {}", self.group, path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_estimate(home: &Path, engine: &str, json: &str) {
        let dir = home.join("g").join(engine).join("1").join("new");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("estimates.json"), json).unwrap();
    }

    #[test]
    fn ratios_come_from_slope_or_mean_and_missing_ones_are_dashes() {
        let home = std::env::temp_dir().join(format!("cw-report-test-{}", std::process::id()));
        let since = SystemTime::now() - std::time::Duration::from_secs(60);
        write_estimate(
            &home,
            "a",
            r#"{"mean":{"point_estimate":9.0},"slope":{"point_estimate":1024.0}}"#,
        );
        write_estimate(
            &home,
            "b",
            r#"{"mean":{"point_estimate":2048.0},"slope":null}"#,
        );
        let table = RatioTable {
            home: home.clone(),
            group: "g",
            base: "a",
            ops_per_thread_iter: 1024,
            since,
        };
        assert_eq!(table.mops("a", 1), Some(1000.0));
        assert_eq!(table.mops("b", 1), Some(500.0));
        assert_eq!(table.mops("c", 1), None);
        let text = table.render(&["a", "b", "c"], &[1]);
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            rows[1].split_whitespace().collect::<Vec<_>>(),
            ["b", "500.00", "2.00"]
        );
        assert_eq!(
            rows[2].split_whitespace().collect::<Vec<_>>(),
            ["c", "-", "-"]
        );
        let stale = RatioTable {
            since: SystemTime::now() + std::time::Duration::from_secs(60),
            ..table
        };
        assert_eq!(stale.mops("a", 1), None);
        std::fs::remove_dir_all(&home).unwrap();
    }
}
