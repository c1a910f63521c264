//! Errors of the engine's public API.

use std::fmt;
use std::time::Duration;

/// A cache configuration the builder refuses, with what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither `max_capacity` nor `max_weight` was given.
    MissingCapacity,
    /// Both `max_capacity` and `max_weight` were given; they name the same budget.
    ConflictingCapacity,
    /// A capacity of zero could hold nothing.
    ZeroCapacity,
    /// The capacity exceeds what an entry weight can express.
    CapacityTooLarge {
        /// The capacity asked for.
        requested: u64,
        /// The largest capacity accepted.
        max: u64,
    },
    /// A weigher was given with `max_capacity`, or `max_weight` without a weigher.
    WeigherMismatch,
    /// The shard count is zero or above the maximum.
    InvalidShards {
        /// The shard count asked for.
        requested: usize,
        /// The largest shard count accepted.
        max: usize,
    },
    /// A TTL, time-to-idle or cleanup interval of zero.
    ZeroDuration {
        /// Which setting.
        what: &'static str,
    },
    /// A TTL or time-to-idle beyond [`MAX_TTL`](crate::MAX_TTL).
    TtlTooLarge {
        /// Which setting.
        what: &'static str,
        /// The duration asked for.
        requested: Duration,
        /// The longest accepted.
        max: Duration,
    },
    /// The operating system refused to start the cleaner thread.
    CleanerSpawn(String),
    /// The estimated entry count would need a bucket array larger than the limit.
    EstimateTooLarge {
        /// The estimate asked for.
        requested: usize,
        /// The largest estimate accepted.
        max: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MissingCapacity => {
                write!(f, "no capacity given: call max_capacity(entries) or weigher(..).max_weight(total)")
            }
            BuildError::ConflictingCapacity => {
                write!(f, "both max_capacity and max_weight given: use one")
            }
            BuildError::ZeroCapacity => write!(f, "capacity must be at least 1"),
            BuildError::CapacityTooLarge { requested, max } => {
                write!(f, "capacity {requested} exceeds the maximum of {max}")
            }
            BuildError::WeigherMismatch => write!(
                f,
                "a weigher goes with max_weight, and max_weight needs a weigher (max_capacity counts entries)"
            ),
            BuildError::InvalidShards { requested, max } => {
                write!(f, "shard count {requested} is not in 1..={max}")
            }
            BuildError::CleanerSpawn(why) => write!(f, "cannot start the cleaner thread: {why}"),
            BuildError::ZeroDuration { what } => write!(f, "{what} must be longer than zero"),
            BuildError::TtlTooLarge { what, requested, max } => {
                write!(f, "{what} of {requested:?} exceeds the maximum of {max:?}")
            }
            BuildError::EstimateTooLarge { requested, max } => {
                write!(f, "estimated entry count {requested} exceeds the maximum of {max}")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// Why [`Cache::try_insert`](crate::Cache::try_insert) refused an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsertError {
    /// The TTL exceeds [`MAX_TTL`](crate::MAX_TTL).
    TtlTooLarge {
        /// The TTL asked for.
        ttl: Duration,
    },
    /// The entry alone weighs more than the whole cache may hold.
    TooHeavy {
        /// The entry's weight.
        weight: u64,
        /// The cache's capacity.
        capacity: u64,
    },
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::TtlTooLarge { ttl } => write!(
                f,
                "TTL of {ttl:?} exceeds the maximum of {:?}",
                crate::time::MAX_TTL
            ),
            InsertError::TooHeavy { weight, capacity } => write!(
                f,
                "entry weight {weight} exceeds the cache capacity {capacity}"
            ),
        }
    }
}

impl std::error::Error for InsertError {}
