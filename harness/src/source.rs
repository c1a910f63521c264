//! Streams of requests: the interface every reader and the generator offer.

use crate::error::TraceError;
use crate::trace::Request;

/// A stream of requests read in batches (never the whole trace at once).
pub trait RequestSource {
    /// Appends up to `max` requests to `out` and returns how many were
    /// appended; 0 means the stream has ended.
    fn read_batch(&mut self, out: &mut Vec<Request>, max: usize) -> Result<usize, TraceError>;

    /// Whether the stream's requests carry next-access indices (for Belady).
    fn has_next_access(&self) -> bool {
        false
    }

    /// Whether the stream can contain INVALIDATE requests (formats that
    /// cannot express them say no, and replay skips tracking key prefixes).
    fn may_invalidate(&self) -> bool {
        true
    }
}

/// An in-memory trace as a source.
pub struct VecSource<'a> {
    requests: &'a [Request],
    pos: usize,
    has_next: bool,
}

impl<'a> VecSource<'a> {
    /// Streams `requests`; `has_next` says whether next-access is filled in.
    pub fn new(requests: &'a [Request], has_next: bool) -> Self {
        VecSource {
            requests,
            pos: 0,
            has_next,
        }
    }
}

impl RequestSource for VecSource<'_> {
    fn read_batch(&mut self, out: &mut Vec<Request>, max: usize) -> Result<usize, TraceError> {
        let end = (self.pos + max).min(self.requests.len());
        out.extend_from_slice(&self.requests[self.pos..end]);
        let n = end - self.pos;
        self.pos = end;
        Ok(n)
    }

    fn has_next_access(&self) -> bool {
        self.has_next
    }
}

/// Reads a whole source into memory (for Belady's reverse pass and for
/// concurrent replay).
pub fn collect(source: &mut dyn RequestSource) -> Result<Vec<Request>, TraceError> {
    collect_with_progress(source, None)
}

/// [`collect`], advancing `progress` by the requests read.
pub fn collect_with_progress(
    source: &mut dyn RequestSource,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Vec<Request>, TraceError> {
    let mut all = Vec::new();
    loop {
        let n = source.read_batch(&mut all, 1 << 16)?;
        if n == 0 {
            return Ok(all);
        }
        if let Some(p) = progress {
            p.inc(n as u64);
        }
    }
}
