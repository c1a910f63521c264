//! The entry node shared by a shard's hash chain and its CLOCK queue.
//!
//! A node is reachable from up to three structures at once: the bucket chain of its shard
//! (the *table reference*), one cell of its shard's CLOCK queue (the *queue reference*),
//! and, if it can expire, its shard's timers (the *timer reference*: inbox or wheel).
//! Each structure gives its reference up exactly once, by setting a bit in
//! [`Node::state`] with `fetch_or`; whoever sets the last bit hands the node to the epoch
//! for destruction. So a node is freed exactly once, and only after every structure has
//! let go of it (hazard 2 of `docs/architecture.md`). In particular the wheel can never
//! hold a pointer to a freed entry: its reference keeps the node alive.
//!
//! A dead node can outlive its death by a while (until the CLOCK hand pops it, or its
//! timer fires or is compacted away), but its value does not: whoever kills a node moves
//! the value out into a drop deferred through the epoch ([`Node::retire_value`]), so dead
//! entries hold no value memory beyond one epoch, whatever their size.
//!
//! Liveness is not a state bit: a node is *live* while its `next` pointer is unmarked.
//! Marking `next` (one CAS) is the single linearization point of remove, replace and
//! evict, so exactly one thread kills each node and accounts for its weight.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::sync::{Atomic, AtomicU64, Guard, Ordering, Shared};

/// Tag on [`Node::next`]: the node is logically removed (Harris, "A Pragmatic
/// Implementation of Non-Blocking Linked-Lists", DISC 2001).
pub(crate) const MARK: usize = 1;

/// State bit: the CLOCK reference bit, set by hits, cleared by the hand.
pub(crate) const REFERENCED: u64 = 1;
/// State bit: the node has been physically unlinked from its bucket chain.
pub(crate) const UNLINKED: u64 = 1 << 1;
/// State bit: the CLOCK queue has given the node up (popped and not pushed back).
pub(crate) const DEQUEUED: u64 = 1 << 2;
/// State bit: the shard's timers (inbox or wheel) have given the node up. Set from
/// birth for nodes that never expire.
pub(crate) const UNTIMED: u64 = 1 << 3;
/// State bit: the value was moved out when the node died; dropping the node must not drop
/// it again.
const VALUE_RETIRED: u64 = 1 << 4;
/// State bit, fixed at birth: the node can expire, and was allocated as a [`TimedNode`]
/// (its [`Timing`] follows it in memory).
const TIMED: u64 = 1 << 5;
/// All owners: a node is freed when all three have let go.
const OWNERS: u64 = UNLINKED | DEQUEUED | UNTIMED;
/// `deadline` of a node that never expires.
pub(crate) const NEVER: u64 = u64::MAX;
/// The low bits of [`Node::state`] hold flags; the weight lives above them.
const WEIGHT_SHIFT: u32 = 8;

/// The largest weight an entry (and so the whole cache) may have: 2^56 - 1.
pub const MAX_WEIGHT: u64 = (1 << (64 - WEIGHT_SHIFT)) - 1;

/// One cache entry.
///
/// Two layouts share this type. An entry that never expires is a bare `Node`: `next`,
/// `state`, key and value (32 bytes for `u64 -> u64`). An entry that can expire is a
/// [`TimedNode`]: the same `Node` followed by its [`Timing`] (8 bytes more), marked by
/// the [`TIMED`] bit. Caches without TTLs thus pay nothing for expiry. The node is the
/// first field of a `TimedNode` (`repr(C)` on both), so a pointer to either is a pointer
/// to the node, and [`NewNode`] / [`free`] allocate and free each with its own layout.
///
/// Invariants:
/// - `key` and `value` never change after the node is published.
/// - Once `next` is marked it never changes again.
/// - The weight bits of `state` and its [`TIMED`] bit never change; only the other flag
///   bits do.
#[repr(C)]
pub(crate) struct Node<K, V> {
    /// The next node of the bucket chain, tagged [`MARK`] once this node is dead.
    pub(crate) next: Atomic<Node<K, V>>,
    /// `weight << 8 | flags` ([`REFERENCED`], [`UNLINKED`], [`DEQUEUED`], [`UNTIMED`],
    /// `VALUE_RETIRED`, [`TIMED`]).
    state: AtomicU64,
    pub(crate) key: K,
    /// Dropped by [`Node::retire_value`]'s deferred drop if the node died, else with the
    /// node.
    pub(crate) value: ManuallyDrop<V>,
}

/// What an entry that can expire carries beyond a [`Node`].
struct Timing {
    /// When the entry expires, in nanoseconds of the cache's clock. Changes only under
    /// time-to-idle (a hit pushes it forward).
    deadline: AtomicU64,
}

/// The allocation of an entry that can expire.
#[repr(C)]
struct TimedNode<K, V> {
    node: Node<K, V>,
    timing: Timing,
}

