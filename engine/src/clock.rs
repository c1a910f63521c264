//! The CLOCK queue of one shard: a lock-free FIFO of node pointers (Michael & Scott,
//! "Simple, Fast, and Practical Non-Blocking and Blocking Concurrent Queue Algorithms",
//! PODC 1996), whose cells are reclaimed through the epoch.
//!
//! CLOCK is FIFO with reinsertion (Corbató, 1968): the hand pops the oldest node; if its
//! reference bit is set it clears the bit and pushes the node back at the tail, else the
//! node is the victim. New nodes enter at the tail with the bit clear. The hand logic
//! lives in `crate::cache::evict`; this module is only the queue.
//!
//! Ownership: while a node's [`DEQUEUED`](crate::node::DEQUEUED) bit is clear, exactly
//! one of these holds it: one cell of the queue, or the one thread that popped it and
//! has not yet pushed it back or released it. `pop` hands out each cell once (the head
//! CAS), so two hands never get the same node (hazard 6).

use crossbeam_utils::CachePadded;

use crate::node::Node;
use crate::sync::{Atomic, Guard, Ordering, Owned, Shared};

struct Cell<K, V> {
    /// The node this cell carries (meaningless in the current dummy head cell).
    node: Atomic<Node<K, V>>,
    next: Atomic<Cell<K, V>>,
}

/// A multi-producer multi-consumer FIFO of nodes.
///
/// Invariant: `head` points to a dummy cell; the nodes in the queue are carried by the
/// cells after it, oldest first. `tail` points to the last cell or, transiently, to the
/// one before it.
pub(crate) struct ClockQueue<K, V> {
    head: CachePadded<Atomic<Cell<K, V>>>,
    tail: CachePadded<Atomic<Cell<K, V>>>,
}

impl<K, V> ClockQueue<K, V> {
    pub(crate) fn new() -> Self {
        let dummy = Atomic::new(Cell {
            node: Atomic::null(),
            next: Atomic::null(),
        });
        // SAFETY: the dummy is not shared yet.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        let dummy_ptr = dummy.load(Ordering::Relaxed, guard);
        ClockQueue {
            head: CachePadded::new(dummy),
            tail: CachePadded::new(Atomic::from(dummy_ptr)),
        }
    }

    /// Pushes `node` at the tail. The caller transfers its queue reference to the queue.
    pub(crate) fn push(&self, node: Shared<'_, Node<K, V>>, guard: &Guard) {
        let cell = Owned::new(Cell {
            node: Atomic::from(node),
            next: Atomic::null(),
        })
        .into_shared(guard);
        loop {
            let tail = self.tail.load(Ordering::Acquire, guard);
            // SAFETY: `tail` is never null and cells are freed only through the epoch
            // after leaving the queue.
            let tail_ref = unsafe { tail.deref() };
            let next = tail_ref.next.load(Ordering::Acquire, guard);
            if !next.is_null() {
                // The tail lags: help it forward, then retry.
                let _ = self.tail.compare_exchange(
                    tail,
                    next,
                    Ordering::Release,
                    Ordering::Relaxed,
                    guard,
                );
                continue;
            }
            if tail_ref
                .next
                .compare_exchange(next, cell, Ordering::Release, Ordering::Relaxed, guard)
                .is_ok()
            {
                let _ = self.tail.compare_exchange(
                    tail,
                    cell,
                    Ordering::Release,
                    Ordering::Relaxed,
                    guard,
                );
                return;
            }
        }
    }

    /// Pops the oldest node; the caller receives the queue's reference to it.
    pub(crate) fn pop<'g>(&self, guard: &'g Guard) -> Option<Shared<'g, Node<K, V>>> {
        loop {
            let head = self.head.load(Ordering::Acquire, guard);
            // SAFETY: `head` is never null; see `push`.
            let next = unsafe { head.deref() }.next.load(Ordering::Acquire, guard);
            // SAFETY: a non-null `next` was published by a Release CAS in `push`.
            let next_ref = unsafe { next.as_ref() }?;
            if self
                .head
                .compare_exchange(head, next, Ordering::Release, Ordering::Relaxed, guard)
                .is_err()
            {
                continue;
            }
            // Never free a cell the tail still points to.
            let tail = self.tail.load(Ordering::Relaxed, guard);
            if tail == head {
                let _ = self.tail.compare_exchange(
                    tail,
                    next,
                    Ordering::Release,
                    Ordering::Relaxed,
                    guard,
                );
            }
            // SAFETY: our head CAS unlinked the old dummy; no one can reach it anew, and
            // threads still reading it are pinned.
            unsafe { guard.defer_destroy(head) };
            return Some(next_ref.node.load(Ordering::Relaxed, guard));
        }
    }

    /// Visits every queued node, oldest first. Only meaningful when quiescent.
    pub(crate) fn for_each<'g>(&self, guard: &'g Guard, mut f: impl FnMut(Shared<'g, Node<K, V>>))
    where
        K: 'g,
        V: 'g,
    {
        let head = self.head.load(Ordering::Acquire, guard);
        // SAFETY: see `push`.
        let mut cur = unsafe { head.deref() }.next.load(Ordering::Acquire, guard);
        // SAFETY: see `pop`.
        while let Some(cell) = unsafe { cur.as_ref() } {
            f(cell.node.load(Ordering::Relaxed, guard));
            cur = cell.next.load(Ordering::Acquire, guard);
        }
    }
}

impl<K, V> Drop for ClockQueue<K, V> {
    /// Frees the cells. The nodes they carry are released by the cache's own `Drop`,
    /// which drains the queue with [`ClockQueue::pop`] first.
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach the queue any more.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            let mut cur = self.head.load(Ordering::Relaxed, guard);
            while !cur.is_null() {
                let next = cur.deref().next.load(Ordering::Relaxed, guard);
                drop(cur.into_owned());
                cur = next;
            }
        }
    }
}

/// Which entry the cache gives up when it needs room.
///
/// ```
/// use clockwheel::{Cache, EvictionPolicy};
/// let lru_like = Cache::<u32, u32>::builder().max_capacity(2).shards(1).build().unwrap();
/// lru_like.insert(1, 1);
/// lru_like.insert(2, 2);
/// lru_like.get(&1); // sets 1's reference bit
/// lru_like.insert(3, 3); // 1 gets a second chance; 2 is evicted
/// assert!(lru_like.contains_key(&1) && !lru_like.contains_key(&2));
///
/// let fifo = Cache::<u32, u32>::builder()
///     .max_capacity(2).shards(1).policy(EvictionPolicy::Fifo).build().unwrap();
/// fifo.insert(1, 1);
/// fifo.insert(2, 2);
/// fifo.get(&1);
/// fifo.insert(3, 3); // oldest-inserted goes, reads or not
/// assert!(!fifo.contains_key(&1) && fifo.contains_key(&2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EvictionPolicy {
    /// CLOCK (second chance): FIFO with reinsertion of entries read since the hand last
    /// passed. Approximates LRU; a hit costs at most one relaxed bit-set.
    #[default]
    Clock,
    /// Evict the oldest-inserted entry; reads leave no trace. An update counts as a
    /// fresh insertion.
    Fifo,
}
