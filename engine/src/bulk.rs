//! Whole-cache operations: `clear`, `retain`, `remove_matching`, `iter`, `validate`.
//!
//! Semantics under concurrency (hazard 9): each of these walks the shards bucket by
//! bucket, pinning the epoch for one bucket at a time (so a long walk never holds up
//! reclamation). They are *weakly consistent*: an entry present for the whole call is
//! visited exactly once; an entry inserted or removed during the call may or may not be.
//! `clear` therefore removes everything that was present when it started and was not
//! replaced meanwhile; inserts racing it may survive.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use crate::cache::Cache;
use crate::core::CacheCore;
use crate::glob::{Pattern, PatternError};
use crate::listener::RemovalCause;
use crate::node::{Node, DEQUEUED, UNLINKED, UNTIMED};
use crate::sync::{Guard, Ordering};
use crate::table;

impl<K, V, S> CacheCore<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Removes every live entry for which `doomed` is true; returns how many it removed.
    /// Entries already past their deadline are expired on the way (cause `Expired`, not
    /// counted, and `doomed` never sees them).
    pub(crate) fn remove_where(&self, mut doomed: impl FnMut(&K, &V) -> bool) -> usize {
        let mut removed = 0;
        for (shard_idx, shard) in self.shards.iter().enumerate() {
            for bucket in shard.buckets.iter() {
                let guard = self.pin();
                table::for_each_live(bucket, &guard, |ptr| {
                    // SAFETY: yielded under `guard`.
                    let node = unsafe { ptr.deref() };
                    if self.is_expired(node) {
                        self.kill_and_unlink(shard_idx, node, RemovalCause::Expired, &guard);
                    } else if doomed(&node.key, &node.value)
                        && self.kill_and_unlink(shard_idx, node, RemovalCause::Removed, &guard)
                    {
                        removed += 1;
                    }
                });
            }
        }
        removed
    }

    /// Calls `f` on each live, unexpired entry of one bucket under a fresh guard.
    pub(crate) fn visit_bucket(&self, shard: usize, bucket: usize, mut f: impl FnMut(&K, &V)) {
        let guard = self.pin();
        table::for_each_live(&self.shards[shard].buckets[bucket], &guard, |ptr| {
            // SAFETY: yielded under `guard`.
            let node = unsafe { ptr.deref() };
            if !self.is_expired(node) {
                f(&node.key, &node.value)
            }
        });
    }
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// Removes every entry (weakly consistent: see the module docs). The listener hears
    /// [`RemovalCause::Removed`] for each.
    pub fn clear(&self) {
        self.core.remove_where(|_, _| true);
    }

    /// Keeps only the entries for which `keep` returns true; returns how many it removed.
    ///
    /// ```
    /// let cache = clockwheel::Cache::<u32, u32>::with_capacity(100).unwrap();
    /// for i in 0..10 { cache.insert(i, i * i); }
    /// assert_eq!(cache.retain(|_k, v| v % 2 == 0), 5);
    /// assert_eq!(cache.len(), 5);
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) -> usize {
        self.core.remove_where(|k, v| !keep(k, v))
    }

    /// Removes every entry whose key matches the shell-style glob `pattern` (`*`, `?`,
    /// `[abc]`, `[!abc]`, as Python's `fnmatch.fnmatchcase`); returns how many it removed.
    /// An invalid pattern is an error and removes nothing.
    ///
    /// ```
    /// let cache = clockwheel::Cache::<String, u32>::with_capacity(100).unwrap();
    /// cache.insert("product:list:1".into(), 1);
    /// cache.insert("product:list:2".into(), 2);
    /// cache.insert("product:42".into(), 3);
    /// assert_eq!(cache.remove_matching("product:list:*").unwrap(), 2);
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn remove_matching(&self, pattern: &str) -> Result<usize, PatternError>
    where
        K: AsRef<str>,
    {
        let pattern = Pattern::new(pattern)?;
        Ok(self.core.remove_where(|k, _| pattern.matches(k.as_ref())))
    }

    /// A weakly consistent iterator over clones of the live entries.
    ///
    /// ```
    /// let cache = clockwheel::Cache::<u32, u32>::with_capacity(100).unwrap();
    /// for i in 0..3 { cache.insert(i, i); }
    /// let mut all: Vec<_> = cache.iter().collect();
    /// all.sort();
    /// assert_eq!(all, vec![(0, 0), (1, 1), (2, 2)]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, S>
    where
        K: Clone,
        V: Clone,
    {
        Iter {
            core: &self.core,
            shard: 0,
            bucket: 0,
            buffer: Vec::new(),
        }
    }

    /// Checks every structural invariant and recomputes every counter from scratch:
    /// each live node is linked once in its own bucket and queued exactly once, no key
    /// has two live nodes, dead nodes are unlinked, the per-shard counts, dead-node
    /// counts and the total weight match, and the cache is within capacity.
    ///
    /// O(entries), and only meaningful while no other thread uses the cache (it waits for
    /// the cache's own cleaner thread to let go of a wheel); model tests and fuzzers call
    /// it after every operation.
    pub fn validate(&self) -> Result<(), String> {
        let core = &*self.core;
        let guard = core.pin();
        let mut total_weight = 0;
        for idx in 0..core.shards.len() {
            let chained = validate_chains(core, idx, &guard)?;
            total_weight += validate_queue(core, idx, &chained, &guard)?;
            validate_timers(core, idx, &chained, &guard)?;
        }
        let weighted = core.weighted_size();
        if weighted != total_weight {
            return Err(format!(
                "weighted_size {weighted} but live weights sum to {total_weight}"
            ));
        }
        if weighted > core.capacity {
            return Err(format!(
                "weighted_size {weighted} exceeds capacity {}",
                core.capacity
            ));
        }
        Ok(())
    }
}

