//! Round trips for every writable format and error reporting for malformed
//! input (file name, line or byte offset, what was wrong; never a panic).

use std::io::Cursor;

use clockwheel_harness::error::{Location, TraceError};
use clockwheel_harness::formats::csv::{CsvReader, Header};
use clockwheel_harness::formats::ibm::IbmReader;
use clockwheel_harness::formats::oracle::OracleReader;
use clockwheel_harness::formats::{CsvLayout, Format, KeyStyle, TraceWriter};
use clockwheel_harness::generator::Generator;
use clockwheel_harness::source::{collect, RequestSource};
use clockwheel_harness::trace::{annotate_next_access, Op, Request};
use clockwheel_harness::workload::{OpMix, WorkloadParams};

fn synthetic(preset: &str, n: u64) -> Vec<Request> {
    let mut p = WorkloadParams::preset(preset).unwrap();
    p.requests = n;
    Generator::new(p).collect()
}

fn write_all(reqs: &[Request], format: Format, layout: &CsvLayout, keys: KeyStyle) -> Vec<u8> {
    let mut w = TraceWriter::new(Vec::new(), "mem", format, layout, keys).unwrap();
    for (i, r) in reqs.iter().enumerate() {
        w.write(i as u64, r).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn oracle_round_trip() {
    let mut reqs = synthetic("zipf", 20_000);
    annotate_next_access(&mut reqs);
    let bytes = write_all(&reqs, Format::Oracle, &CsvLayout::default(), KeyStyle::Id);
    assert_eq!(bytes.len(), reqs.len() * 24);
    let back = collect(&mut OracleReader::new(Cursor::new(bytes), "t.bin")).unwrap();
    // The format keeps whole seconds, the key, the size and next access.
    let expect: Vec<Request> = reqs
        .iter()
        .map(|r| Request {
            time_ms: r.time_ms / 1000 * 1000,
            ..*r
        })
        .collect();
    assert_eq!(back, expect);
}

#[test]
fn ibm_round_trip() {
    let mut p = WorkloadParams::preset("zipf").unwrap();
    p.requests = 20_000;
    // Uploads only: model PUTs would add INVALIDATEs, which IBM cannot express.
    p.upload_share = 1.0;
    p.mix = OpMix {
        get: 80.0,
        head: 10.0,
        put: 8.0,
        delete: 2.0,
        list: 0.0,
    };
    let reqs: Vec<Request> = Generator::new(p).collect();
    assert!(reqs.iter().any(|r| r.op == Op::Delete));
    let bytes = write_all(&reqs, Format::Ibm, &CsvLayout::default(), KeyStyle::Id);
    let back = collect(&mut IbmReader::new(Cursor::new(bytes), "t.txt")).unwrap();
    // IBM lines carry time, op, key and size; no TTL.
    let expect: Vec<Request> = reqs.iter().map(|r| Request { ttl_ms: 0, ..*r }).collect();
    assert_eq!(back, expect);
}

#[test]
fn ibm_rejects_list_and_invalidate() {
    let r = Request {
        op: Op::List,
        ..Request::get(0, 1, 1)
    };
    let mut w = TraceWriter::new(
        Vec::new(),
        "x",
        Format::Ibm,
        &CsvLayout::default(),
        KeyStyle::Id,
    )
    .unwrap();
    assert!(matches!(
        w.write(7, &r),
        Err(TraceError::Unrepresentable { index: 7, .. })
    ));
}

#[test]
fn csv_round_trip_both_key_styles_and_layouts() {
    let reqs = synthetic("s3-app", 30_000);
    assert!(reqs.iter().any(|r| r.op == Op::Invalidate));
    for keys in [KeyStyle::Id, KeyStyle::Name] {
        for (spec, header) in [
            ("time,key,size,op,ttl", Header::Auto),
            ("op,ttl,_,key,size,time", Header::No),
        ] {
            let mut layout = CsvLayout::parse(spec).unwrap();
            layout.header = header;
            let bytes = write_all(&reqs, Format::Csv, &layout, keys);
            let back = collect(&mut CsvReader::new(Cursor::new(bytes), "t.csv", layout)).unwrap();
            assert_eq!(back, reqs, "{keys:?} {spec}");
        }
    }
}

fn parse_err(src: &mut dyn RequestSource) -> (String, Location, String) {
    match collect(src) {
        Err(TraceError::Parse {
            file,
            location,
            message,
        }) => (file, location, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn oracle_errors_name_offsets() {
    let mut bytes = vec![0u8; 24 * 2 + 10];
    let (f, at, msg) = parse_err(&mut OracleReader::new(Cursor::new(bytes.clone()), "a.bin"));
    assert_eq!((f.as_str(), at), ("a.bin", Location::Byte(48)));
    assert!(msg.contains("truncated"), "{msg}");
    bytes.truncate(48);
    bytes[24 + 16..48].copy_from_slice(&(-5i64).to_le_bytes());
    let (_, at, msg) = parse_err(&mut OracleReader::new(Cursor::new(bytes), "a.bin"));
    assert_eq!(at, Location::Byte(40));
    assert!(msg.contains("-5"), "{msg}");
}

#[test]
fn ibm_errors_name_lines() {
    let cases = [
        (
            "1 REST.GET.OBJECT ab 10\nx REST.GET.OBJECT ab\n",
            2,
            "timestamp",
        ),
        ("1 REST.POST.OBJECT ab\n", 1, "unsupported operation"),
        ("1 REST.GET.OBJECT zz\n", 1, "hexadecimal"),
        ("\n# c\n1 REST.GET.OBJECT ab 10 5\n", 3, "range end"),
        ("1 REST.GET.OBJECT ab 10 9 3\n", 1, "after range end"),
        ("1 GET ab\n", 1, "REST.<OP>"),
        ("1 REST.GET.OBJECT ab -4\n", 1, "size"),
    ];
    for (text, line, what) in cases {
        let mut r = IbmReader::new(Cursor::new(text.as_bytes().to_vec()), "ibm.txt");
        let (f, at, msg) = parse_err(&mut r);
        assert_eq!(
            (f.as_str(), at),
            ("ibm.txt", Location::Line(line)),
            "{text:?}"
        );
        assert!(msg.contains(what), "{text:?}: {msg}");
    }
    let ok = "100 REST.HEAD.OBJECT 8d4fcda3d675bac9 1056 0 99\n";
    let got = collect(&mut IbmReader::new(
        Cursor::new(ok.as_bytes().to_vec()),
        "f",
    ))
    .unwrap();
    assert_eq!(
        (got[0].op, got[0].key, got[0].size),
        (Op::Head, 0x8d4f_cda3_d675_bac9, 1056)
    );
}

#[test]
fn csv_errors_name_lines() {
    let cases = [
        (
            "time,key,size,op,ttl\n1,k,2,GET,0\n1,k,2,FETCH,0\n",
            3,
            "operation",
        ),
        ("1,k,2,GET\n", 1, "4 fields"),
        ("1,k,-2,GET,0\n", 1, "size"),
        ("1,,2,GET,0\n", 1, "empty key"),
        ("1,k,2,GET,-1\n", 1, "ttl"),
        ("1,k,2,GET,0\n\u{0}\u{ff}", 2, "time"),
    ];
    for (text, line, what) in cases {
        let layout = CsvLayout::default();
        let mut r = CsvReader::new(Cursor::new(text.as_bytes().to_vec()), "t.csv", layout);
        let (f, at, msg) = parse_err(&mut r);
        assert_eq!(
            (f.as_str(), at),
            ("t.csv", Location::Line(line)),
            "{text:?}"
        );
        assert!(msg.contains(what), "{text:?}: {msg}");
    }
    let bad_utf8 = b"1,k,2,GET,0\n1,\xff,2,GET,0\n".to_vec();
    let mut r = CsvReader::new(Cursor::new(bad_utf8), "u.csv", CsvLayout::default());
    let (_, at, msg) = parse_err(&mut r);
    assert_eq!(at, Location::Line(2));
    assert!(msg.contains("UTF-8"), "{msg}");
    assert!(CsvLayout::parse("time,size").is_err());
    assert!(CsvLayout::parse("key,key").is_err());
}

#[test]
fn csv_foreign_string_keys_hash_consistently() {
    let text = "key\nphotos/a.jpg\nphotos/b.jpg\nphotos/a.jpg\n";
    let layout = CsvLayout::parse("key").unwrap();
    let got = collect(&mut CsvReader::new(
        Cursor::new(text.as_bytes().to_vec()),
        "k.csv",
        layout,
    ))
    .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].key, got[2].key);
    assert_ne!(got[0].key, got[1].key);
}
