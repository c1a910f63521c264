//! Typed statistics of the backends. Each struct serializes (with serde) to
//! exactly the keys of the dict the S3verless reference's `stats()` returns,
//! so dashboards built for the Python service read ours unchanged.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::time::Duration;

/// Statistics of an [`InMemoryCache`](super::InMemoryCache): the reference's
/// `{"size", "max_size", "default_ttl"}`.
///
/// `default_ttl` serializes as seconds (an integer when whole, as the
/// reference's `300`), `None` as `null`.
///
/// ```
/// use clockwheel::backends::InMemoryStats;
/// use std::time::Duration;
///
/// let stats = InMemoryStats { size: 150, max_size: Some(1000), default_ttl: Some(Duration::from_secs(300)) };
/// assert_eq!(
///     serde_json::to_string(&stats).unwrap(),
///     r#"{"size":150,"max_size":1000,"default_ttl":300}"#
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct InMemoryStats {
    /// Entries held now.
    pub size: u64,
    /// The entry limit; `None` is unbounded.
    pub max_size: Option<u64>,
    /// TTL of entries set without one; `None` is "never expire".
    #[serde(serialize_with = "ttl_seconds")]
    pub default_ttl: Option<Duration>,
}

/// Statistics of an [`LruCache`](super::LruCache): the reference's
/// `{"size", "max_size", "hits", "misses", "hit_rate", "default_ttl"}`.
///
/// ```
/// use clockwheel::backends::LruStats;
///
/// let stats = LruStats { size: 2, max_size: 10, hits: 3, misses: 1, hit_rate: 0.75, default_ttl: None };
/// assert_eq!(
///     serde_json::to_string(&stats).unwrap(),
///     r#"{"size":2,"max_size":10,"hits":3,"misses":1,"hit_rate":0.75,"default_ttl":null}"#
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LruStats {
    /// Entries held now.
    pub size: u64,
    /// The entry limit.
    pub max_size: u64,
    /// `get`s that found a live entry since construction or the last `clear`.
    pub hits: u64,
    /// `get`s that found nothing (or an expired entry).
    pub misses: u64,
    /// `hits / (hits + misses)`, 0.0 before any lookup.
    pub hit_rate: f64,
    /// TTL of entries set without one; `None` is "never expire".
    #[serde(serialize_with = "ttl_seconds")]
    pub default_ttl: Option<Duration>,
}

/// Statistics of a [`CompositeCache`](super::CompositeCache): the reference's
/// `{"tiers": [{"type": ..., ...}, ...]}`, fastest tier first.
///
/// ```
/// use clockwheel::backends::{BackendStats, CompositeStats, InMemoryStats, TierStats};
///
/// let tier = BackendStats::InMemory(InMemoryStats { size: 1, max_size: None, default_ttl: None });
/// let stats = CompositeStats { tiers: vec![TierStats::new(tier)] };
/// assert_eq!(
///     serde_json::to_string(&stats).unwrap(),
///     r#"{"tiers":[{"type":"InMemoryCache","size":1,"max_size":null,"default_ttl":null}]}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompositeStats {
    /// One entry per tier, in tier order.
    pub tiers: Vec<TierStats>,
}

/// One tier's statistics inside [`CompositeStats`]: its stats with a `"type"`
/// key naming the backend, first.
///
/// ```
/// use clockwheel::backends::{BackendStats, CustomStats, TierStats};
/// use serde_json::json;
///
/// let redis = CustomStats::new("RedisCache", json!({"connected": true}).as_object().unwrap().clone());
/// let tier = TierStats::new(BackendStats::Custom(redis));
/// assert_eq!(tier.type_name, "RedisCache");
/// assert_eq!(serde_json::to_value(&tier).unwrap(), json!({"type": "RedisCache", "connected": true}));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TierStats {
    /// The backend's type name, as the reference's `type(tier).__name__`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The tier's own statistics, serialized beside `type`.
    #[serde(flatten)]
    pub stats: BackendStats,
}

