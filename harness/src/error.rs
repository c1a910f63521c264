//! Errors of trace readers and writers: every parse error names the file,
//! where in it (line or byte offset) and what was wrong.

use std::fmt;
use std::io;

/// Where in a file a problem was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based line number (text formats).
    Line(u64),
    /// Byte offset from the start of the file (binary formats).
    Byte(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Byte(n) => write!(f, "byte offset {n}"),
        }
    }
}

/// A trace could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The content is malformed.
    #[error("{file}: {location}: {message}")]
    Parse {
        /// File name as given by the user.
        file: String,
        /// Where the problem is.
        location: Location,
        /// What was wrong.
        message: String,
    },
    /// The operating system reported an error.
    #[error("{file}: {source}")]
    Io {
        /// File name as given by the user.
        file: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// A request cannot be expressed in the target format.
    #[error("{file}: request {index}: {message}")]
    Unrepresentable {
        /// File name as given by the user.
        file: String,
        /// 0-based request index.
        index: u64,
        /// Why it cannot be written.
        message: String,
    },
}

impl TraceError {
    /// Builds a parse error.
    pub fn parse(file: &str, location: Location, message: impl Into<String>) -> Self {
        TraceError::Parse {
            file: file.to_string(),
            location,
            message: message.into(),
        }
    }

    /// Wraps an I/O error.
    pub fn io(file: &str, source: io::Error) -> Self {
        TraceError::Io {
            file: file.to_string(),
            source,
        }
    }
}
