//! Command-line interface (`clockwheel-harness --help`).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::formats::csv::Header;
use crate::formats::{create_writer, CsvLayout, Format, KeyStyle};
use crate::input::TraceInput;
use crate::overrides::WorkloadArgs;
use crate::policy::{self, Capacity, PolicyKind};
use crate::replay::{footprint, replay, Footprint, PolicyResult};
use crate::report::{self, OutputFormat, RunReport};
use crate::workload::{WorkloadParams, PRESETS};

/// Trace replay for sizing caches: synthetic S3 workloads, real trace
/// formats, reference policies, Clockwheel and its peers side by side.
#[derive(Parser, Debug)]
#[command(
    name = "clockwheel-harness",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay a trace against several policies at one capacity (the default).
    Run(RunArgs),
    /// Miss-ratio curve: replay at several capacities; table, CSV/JSON, SVG.
    Sweep(SweepArgs),
    /// Write a synthetic trace to a file.
    Generate(GenerateArgs),
    /// Concurrent replay: T threads on one shared cache, latency histograms.
    Concurrent(crate::concurrent::ConcurrentArgs),
    /// Measure a trace's statistics (op mix, popularity slope, sizes).
    Stats(StatsArgs),
    /// List the presets and their parameters.
    Presets,
    /// Measure the replay machinery's own speed (generator, reader, policies).
    Speed(crate::speed::SpeedArgs),
}

/// Where the requests come from, shared by every subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct SourceArgs {
    /// Synthetic preset (s3-app, zipf, scan-mix, one-hit-wonders, shifting).
    #[arg(long, default_value = "s3-app")]
    pub preset: String,
    /// Replay this trace file instead of a synthetic workload.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Format of --trace (default: from the extension: .csv, .bin/oracleGeneral, else IBM).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV column layout, in order; `_` skips a column.
    #[arg(long, default_value = "time,key,size,op,ttl")]
    pub csv_columns: String,
    /// CSV header handling: auto, yes, no.
    #[arg(long, default_value = "auto")]
    pub csv_header: String,
    #[command(flatten)]
    pub workload: WorkloadArgs,
}

impl SourceArgs {
    /// Resolves the source (a preset with overrides, or a file).
    pub fn input(&self) -> Result<TraceInput> {
        if let Some(path) = &self.trace {
            let format = self.format.unwrap_or_else(|| Format::from_path(path));
            let mut layout = CsvLayout::parse(&self.csv_columns).map_err(anyhow::Error::msg)?;
            layout.header = match self.csv_header.as_str() {
                "auto" => Header::Auto,
                "yes" => Header::Yes,
                "no" => Header::No,
                other => bail!("--csv-header {other:?}: expected auto, yes or no"),
            };
            return Ok(TraceInput::File {
                path: path.clone(),
                format,
                layout,
            });
        }
        Ok(TraceInput::Synthetic(self.params()?))
    }

    /// The preset's parameters with overrides applied.
    pub fn params(&self) -> Result<WorkloadParams> {
        let mut p = WorkloadParams::preset(&self.preset).with_context(|| {
            format!(
                "unknown preset {:?}; presets: {}",
                self.preset,
                PRESETS.join(", ")
            )
        })?;
        self.workload.apply(&mut p)?;
        Ok(p)
    }
}

/// Output flags.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl OutputArgs {
    /// The chosen output format.
    pub fn format(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else if self.csv {
            OutputFormat::Csv
        } else {
            OutputFormat::Table
        }
    }

    /// A progress bar over `len` requests (hidden when quiet or not a TTY).
    pub fn progress(&self, len: Option<u64>, what: &str) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = match len {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        bar
    }
}

/// Arguments of `run` (also the no-subcommand default).
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Capacity: entries (`5000`), bytes (`64MiB`), or a share of the
    /// footprint (`10%` of bytes, `10%keys` of distinct keys).
    #[arg(long, default_value = "10%")]
    pub capacity: String,
    /// Policies, comma separated (default: all available).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub policies: Vec<PolicyKind>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A capacity request before the footprint is known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CapacitySpec {
    /// Absolute.
    Fixed(Capacity),
    /// Share of footprint bytes.
    BytesShare(f64),
    /// Share of distinct keys.
    KeysShare(f64),
}

