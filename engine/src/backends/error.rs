//! The one error type of every [`CacheBackend`](super::CacheBackend) operation.

use std::error::Error;
use std::fmt;

use crate::glob::PatternError;

/// Why a backend operation failed.
///
/// The in-process backends of this crate fail only on a pattern they cannot
/// compile; the other variants exist for composites and for backends that talk
/// to a server (a Redis tier reports its I/O errors as [`BackendError::Backend`]).
///
/// ```
/// use clockwheel::backends::BackendError;
///
/// let err = BackendError::Unsupported { backend: "RedisCache", operation: "delete_pattern" };
/// assert_eq!(err.to_string(), "RedisCache does not support delete_pattern");
/// assert!(err.is_unsupported());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend cannot perform this operation at all (for example a store
    /// that cannot enumerate its keys has no `delete_pattern`).
    Unsupported {
        /// The backend's type name, as its stats report it.
        backend: &'static str,
        /// The operation, by its trait method name.
        operation: &'static str,
    },
    /// A `delete_pattern` glob that cannot be compiled (today: only one longer
    /// than [`Pattern::MAX_LEN`](crate::glob::Pattern::MAX_LEN)).
    InvalidPattern(PatternError),
    /// A [`CompositeCache`](super::CompositeCache) was given no tiers.
    NoTiers,
    /// The backend itself failed (network, server, serialization...).
    Backend(Box<dyn Error + Send + Sync + 'static>),
}

impl BackendError {
    /// True for [`BackendError::Unsupported`], which a composite skips over.
    ///
    /// ```
    /// use clockwheel::backends::BackendError;
    ///
    /// assert!(!BackendError::NoTiers.is_unsupported());
    /// ```
    pub fn is_unsupported(&self) -> bool {
        matches!(self, BackendError::Unsupported { .. })
    }

    /// Wraps any error of an external backend.
    ///
    /// ```
    /// use clockwheel::backends::BackendError;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "redis timed out");
    /// let err = BackendError::backend(io);
    /// assert_eq!(err.to_string(), "backend error: redis timed out");
    /// ```
    pub fn backend(error: impl Error + Send + Sync + 'static) -> Self {
        BackendError::Backend(Box::new(error))
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Unsupported { backend, operation } => {
                write!(f, "{backend} does not support {operation}")
            }
            BackendError::InvalidPattern(err) => write!(f, "invalid key pattern: {err}"),
            BackendError::NoTiers => f.write_str("a composite cache needs at least one tier"),
            BackendError::Backend(err) => write!(f, "backend error: {err}"),
        }
    }
}

impl Error for BackendError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BackendError::InvalidPattern(err) => Some(err),
            BackendError::Backend(err) => Some(err.as_ref()),
            _ => None,
        }
    }
}

impl From<PatternError> for BackendError {
    fn from(err: PatternError) -> Self {
        BackendError::InvalidPattern(err)
    }
}