/// A node allocated and not yet published: the inserting thread owns it, and frees it
/// with its own layout if it is dropped unlinked (a lost race that ends in a panic of
/// user code, say). Publishing is [`NewNode::publish`].
pub(crate) struct NewNode<K, V> {
    ptr: NonNull<Node<K, V>>,
}

impl<K, V> NewNode<K, V> {
    /// A fresh node: unreferenced, not yet released by any owner. A node that never
    /// expires (`deadline == NEVER`) has no timer owner and no [`Timing`].
    pub(crate) fn new(key: K, value: V, weight: u64, deadline: u64) -> Self {
        debug_assert!(weight <= MAX_WEIGHT);
        let timed = if deadline == NEVER { UNTIMED } else { TIMED };
        let node = Node {
            next: Atomic::null(),
            state: AtomicU64::new(weight << WEIGHT_SHIFT | timed),
            key,
            value: ManuallyDrop::new(value),
        };
        let ptr = match deadline {
            NEVER => Box::into_raw(Box::new(node)),
            _ => {
                let timing = Timing {
                    deadline: AtomicU64::new(deadline),
                };
                Box::into_raw(Box::new(TimedNode { node, timing })).cast::<Node<K, V>>()
            }
        };
        // SAFETY: `Box::into_raw` never returns null.
        NewNode {
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }

    /// The node, still private to this thread.
    pub(crate) fn get(&self) -> &Node<K, V> {
        // SAFETY: we own the allocation, and nothing else can reach it yet.
        unsafe { self.ptr.as_ref() }
    }

    /// A pointer to the node for a CAS that may publish it.
    pub(crate) fn shared<'g>(&self) -> Shared<'g, Node<K, V>> {
        Shared::from(self.ptr.as_ptr() as *const Node<K, V>)
    }

    /// The CAS of [`NewNode::shared`] succeeded: the structures now own the node.
    pub(crate) fn publish<'g>(self) -> Shared<'g, Node<K, V>> {
        let shared = self.shared();
        std::mem::forget(self);
        shared
    }
}

impl<K, V> Drop for NewNode<K, V> {
    fn drop(&mut self) {
        // SAFETY: never published, so this thread alone can reach it.
        unsafe { free(self.ptr.as_ptr()) }
    }
}

/// Frees a node, value included unless retired, with the layout it was allocated with.
///
/// # Safety
/// `ptr` came from [`NewNode::new`], and no thread can reach the node any more.
unsafe fn free<K, V>(ptr: *mut Node<K, V>) {
    // SAFETY: the caller's contract; `TIMED` says which `Box` was allocated.
    unsafe {
        if (*ptr).state.load(Ordering::Relaxed) & TIMED != 0 {
            drop(Box::from_raw(ptr.cast::<TimedNode<K, V>>()));
        } else {
            drop(Box::from_raw(ptr));
        }
    }
}

impl<K, V> Node<K, V> {
    /// The node's [`Timing`], if it can expire.
    #[inline]
    fn timing(&self) -> Option<&Timing> {
        if !self.has_timer() {
            return None;
        }
        // SAFETY: `TIMED` is set at birth exactly when the node was allocated as a
        // `TimedNode`, whose first field (`repr(C)`) is this node: the allocation starts
        // at `self` and its `timing` lies within it. Every `&Node` is made from a pointer
        // to that whole allocation (the `Box` of `NewNode::new`, carried by crossbeam's
        // `Shared`), never from a `&Node` narrowed out of a larger borrow. Relaxed
        // suffices for the bit: it was written before the node was published, and every
        // thread reached the node through an Acquire load of the pointer that published
        // it.
        Some(unsafe { &(*(self as *const Self).cast::<TimedNode<K, V>>()).timing })
    }

    /// When the entry expires, in nanoseconds of the cache's clock, or [`NEVER`].
    #[inline]
    pub(crate) fn deadline(&self) -> u64 {
        self.timing()
            .map_or(NEVER, |t| t.deadline.load(Ordering::Relaxed))
    }

    /// Time-to-idle: moves the deadline later, never earlier, so the wheel, which keeps
    /// the node's timer at the deadline it had when scheduled, is never late (Relaxed:
    /// the wheel re-reads it before expiring and reschedules if it moved). A node that
    /// never expires stays so.
    pub(crate) fn extend_deadline(&self, deadline: u64) {
        if let Some(t) = self.timing() {
            if t.deadline.load(Ordering::Relaxed) < deadline {
                t.deadline.fetch_max(deadline, Ordering::Relaxed);
            }
        }
    }

    /// True if the shard's timers hold (or held) a reference to this node: a node is
    /// timed from birth or never (time-to-idle only moves finite deadlines). The same
    /// bit says it was allocated as a [`TimedNode`].
    #[inline]
    pub(crate) fn has_timer(&self) -> bool {
        self.state.load(Ordering::Relaxed) & TIMED != 0
    }

    pub(crate) fn weight(&self) -> u64 {
        self.state.load(Ordering::Relaxed) >> WEIGHT_SHIFT
    }