impl CapacitySpec {
    /// Parses `5000`, `64MiB`, `1.5GiB`, `10%`, `10%keys`.
    ///
    /// ```
    /// use clockwheel_harness::cli::CapacitySpec;
    /// use clockwheel_harness::policy::Capacity;
    /// let spec = CapacitySpec::parse("64MiB").unwrap();
    /// assert_eq!(spec, CapacitySpec::Fixed(Capacity::Bytes(64 << 20)));
    /// assert_eq!(CapacitySpec::parse("10%keys").unwrap(), CapacitySpec::KeysShare(0.1));
    /// assert!(CapacitySpec::parse("0%").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix("%keys") {
            return Ok(CapacitySpec::KeysShare(share(p)?));
        }
        if let Some(p) = s.strip_suffix('%') {
            return Ok(CapacitySpec::BytesShare(share(p)?));
        }
        let units = [
            ("KiB", 1u64 << 10),
            ("MiB", 1 << 20),
            ("GiB", 1 << 30),
            ("B", 1),
        ];
        for (suffix, mult) in units {
            if let Some(n) = s.strip_suffix(suffix) {
                let v: f64 = n
                    .trim()
                    .parse()
                    .with_context(|| format!("capacity {s:?}"))?;
                return Ok(CapacitySpec::Fixed(Capacity::Bytes(
                    (v * mult as f64) as u64,
                )));
            }
        }
        let n: u64 = s.parse().with_context(|| {
            format!("capacity {s:?}: expected N, N{{B,KiB,MiB,GiB}}, X% or X%keys")
        })?;
        Ok(CapacitySpec::Fixed(Capacity::Entries(n)))
    }

    /// Resolves against a footprint (at least 1).
    pub fn resolve(self, fp: &Footprint) -> Capacity {
        match self {
            CapacitySpec::Fixed(c) => c,
            CapacitySpec::BytesShare(f) => Capacity::Bytes(((fp.bytes as f64 * f) as u64).max(1)),
            CapacitySpec::KeysShare(f) => Capacity::Entries(((fp.keys as f64 * f) as u64).max(1)),
        }
    }

    /// Whether the footprint is needed.
    pub fn needs_footprint(self) -> bool {
        !matches!(self, CapacitySpec::Fixed(_))
    }

    /// The same kind of share with another fraction (for sweeps).
    pub fn with_share(self, f: f64) -> CapacitySpec {
        match self {
            CapacitySpec::KeysShare(_) => CapacitySpec::KeysShare(f),
            _ => CapacitySpec::BytesShare(f),
        }
    }
}

fn share(p: &str) -> Result<f64> {
    let v: f64 = p
        .trim()
        .parse()
        .with_context(|| format!("percentage {p:?}"))?;
    if !(v > 0.0 && v <= 100.0) {
        bail!("percentage {v} must be within (0, 100]");
    }
    Ok(v / 100.0)
}

/// Policies to run: the given list, or the defaults.
pub fn chosen_policies(given: &[PolicyKind]) -> Vec<PolicyKind> {
    if given.is_empty() {
        PolicyKind::defaults()
    } else {
        given.to_vec()
    }
}

/// Builds simulators; defaults that are unavailable are skipped with a note,
/// explicitly requested ones are an error.
pub fn build_sims(
    kinds: &[PolicyKind],
    explicit: bool,
    capacity: Capacity,
) -> Result<Vec<Box<dyn policy::CacheSim>>> {
    let mut sims = Vec::new();
    for &k in kinds {
        match policy::build(k, capacity) {
            Ok(s) => sims.push(s),
            Err(e) if !explicit => eprintln!("note: skipping {}: {e}", k.name()),
            Err(e) => return Err(e),
        }
    }
    Ok(sims)
}

/// Prepares the input: loads it in memory with next-access when Belady runs.
pub fn prepare_input(
    source: &SourceArgs,
    kinds: &[PolicyKind],
    out: &OutputArgs,
) -> Result<TraceInput> {
    let input = source.input()?;
    if kinds.contains(&PolicyKind::Belady) && !input.open()?.has_next_access() {
        return load(input, out);
    }
    Ok(input)
}

/// Loads `input` into memory (with next-access indices) under a progress bar.
pub fn load(input: TraceInput, out: &OutputArgs) -> Result<TraceInput> {
    let bar = out.progress(input.len_hint(), "load");
    let loaded = input.into_memory_with_progress(Some(&bar))?;
    bar.finish_and_clear();
    Ok(loaded)
}

/// Measures the footprint with a progress bar.
pub fn measure_footprint(input: &TraceInput, out: &OutputArgs) -> Result<Footprint> {
    let bar = out.progress(input.len_hint(), "footprint");
    let fp = footprint(input.open()?.as_mut(), Some(&bar))?;
    bar.finish_and_clear();
    Ok(fp)
}

/// Replays `input` at `capacity` with a progress bar.
pub fn replay_once(
    input: &TraceInput,
    kinds: &[PolicyKind],
    explicit: bool,
    capacity: Capacity,
    out: &OutputArgs,
    what: &str,
) -> Result<Vec<PolicyResult>> {
    let mut sims = build_sims(kinds, explicit, capacity)?;
    let bar = out.progress(input.len_hint(), what);
    let res = replay(input.open()?.as_mut(), &mut sims, capacity, Some(&bar))?;
    bar.finish_and_clear();
    Ok(res)
}

