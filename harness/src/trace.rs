//! The request record every reader, generator and policy shares, and the
//! key-namespace convention of synthetic traces.
//!
//! Keys are 64-bit ids. Synthetic traces encode the S3verless key shape in the
//! id: the top 4 bits are the [`KeyClass`], the next 12 bits the model type,
//! the low 48 bits the object's index. A key's *prefix* is its top 16 bits;
//! an [`Op::Invalidate`] request removes every cached key with that prefix
//! (the guide's `delete_pattern("s3v:list:Product:*")`). Foreign traces use
//! arbitrary ids; the convention only matters when invalidations occur.

use std::fmt;

/// "No next access" marker for [`Request::next_access`].
pub const NO_NEXT: u64 = u64::MAX;

/// One request of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Request {
    /// Trace time in milliseconds.
    pub time_ms: u64,
    /// Object id.
    pub key: u64,
    /// Index of the next request to the same key, or [`NO_NEXT`].
    pub next_access: u64,
    /// Object size in bytes.
    pub size: u32,
    /// Time to live in milliseconds; 0 means the entry never expires.
    pub ttl_ms: u32,
    /// Operation.
    pub op: Op,
}

impl Request {
    /// A GET of `key` with `size` at `time_ms`, no TTL, no next-access info.
    pub fn get(time_ms: u64, key: u64, size: u32) -> Self {
        Request {
            time_ms,
            key,
            size,
            next_access: NO_NEXT,
            ttl_ms: 0,
            op: Op::Get,
        }
    }

    /// The absolute expiry deadline in trace milliseconds (`u64::MAX` = never).
    #[inline]
    pub fn deadline(&self) -> u64 {
        if self.ttl_ms == 0 {
            u64::MAX
        } else {
            self.time_ms.saturating_add(self.ttl_ms as u64)
        }
    }
}

/// Operation of a request; see `docs/harness.md` for replay semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[repr(u8)]
pub enum Op {
    /// Read the object; a miss is filled from the origin (cache-aside).
    #[default]
    Get = 0,
    /// Metadata lookup: a hit if cached, a miss is not filled.
    Head = 1,
    /// Paginated list/count query result lookup; a miss is filled.
    List = 2,
    /// Write-through: the new value is written into the cache.
    Put = 3,
    /// Delete: the key is removed from the cache.
    Delete = 4,
    /// Server-side copy (IBM traces): a lookup of the source, not filled.
    Copy = 5,
    /// Pattern invalidation of every key sharing the request key's prefix.
    Invalidate = 6,
}

impl Op {
    /// Every operation, in display order.
    pub const ALL: [Op; 7] = [
        Op::Get,
        Op::Head,
        Op::List,
        Op::Put,
        Op::Delete,
        Op::Copy,
        Op::Invalidate,
    ];

    /// Upper-case name used in CSV files and tables.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Head => "HEAD",
            Op::List => "LIST",
            Op::Put => "PUT",
            Op::Delete => "DELETE",
            Op::Copy => "COPY",
            Op::Invalidate => "INVALIDATE",
        }
    }

    /// Parses a name (case-insensitive).
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(s))
    }

    /// Whether the operation is a cache lookup (counts toward hit ratio).
    #[inline]
    pub fn is_lookup(self) -> bool {
        matches!(self, Op::Get | Op::Head | Op::List | Op::Copy)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a synthetic key names (top 4 bits of the id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyClass {
    /// Not a synthetic key.
    Opaque = 0,
    /// `s3v:model:{Type}:{id}`: a JSON document.
    Model = 1,
    /// `s3v:list:{Type}:{hash}`: a cached page of a list query.
    List = 2,
    /// `s3v:count:{Type}:{hash}`: a cached count query.
    Count = 3,
    /// `uploads/{id}.bin`: a large uploaded object.
    Upload = 4,
}

/// Model type names used in synthetic key names.
pub const MODEL_TYPES: [&str; 8] = [
    "Product", "Order", "User", "Review", "Category", "Cart", "Invoice", "Session",
];

const INDEX_BITS: u32 = 48;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
/// Index value of an invalidation pattern key (`...:*`).
pub const PATTERN_INDEX: u64 = INDEX_MASK;

/// Builds a synthetic key id.
#[inline]
pub fn make_key(class: KeyClass, model: u16, index: u64) -> u64 {
    ((class as u64) << 60) | (((model & 0xFFF) as u64) << INDEX_BITS) | (index & INDEX_MASK)
}

/// Builds the invalidation key for `class` keys of `model` (`s3v:list:Type:*`).
pub fn pattern_key(class: KeyClass, model: u16) -> u64 {
    make_key(class, model, PATTERN_INDEX)
}

/// The 16-bit prefix (class and model type) of a key.
#[inline]
pub fn key_prefix(key: u64) -> u16 {
    (key >> INDEX_BITS) as u16
}

/// The key with 16-bit `prefix` (see [`key_prefix`]) and object `index`.
///
/// ```
/// use clockwheel_harness::trace::{key_prefix, key_with_prefix, make_key, KeyClass};
/// let key = make_key(KeyClass::Model, 3, 77);
/// assert_eq!(key_with_prefix(key_prefix(key), 77), key);
/// ```
#[inline]
pub fn key_with_prefix(prefix: u16, index: u64) -> u64 {
    ((prefix as u64) << INDEX_BITS) | (index & INDEX_MASK)
}

/// The class encoded in a key id.
#[inline]
pub fn key_class(key: u64) -> KeyClass {
    match key >> 60 {
        1 => KeyClass::Model,
        2 => KeyClass::List,
        3 => KeyClass::Count,
        4 => KeyClass::Upload,
        _ => KeyClass::Opaque,
    }
}

/// Whether a key can be removed by a pattern invalidation (list and count keys).
#[inline]
pub fn is_invalidatable(key: u64) -> bool {
    matches!(key_class(key), KeyClass::List | KeyClass::Count)
}

// An odd multiplier and its inverse modulo 2^48: a bijection that makes
// sequential indices look like hashes in key names, and can be undone.
const SCRAMBLE: u64 = 0x5DEE_CE66_D1CD & INDEX_MASK | 1;
const UNSCRAMBLE: u64 = mod_inverse_48(SCRAMBLE);

const fn mod_inverse_48(c: u64) -> u64 {
    // Newton's iteration doubles the correct low bits each step.
    let mut inv = c;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(inv)));
        i += 1;
    }
    inv & INDEX_MASK
}

