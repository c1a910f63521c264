//! `sweep`: replay at several capacities (shares of the footprint) and
//! report the miss-ratio curve as a table, CSV or JSON, and an SVG plot.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use crate::cli::CapacitySpec;
use crate::cli::{
    chosen_policies, measure_footprint, prepare_input, replay_once, OutputArgs, SourceArgs,
};
use crate::policy::{Capacity, PolicyKind};
use crate::report::{emit, OutputFormat};

/// Arguments of `sweep`.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Capacities as fractions of the footprint, comma separated.
    #[arg(long, default_value = "0.001,0.01,0.1", value_delimiter = ',')]
    fractions: Vec<f64>,
    /// Share of footprint `bytes` or of distinct `keys`.
    #[arg(long, default_value = "bytes")]
    unit: String,
    /// Policies, comma separated (default: all available).
    #[arg(long, value_enum, value_delimiter = ',')]
    policies: Vec<PolicyKind>,
    /// Write the miss-ratio curve as SVG here.
    #[arg(long)]
    svg: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// One point of a curve.
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    /// Fraction of the footprint.
    pub fraction: f64,
    /// Resolved capacity.
    pub capacity: Capacity,
    /// Policy name.
    pub policy: String,
    /// 1 − hit ratio.
    pub miss_ratio: f64,
    /// 1 − byte hit ratio.
    pub byte_miss_ratio: f64,
}

/// Runs the sweep command.
pub fn run(args: &SweepArgs) -> Result<()> {
    let spec = match args.unit.as_str() {
        "bytes" => CapacitySpec::BytesShare(1.0),
        "keys" => CapacitySpec::KeysShare(1.0),
        other => bail!("--unit {other:?}: expected bytes or keys"),
    };
    if args.fractions.is_empty() || args.fractions.iter().any(|f| !(*f > 0.0 && *f <= 1.0)) {
        bail!("--fractions must be within (0, 1]");
    }
    let kinds = chosen_policies(&args.policies);
    // Every capacity replays the same trace: hold it in memory once.
    let input = crate::cli::load(
        prepare_input(&args.source, &kinds, &args.output)?,
        &args.output,
    )?;
    let fp = measure_footprint(&input, &args.output)?;
    let mut points = Vec::new();
    for &f in &args.fractions {
        let capacity = spec.with_share(f).resolve(&fp);
        let what = format!("{:.3}%", f * 100.0);
        let explicit = !args.policies.is_empty();
        for r in replay_once(&input, &kinds, explicit, capacity, &args.output, &what)? {
            points.push(SweepPoint {
                fraction: f,
                capacity,
                policy: r.policy.clone(),
                miss_ratio: 1.0 - r.hit_ratio(),
                byte_miss_ratio: 1.0 - r.byte_hit_ratio(),
            });
        }
    }
    if let Some(path) = &args.svg {
        let title = format!("Miss-ratio curve: {}", input.label());
        crate::plot::write_svg(path, &title, &args.unit, &points)
            .with_context(|| format!("writing {}", path.display()))?;
        if !args.output.quiet {
            eprintln!("wrote {}", path.display());
        }
    }
    match args.output.format() {
        OutputFormat::Table => emit(&table(&input.label(), &points))?,
        OutputFormat::Json => emit(&(serde_json::to_string_pretty(&points)? + "\n"))?,
        OutputFormat::Csv => emit(&csv(&points))?,
    }
    Ok(())
}

/// Policy names in first-seen order.
pub fn policy_names(points: &[SweepPoint]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in points {
        if !names.contains(&p.policy) {
            names.push(p.policy.clone());
        }
    }
    names
}

fn table(label: &str, points: &[SweepPoint]) -> String {
    let names = policy_names(points);
    let mut out = format!("source: {label}\nmiss ratio % by capacity (share of footprint)\n");
    let _ = write!(out, "{:>9} {:>12}", "share", "capacity");
    for n in &names {
        let _ = write!(out, " {n:>16}");
    }
    out.push('\n');
    let mut fractions: Vec<f64> = points.iter().map(|p| p.fraction).collect();
    fractions.dedup();
    for f in fractions {
        let row: Vec<&SweepPoint> = points.iter().filter(|p| p.fraction == f).collect();
        let cap = row
            .first()
            .map(|p| p.capacity.to_string())
            .unwrap_or_default();
        let _ = write!(out, "{:>8.3}% {cap:>12}", f * 100.0);
        for n in &names {
            let v = row.iter().find(|p| &p.policy == n).map(|p| p.miss_ratio);
            let _ = write!(
                out,
                " {:>16}",
                v.map_or("-".into(), |v| format!("{:.2}", v * 100.0))
            );
        }
        out.push('\n');
    }
    out
}

fn csv(points: &[SweepPoint]) -> String {
    let mut out =
        String::from("fraction,capacity,capacity_unit,policy,miss_ratio,byte_miss_ratio\n");
    for p in points {
        let _ = writeln!(
            out,
            "{},{},{},{:.6},{:.6}",
            p.fraction,
            p.capacity.csv(),
            p.policy,
            p.miss_ratio,
            p.byte_miss_ratio
        );
    }
    out
}
