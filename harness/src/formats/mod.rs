//! Trace file formats: libCacheSim oracleGeneral, IBM COS text, CSV.

pub mod csv;
pub mod ibm;
pub mod lines;
pub mod oracle;

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use crate::error::TraceError;
use crate::source::RequestSource;
use crate::trace::Request;

pub use self::csv::{CsvLayout, KeyStyle};

/// A trace file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Format {
    /// libCacheSim oracleGeneral binary records.
    Oracle,
    /// IBM Cloud Object Storage text lines.
    Ibm,
    /// CSV with configurable columns.
    Csv,
}

impl Format {
    /// Guesses a format from a file extension (`.oracleGeneral`/`.bin`, `.csv`, else IBM).
    pub fn from_path(path: &Path) -> Format {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".csv") {
            Format::Csv
        } else if name.contains("oraclegeneral") || name.ends_with(".bin") {
            Format::Oracle
        } else {
            Format::Ibm
        }
    }
}

const BUF: usize = 1 << 20;

/// Opens a trace file for streaming.
pub fn open_reader(
    path: &Path,
    format: Format,
    layout: &CsvLayout,
) -> Result<Box<dyn RequestSource>, TraceError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| TraceError::io(&name, e))?;
    Ok(match format {
        // The oracle reader buffers whole records itself: no second copy.
        Format::Oracle => Box::new(oracle::OracleReader::new(file, &name)),
        Format::Ibm => Box::new(ibm::IbmReader::new(
            BufReader::with_capacity(BUF, file),
            &name,
        )),
        Format::Csv => {
            let reader = BufReader::with_capacity(BUF, file);
            Box::new(csv::CsvReader::new(reader, &name, layout.clone()))
        }
    })
}

/// A writer for any format.
pub enum TraceWriter<W: Write> {
    /// oracleGeneral.
    Oracle(oracle::OracleWriter<W>),
    /// IBM text.
    Ibm(ibm::IbmWriter<W>),
    /// CSV.
    Csv(csv::CsvWriter<W>),
}

impl<W: Write> TraceWriter<W> {
    /// Creates a writer of `format` over `inner`.
    pub fn new(
        inner: W,
        name: &str,
        format: Format,
        layout: &CsvLayout,
        keys: KeyStyle,
    ) -> Result<Self, TraceError> {
        Ok(match format {
            Format::Oracle => TraceWriter::Oracle(oracle::OracleWriter::new(inner, name)),
            Format::Ibm => TraceWriter::Ibm(ibm::IbmWriter::new(inner, name)),
            Format::Csv => {
                TraceWriter::Csv(csv::CsvWriter::new(inner, name, layout.clone(), keys)?)
            }
        })
    }

    /// Writes request number `index`.
    pub fn write(&mut self, index: u64, r: &Request) -> Result<(), TraceError> {
        match self {
            TraceWriter::Oracle(w) => w.write(index, r),
            TraceWriter::Ibm(w) => w.write(index, r),
            TraceWriter::Csv(w) => w.write(r),
        }
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> Result<W, TraceError> {
        match self {
            TraceWriter::Oracle(w) => w.finish(),
            TraceWriter::Ibm(w) => w.finish(),
            TraceWriter::Csv(w) => w.finish(),
        }
    }
}

/// Creates `path` and returns a buffered writer of `format` for it.
pub fn create_writer(
    path: &Path,
    format: Format,
    layout: &CsvLayout,
    keys: KeyStyle,
) -> Result<TraceWriter<BufWriter<File>>, TraceError> {
    let name = path.display().to_string();
    let file = File::create(path).map_err(|e| TraceError::io(&name, e))?;
    TraceWriter::new(
        BufWriter::with_capacity(BUF, file),
        &name,
        format,
        layout,
        keys,
    )
}
