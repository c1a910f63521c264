//! Command-line overrides of every workload parameter, and their validation.
//!
//! Each option replaces one field of the preset's [`WorkloadParams`]; sizes
//! are given as medians in bytes (the model stores `ln(median)` as µ).

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::workload::{OpMix, WorkloadParams};

/// Overrides of preset parameters (see `presets` for the values).
#[derive(Args, Debug, Clone, Default)]
pub struct WorkloadArgs {
    /// Requests to generate (invalidations included).
    #[arg(long)]
    pub requests: Option<u64>,
    /// PRNG seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Object population size.
    #[arg(long)]
    pub objects: Option<u32>,
    /// Zipf exponent of object popularity.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Share of objects that are uploads.
    #[arg(long)]
    pub upload_share: Option<f64>,
    /// Model types (1..=8).
    #[arg(long)]
    pub model_types: Option<u16>,
    /// Distinct list keys per model type.
    #[arg(long)]
    pub list_keys: Option<u32>,
    /// Zipf exponent of list-key popularity.
    #[arg(long)]
    pub list_alpha: Option<f64>,
    /// Distinct count keys per model type.
    #[arg(long)]
    pub count_keys: Option<u32>,
    /// Share of LIST requests that look up a count key.
    #[arg(long)]
    pub count_share: Option<f64>,
    /// Op mix weights: GET,HEAD,PUT,DELETE,LIST (e.g. 70,5,4,1,20).
    #[arg(long)]
    pub mix: Option<String>,
    /// Share of requests to objects never seen again.
    #[arg(long)]
    pub one_hit_share: Option<f64>,
    /// Regular requests between scans (0 = none).
    #[arg(long)]
    pub scan_every: Option<u64>,
    /// GETs per scan.
    #[arg(long)]
    pub scan_len: Option<u64>,
    /// Popularity drift in ranks per regular request.
    #[arg(long)]
    pub drift: Option<f64>,
    /// Regular requests between flash crowds (0 = none).
    #[arg(long)]
    pub flash_every: Option<u64>,
    /// Popular-object draws a flash crowd lasts.
    #[arg(long)]
    pub flash_len: Option<u64>,
    /// Share of flash-crowd draws going to the crowd's objects.
    #[arg(long)]
    pub flash_share: Option<f64>,
    /// Objects a flash crowd concentrates on.
    #[arg(long)]
    pub flash_objects: Option<u32>,
    /// Arrival rate, requests per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// TTL of model keys, seconds (0 = none).
    #[arg(long)]
    pub ttl_model: Option<u32>,
    /// TTL of list and count keys, seconds (0 = none).
    #[arg(long)]
    pub ttl_list: Option<u32>,
    /// TTL of uploads, seconds (0 = none).
    #[arg(long)]
    pub ttl_upload: Option<u32>,
    /// Median model document size, bytes (lognormal).
    #[arg(long)]
    pub model_size: Option<f64>,
    /// Lognormal σ of model document sizes.
    #[arg(long)]
    pub model_sigma: Option<f64>,
    /// Median list page size, bytes (lognormal).
    #[arg(long)]
    pub list_size: Option<f64>,
    /// Lognormal σ of list page sizes.
    #[arg(long)]
    pub list_sigma: Option<f64>,
    /// Count result size, bytes.
    #[arg(long)]
    pub count_size: Option<u32>,
    /// Median upload size, bytes (lognormal body).
    #[arg(long)]
    pub upload_size: Option<f64>,
    /// Lognormal σ of upload sizes.
    #[arg(long)]
    pub upload_sigma: Option<f64>,
    /// Upload bodies above this many bytes follow the Pareto tail.
    #[arg(long)]
    pub tail_min: Option<f64>,
    /// Pareto exponent of the upload size tail.
    #[arg(long)]
    pub tail_alpha: Option<f64>,
}

