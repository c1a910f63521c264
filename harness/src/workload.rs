//! Parameters of the synthetic S3 workload model and its named presets.
//!
//! Every field is documented with its unit; `docs/harness.md` explains the
//! model and why each preset's numbers were chosen.

use serde::Serialize;

/// Operation mix weights (normalised when sampled).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpMix {
    /// GET of a model document or upload.
    pub get: f64,
    /// HEAD of a model document or upload.
    pub head: f64,
    /// PUT (write-through); model PUTs also invalidate list and count keys.
    pub put: f64,
    /// DELETE; model DELETEs also invalidate list and count keys.
    pub delete: f64,
    /// LIST: lookup of a paginated list key or a count key.
    pub list: f64,
}

impl OpMix {
    /// Sum of the weights.
    pub fn total(&self) -> f64 {
        self.get + self.head + self.put + self.delete + self.list
    }
}

/// All parameters of the synthetic workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadParams {
    /// Preset name this was derived from.
    pub preset: String,
    /// Total requests emitted (invalidations included).
    pub requests: u64,
    /// PRNG seed: the same parameters and seed give the same trace.
    pub seed: u64,
    /// Size of the object population (model documents and uploads).
    pub objects: u32,
    /// Zipf exponent of object popularity.
    pub alpha: f64,
    /// Share of objects that are uploads (the rest are model documents).
    pub upload_share: f64,
    /// Number of model types (at most 8).
    pub model_types: u16,
    /// Distinct list keys (filters × pages) per model type.
    pub list_keys: u32,
    /// Zipf exponent of list-key popularity.
    pub list_alpha: f64,
    /// Distinct count keys per model type.
    pub count_keys: u32,
    /// Share of LIST operations that look up a count key.
    pub count_share: f64,
    /// Operation mix of regular requests.
    pub mix: OpMix,
    /// Share of regular requests that GET an object never seen again.
    pub one_hit_share: f64,
    /// Regular requests between two scans (0 = no scans).
    pub scan_every: u64,
    /// GETs per scan (consecutive objects, each once).
    pub scan_len: u64,
    /// Popularity drift, in ranks per request: the hot set slides by this much.
    pub drift: f64,
    /// Regular requests between two flash crowds (0 = none).
    pub flash_every: u64,
    /// Length of a flash crowd in regular requests.
    pub flash_len: u64,
    /// Share of requests during a flash crowd that go to its hot objects.
    pub flash_share: f64,
    /// Number of objects a flash crowd concentrates on.
    pub flash_objects: u32,
    /// Mean arrival rate, requests per second (Poisson process).
    pub rate: f64,
    /// TTL of model keys, seconds (0 = none).
    pub ttl_model_s: u32,
    /// TTL of list and count keys, seconds (0 = none).
    pub ttl_list_s: u32,
    /// TTL of uploads, seconds (0 = none).
    pub ttl_upload_s: u32,
    /// Model document size: lognormal µ of ln(bytes).
    pub model_mu: f64,
    /// Model document size: lognormal σ.
    pub model_sigma: f64,
    /// List page size: lognormal µ of ln(bytes).
    pub list_mu: f64,
    /// List page size: lognormal σ.
    pub list_sigma: f64,
    /// Count result size, bytes.
    pub count_size: u32,
    /// Upload size body: lognormal µ of ln(bytes).
    pub upload_mu: f64,
    /// Upload size body: lognormal σ.
    pub upload_sigma: f64,
    /// Uploads above this many bytes follow the Pareto tail instead.
    pub tail_min: f64,
    /// Pareto tail exponent of upload sizes.
    pub tail_alpha: f64,
}

/// Names of the built-in presets.
pub const PRESETS: [&str; 5] = ["s3-app", "zipf", "scan-mix", "one-hit-wonders", "shifting"];

impl WorkloadParams {
    /// The S3verless application mix; the other presets start from it.
    pub fn s3_app() -> Self {
        WorkloadParams {
            preset: "s3-app".into(),
            requests: 2_000_000,
            seed: 42,
            objects: 200_000,
            alpha: 0.9,
            upload_share: 0.1,
            model_types: 4,
            list_keys: 400,
            list_alpha: 1.0,
            count_keys: 20,
            count_share: 0.2,
            mix: OpMix {
                get: 0.70,
                head: 0.05,
                put: 0.04,
                delete: 0.01,
                list: 0.20,
            },
            one_hit_share: 0.05,
            scan_every: 500_000,
            scan_len: 20_000,
            drift: 0.02,
            flash_every: 400_000,
            flash_len: 20_000,
            flash_share: 0.3,
            flash_objects: 200,
            rate: 2_000.0,
            ttl_model_s: 300,
            ttl_list_s: 60,
            ttl_upload_s: 300,
            model_mu: 1500f64.ln(),
            model_sigma: 0.8,
            list_mu: 12_000f64.ln(),
            list_sigma: 0.5,
            count_size: 48,
            upload_mu: 200_000f64.ln(),
            upload_sigma: 1.5,
            tail_min: 4_000_000.0,
            tail_alpha: 1.2,
        }
    }

    /// Looks a preset up by name (see [`PRESETS`]).
    ///
    /// ```
    /// use clockwheel_harness::workload::WorkloadParams;
    /// let p = WorkloadParams::preset("one-hit-wonders").unwrap();
    /// assert_eq!(p.one_hit_share, 0.35);
    /// assert!(WorkloadParams::preset("nope").is_none());
    /// ```
    pub fn preset(name: &str) -> Option<Self> {
        let base = Self::s3_app();
        let p = match name {
            "s3-app" => base,
            "zipf" => WorkloadParams {
                preset: name.into(),
                requests: 1_000_000,
                objects: 100_000,
                upload_share: 0.0,
                mix: only_gets(),
                one_hit_share: 0.0,
                scan_every: 0,
                drift: 0.0,
                flash_every: 0,
                ttl_model_s: 0,
                ttl_list_s: 0,
                ttl_upload_s: 0,
                ..base
            },
            "scan-mix" => WorkloadParams {
                preset: name.into(),
                mix: only_gets(),
                one_hit_share: 0.0,
                scan_every: 100_000,
                scan_len: 50_000,
                drift: 0.0,
                flash_every: 0,
                ..base
            },
            "one-hit-wonders" => WorkloadParams {
                preset: name.into(),
                one_hit_share: 0.35,
                scan_every: 0,
                drift: 0.0,
                flash_every: 0,
                ..base
            },
            "shifting" => WorkloadParams {
                preset: name.into(),
                drift: 0.2,
                flash_every: 100_000,
                flash_len: 20_000,
                flash_share: 0.5,
                scan_every: 0,
                ..base
            },
            _ => return None,
        };
        Some(p)
    }
}

fn only_gets() -> OpMix {
    OpMix {
        get: 1.0,
        head: 0.0,
        put: 0.0,
        delete: 0.0,
        list: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_resolves_and_names_itself() {
        for name in PRESETS {
            let p = WorkloadParams::preset(name).expect(name);
            assert_eq!(p.preset, name);
            assert!(p.mix.total() > 0.0);
        }
        assert!(WorkloadParams::preset("nope").is_none());
    }
}
