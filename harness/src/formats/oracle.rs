//! libCacheSim `oracleGeneral`: 24-byte little-endian records
//! `u32 time (s), u64 object id, u32 size, i64 next-access index (-1 = none)`.
//!
//! Every request reads as a GET. Times are whole seconds in the file and
//! milliseconds in memory (written truncated, read multiplied by 1000).

use std::io::{Read, Write};

use crate::error::{Location, TraceError};
use crate::source::RequestSource;
use crate::trace::{Request, NO_NEXT};

/// Bytes per record.
pub const RECORD: usize = 24;
const RECORDS_PER_READ: usize = 1 << 14;

/// Streaming reader.
///
/// ```
/// use clockwheel_harness::formats::oracle::OracleReader;
/// use clockwheel_harness::source::collect;
/// let mut rec = Vec::new();
/// rec.extend(7u32.to_le_bytes()); // time, s
/// rec.extend(42u64.to_le_bytes()); // object id
/// rec.extend(512u32.to_le_bytes()); // size
/// rec.extend((-1i64).to_le_bytes()); // no next access
/// let reqs = collect(&mut OracleReader::new(&rec[..], "one.bin")).unwrap();
/// assert_eq!((reqs[0].time_ms, reqs[0].key, reqs[0].size), (7_000, 42, 512));
/// let err = collect(&mut OracleReader::new(&rec[..20], "cut.bin")).unwrap_err();
/// assert_eq!(err.to_string(), "cut.bin: byte offset 0: truncated record: 20 of 24 bytes");
/// ```
pub struct OracleReader<R> {
    inner: R,
    file: String,
    buf: Vec<u8>,
    filled: usize,
    pos: usize,
    offset: u64,
    eof: bool,
}

impl<R: Read> OracleReader<R> {
    /// Reads records from `inner`; `file` names it in errors.
    pub fn new(inner: R, file: &str) -> Self {
        OracleReader {
            inner,
            file: file.to_string(),
            buf: vec![0; RECORD * RECORDS_PER_READ],
            filled: 0,
            pos: 0,
            offset: 0,
            eof: false,
        }
    }

    /// Refills the buffer, keeping a partial record at its front.
    fn refill(&mut self) -> Result<(), TraceError> {
        self.buf.copy_within(self.pos..self.filled, 0);
        self.filled -= self.pos;
        self.pos = 0;
        while !self.eof && self.filled < self.buf.len() {
            match self.inner.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TraceError::io(&self.file, e)),
            }
        }
        Ok(())
    }

    fn decode(&self, rec: &[u8]) -> Result<Request, TraceError> {
        let time = u32::from_le_bytes(rec[0..4].try_into().expect("4 bytes"));
        let key = u64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
        let size = u32::from_le_bytes(rec[12..16].try_into().expect("4 bytes"));
        let next = i64::from_le_bytes(rec[16..24].try_into().expect("8 bytes"));
        let next_access = match next {
            -1 => NO_NEXT,
            n if n >= 0 => n as u64,
            n => {
                let at = Location::Byte(self.offset + 16);
                let msg = format!("next-access index {n} is negative and not -1");
                return Err(TraceError::parse(&self.file, at, msg));
            }
        };
        Ok(Request {
            time_ms: time as u64 * 1000,
            next_access,
            ..Request::get(0, key, size)
        })
    }
}

impl<R: Read> RequestSource for OracleReader<R> {
    fn read_batch(&mut self, out: &mut Vec<Request>, max: usize) -> Result<usize, TraceError> {
        let mut n = 0;
        while n < max {
            if self.filled - self.pos < RECORD {
                self.refill()?;
                let left = self.filled - self.pos;
                if left == 0 {
                    break;
                }
                if left < RECORD {
                    let msg = format!("truncated record: {left} of {RECORD} bytes");
                    let at = Location::Byte(self.offset);
                    return Err(TraceError::parse(&self.file, at, msg));
                }
            }
            let req = self.decode(&self.buf[self.pos..self.pos + RECORD])?;
            out.push(req);
            self.pos += RECORD;
            self.offset += RECORD as u64;
            n += 1;
        }
        Ok(n)
    }

    fn has_next_access(&self) -> bool {
        true
    }

    fn may_invalidate(&self) -> bool {
        false
    }
}

/// Writes requests as oracleGeneral records.
pub struct OracleWriter<W> {
    inner: W,
    file: String,
}

impl<W: Write> OracleWriter<W> {
    /// Writes to `inner`; `file` names it in errors.
    pub fn new(inner: W, file: &str) -> Self {
        OracleWriter {
            inner,
            file: file.to_string(),
        }
    }

    /// Encodes one request. Times past u32 seconds are an error.
    pub fn write(&mut self, index: u64, r: &Request) -> Result<(), TraceError> {
        let secs = u32::try_from(r.time_ms / 1000).map_err(|_| TraceError::Unrepresentable {
            file: self.file.clone(),
            index,
            message: format!("time {} ms does not fit u32 seconds", r.time_ms),
        })?;
        let next: i64 = if r.next_access == NO_NEXT {
            -1
        } else {
            r.next_access as i64
        };
        let mut rec = [0u8; RECORD];
        rec[0..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..12].copy_from_slice(&r.key.to_le_bytes());
        rec[12..16].copy_from_slice(&r.size.to_le_bytes());
        rec[16..24].copy_from_slice(&next.to_le_bytes());
        self.inner
            .write_all(&rec)
            .map_err(|e| TraceError::io(&self.file, e))
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W, TraceError> {
        self.inner
            .flush()
            .map_err(|e| TraceError::io(&self.file, e))?;
        Ok(self.inner)
    }
}
