//! Where requests come from: a synthetic workload, a trace file, or a trace
//! already in memory; reopened for every pass (footprint, replay, sweep).

use std::path::PathBuf;

use crate::error::TraceError;
use crate::formats::{open_reader, CsvLayout, Format};
use crate::generator::Generator;
use crate::source::{collect_with_progress, RequestSource, VecSource};
use crate::trace::{annotate_next_access, Request};
use crate::workload::WorkloadParams;

/// A re-openable request stream.
pub enum TraceInput {
    /// Generated on the fly (deterministic, so every pass sees the same trace).
    Synthetic(WorkloadParams),
    /// A trace file.
    File {
        /// Path of the file.
        path: PathBuf,
        /// Its format.
        format: Format,
        /// CSV layout (CSV only).
        layout: CsvLayout,
    },
    /// Held in memory.
    Memory {
        /// Description of the original source.
        label: String,
        /// The requests.
        requests: Vec<Request>,
        /// Whether next-access indices are filled in.
        has_next: bool,
        /// Workload parameters, if synthetic.
        params: Option<WorkloadParams>,
    },
}

impl TraceInput {
    /// Opens a fresh stream from the start.
    pub fn open(&self) -> Result<Box<dyn RequestSource + '_>, TraceError> {
        Ok(match self {
            TraceInput::Synthetic(p) => Box::new(Generator::new(p.clone())),
            TraceInput::File {
                path,
                format,
                layout,
            } => open_reader(path, *format, layout)?,
            TraceInput::Memory {
                requests, has_next, ..
            } => Box::new(VecSource::new(requests, *has_next)),
        })
    }

    /// Human description.
    pub fn label(&self) -> String {
        match self {
            TraceInput::Synthetic(p) => {
                format!(
                    "synthetic preset {} ({} requests, seed {})",
                    p.preset, p.requests, p.seed
                )
            }
            TraceInput::File { path, format, .. } => format!("{} ({format:?})", path.display()),
            TraceInput::Memory { label, .. } => label.clone(),
        }
    }

    /// Workload parameters, for synthetic inputs.
    pub fn params(&self) -> Option<&WorkloadParams> {
        match self {
            TraceInput::Synthetic(p) => Some(p),
            TraceInput::Memory { params, .. } => params.as_ref(),
            TraceInput::File { .. } => None,
        }
    }

    /// Known request count without reading (for progress bars).
    pub fn len_hint(&self) -> Option<u64> {
        match self {
            TraceInput::Synthetic(p) => Some(p.requests),
            TraceInput::Memory { requests, .. } => Some(requests.len() as u64),
            TraceInput::File { .. } => None,
        }
    }

    /// Loads the trace into memory and fills next-access indices (for
    /// Belady and concurrent replay). Already-annotated inputs keep theirs.
    pub fn into_memory(self) -> Result<TraceInput, TraceError> {
        self.into_memory_with_progress(None)
    }

    /// [`into_memory`](Self::into_memory), advancing `progress` while reading.
    pub fn into_memory_with_progress(
        self,
        progress: Option<&indicatif::ProgressBar>,
    ) -> Result<TraceInput, TraceError> {
        if let TraceInput::Memory { has_next: true, .. } = self {
            return Ok(self);
        }
        let label = self.label();
        let params = self.params().cloned();
        let mut src = self.open()?;
        let has_next = src.has_next_access();
        let mut requests = collect_with_progress(src.as_mut(), progress)?;
        drop(src);
        if !has_next {
            annotate_next_access(&mut requests);
        }
        Ok(TraceInput::Memory {
            label,
            requests,
            has_next: true,
            params,
        })
    }
}
