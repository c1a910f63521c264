//! Exact LRU, FIFO and CLOCK over one intrusive doubly linked list.
//!
//! The list runs from the oldest entry (head) to the newest (tail).
//! - LRU: a hit or an update moves the entry to the tail; evict the head.
//! - FIFO: hits change nothing; evict the head (the reference
//!   `InMemoryCache`).
//! - CLOCK (FIFO with reinsertion): a hit sets the entry's reference bit; to
//!   evict, pop the head: if its bit is set, clear it and push it to the tail,
//!   else evict it. New entries enter at the tail with the bit clear.
//!
//! Entries expire lazily: a lookup at or after the deadline is a miss and
//! removes the entry.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::{CacheSim, Capacity, IdBuildHasher, SimCounters};
use crate::trace::Request;

/// Which list discipline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMode {
    /// Least recently used.
    Lru,
    /// First in, first out.
    Fifo,
    /// FIFO with one reference bit (second chance).
    Clock,
}

const NIL: u32 = 0;

#[derive(Clone, Copy, Debug, Default)]
struct Node {
    key: u64,
    deadline: u64,
    prev: u32,
    next: u32,
    weight: u32,
    referenced: bool,
}

/// An unlinked node for `req` with weight `w` and the reference bit clear.
fn new_node(req: &Request, w: u32) -> Node {
    Node {
        key: req.key,
        deadline: req.deadline(),
        prev: NIL,
        next: NIL,
        weight: w,
        referenced: false,
    }
}

/// A list-ordered cache simulator.
pub struct ListCache {
    name: &'static str,
    mode: ListMode,
    map: HashMap<u64, u32, IdBuildHasher>,
    /// `nodes[0]` is the sentinel: `next` = head (oldest), `prev` = tail.
    nodes: Vec<Node>,
    free: Vec<u32>,
    limit: u64,
    used: u64,
    by_bytes: bool,
    counters: SimCounters,
}

impl ListCache {
    /// An empty cache with the given discipline and capacity.
    ///
    /// ```
    /// use clockwheel_harness::policy::list::{ListCache, ListMode};
    /// use clockwheel_harness::policy::{CacheSim, Capacity};
    /// use clockwheel_harness::trace::Request;
    /// let mut c = ListCache::new(ListMode::Lru, Capacity::Entries(2));
    /// for k in [1, 2, 3] {
    ///     c.insert(&Request::get(0, k, 1));
    /// }
    /// assert_eq!(c.keys_in_order(), vec![2, 3]); // 1 was least recently used
    /// ```
    pub fn new(mode: ListMode, capacity: Capacity) -> Self {
        let (limit, by_bytes) = capacity.limit();
        let name = match mode {
            ListMode::Lru => "lru",
            ListMode::Fifo => "fifo",
            ListMode::Clock => "clock",
        };
        ListCache {
            name,
            mode,
            // Entry capacities are known: size the map once, no rehashing.
            map: HashMap::with_capacity_and_hasher(
                if by_bytes {
                    0
                } else {
                    limit.min(1 << 24) as usize
                },
                Default::default(),
            ),
            nodes: vec![Node::default()],
            free: Vec::new(),
            limit,
            used: 0,
            by_bytes,
            counters: SimCounters::default(),
        }
    }