type NodePtr<K, V> = *const Node<K, V>;

/// Walks every chain of a shard; returns its live nodes.
fn validate_chains<K: Hash + Eq, V, S: BuildHasher>(
    core: &CacheCore<K, V, S>,
    shard_idx: usize,
    guard: &Guard,
) -> Result<HashSet<NodePtr<K, V>>, String> {
    let shard = &core.shards[shard_idx];
    let mut live = HashSet::new();
    for (b, bucket) in shard.buckets.iter().enumerate() {
        let mut keys: Vec<&K> = Vec::new();
        let mut cur = bucket.load(Ordering::Acquire, guard);
        // SAFETY: quiescent walk under `guard`.
        while let Some(node) = unsafe { cur.as_ref() } {
            let next = node.next.load(Ordering::Acquire, guard);
            if next.tag() != 0 {
                return Err(format!(
                    "shard {shard_idx} bucket {b}: a dead node is still linked"
                ));
            }
            if node.flags() & (UNLINKED | DEQUEUED) != 0 {
                return Err(format!(
                    "shard {shard_idx} bucket {b}: a linked node was released"
                ));
            }
            let hash = core.hash(&node.key);
            let (s, bb) = (
                core.shard_index(hash),
                table::bucket_index(hash, shard.buckets.len()),
            );
            if (s, bb) != (shard_idx, b) {
                return Err(format!(
                    "node in shard {shard_idx} bucket {b} hashes to shard {s} bucket {bb}"
                ));
            }
            if keys.contains(&&node.key) {
                return Err(format!(
                    "shard {shard_idx} bucket {b}: two live nodes for one key"
                ));
            }
            keys.push(&node.key);
            live.insert(node as *const _);
            cur = next;
        }
    }
    if shard.len() != live.len() {
        return Err(format!(
            "shard {shard_idx}: len counter {} but {} live nodes",
            shard.len(),
            live.len()
        ));
    }
    Ok(live)
}

