//! Fuzz target: the libCacheSim oracleGeneral reader on arbitrary bytes.
//!
//! Invariants: reading never panics; it either yields `len / 24` requests or
//! stops with a parse error located at a byte offset inside the input (a
//! record's start for a truncated record, its next-access field for a bad
//! index), and every request it returns re-encodes to the record it came from.

#![no_main]

use std::io::Cursor;

use clockwheel_harness::error::{Location, TraceError};
use clockwheel_harness::formats::oracle::{OracleReader, OracleWriter, RECORD};
use clockwheel_harness::source::RequestSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = OracleReader::new(Cursor::new(data), "fuzz.bin");
    let mut out = Vec::new();
    // Small batches exercise the refill path across record boundaries.
    let result = loop {
        match reader.read_batch(&mut out, 7) {
            Ok(0) => break Ok(()),
            Ok(_) => continue,
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(()) => assert_eq!(out.len(), data.len() / RECORD),
        Err(TraceError::Parse {
            location: Location::Byte(at),
            ..
        }) => {
            assert!(at < data.len() as u64, "offset {at} past the input");
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
    // Whatever was read re-encodes to the same bytes (times are whole seconds).
    let mut w = OracleWriter::new(Vec::new(), "fuzz.bin");
    for (i, r) in out.iter().enumerate() {
        w.write(i as u64, r)
            .expect("a decoded record is representable");
    }
    let bytes = w.finish().expect("writing to memory");
    assert_eq!(&bytes[..], &data[..bytes.len()]);
});