    /// True while the node is live (its `next` is unmarked).
    pub(crate) fn is_live(&self, guard: &Guard) -> bool {
        self.next.load(Ordering::Acquire, guard).tag() & MARK == 0
    }

    /// Records a hit. Writes only when the bit is clear, so a hot entry's cache line
    /// stays shared among readers. Relaxed: the bit is a hint to the hand, it orders
    /// nothing else.
    #[inline]
    pub(crate) fn touch(&self) {
        if self.state.load(Ordering::Relaxed) & REFERENCED == 0 {
            self.state.fetch_or(REFERENCED, Ordering::Relaxed);
        }
    }

    /// Clears the reference bit, returning whether it was set. Atomic, so a hit that
    /// lands after the clear is kept for the next sweep, never swallowed.
    pub(crate) fn clear_referenced(&self) -> bool {
        self.state.fetch_and(!REFERENCED, Ordering::Relaxed) & REFERENCED != 0
    }

    pub(crate) fn is_referenced(&self) -> bool {
        self.state.load(Ordering::Relaxed) & REFERENCED != 0
    }

    pub(crate) fn flags(&self) -> u64 {
        self.state.load(Ordering::Acquire) & ((1 << WEIGHT_SHIFT) - 1)
    }

    /// Kills the node: marks `next` so no reader or writer treats it as live again.
    /// Returns false if another thread killed it first. This is the linearization
    /// point of remove and evict (replace marks in [`crate::table`] with a successor).
    pub(crate) fn kill(&self, guard: &Guard) -> bool {
        let mut next = self.next.load(Ordering::Acquire, guard);
        loop {
            if next.tag() & MARK != 0 {
                return false;
            }
            match self.next.compare_exchange(
                next,
                next.with_tag(MARK),
                Ordering::AcqRel,
                Ordering::Acquire,
                guard,
            ) {
                Ok(_) => return true,
                Err(e) => next = e.current,
            }
        }
    }
}

impl<K, V> Node<K, V> {
    /// Moves the value of a node that just died into a drop deferred through the epoch.
    /// Threads that may still read it were pinned before this call, so the drop runs
    /// after them; threads that pin later cannot reach a dead node's value (lookups skip
    /// marked nodes). The flag keeps the node's own drop from dropping it again.
    ///
    /// # Safety
    /// The caller killed the node (its `next` is marked) and `guard` protects it.
    pub(crate) unsafe fn retire_value(&self, guard: &Guard) {
        // Nothing to free early, or every owner has let go and the node, value included,
        // is already on its way to the epoch.
        if !std::mem::needs_drop::<V>() || self.state.load(Ordering::Acquire) & OWNERS == OWNERS {
            return;
        }
        if self.state.fetch_or(VALUE_RETIRED, Ordering::AcqRel) & VALUE_RETIRED != 0 {
            return;
        }
        // SAFETY: the flag, set here once, hands the value to this copy alone: the node's
        // drop skips it. The bytes stay in place for readers pinned before this call.
        let value = unsafe { std::ptr::read(&*self.value) };
        // SAFETY: the closure only drops the value it owns, after every thread pinned now
        // has unpinned. `V: Send` is what already lets nodes be freed on any thread.
        unsafe { guard.defer_unchecked(move || drop(value)) };
    }
}

impl<K, V> Drop for Node<K, V> {
    fn drop(&mut self) {
        if self.state.load(Ordering::Acquire) & VALUE_RETIRED == 0 {
            // SAFETY: the value was not retired, so this node still owns it; `&mut self`
            // means nobody else can reach it.
            unsafe { ManuallyDrop::drop(&mut self.value) };
        }
    }
}

/// Gives up one structure's reference to `node` (`which` is [`UNLINKED`], [`DEQUEUED`]
/// or [`UNTIMED`]); the last structure to let go defers its destruction.
///
/// AcqRel: the thread that frees must see every access the other owner made.
///
/// # Safety
/// - The caller holds the reference named by `which` and gives it up now; each reference
///   is given up exactly once.
/// - `node` was published from a [`NewNode`] and is protected by `guard`.
pub(crate) unsafe fn release<K, V>(node: Shared<'_, Node<K, V>>, which: u64, guard: &Guard) {
    // SAFETY: `guard` protects `node` (caller's contract).
    let prev = unsafe { node.deref() }
        .state
        .fetch_or(which, Ordering::AcqRel);
    debug_assert_eq!(prev & which, 0, "a structure released its reference twice");
    if (prev | which) & OWNERS == OWNERS {
        let ptr = node.with_tag(0).as_raw().cast_mut();
        // SAFETY: every structure has now let go, so no new reference can be taken;
        // readers still pinned are protected by the epoch until they unpin, and only then
        // does the deferred `free` run. The node came from a `NewNode`.
        unsafe { guard.defer_unchecked(move || free(ptr)) };
    }
}
