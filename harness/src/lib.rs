//! `clockwheel-harness`: synthetic S3 access traces, real trace formats,
//! and replay against Clockwheel, reference policies and peer crates.
//!
//! - [`generator`] and [`workload`]: the deterministic synthetic workload model
//!   ([`zipf`] and [`ziggurat`] samplers; `popularity`, private, lays out the
//!   generator's per-position tables).
//! - [`formats`]: libCacheSim oracleGeneral, IBM COS text and CSV, streaming.
//! - [`policy`]: the [`policy::CacheSim`] interface, exact LRU/FIFO/CLOCK,
//!   Belady, no-op, the Clockwheel adapter and the peers.
//! - [`replay`]: simulation-mode replay; [`sweep`]: miss-ratio curves;
//!   [`concurrent`]: multi-threaded replay with latency histograms.
//!
//! See `docs/harness.md` for the model, the formats and measured speeds.

pub mod cli;
pub mod concurrent;
pub mod error;
pub mod formats;
pub mod generator;
pub mod input;
pub mod origin;
pub mod overrides;
pub mod plot;
pub mod policy;
mod popularity;
pub mod replay;
pub mod report;
pub mod rng;
pub mod source;
pub mod speed;
pub mod stats;
pub mod sweep;
pub mod trace;
pub mod workload;
pub mod ziggurat;
pub mod zipf;
