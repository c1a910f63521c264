//! The CLOCK queue of one shard and the eviction policies.
//!
//! CLOCK is FIFO with reinsertion (Corbató, 1968): the hand pops the oldest node; if its
//! reference bit is set it clears the bit and pushes the node back at the tail, else the
//! node is the victim. New nodes enter at the tail with the bit clear. The hand logic
//! lives in `crate::core::hand` (`evict_from`); the queue is a [`SegmentedQueue`] of node
//! pointers, so a push or a second chance costs a slot, not an allocation.
//!
//! Ownership: while a node's [`DEQUEUED`](crate::node::DEQUEUED) bit is clear, exactly
//! one of these holds it: one slot of the queue, or the one thread that popped it and
//! has not yet pushed it back or released it. `pop` hands out each slot once (the claim
//! CAS), so two hands never get the same node (hazard 6).

use crate::node::Node;
use crate::queue::SegmentedQueue;

/// A shard's CLOCK queue: its nodes, oldest first.
pub(crate) type ClockQueue<K, V> = SegmentedQueue<Node<K, V>>;

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
