//! `speed`: how fast the replay machinery itself runs, on one thread.
//!
//! Each measurement runs `--repeat` times and keeps the best (shortest)
//! run, so a busy machine's preemptions do not count against the code; the
//! thread's CPU time is reported beside the wall time (on Unix), which also
//! leaves out time spent waiting for a core:
//! - generate + no-op: the generator streamed through the replay loop into
//!   a cache that stores nothing (the loop's own ceiling);
//! - read oracleGeneral + no-op: the same trace written to a temporary
//!   oracleGeneral file, then streamed back through the loop (page cache);
//! - LRU / CLOCK / Clockwheel: the trace held in memory, replayed against
//!   one policy at a capacity of `--capacity` (default 10 % of the keys).

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use crate::cli::{CapacitySpec, SourceArgs};
use crate::formats::{create_writer, open_reader, CsvLayout, Format, KeyStyle};
use crate::input::TraceInput;
use crate::policy::{self, Capacity, PolicyKind};
use crate::replay::{footprint, replay};
use crate::source::{RequestSource, VecSource};

/// Arguments of `speed`.
#[derive(Args, Debug, Clone)]
pub struct SpeedArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Capacity of the policy measurements (as for `run`).
    #[arg(long, default_value = "10%keys")]
    capacity: String,
    /// Runs per measurement; the fastest counts.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Speed {
    /// What was measured.
    pub what: String,
    /// Requests per run.
    pub requests: u64,
    /// Fastest run, wall seconds.
    pub seconds: f64,
    /// Millions of requests per wall second of the fastest run.
    pub mrps: f64,
    /// Least thread CPU time of the runs, seconds (Unix only).
    pub cpu_seconds: Option<f64>,
    /// Millions of requests per CPU second.
    pub cpu_mrps: Option<f64>,
}

/// CPU time this thread has used, in seconds.
#[cfg(unix)]
fn thread_cpu_seconds() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec that outlives the call, and
    // CLOCK_THREAD_CPUTIME_ID is a clock id every supported Unix defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// CPU time this thread has used (not measured on this platform).
#[cfg(not(unix))]
fn thread_cpu_seconds() -> Option<f64> {
    None
}

/// Runs `f` `repeat` times (at least once) and keeps the fastest.
fn best_of(what: &str, repeat: u32, mut f: impl FnMut() -> Result<u64>) -> Result<Speed> {
    let (mut best, mut best_cpu) = (f64::MAX, None::<f64>);
    let mut requests = 0;
    for _ in 0..repeat.max(1) {
        let (t, cpu) = (Instant::now(), thread_cpu_seconds());
        requests = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu, thread_cpu_seconds()) {
            best_cpu = Some(best_cpu.map_or(b - a, |c| c.min(b - a)));
        }
    }
    let per_s = |s: f64| requests as f64 / s / 1e6;
    Ok(Speed {
        what: what.to_string(),
        requests,
        seconds: best,
        mrps: per_s(best),
        cpu_seconds: best_cpu,
        cpu_mrps: best_cpu.map(per_s),
    })
}

/// Replays `source` against one policy; returns the requests replayed.
fn replay_one(source: &mut dyn RequestSource, kind: PolicyKind, cap: Capacity) -> Result<u64> {
    let mut sims = vec![policy::build(kind, cap)?];
    let res = replay(source, &mut sims, cap, None)?;
    Ok(res[0].requests())
}

/// Runs the speed command.
pub fn run(args: &SpeedArgs) -> Result<()> {
    let input = args.source.input()?;
    let label = input.label();
    let mut out = Vec::new();
    let none = Capacity::Entries(1);
    if let TraceInput::Synthetic(_) = input {
        out.push(best_of("generate + no-op", args.repeat, || {
            replay_one(input.open()?.as_mut(), PolicyKind::Noop, none)
        })?);
    }
    let memory = input.into_memory()?;
    let TraceInput::Memory { requests, .. } = &memory else {
        unreachable!("into_memory returns a memory input");
    };
    out.push(oracle_speed(requests, args.repeat)?);
    let fp = footprint(&mut VecSource::new(requests, true), None)?;
    let cap = CapacitySpec::parse(&args.capacity)?.resolve(&fp);
    for kind in [
        PolicyKind::Lru,
        PolicyKind::Clock,
        PolicyKind::ClockwheelClock,
        PolicyKind::ClockwheelFifo,
    ] {
        let what = format!("in memory + {} ({cap})", kind.name());
        out.push(best_of(&what, args.repeat, || {
            replay_one(&mut VecSource::new(requests, true), kind, cap)
        })?);
    }
    if args.json {
        crate::report::emit(&(serde_json::to_string_pretty(&out)? + "\n"))?;
    } else {
        crate::report::emit(&table(&label, &out))?;
    }
    Ok(())
}

/// Writes `requests` to a temporary oracleGeneral file and times reading it
/// back through the replay loop into a no-op cache.
fn oracle_speed(requests: &[crate::trace::Request], repeat: u32) -> Result<Speed> {
    let path = std::env::temp_dir().join(format!(
        "clockwheel-harness-speed-{}.oracleGeneral",
        std::process::id()
    ));
    let layout = CsvLayout::default();
    let mut w = create_writer(&path, Format::Oracle, &layout, KeyStyle::Id)?;
    for (i, r) in requests.iter().enumerate() {
        w.write(i as u64, r)?;
    }
    w.finish()?;
    let speed = best_of("read oracleGeneral + no-op", repeat, || {
        let mut src = open_reader(&path, Format::Oracle, &layout)?;
        replay_one(src.as_mut(), PolicyKind::Noop, Capacity::Entries(1))
    });
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    speed
}

fn table(label: &str, rows: &[Speed]) -> String {
    let mut out = format!("source: {label}\none thread, best of runs\n");
    let _ = writeln!(
        out,
        "{:<46} {:>10} {:>8} {:>8} {:>8} {:>10}",
        "measurement", "requests", "wall s", "Mreq/s", "CPU s", "Mreq/CPU-s"
    );
    let opt = |v: Option<f64>, prec: usize| v.map_or("-".into(), |v| format!("{v:.prec$}"));
    for r in rows {
        let _ = writeln!(
            out,
            "{:<46} {:>10} {:>8.3} {:>8.1} {:>8} {:>10}",
            r.what,
            r.requests,
            r.seconds,
            r.mrps,
            opt(r.cpu_seconds, 3),
            opt(r.cpu_mrps, 1)
        );
    }
    out
}
