//! A model of S3 as the origin behind the cache: what a miss costs.
//!
//! Latency of one origin GET = first-byte latency + size / throughput.
//! - First-byte latency is lognormal. Defaults: median 50 ms, σ 0.6, so
//!   p90 ≈ 108 ms and p99 ≈ 200 ms, in line with the 100–200 ms small-object
//!   latency that AWS's S3 performance guidelines quote as typical.
//! - Throughput per connection: 90 MB/s (the commonly quoted single-stream
//!   S3 figure of 85–90 MB/s).
//!
//! HEAD misses pay the first-byte latency only. All three numbers are
//! command-line options; they are a model, not a measurement.

use clap::Args;
use serde::Serialize;

use crate::rng::{lognormal, Rng};

/// Parameters of the origin latency model.
#[derive(Args, Clone, Copy, Debug, Serialize)]
pub struct OriginModel {
    /// Median first-byte latency of an origin request, milliseconds.
    #[arg(long = "origin-median-ms", default_value_t = 50.0)]
    pub median_ms: f64,
    /// Lognormal σ of the first-byte latency.
    #[arg(long = "origin-sigma", default_value_t = 0.6)]
    pub sigma: f64,
    /// Transfer throughput per request, MB/s (10^6 bytes).
    #[arg(long = "origin-mbps", default_value_t = 90.0)]
    pub mbps: f64,
}

impl Default for OriginModel {
    fn default() -> Self {
        OriginModel {
            median_ms: 50.0,
            sigma: 0.6,
            mbps: 90.0,
        }
    }
}

impl OriginModel {
    /// Samples one origin request's latency in microseconds; `body` says
    /// whether the object's bytes are transferred (GET) or not (HEAD).
    pub fn sample_us(&self, rng: &mut Rng, size: u32, body: bool) -> u64 {
        let first_byte_ms = lognormal(self.median_ms.ln(), self.sigma, rng.normal());
        let transfer_ms = if body {
            size as f64 / (self.mbps * 1e6) * 1e3
        } else {
            0.0
        };
        ((first_byte_ms + transfer_ms) * 1e3) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_transfer() {
        let m = OriginModel::default();
        let mut rng = Rng::new(9);
        let mut v: Vec<u64> = (0..20_001)
            .map(|_| m.sample_us(&mut rng, 0, false))
            .collect();
        v.sort_unstable();
        let median = v[10_000] as f64;
        assert!((median / 50_000.0 - 1.0).abs() < 0.03, "{median}");
        // 90 MB at 90 MB/s adds a second.
        let mut rng = Rng::new(9);
        let big = m.sample_us(&mut rng, 90_000_000, true);
        let mut rng = Rng::new(9);
        let small = m.sample_us(&mut rng, 0, true);
        assert_eq!(big - small, 1_000_000);
    }
}
