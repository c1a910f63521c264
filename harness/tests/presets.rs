//! Every preset's measured statistics against its parameters, within stated
//! tolerances. Traces are 1 M requests (the s3-app preset scaled down by 2)
//! so scans and flash crowds still occur.
//!
//! Tolerances: op shares ±0.004 absolute (binomial σ ≈ 0.0002 at 1 M);
//! fitted Zipf α ±0.06 over the top 100 ranks; one-hit share ±0.01; size
//! medians ±5 % (model, ~100 k keys) / ±10 % (list, upload); upload tail
//! share within a factor 1.6 (≈ 100 samples).

use clockwheel_harness::generator::Generator;
use clockwheel_harness::source::RequestSource;
use clockwheel_harness::stats::TraceStats;
use clockwheel_harness::trace::Op;
use clockwheel_harness::workload::{WorkloadParams, PRESETS};

const N: u64 = 1_000_000;

fn params(preset: &str) -> WorkloadParams {
    let mut p = WorkloadParams::preset(preset).unwrap();
    p.requests = N;
    p
}

fn measure(p: &WorkloadParams) -> TraceStats {
    TraceStats::measure(&mut Generator::new(p.clone())).unwrap()
}

/// Expected share of scan requests among non-INVALIDATE requests: one
/// block of `scan_len` after every `scan_every` regular requests.
fn scan_share(p: &WorkloadParams, non_inv: f64) -> f64 {
    if p.scan_every == 0 {
        return 0.0;
    }
    let mut scans = 0.0;
    for _ in 0..8 {
        let regular = non_inv - scans;
        scans = (regular / p.scan_every as f64).floor() * p.scan_len as f64;
    }
    scans.min(non_inv) / non_inv
}

fn check_op_mix(p: &WorkloadParams, s: &TraceStats) {
    let non_inv = (s.requests - s.invalidations) as f64;
    let regular = 1.0 - scan_share(p, non_inv);
    let total = p.mix.total();
    let weights = [
        (Op::Head, p.mix.head),
        (Op::Put, p.mix.put),
        (Op::Delete, p.mix.delete),
        (Op::List, p.mix.list),
    ];
    let mut rest = 0.0;
    for (op, w) in weights {
        let expect = regular * (1.0 - p.one_hit_share) * w / total;
        rest += expect;
        let got = s.share(op);
        assert!(
            (got - expect).abs() < 0.004,
            "{} {op}: {got} vs {expect}",
            p.preset
        );
    }
    let got = s.share(Op::Get);
    assert!(
        (got - (1.0 - rest)).abs() < 0.004,
        "{} GET: {got}",
        p.preset
    );
    // Every model PUT/DELETE adds two invalidations.
    if p.upload_share < 1.0 && p.mix.put + p.mix.delete > 0.0 {
        let writes = (s.share(Op::Put) + s.share(Op::Delete)) * non_inv;
        let expect = 2.0 * writes * (1.0 - p.upload_share);
        let got = s.invalidations as f64;
        assert!(
            (got / expect - 1.0).abs() < 0.03,
            "{}: {got} vs {expect}",
            p.preset
        );
    }
}

fn check_sizes(p: &WorkloadParams, s: &TraceStats) {
    let within = |got: u64, want: f64, tol: f64, what: &str| {
        let r = got as f64 / want;
        assert!(
            (r - 1.0).abs() < tol,
            "{} {what}: {got} vs {want}",
            p.preset
        );
    };
    if let Some(q) = s.quantiles("model") {
        within(q[0], p.model_mu.exp(), 0.05, "model p50");
        // p90 of a lognormal: exp(mu + 1.2816 sigma).
        within(
            q[1],
            (p.model_mu + 1.2816 * p.model_sigma).exp(),
            0.08,
            "model p90",
        );
    }
    if let Some(q) = s.quantiles("list") {
        within(q[0], p.list_mu.exp(), 0.10, "list p50");
    }
    if let Some(q) = s.quantiles("count") {
        assert_eq!(q, [p.count_size as u64; 3]);
    }
    if let Some(q) = s.quantiles("upload") {
        within(q[0], p.upload_mu.exp(), 0.10, "upload p50");
        // P(size > 16 MiB) = P(lognormal > tail_min) * (tail_min / 16 MiB)^alpha.
        let z = (p.tail_min.ln() - p.upload_mu) / p.upload_sigma;
        let expect = normal_sf(z) * (p.tail_min / (16u64 << 20) as f64).powf(p.tail_alpha);
        let got = s.upload_share_over_16mib;
        assert!(
            got > expect / 1.6 && got < expect * 1.6,
            "{}: tail {got} vs {expect}",
            p.preset
        );
    }
}

/// Standard normal survival function (Abramowitz & Stegun 7.1.26, |ε| < 1.5e-7).
fn normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    let erf = if x >= 0.0 { erf } else { -erf };
    0.5 * (1.0 - erf)
}

fn check_one_hit(p: &WorkloadParams, s: &TraceStats) {
    // Baseline: the same workload without one-hit wonders and as many other
    // requests; the popularity tail has its own keys seen once.
    let mut base = p.clone();
    base.one_hit_share = 0.0;
    base.requests = (s.requests as f64 * (1.0 - p.one_hit_share)) as u64;
    let b = measure(&base).one_hit_share;
    let non_inv = (s.requests - s.invalidations) as f64;
    // One-hit wonders among lookups and writes (DELETEs are neither).
    let q = p.one_hit_share * (1.0 - scan_share(p, non_inv)) / (1.0 - s.share(Op::Delete));
    let expect = q + (1.0 - q) * b;
    let got = s.one_hit_share;
    assert!(
        (got - expect).abs() < 0.01,
        "{}: {got} vs {expect}",
        p.preset
    );
}