impl TierStats {
    /// Names the tier after the backend `stats` came from.
    ///
    /// ```
    /// use clockwheel::backends::{BackendStats, InMemoryStats, TierStats};
    ///
    /// let s = BackendStats::InMemory(InMemoryStats { size: 0, max_size: None, default_ttl: None });
    /// assert_eq!(TierStats::new(s).type_name, "InMemoryCache");
    /// ```
    pub fn new(stats: BackendStats) -> Self {
        TierStats {
            type_name: stats.type_name().to_owned(),
            stats,
        }
    }
}

/// What [`CacheBackend::stats`](super::CacheBackend::stats) returns: the
/// statistics of any backend. Serializes as the inner struct alone (no tag),
/// which is the reference's dict for that backend.
///
/// ```
/// use clockwheel::backends::{BackendStats, LruStats};
///
/// let s = BackendStats::Lru(LruStats { size: 0, max_size: 3, hits: 0, misses: 0, hit_rate: 0.0, default_ttl: None });
/// assert_eq!(s.type_name(), "LRUCache");
/// assert!(serde_json::to_string(&s).unwrap().starts_with(r#"{"size":0,"max_size":3,"#));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum BackendStats {
    /// An [`InMemoryCache`](super::InMemoryCache)'s.
    InMemory(InMemoryStats),
    /// An [`LruCache`](super::LruCache)'s.
    Lru(LruStats),
    /// A [`CompositeCache`](super::CompositeCache)'s.
    Composite(CompositeStats),
    /// Any other backend's, as free-form JSON fields.
    Custom(CustomStats),
}

impl BackendStats {
    /// The backend's name as the reference reports it in a composite's
    /// `tiers`: `"InMemoryCache"`, `"LRUCache"` (the Python class name, not
    /// the Rust `LruCache`), `"CompositeCache"`, or a custom backend's own.
    ///
    /// ```
    /// use clockwheel::backends::{BackendStats, CompositeStats};
    ///
    /// let s = BackendStats::Composite(CompositeStats { tiers: vec![] });
    /// assert_eq!(s.type_name(), "CompositeCache");
    /// ```
    pub fn type_name(&self) -> &str {
        match self {
            BackendStats::InMemory(_) => "InMemoryCache",
            BackendStats::Lru(_) => "LRUCache",
            BackendStats::Composite(_) => "CompositeCache",
            BackendStats::Custom(custom) => &custom.type_name,
        }
    }
}

/// Statistics of a backend outside this crate: a type name and any JSON fields.
///
/// ```
/// use clockwheel::backends::CustomStats;
/// use serde_json::Map;
///
/// let s = CustomStats::new("NullCache", Map::new());
/// assert_eq!(serde_json::to_string(&s).unwrap(), "{}");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomStats {
    /// The backend's type name (not serialized here: a composite writes it as `type`).
    #[serde(skip)]
    pub type_name: String,
    /// The fields, serialized as the object itself.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl CustomStats {
    /// Stats of the backend named `type_name`.
    ///
    /// ```
    /// use clockwheel::backends::CustomStats;
    ///
    /// assert_eq!(CustomStats::new("X", Default::default()).type_name, "X");
    /// ```
    pub fn new(type_name: impl Into<String>, fields: Map<String, Value>) -> Self {
        CustomStats {
            type_name: type_name.into(),
            fields,
        }
    }
}

/// `hits / (hits + misses)`, 0.0 before any lookup (as the reference).
pub(crate) fn hit_rate(hits: u64, misses: u64) -> f64 {
    match hits + misses {
        0 => 0.0,
        total => hits as f64 / total as f64,
    }
}

/// A TTL as the reference prints it: whole seconds as an integer, other
/// durations as float seconds, `None` as `null`.
fn ttl_seconds<S: Serializer>(ttl: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match ttl {
        None => serializer.serialize_none(),
        Some(d) if d.subsec_nanos() == 0 => serializer.serialize_u64(d.as_secs()),
        Some(d) => serializer.serialize_f64(d.as_secs_f64()),
    }
}
