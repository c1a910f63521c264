//! CSV traces with configurable columns.
//!
//! A layout names the columns in order (`time,key,size,op,ttl`; `_` skips a
//! column). Units: `time` in milliseconds, `size` in bytes, `ttl` in seconds
//! (decimals allowed, 0 or empty = none), `op` one of GET, HEAD, LIST, PUT,
//! DELETE, COPY, INVALIDATE. Keys that parse as decimal integers are ids;
//! S3verless names written by this harness parse back to their ids; any other
//! string is hashed. Missing columns default to time 0, size 0, GET, no TTL.
//! Fields may be wrapped in double quotes; quoted commas are not supported.

use std::io::{BufRead, Write};

use crate::error::TraceError;
use crate::formats::lines::LineReader;
use crate::source::RequestSource;
use crate::trace::{hash_str, key_name, parse_key_name, Op, Request, NO_NEXT};

/// One CSV column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// Trace time, milliseconds.
    Time,
    /// Object key.
    Key,
    /// Size in bytes.
    Size,
    /// Operation name.
    Op,
    /// Time to live, seconds.
    Ttl,
    /// Ignored.
    Skip,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Time => "time",
            Column::Key => "key",
            Column::Size => "size",
            Column::Op => "op",
            Column::Ttl => "ttl",
            Column::Skip => "_",
        }
    }
}

/// Whether the first line is a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// Skip the first line if its fields are the column names.
    Auto,
    /// The first line is a header.
    Yes,
    /// There is no header.
    No,
}

/// Column layout of a CSV trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvLayout {
    /// Columns in file order.
    pub columns: Vec<Column>,
    /// Header handling.
    pub header: Header,
}

impl Default for CsvLayout {
    fn default() -> Self {
        CsvLayout::parse("time,key,size,op,ttl").expect("valid default layout")
    }
}

impl CsvLayout {
    /// Parses a column list such as `time,key,size,op,ttl` (header: auto).
    ///
    /// ```
    /// use clockwheel_harness::formats::CsvLayout;
    /// let layout = CsvLayout::parse("time,_,key,size").unwrap();
    /// let r = layout.parse_line("1500,ignored,photos/a.jpg,2048").unwrap();
    /// assert_eq!((r.time_ms, r.size), (1500, 2048));
    /// assert!(CsvLayout::parse("time,size").is_err()); // no key column
    /// ```
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut columns = Vec::new();
        for name in spec.split(',').map(str::trim) {
            let c = match name.to_ascii_lowercase().as_str() {
                "time" => Column::Time,
                "key" => Column::Key,
                "size" => Column::Size,
                "op" => Column::Op,
                "ttl" => Column::Ttl,
                "_" | "skip" => Column::Skip,
                other => return Err(format!("unknown CSV column {other:?}")),
            };
            if c != Column::Skip && columns.contains(&c) {
                return Err(format!("CSV column {name:?} given twice"));
            }
            columns.push(c);
        }
        if !columns.contains(&Column::Key) {
            return Err("CSV layout needs a key column".into());
        }
        Ok(CsvLayout {
            columns,
            header: Header::Auto,
        })
    }

    fn header_line(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name()).collect();
        names.join(",")
    }

    fn is_header(&self, line: &str) -> bool {
        let fields: Vec<&str> = line.split(',').map(|f| unquote(f.trim())).collect();
        fields.len() == self.columns.len()
            && fields
                .iter()
                .zip(&self.columns)
                .all(|(f, c)| *c == Column::Skip || f.eq_ignore_ascii_case(c.name()))
    }

    /// Parses one data line (`Err` holds the message without location).
    pub fn parse_line(&self, line: &str) -> Result<Request, String> {
        let mut req = Request {
            next_access: NO_NEXT,
            ..Request::default()
        };
        let mut count = 0;
        for (i, field) in line.split(',').enumerate() {
            count += 1;
            let Some(col) = self.columns.get(i) else {
                continue;
            };
            parse_field(*col, unquote(field.trim()), &mut req)?;
        }
        if count != self.columns.len() {
            return Err(format!(
                "{count} fields, the layout has {} columns",
                self.columns.len()
            ));
        }
        Ok(req)
    }
}

fn unquote(f: &str) -> &str {
    f.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(f)
}

fn parse_field(col: Column, f: &str, req: &mut Request) -> Result<(), String> {
    match col {
        Column::Time => {
            req.time_ms = f
                .parse()
                .map_err(|_| format!("time {f:?} is not a non-negative integer (ms)"))?
        }
        Column::Key => req.key = parse_key(f)?,
        Column::Size => {
            req.size = f
                .parse()
                .map_err(|_| format!("size {f:?} is not an integer in 0..=4294967295"))?
        }
        Column::Op => req.op = Op::parse(f).ok_or_else(|| format!("unknown operation {f:?}"))?,
        Column::Ttl => req.ttl_ms = parse_ttl(f)?,
        Column::Skip => {}
    }
    Ok(())
}

