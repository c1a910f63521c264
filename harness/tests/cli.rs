//! The command line end to end: generate a trace file, replay it, sweep it
//! into an SVG, and fail cleanly (an error naming the file and line, no
//! panic) on a malformed trace.

use clockwheel_harness::cli::run_with;

fn harness(args: &[&str]) -> anyhow::Result<()> {
    run_with(std::iter::once("clockwheel-harness").chain(args.iter().copied()))
}

#[test]
fn generate_then_replay_each_format() {
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("t.oracleGeneral", &[][..]),
        ("t.csv", &[][..]),
        // IBM lines cannot express LIST or INVALIDATE: GETs and HEADs only.
        ("t.txt", &["--mix", "90,10,0,0,0"][..]),
    ] {
        let path = dir.path().join(name);
        let path = path.to_str().unwrap();
        let mut args = vec!["generate", "--preset", "zipf", "--requests", "5000", "-q"];
        args.extend_from_slice(extra);
        args.extend(["-o", path]);
        harness(&args).unwrap();
        assert!(std::fs::metadata(path).unwrap().len() > 0, "{name}");
        harness(&["run", "--trace", path, "--capacity", "100", "-q", "--json"]).unwrap();
    }
}

#[test]
fn sweep_writes_an_svg_with_every_policy() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("mrc.svg");
    let svg_path = svg.to_str().unwrap();
    let policies = "lru,fifo,clock,belady,clockwheel-clock";
    harness(&[
        "sweep",
        "--preset",
        "zipf",
        "--requests",
        "20000",
        "--fractions",
        "0.01,0.1",
        "--policies",
        policies,
        "--svg",
        svg_path,
        "--csv",
        "-q",
    ])
    .unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    for p in policies.split(',') {
        assert!(text.contains(p), "{p} missing from the plot");
    }
}

#[test]
fn malformed_trace_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "time,key,size,op,ttl\n1,a,10,GET,0\n2,b,ten,GET,0\n").unwrap();
    let err = harness(&[
        "run",
        "--trace",
        path.to_str().unwrap(),
        "--capacity",
        "10",
        "-q",
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("bad.csv") && err.contains("line 3"), "{err}");
    assert!(err.contains("size \"ten\""), "{err}");
}

#[test]
fn bad_arguments_are_errors() {
    assert!(harness(&["--capacity", "0%"]).is_err());
    assert!(harness(&["--preset", "zipf", "--alpha", "-1"]).is_err());
    assert!(harness(&["--trace", "/nonexistent/trace.csv"]).is_err());
    assert!(harness(&["sweep", "--fractions", "2"]).is_err());
}
