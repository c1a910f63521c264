//! Fuzz target: the CSV reader with a fuzzer-chosen column layout.
//!
//! The first input byte picks a permutation of the columns, whether a `_`
//! column is present and the header mode; the rest is the file. Invariants:
//! reading never panics; errors are parse errors naming a line of the input;
//! parsed requests written back with the same layout read back equal.

#![no_main]

use std::io::Cursor;

use clockwheel_harness::error::{Location, TraceError};
use clockwheel_harness::formats::csv::{CsvReader, CsvWriter, Header, KeyStyle};
use clockwheel_harness::formats::CsvLayout;
use clockwheel_harness::source::collect;
use libfuzzer_sys::fuzz_target;

const LAYOUTS: [&str; 8] = [
    "time,key,size,op,ttl",
    "key",
    "key,size",
    "op,ttl,_,key,size,time",
    "time,op,key",
    "_,key,_",
    "ttl,key",
    "size,time,key,op",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let mut layout = CsvLayout::parse(LAYOUTS[(selector & 7) as usize]).expect("valid layout");
    layout.header = match selector >> 3 & 3 {
        0 => Header::Auto,
        1 => Header::Yes,
        _ => Header::No,
    };
    let lines = file.split(|&b| b == b'\n').count() as u64;
    let read = collect(&mut CsvReader::new(
        Cursor::new(file),
        "fuzz.csv",
        layout.clone(),
    ));
    let requests = match read {
        Ok(r) => r,
        Err(TraceError::Parse {
            location: Location::Line(n),
            ..
        }) => {
            assert!(n >= 1 && n <= lines, "line {n} of {lines}");
            return;
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    };
    // Keys read from foreign strings are hashed ids: write them as ids.
    let mut out_layout = layout.clone();
    out_layout.header = Header::Yes;
    let mut w = CsvWriter::new(Vec::new(), "fuzz.csv", out_layout.clone(), KeyStyle::Id)
        .expect("writing to memory");
    for r in &requests {
        w.write(r).expect("writing to memory");
    }
    let text = w.finish().expect("writing to memory");
    let again = collect(&mut CsvReader::new(
        Cursor::new(text),
        "again.csv",
        out_layout,
    ))
    .expect("written lines parse");
    assert_eq!(again, requests);
});