fn parse_key(f: &str) -> Result<u64, String> {
    if f.is_empty() {
        return Err("empty key".into());
    }
    if f.bytes().all(|b| b.is_ascii_digit()) {
        return f.parse().map_err(|_| format!("key {f:?} overflows u64"));
    }
    Ok(parse_key_name(f).unwrap_or_else(|| hash_str(f)))
}

fn parse_ttl(f: &str) -> Result<u32, String> {
    if f.is_empty() {
        return Ok(0);
    }
    let secs: f64 = f
        .parse()
        .map_err(|_| format!("ttl {f:?} is not a number of seconds"))?;
    if !(0.0..=4_294_967.0).contains(&secs) {
        return Err(format!("ttl {f:?} is outside 0..=4294967 seconds"));
    }
    Ok((secs * 1000.0).round() as u32)
}

/// Streaming reader.
pub struct CsvReader<R> {
    lines: LineReader<R>,
    layout: CsvLayout,
    first: bool,
}

impl<R: BufRead> CsvReader<R> {
    /// Reads from `inner` with `layout`; `file` names it in errors.
    pub fn new(inner: R, file: &str, layout: CsvLayout) -> Self {
        CsvReader {
            lines: LineReader::new(inner, file),
            layout,
            first: true,
        }
    }
}

impl<R: BufRead> RequestSource for CsvReader<R> {
    fn read_batch(&mut self, out: &mut Vec<Request>, max: usize) -> Result<usize, TraceError> {
        let mut n = 0;
        while n < max {
            let Some(line) = self.lines.next_line()? else {
                break;
            };
            if std::mem::take(&mut self.first) {
                let skip = match self.layout.header {
                    Header::Yes => true,
                    Header::No => false,
                    Header::Auto => self.layout.is_header(line),
                };
                if skip {
                    continue;
                }
            }
            if line.trim().is_empty() {
                continue;
            }
            let req = self
                .layout
                .parse_line(line)
                .map_err(|m| self.lines.error(m))?;
            out.push(req);
            n += 1;
        }
        Ok(n)
    }
}

/// How keys are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStyle {
    /// Decimal ids.
    Id,
    /// S3verless-style names (parse back to the same ids).
    Name,
}

/// Writes requests as CSV.
pub struct CsvWriter<W> {
    inner: W,
    file: String,
    layout: CsvLayout,
    keys: KeyStyle,
}

impl<W: Write> CsvWriter<W> {
    /// Writes to `inner`; a header line is written first unless the layout
    /// says `Header::No`.
    pub fn new(
        mut inner: W,
        file: &str,
        layout: CsvLayout,
        keys: KeyStyle,
    ) -> Result<Self, TraceError> {
        if layout.header != Header::No {
            writeln!(inner, "{}", layout.header_line()).map_err(|e| TraceError::io(file, e))?;
        }
        Ok(CsvWriter {
            inner,
            file: file.to_string(),
            layout,
            keys,
        })
    }

    /// Writes one request.
    pub fn write(&mut self, r: &Request) -> Result<(), TraceError> {
        let mut line = String::with_capacity(64);
        for (i, col) in self.layout.columns.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            self.push_field(*col, r, &mut line);
        }
        line.push('\n');
        self.inner
            .write_all(line.as_bytes())
            .map_err(|e| TraceError::io(&self.file, e))
    }

    fn push_field(&self, col: Column, r: &Request, line: &mut String) {
        use std::fmt::Write as _;
        let _ = match col {
            Column::Time => write!(line, "{}", r.time_ms),
            Column::Key => match self.keys {
                KeyStyle::Id => write!(line, "{}", r.key),
                KeyStyle::Name => write!(line, "{}", key_name(r.key)),
            },
            Column::Size => write!(line, "{}", r.size),
            Column::Op => write!(line, "{}", r.op),
            Column::Ttl if r.ttl_ms % 1000 == 0 => write!(line, "{}", r.ttl_ms / 1000),
            Column::Ttl => write!(line, "{}.{:03}", r.ttl_ms / 1000, r.ttl_ms % 1000),
            Column::Skip => Ok(()),
        };
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W, TraceError> {
        self.inner
            .flush()
            .map_err(|e| TraceError::io(&self.file, e))?;
        Ok(self.inner)
    }
}