impl WorkloadArgs {
    /// Applies the overrides to `p` and validates the result.
    ///
    /// ```
    /// use clockwheel_harness::overrides::WorkloadArgs;
    /// use clockwheel_harness::workload::WorkloadParams;
    /// let mut p = WorkloadParams::s3_app();
    /// let args = WorkloadArgs { alpha: Some(1.1), model_size: Some(2048.0), ..Default::default() };
    /// args.apply(&mut p).unwrap();
    /// assert_eq!(p.alpha, 1.1);
    /// assert!((p.model_mu.exp() - 2048.0).abs() < 1e-6);
    /// ```
    pub fn apply(&self, p: &mut WorkloadParams) -> Result<()> {
        macro_rules! set {
            ($($field:ident => $target:ident),*) => {
                $(if let Some(v) = self.$field { p.$target = v; })*
            };
        }
        set!(requests => requests, seed => seed, objects => objects, alpha => alpha,
             upload_share => upload_share, model_types => model_types, list_keys => list_keys,
             list_alpha => list_alpha, count_keys => count_keys, count_share => count_share,
             one_hit_share => one_hit_share, scan_every => scan_every, scan_len => scan_len,
             drift => drift, flash_every => flash_every, flash_len => flash_len,
             flash_share => flash_share, flash_objects => flash_objects, rate => rate,
             ttl_model => ttl_model_s, ttl_list => ttl_list_s, ttl_upload => ttl_upload_s,
             model_sigma => model_sigma, list_sigma => list_sigma, count_size => count_size,
             upload_sigma => upload_sigma, tail_min => tail_min, tail_alpha => tail_alpha);
        self.apply_medians(p)?;
        if let Some(mix) = &self.mix {
            p.mix = parse_mix(mix)?;
        }
        validate(p)
    }

    /// Sizes are given as medians; the model keeps their logarithms.
    fn apply_medians(&self, p: &mut WorkloadParams) -> Result<()> {
        for (value, name, target) in [
            (self.model_size, "--model-size", &mut p.model_mu),
            (self.list_size, "--list-size", &mut p.list_mu),
            (self.upload_size, "--upload-size", &mut p.upload_mu),
        ] {
            if let Some(v) = value {
                if !(v >= 1.0 && v.is_finite()) {
                    bail!("{name} {v}: a median size must be at least 1 byte");
                }
                *target = v.ln();
            }
        }
        Ok(())
    }
}

fn parse_mix(mix: &str) -> Result<OpMix> {
    let w: Vec<f64> = mix
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--mix {mix:?}: expected 5 numbers"))?;
    if w.len() != 5
        || w.iter().any(|x| !(*x >= 0.0 && x.is_finite()))
        || w.iter().sum::<f64>() <= 0.0
    {
        bail!("--mix {mix:?}: expected 5 non-negative weights GET,HEAD,PUT,DELETE,LIST");
    }
    Ok(OpMix {
        get: w[0],
        head: w[1],
        put: w[2],
        delete: w[3],
        list: w[4],
    })
}

fn unit(name: &str, v: f64) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        bail!("{name} = {v} must be within 0..=1")
    }
}

fn non_negative(name: &str, v: f64) -> Result<()> {
    if v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        bail!("{name} = {v} must be a finite number >= 0")
    }
}

/// Most objects (and list or count keys per type) a workload may have: 2^26,
/// so the popularity tables stay under 1 GiB.
pub const MAX_RANKS: u32 = 1 << 26;

/// Checks that the parameters describe a workload the generator can produce.
pub fn validate(p: &WorkloadParams) -> Result<()> {
    unit("upload share", p.upload_share)?;
    unit("one-hit share", p.one_hit_share)?;
    unit("flash share", p.flash_share)?;
    unit("count share", p.count_share)?;
    for (name, v) in [
        ("alpha", p.alpha),
        ("list alpha", p.list_alpha),
        ("drift", p.drift),
        ("model sigma", p.model_sigma),
        ("list sigma", p.list_sigma),
        ("upload sigma", p.upload_sigma),
    ] {
        non_negative(name, v)?;
    }
    // The Zipf tables take 8 bytes per rank (16 while being built).
    for (name, v) in [
        ("objects", p.objects),
        ("list keys", p.list_keys),
        ("count keys", p.count_keys),
    ] {
        if !(1..=MAX_RANKS).contains(&v) {
            bail!("{name} = {v} must be within 1..={MAX_RANKS}");
        }
    }
    if !(1..=8).contains(&p.model_types) {
        bail!("model types = {} must be within 1..=8", p.model_types);
    }
    if !(p.rate > 0.0 && p.rate.is_finite()) {
        bail!(
            "rate = {} must be a positive number of requests per second",
            p.rate
        );
    }
    if !(p.tail_min >= 1.0 && p.tail_min.is_finite() && p.tail_alpha > 0.0) {
        bail!("the upload tail needs tail min >= 1 byte and tail alpha > 0");
    }
    Ok(())
}