/// Walks a shard's queue against its live set; returns the shard's live weight.
fn validate_queue<K, V, S>(
    core: &CacheCore<K, V, S>,
    shard_idx: usize,
    chained: &HashSet<NodePtr<K, V>>,
    guard: &Guard,
) -> Result<u64, String> {
    let shard = &core.shards[shard_idx];
    let mut seen: HashMap<NodePtr<K, V>, usize> = HashMap::new();
    let (mut dead, mut weight) = (0isize, 0u64);
    shard.queue.for_each(guard, |ptr| {
        // SAFETY: queued nodes are not freed (their queue reference is not released).
        let node = unsafe { ptr.deref() };
        *seen.entry(node as *const _).or_default() += 1;
        if node.is_live(guard) {
            weight += node.weight();
        } else {
            dead += 1;
        }
    });
    if let Some((_, n)) = seen.iter().find(|(_, n)| **n > 1) {
        return Err(format!("shard {shard_idx}: a node is queued {n} times"));
    }
    if let Some(missing) = chained.iter().find(|p| !seen.contains_key(*p)) {
        return Err(format!(
            "shard {shard_idx}: live node {missing:?} is not queued"
        ));
    }
    let queued_live = seen.len() as isize - dead;
    if queued_live != chained.len() as isize {
        return Err(format!(
            "shard {shard_idx}: {queued_live} live nodes queued, {} linked",
            chained.len()
        ));
    }
    let segments = shard.queue.segments(guard);
    if segments > seen.len() / crate::queue::SEGMENT + 2 {
        return Err(format!(
            "shard {shard_idx}: {segments} queue segments hold {} nodes",
            seen.len()
        ));
    }
    if dead != shard.dead() {
        return Err(format!(
            "shard {shard_idx}: dead counter {} but {dead} dead nodes queued",
            shard.dead()
        ));
    }
    if core.policy == crate::EvictionPolicy::Fifo
        && seen.keys().any(|p| {
            // SAFETY: as above.
            unsafe { &**p }.is_referenced()
        })
    {
        return Err(format!(
            "shard {shard_idx}: FIFO node carries a reference bit"
        ));
    }
    Ok(weight)
}

/// Checks a shard's timers: every live node that can expire holds exactly one timer
/// reference, every timer reference points at a node of this shard that has not released
/// it, and the `pending` and `dead` counters match.
fn validate_timers<K: Hash + Eq, V, S: BuildHasher>(
    core: &CacheCore<K, V, S>,
    shard_idx: usize,
    chained: &HashSet<NodePtr<K, V>>,
    guard: &Guard,
) -> Result<(), String> {
    let timers = &core.shards[shard_idx].timers;
    let mut held: HashMap<NodePtr<K, V>, usize> = HashMap::new();
    let (mut dead, mut released, mut foreign) = (0usize, 0usize, 0usize);
    let visited = timers.validate_with(guard, |timer| {
        *held.entry(timer.as_ptr()).or_default() += 1;
        // SAFETY: the timer reference keeps the node allocated.
        let node = unsafe { timer.shared().deref() };
        dead += usize::from(!node.is_live(guard));
        released += usize::from(node.flags() & UNTIMED != 0);
        foreign += usize::from(node.is_live(guard) && !chained.contains(&timer.as_ptr()));
    });
    visited.map_err(|e| format!("shard {shard_idx} wheel: {e}"))?;
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("shard {shard_idx}: {what}"))
        }
    };
    check(
        held.values().all(|&n| n == 1),
        "a node holds two timers".into(),
    )?;
    check(
        released == 0,
        format!("{released} timers point at nodes that released them"),
    )?;
    check(
        foreign == 0,
        format!("{foreign} live timed nodes are not in this shard"),
    )?;
    let timed = chained.iter().filter(|p| {
        // SAFETY: live nodes found under `guard`.
        unsafe { &***p }.has_timer()
    });
    let missing = timed.filter(|p| !held.contains_key(*p)).count();
    check(
        missing == 0,
        format!("{missing} live timed nodes have no timer"),
    )?;
    let pending = timers.pending.load(Ordering::Relaxed);
    check(
        pending == held.len(),
        format!("pending {pending} but {} timers held", held.len()),
    )?;
    let counted = timers.dead.load(Ordering::Relaxed);
    check(
        counted == dead,
        format!("dead-timer counter {counted} but {dead} dead timers"),
    )
}

/// Iterator returned by [`Cache::iter`]: clones of live entries, one bucket at a time.
pub struct Iter<'a, K, V, S> {
    core: &'a CacheCore<K, V, S>,
    shard: usize,
    bucket: usize,
    buffer: Vec<(K, V)>,
}

impl<K, V, S> Iterator for Iter<'_, K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(item) = self.buffer.pop() {
                return Some(item);
            }
            let shard = self.core.shards.get(self.shard)?;
            if self.bucket == shard.buckets.len() {
                self.shard += 1;
                self.bucket = 0;
                continue;
            }
            let buffer = &mut self.buffer;
            self.core.visit_bucket(self.shard, self.bucket, |k, v| {
                buffer.push((k.clone(), v.clone()))
            });
            self.bucket += 1;
        }
    }
}