#[test]
fn zipf_preset() {
    let p = params("zipf");
    let s = measure(&p);
    check_op_mix(&p, &s);
    check_sizes(&p, &s);
    assert!(
        (s.zipf_alpha - p.alpha).abs() < 0.06,
        "alpha {}",
        s.zipf_alpha
    );
    assert!(s.one_hit_share < 0.05);
}

#[test]
fn s3_app_preset() {
    let p = params("s3-app");
    let s = measure(&p);
    check_op_mix(&p, &s);
    check_sizes(&p, &s);
    check_one_hit(&p, &s);
    // Invalidations share their write's timestamp; the other ~920 k requests
    // at 2000/s span ~460 s, so 60 s and 300 s TTLs matter.
    let expect = (s.requests - s.invalidations) as f64 / p.rate;
    assert!(
        (s.duration_s - expect).abs() < 5.0,
        "{} vs {expect}",
        s.duration_s
    );
}

#[test]
fn scan_mix_preset() {
    let p = params("scan-mix");
    let s = measure(&p);
    check_op_mix(&p, &s);
    check_sizes(&p, &s);
    // Scans add one request per walked object; the head keeps its slope.
    assert!(
        (s.zipf_alpha - p.alpha).abs() < 0.06,
        "alpha {}",
        s.zipf_alpha
    );
    // Nearly every object is walked by some scan: distinct keys ≈ population.
    assert!(s.keys as f64 > 0.95 * p.objects as f64, "{}", s.keys);
}

#[test]
fn one_hit_wonders_preset() {
    let p = params("one-hit-wonders");
    let s = measure(&p);
    check_op_mix(&p, &s);
    check_sizes(&p, &s);
    check_one_hit(&p, &s);
    assert!(
        (s.zipf_alpha - p.alpha).abs() < 0.06,
        "alpha {}",
        s.zipf_alpha
    );
}

#[test]
fn shifting_preset_drifts() {
    let p = params("shifting");
    let s = measure(&p);
    check_op_mix(&p, &s);
    check_sizes(&p, &s);
    // The hot set moves: the 20 most requested objects of the first 10 %
    // and of the last 10 % of the trace barely overlap.
    let reqs: Vec<_> = Generator::new(p.clone()).collect();
    let top = |slice: &[clockwheel_harness::trace::Request]| {
        let mut counts = std::collections::HashMap::new();
        for r in slice.iter().filter(|r| r.op == Op::Get) {
            *counts.entry(r.key).or_insert(0u32) += 1;
        }
        let mut v: Vec<(u32, u64)> = counts.into_iter().map(|(k, c)| (c, k)).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().take(20).map(|(_, k)| k).collect::<Vec<u64>>()
    };
    let tenth = reqs.len() / 10;
    let (a, b) = (top(&reqs[..tenth]), top(&reqs[reqs.len() - tenth..]));
    let common = a.iter().filter(|k| b.contains(k)).count();
    assert!(common <= 2, "{common} of the top 20 stayed hot");
}

#[test]
fn presets_are_deterministic_by_seed() {
    for name in PRESETS {
        let mut p = params(name);
        p.requests = 5_000;
        let a: Vec<_> = Generator::new(p.clone()).collect();
        let b: Vec<_> = Generator::new(p.clone()).collect();
        p.seed += 1;
        let c: Vec<_> = Generator::new(p).collect();
        assert_eq!(a, b, "{name}");
        assert_ne!(a, c, "{name}");
        // Batches (the replay path) give the same requests as the iterator.
        let mut g = Generator::new(params_with(name, 5_000));
        let mut batched = Vec::new();
        while g.read_batch(&mut batched, 777).unwrap() > 0 {}
        assert_eq!(a, batched, "{name}");
    }
}

fn params_with(preset: &str, requests: u64) -> WorkloadParams {
    WorkloadParams {
        requests,
        ..params(preset)
    }
}

#[test]
fn command_line_overrides_reach_the_generator() {
    use clockwheel_harness::overrides::WorkloadArgs;
    use clockwheel_harness::trace::{key_class, KeyClass};
    let mut p = params("s3-app");
    let args = WorkloadArgs {
        requests: Some(20_000),
        mix: Some("0,0,0,0,1".into()),
        one_hit_share: Some(0.0),
        scan_every: Some(0),
        count_share: Some(1.0),
        count_keys: Some(3),
        count_size: Some(99),
        model_types: Some(2),
        ..Default::default()
    };
    args.apply(&mut p).unwrap();
    let reqs: Vec<_> = Generator::new(p).collect();
    assert_eq!(reqs.len(), 20_000);
    // Only LISTs of count keys, 2 model types x 3 keys, each 99 bytes.
    assert!(reqs.iter().all(|r| r.op == Op::List && r.size == 99));
    assert!(reqs.iter().all(|r| key_class(r.key) == KeyClass::Count));
    let distinct: std::collections::HashSet<u64> = reqs.iter().map(|r| r.key).collect();
    assert_eq!(distinct.len(), 6);
    // Out-of-range values are refused, not clamped.
    for bad in [
        WorkloadArgs {
            model_types: Some(9),
            ..Default::default()
        },
        WorkloadArgs {
            model_size: Some(0.0),
            ..Default::default()
        },
        WorkloadArgs {
            mix: Some("1,2,3".into()),
            ..Default::default()
        },
        WorkloadArgs {
            count_share: Some(1.5),
            ..Default::default()
        },
        WorkloadArgs {
            rate: Some(f64::NAN),
            ..Default::default()
        },
        WorkloadArgs {
            objects: Some(u32::MAX),
            ..Default::default()
        },
    ] {
        assert!(bad.apply(&mut params("s3-app")).is_err(), "{bad:?}");
    }
}