    /// Keys from oldest to newest (for tests).
    pub fn keys_in_order(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.map.len());
        let mut i = self.nodes[0].next;
        while i != NIL {
            out.push(self.nodes[i as usize].key);
            i = self.nodes[i as usize].next;
        }
        out
    }

    /// Sets the expiry deadline of a cached key (for adapters that compute
    /// deadlines themselves); no effect if absent.
    pub fn set_deadline(&mut self, key: u64, deadline: u64) {
        if let Some(&i) = self.map.get(&key) {
            self.nodes[i as usize].deadline = deadline;
        }
    }

    #[inline]
    fn weight(&self, req: &Request) -> u32 {
        if self.by_bytes {
            req.size.max(1)
        } else {
            1
        }
    }

    #[inline]
    fn unlink(&mut self, i: u32) {
        let Node { prev, next, .. } = self.nodes[i as usize];
        self.nodes[prev as usize].next = next;
        self.nodes[next as usize].prev = prev;
    }

    #[inline]
    fn push_tail(&mut self, i: u32) {
        let tail = self.nodes[0].prev;
        self.nodes[i as usize].prev = tail;
        self.nodes[i as usize].next = NIL;
        self.nodes[tail as usize].next = i;
        self.nodes[0].prev = i;
    }

    #[inline]
    fn move_to_tail(&mut self, i: u32) {
        if self.nodes[0].prev != i {
            self.unlink(i);
            self.push_tail(i);
        }
    }

    fn remove_index(&mut self, i: u32) {
        self.unlink(i);
        let node = self.nodes[i as usize];
        self.used -= node.weight as u64;
        self.map.remove(&node.key);
        self.free.push(i);
    }

    fn alloc(&mut self, node: Node) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// CLOCK's insert: evict first, so entries given a second chance go
    /// back in before the new one.
    fn insert_clock(&mut self, req: &Request, w: u32) {
        if let Some(&i) = self.map.get(&req.key) {
            return self.update(i, req, w);
        }
        while self.used + w as u64 > self.limit {
            self.evict_one();
        }
        let i = self.alloc(new_node(req, w));
        self.push_tail(i);
        self.map.insert(req.key, i);
        self.used += w as u64;
    }

    /// Evicts one entry according to the discipline.
    fn evict_one(&mut self) {
        loop {
            let i = self.nodes[0].next;
            debug_assert!(i != NIL, "evicting from an empty list");
            if self.mode == ListMode::Clock && self.nodes[i as usize].referenced {
                self.nodes[i as usize].referenced = false;
                self.move_to_tail(i);
                continue;
            }
            self.remove_index(i);
            self.counters.evictions += 1;
            return;
        }
    }

    #[inline]
    fn touch(&mut self, i: u32) {
        match self.mode {
            ListMode::Lru => self.move_to_tail(i),
            ListMode::Clock => self.nodes[i as usize].referenced = true,
            ListMode::Fifo => {}
        }
    }

    fn update(&mut self, i: u32, req: &Request, w: u32) {
        if w as u64 > self.limit {
            self.remove_index(i);
            return;
        }
        let node = &mut self.nodes[i as usize];
        self.used = self.used - node.weight as u64 + w as u64;
        node.weight = w;
        node.deadline = req.deadline();
        self.touch(i);
        while self.used > self.limit {
            self.evict_one();
        }
    }
}

impl CacheSim for ListCache {
    fn name(&self) -> &str {
        self.name
    }

    #[inline]
    fn get(&mut self, req: &Request) -> bool {
        let Some(&i) = self.map.get(&req.key) else {
            return false;
        };
        if self.nodes[i as usize].deadline <= req.time_ms {
            self.remove_index(i);
            self.counters.expired += 1;
            return false;
        }
        self.touch(i);
        true
    }

    fn insert(&mut self, req: &Request) {
        let w = self.weight(req);
        if w as u64 > self.limit {
            if let Some(&i) = self.map.get(&req.key) {
                self.remove_index(i);
            } else {
                self.counters.rejected += 1;
            }
            return;
        }
        if self.mode == ListMode::Clock {
            return self.insert_clock(req, w);
        }
        // LRU and FIFO: one hash lookup finds or places the key. The new
        // entry goes to the tail before the head is evicted, which leaves the
        // same list as evicting first: it is never the one evicted, as its
        // weight alone fits.
        let slot = self.alloc(Node::default());
        match self.map.entry(req.key) {
            Entry::Occupied(e) => {
                let i = *e.get();
                self.free.push(slot);
                return self.update(i, req, w);
            }
            Entry::Vacant(e) => e.insert(slot),
        };
        self.nodes[slot as usize] = new_node(req, w);
        self.push_tail(slot);
        self.used += w as u64;
        while self.used > self.limit {
            self.evict_one();
        }
    }

    fn remove(&mut self, key: u64) -> bool {
        match self.map.get(&key) {
            Some(&i) => {
                self.remove_index(i);
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