fn cmd_run(args: &RunArgs) -> Result<()> {
    let kinds = chosen_policies(&args.policies);
    let spec = CapacitySpec::parse(&args.capacity)?;
    let input = prepare_input(&args.source, &kinds, &args.output)?;
    let fp = measure_footprint(&input, &args.output)?;
    let capacity = spec.resolve(&fp);
    let results = replay_once(
        &input,
        &kinds,
        !args.policies.is_empty(),
        capacity,
        &args.output,
        "replay",
    )?;
    let rep = RunReport {
        source: input.label(),
        workload: input.params(),
        footprint: fp,
        results: &results,
    };
    match args.output.format() {
        OutputFormat::Table => report::emit(&report::table(&rep))?,
        OutputFormat::Json => report::emit(&(report::json(&rep) + "\n"))?,
        OutputFormat::Csv => report::emit(&report::csv_rows(&results))?,
    }
    Ok(())
}

/// Arguments of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Output file.
    #[arg(long, short)]
    out: PathBuf,
    /// Output format (default: from the extension).
    #[arg(long = "out-format", value_enum)]
    out_format: Option<Format>,
    /// Write CSV keys as decimal ids instead of S3verless names.
    #[arg(long)]
    numeric_keys: bool,
    /// Do not write a CSV header line.
    #[arg(long)]
    no_header: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn cmd_generate(args: &GenerateArgs) -> Result<()> {
    let format = args
        .out_format
        .unwrap_or_else(|| Format::from_path(&args.out));
    let out = OutputArgs {
        quiet: args.quiet,
        ..Default::default()
    };
    let mut input = args.source.input()?;
    if format == Format::Oracle {
        // oracleGeneral carries next-access indices: a reverse pass in memory.
        input = load(input, &out)?;
    }
    let mut layout = CsvLayout::parse(&args.source.csv_columns).map_err(anyhow::Error::msg)?;
    if args.no_header {
        layout.header = Header::No;
    }
    let keys = if args.numeric_keys {
        KeyStyle::Id
    } else {
        KeyStyle::Name
    };
    let mut writer = create_writer(&args.out, format, &layout, keys)?;
    let bar = out.progress(input.len_hint(), "generate");
    let mut src = input.open()?;
    let mut batch = Vec::with_capacity(crate::replay::BATCH);
    let mut index = 0u64;
    loop {
        batch.clear();
        if src.read_batch(&mut batch, crate::replay::BATCH)? == 0 {
            break;
        }
        for r in &batch {
            writer.write(index, r)?;
            index += 1;
        }
        bar.inc(batch.len() as u64);
    }
    writer.finish()?;
    bar.finish_and_clear();
    if !args.quiet {
        eprintln!(
            "wrote {index} requests to {} ({format:?})",
            args.out.display()
        );
    }
    Ok(())
}

/// Arguments of `stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn cmd_stats(args: &StatsArgs) -> Result<()> {
    let input = args.source.input()?;
    let stats = crate::stats::TraceStats::measure(input.open()?.as_mut())?;
    if args.json {
        report::emit(&(serde_json::to_string_pretty(&stats)? + "\n"))?;
    } else {
        report::emit(&stats.table())?;
    }
    Ok(())
}

fn cmd_presets() -> Result<()> {
    let mut out = String::new();
    for name in PRESETS {
        let p = WorkloadParams::preset(name).expect("listed preset exists");
        out += &format!("{name}:\n{}\n", serde_json::to_string_pretty(&p)?);
    }
    Ok(report::emit(&out)?)
}

/// Entry point of the binary.
pub fn main() -> Result<()> {
    dispatch(&Cli::parse())
}

/// Runs the command line `args` (the first item is the program name), as
/// the binary would; usage errors are returned, not printed.
///
/// ```
/// clockwheel_harness::cli::run_with(["clockwheel-harness", "presets"]).unwrap();
/// assert!(clockwheel_harness::cli::run_with(["clockwheel-harness", "--preset", "nope"]).is_err());
/// ```
pub fn run_with<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    dispatch(&Cli::try_parse_from(args)?)
}

fn dispatch(cli: &Cli) -> Result<()> {
    match &cli.command {
        None => cmd_run(&cli.run),
        Some(Command::Run(a)) => cmd_run(a),
        Some(Command::Sweep(a)) => crate::sweep::run(a),
        Some(Command::Generate(a)) => cmd_generate(a),
        Some(Command::Concurrent(a)) => crate::concurrent::run(a),
        Some(Command::Stats(a)) => cmd_stats(a),
        Some(Command::Speed(a)) => crate::speed::run(a),
        Some(Command::Presets) => cmd_presets(),
    }
}

pub use crate::sweep::SweepArgs;
