//! Shared line reading for the text formats: bounded memory, 1-based line
//! numbers, UTF-8 checked, CR/LF endings accepted.

use std::io::{BufRead, Read};

use crate::error::{Location, TraceError};

/// Longest line accepted (a guard against binary input).
pub const MAX_LINE: usize = 1 << 16;

/// Reads lines one at a time into a reused buffer.
pub struct LineReader<R> {
    inner: R,
    file: String,
    buf: Vec<u8>,
    line: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Reads from `inner`; `file` names it in errors.
    pub fn new(inner: R, file: &str) -> Self {
        LineReader {
            inner,
            file: file.to_string(),
            buf: Vec::with_capacity(256),
            line: 0,
        }
    }

    /// The file name used in errors.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based number of the line last returned.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// An error located at the current line.
    pub fn error(&self, message: impl Into<String>) -> TraceError {
        TraceError::parse(&self.file, Location::Line(self.line), message)
    }

    /// The next line without its ending, or `None` at end of file.
    pub fn next_line(&mut self) -> Result<Option<&str>, TraceError> {
        self.buf.clear();
        let mut limited = Read::take(&mut self.inner, MAX_LINE as u64 + 1);
        let n = limited
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| TraceError::io(&self.file, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.len() > MAX_LINE {
            return Err(self.error(format!("line longer than {MAX_LINE} bytes")));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Ok(Some(s)),
            Err(e) => Err(TraceError::parse(
                &self.file,
                Location::Line(self.line),
                format!("not valid UTF-8 at column {}", e.valid_up_to() + 1),
            )),
        }
    }
}
