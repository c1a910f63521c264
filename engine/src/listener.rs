//! Why an entry left the cache, and the listener that hears about it.

use std::sync::Arc;

/// The reason an entry was removed, passed to the eviction listener.
///
/// ```
/// use clockwheel::{Cache, RemovalCause};
/// use std::sync::{Arc, Mutex};
///
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let sink = log.clone();
/// let cache = Cache::<u32, u32>::builder()
///     .max_capacity(1)
///     .eviction_listener(move |k: &u32, _v: &u32, cause| sink.lock().unwrap().push((*k, cause)))
///     .build()
///     .unwrap();
/// cache.insert(1, 10);
/// cache.insert(2, 20); // evicts 1
/// cache.remove(&2);
/// assert_eq!(*log.lock().unwrap(), vec![(1, RemovalCause::Evicted), (2, RemovalCause::Removed)]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Removed by the eviction policy to stay within capacity.
    Evicted,
    /// Removed explicitly: `remove`, `clear`, `retain`, `remove_matching`, or an insert
    /// too heavy for the cache displacing the old value.
    Removed,
    /// Superseded by an insert of the same key.
    Replaced,
    /// Its time-to-live or time-to-idle ran out.
    Expired,
}

/// The eviction listener: called once per entry that leaves the cache, on the thread
/// that removed it, after the cache's own bookkeeping is complete (a panic in it leaves
/// the cache consistent).
pub(crate) type Listener<K, V> = Arc<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;

/// The weigher: the weight an entry counts against the capacity.
pub(crate) type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u64 + Send + Sync>;
