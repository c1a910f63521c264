//! IBM Cloud Object Storage trace lines:
//! `<timestamp ms> <REST.OPERATION> <object id hex> [<size> [<range start> <range end>]]`.
//!
//! Operations GET, PUT, HEAD, DELETE and COPY (`REST.GET.OBJECT`, ...) map to
//! the [`Op`] of the same name. Object ids of up to 16 hex digits are used as
//! they are; longer ids are hashed. Sizes above `u32::MAX` saturate. A range
//! is validated but the whole object is cached. Blank lines and lines
//! starting with `#` are skipped.

use std::io::{BufRead, Write};

use crate::error::TraceError;
use crate::formats::lines::LineReader;
use crate::source::RequestSource;
use crate::trace::{hash_str, Op, Request, NO_NEXT};

/// Streaming reader.
pub struct IbmReader<R> {
    lines: LineReader<R>,
}

impl<R: BufRead> IbmReader<R> {
    /// Reads lines from `inner`; `file` names it in errors.
    pub fn new(inner: R, file: &str) -> Self {
        IbmReader {
            lines: LineReader::new(inner, file),
        }
    }
}

/// Parses one IBM trace line (`Err` holds the message without location).
///
/// ```
/// use clockwheel_harness::formats::ibm::parse_line;
/// use clockwheel_harness::trace::Op;
/// let r = parse_line("1219008 REST.PUT.OBJECT 8d4fcda3d675bac9 1056").unwrap();
/// assert_eq!((r.time_ms, r.op, r.key, r.size), (1_219_008, Op::Put, 0x8d4f_cda3_d675_bac9, 1056));
/// assert!(parse_line("1 REST.POST.OBJECT ab").unwrap_err().contains("unsupported"));
/// ```
pub fn parse_line(line: &str) -> Result<Request, String> {
    let mut fields = line.split_ascii_whitespace();
    let time = fields.next().ok_or("empty line")?;
    let time_ms: u64 = time
        .parse()
        .map_err(|_| format!("timestamp {time:?} is not a non-negative integer"))?;
    let op_field = fields.next().ok_or("missing operation")?;
    let op = parse_op(op_field)?;
    let id = fields.next().ok_or("missing object id")?;
    let key = parse_id(id)?;
    let size = match fields.next() {
        Some(s) => parse_size(s)?,
        None => 0,
    };
    match (fields.next(), fields.next()) {
        (None, _) => {}
        (Some(a), Some(b)) => check_range(a, b)?,
        (Some(_), None) => return Err("range start without range end".into()),
    }
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected field {extra:?} after the range"));
    }
    Ok(Request {
        time_ms,
        key,
        next_access: NO_NEXT,
        size,
        ttl_ms: 0,
        op,
    })
}

fn parse_op(field: &str) -> Result<Op, String> {
    let verb = field
        .strip_prefix("REST.")
        .and_then(|rest| rest.split('.').next())
        .ok_or_else(|| format!("operation {field:?} is not of the form REST.<OP>.<...>"))?;
    match verb.to_ascii_uppercase().as_str() {
        "GET" => Ok(Op::Get),
        "PUT" => Ok(Op::Put),
        "HEAD" => Ok(Op::Head),
        "DELETE" => Ok(Op::Delete),
        "COPY" => Ok(Op::Copy),
        _ => Err(format!("unsupported operation {field:?}")),
    }
}

fn parse_id(id: &str) -> Result<u64, String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("object id {id:?} is not hexadecimal"));
    }
    if id.len() <= 16 {
        Ok(u64::from_str_radix(id, 16).expect("checked hex of at most 16 digits"))
    } else {
        Ok(hash_str(id))
    }
}

fn parse_size(s: &str) -> Result<u32, String> {
    let v: u64 = s
        .parse()
        .map_err(|_| format!("size {s:?} is not a non-negative integer"))?;
    Ok(v.min(u32::MAX as u64) as u32)
}

fn check_range(a: &str, b: &str) -> Result<(), String> {
    let start: u64 = a
        .parse()
        .map_err(|_| format!("range start {a:?} is not an integer"))?;
    let end: u64 = b
        .parse()
        .map_err(|_| format!("range end {b:?} is not an integer"))?;
    if start > end {
        return Err(format!("range start {start} is after range end {end}"));
    }
    Ok(())
}

impl<R: BufRead> RequestSource for IbmReader<R> {
    fn read_batch(&mut self, out: &mut Vec<Request>, max: usize) -> Result<usize, TraceError> {
        let mut n = 0;
        while n < max {
            let Some(line) = self.lines.next_line()? else {
                break;
            };
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let req = parse_line(trimmed).map_err(|m| self.lines.error(m))?;
            out.push(req);
            n += 1;
        }
        Ok(n)
    }

    fn may_invalidate(&self) -> bool {
        false
    }
}

/// Writes requests as IBM trace lines.
pub struct IbmWriter<W> {
    inner: W,
    file: String,
}

impl<W: Write> IbmWriter<W> {
    /// Writes to `inner`; `file` names it in errors.
    pub fn new(inner: W, file: &str) -> Self {
        IbmWriter {
            inner,
            file: file.to_string(),
        }
    }

    /// Writes one request; LIST and INVALIDATE have no IBM equivalent.
    pub fn write(&mut self, index: u64, r: &Request) -> Result<(), TraceError> {
        let verb = match r.op {
            Op::Get => "GET",
            Op::Put => "PUT",
            Op::Head => "HEAD",
            Op::Delete => "DELETE",
            Op::Copy => "COPY",
            Op::List | Op::Invalidate => {
                return Err(TraceError::Unrepresentable {
                    file: self.file.clone(),
                    index,
                    message: format!("{} has no IBM trace operation", r.op),
                })
            }
        };
        writeln!(
            self.inner,
            "{} REST.{verb}.OBJECT {:016x} {}",
            r.time_ms, r.key, r.size
        )
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
