//! Fuzz target: the IBM Cloud Object Storage text reader on arbitrary bytes.
//!
//! Invariants: reading never panics; an error is a parse error naming a line
//! that exists in the input (or an I/O error, impossible for an in-memory
//! cursor); every line that parses, written back by the IBM writer and read
//! again, gives the same request.

#![no_main]

use std::io::Cursor;

use clockwheel_harness::error::{Location, TraceError};
use clockwheel_harness::formats::ibm::{IbmReader, IbmWriter};
use clockwheel_harness::source::collect;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let read = collect(&mut IbmReader::new(Cursor::new(data), "fuzz.txt"));
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
    let mut w = IbmWriter::new(Vec::new(), "fuzz.txt");
    for (i, r) in requests.iter().enumerate() {
        w.write(i as u64, r).expect("IBM operations are writable");
    }
    let text = w.finish().expect("writing to memory");
    let again =
        collect(&mut IbmReader::new(Cursor::new(text), "again.txt")).expect("written lines parse");
    assert_eq!(again, requests);
});
