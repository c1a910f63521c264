//! Belady's MIN (1966): evict the entry whose next use is furthest in the
//! future, and do not admit an object whose next use is later than every
//! cached entry's (or that is never used again). Optimal for unit sizes;
//! with byte capacity it is the usual furthest-in-future heuristic, not the
//! (NP-hard) size-aware optimum.
//!
//! Needs [`Request::next_access`]; the replay fills it with a reverse pass
//! when the trace does not carry it.

use std::collections::{BinaryHeap, HashMap};

use super::{CacheSim, Capacity, IdBuildHasher, SimCounters};
use crate::trace::{Request, NO_NEXT};

#[derive(Clone, Copy, Debug)]
struct Entry {
    next: u64,
    deadline: u64,
    weight: u32,
}

/// The offline-optimal reference policy.
///
/// ```
/// use clockwheel_harness::policy::{belady::Belady, CacheSim, Capacity};
/// use clockwheel_harness::trace::{annotate_next_access, Request};
/// let mut t: Vec<Request> = [1, 2, 3, 1].iter().map(|&k| Request::get(0, k, 1)).collect();
/// annotate_next_access(&mut t);
/// let mut b = Belady::new(Capacity::Entries(1));
/// b.insert(&t[0]); // 1 is used again at index 3: admitted
/// b.insert(&t[1]); // 2 is never used again: bypassed
/// assert!(b.get(&t[3]));
/// ```
pub struct Belady {
    map: HashMap<u64, Entry, IdBuildHasher>,
    /// Max-heap of `(next use, key)`; entries whose `next` no longer matches
    /// the map are stale and skipped.
    heap: BinaryHeap<(u64, u64)>,
    limit: u64,
    used: u64,
    by_bytes: bool,
    counters: SimCounters,
}

impl Belady {
    /// An empty cache of the given capacity.
    pub fn new(capacity: Capacity) -> Self {
        let (limit, by_bytes) = capacity.limit();
        Belady {
            map: HashMap::default(),
            heap: BinaryHeap::new(),
            limit,
            used: 0,
            by_bytes,
            counters: SimCounters::default(),
        }
    }

    fn weight(&self, req: &Request) -> u32 {
        if self.by_bytes {
            req.size.max(1)
        } else {
            1
        }
    }

    /// The valid entry used furthest in the future, popping stale heap items.
    fn furthest(&mut self) -> Option<(u64, u64)> {
        while let Some(&(next, key)) = self.heap.peek() {
            if self.map.get(&key).is_some_and(|e| e.next == next) {
                return Some((next, key));
            }
            self.heap.pop();
        }
        None
    }

    fn track(&mut self, key: u64, next: u64) {
        self.heap.push((next, key));
        if self.heap.len() > 4 * self.map.len() + 4096 {
            self.heap = self.map.iter().map(|(&k, e)| (e.next, k)).collect();
        }
    }

    /// Evicts entries used later than `next` until `w` more fits, and
    /// returns true; if entries used later than `next` cannot free enough,
    /// evicts nothing and returns false (the newcomer is bypassed instead).
    fn make_room(&mut self, w: u64, next: u64) -> bool {
        let mut victims = Vec::new();
        let mut freed = 0u64;
        while self.used - freed + w > self.limit {
            match self.furthest() {
                Some((n, key)) if n > next => {
                    self.heap.pop();
                    // A stale duplicate of a chosen victim must not count twice.
                    if !victims.contains(&(n, key)) {
                        freed += self.map[&key].weight as u64;
                        victims.push((n, key));
                    }
                }
                _ => {
                    self.heap.extend(victims);
                    return false;
                }
            }
        }
        for (_, key) in victims {
            self.evict_key(key);
        }
        true
    }

    fn evict_key(&mut self, key: u64) {
        if let Some(e) = self.map.remove(&key) {
            self.used -= e.weight as u64;
            self.counters.evictions += 1;
        }
    }
}

impl CacheSim for Belady {
    fn name(&self) -> &str {
        "belady"
    }

    fn get(&mut self, req: &Request) -> bool {
        let Some(e) = self.map.get_mut(&req.key) else {
            return false;
        };
        if e.deadline <= req.time_ms {
            self.used -= e.weight as u64;
            self.map.remove(&req.key);
            self.counters.expired += 1;
            return false;
        }
        e.next = req.next_access;
        self.track(req.key, req.next_access);
        true
    }

    fn insert(&mut self, req: &Request) {
        let w = self.weight(req);
        if let Some(old) = self.map.remove(&req.key) {
            self.used -= old.weight as u64;
        }
        if req.next_access == NO_NEXT || w as u64 > self.limit {
            self.counters.rejected += 1;
            return;
        }
        if !self.make_room(w as u64, req.next_access) {
            self.counters.rejected += 1;
            return;
        }
        let entry = Entry {
            next: req.next_access,
            deadline: req.deadline(),
            weight: w,
        };
        self.map.insert(req.key, entry);
        self.used += w as u64;
        self.track(req.key, req.next_access);
    }

    fn remove(&mut self, key: u64) -> bool {
        match self.map.remove(&key) {
            Some(e) => {
                self.used -= e.weight as u64;
                true
            }
            None => false,
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn weighted_size(&self) -> u64 {
        self.used
    }

    fn counters(&self) -> SimCounters {
        self.counters
    }
}