fn scramble(index: u64) -> u64 {
    index.wrapping_mul(SCRAMBLE) & INDEX_MASK
}

fn unscramble(hash: u64) -> u64 {
    hash.wrapping_mul(UNSCRAMBLE) & INDEX_MASK
}

/// Renders a key id as an S3verless-style key name (or `0x` and 16 hex
/// digits for opaque ids). [`parse_key_name`] inverts it.
pub fn key_name(key: u64) -> String {
    let model = MODEL_TYPES[(key_prefix(key) & 0xFFF) as usize % MODEL_TYPES.len()];
    let index = key & INDEX_MASK;
    let known_model = ((key_prefix(key) & 0xFFF) as usize) < MODEL_TYPES.len();
    let tail = if index == PATTERN_INDEX {
        "*".to_string()
    } else {
        format!("{:012x}", scramble(index))
    };
    match key_class(key) {
        KeyClass::Model if known_model => format!("s3v:model:{model}:{tail}"),
        KeyClass::List if known_model => format!("s3v:list:{model}:{tail}"),
        KeyClass::Count if known_model => format!("s3v:count:{model}:{tail}"),
        KeyClass::Upload if known_model && index != PATTERN_INDEX => {
            format!("uploads/{model}/{tail}.bin")
        }
        _ => format!("0x{key:016x}"),
    }
}

/// Parses a name produced by [`key_name`] back into its id.
pub fn parse_key_name(name: &str) -> Option<u64> {
    if let Some(rest) = name.strip_prefix("uploads/") {
        let (model, file) = rest.split_once('/')?;
        let hex = file.strip_suffix(".bin")?;
        return Some(make_key(
            KeyClass::Upload,
            model_index(model)?,
            parse_tail(hex)?,
        ));
    }
    if let Some(rest) = name.strip_prefix("s3v:") {
        let mut parts = rest.splitn(3, ':');
        let class = match parts.next()? {
            "model" => KeyClass::Model,
            "list" => KeyClass::List,
            "count" => KeyClass::Count,
            _ => return None,
        };
        let model = model_index(parts.next()?)?;
        let index = parse_tail(parts.next()?)?;
        return Some(make_key(class, model, index));
    }
    if let Some(hex) = name.strip_prefix("0x") {
        if hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return u64::from_str_radix(hex, 16).ok();
        }
    }
    None
}

fn model_index(name: &str) -> Option<u16> {
    MODEL_TYPES
        .iter()
        .position(|m| *m == name)
        .map(|i| i as u16)
}

fn parse_tail(tail: &str) -> Option<u64> {
    if tail == "*" {
        return Some(PATTERN_INDEX);
    }
    if tail.len() != 12 {
        return None;
    }
    let h = u64::from_str_radix(tail, 16).ok()?;
    Some(unscramble(h))
}

/// FNV-1a hash of an arbitrary key string (for foreign string keys).
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Fills `next_access` for an in-memory trace with a reverse pass
/// (index of the next request to the same key, [`NO_NEXT`] if none).
pub fn annotate_next_access(requests: &mut [Request]) {
    let mut next: std::collections::HashMap<u64, u64, crate::policy::IdBuildHasher> =
        std::collections::HashMap::with_capacity_and_hasher(requests.len() / 4, Default::default());
    for (i, r) in requests.iter_mut().enumerate().rev() {
        r.next_access = next.insert(r.key, i as u64).unwrap_or(NO_NEXT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (class, model, index) in [
            (KeyClass::Model, 0, 123_456),
            (KeyClass::List, 3, 0),
            (KeyClass::Count, 7, 42),
            (KeyClass::Upload, 1, INDEX_MASK - 1),
            (KeyClass::List, 2, PATTERN_INDEX),
        ] {
            let key = make_key(class, model, index);
            let name = key_name(key);
            assert_eq!(parse_key_name(&name), Some(key), "{name}");
        }
        assert_eq!(
            key_name(pattern_key(KeyClass::List, 0)),
            "s3v:list:Product:*"
        );
        assert!(key_name(make_key(KeyClass::Model, 0, 5)).starts_with("s3v:model:Product:"));
        let opaque = 0x0123_4567_89ab_cdef;
        assert_eq!(parse_key_name(&key_name(opaque)), Some(opaque));
        assert_eq!(parse_key_name("s3v:model:Nope:000000000001"), None);
    }

    #[test]
    fn next_access_reverse_pass() {
        let mut t: Vec<Request> = [1, 2, 1, 3, 2, 1]
            .iter()
            .map(|&k| Request::get(0, k, 1))
            .collect();
        annotate_next_access(&mut t);
        let next: Vec<u64> = t.iter().map(|r| r.next_access).collect();
        assert_eq!(next, vec![2, 4, 5, NO_NEXT, NO_NEXT, NO_NEXT]);
    }

    #[test]
    fn op_names_parse() {
        for op in Op::ALL {
            assert_eq!(Op::parse(&op.name().to_lowercase()), Some(op));
        }
        assert_eq!(Op::parse("POST"), None);
    }
}
