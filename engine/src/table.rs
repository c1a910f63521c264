//! Lock-free bucket chains: Harris' marked-pointer list, unsorted, insertion at the tail,
//! with one addition, *replace in place*.
//!
//! Each bucket is a singly linked chain of [`Node`]s. The protocol (Harris, DISC 2001;
//! Michael, SPAA 2002):
//! - **Insert** walks the chain and, if it meets no live node of its key, links the new
//!   node after the last one with one CAS of that node's `next` from unmarked null (or of
//!   the bucket head, if the chain is empty). The CAS fails if anything was appended or
//!   the last node died meanwhile, and the inserter walks again. A live node for a key can
//!   only appear by an append or by replacing a live node of the same key in place, and
//!   both happen at or after the position where the key's first node was appended, so a
//!   walk that reaches the end sees every node of its key: two inserters of one key cannot
//!   both append, the loser finds the winner's node on its retry (hazard 1).
//!   Appending at the tail keeps long-lived entries, which CLOCK keeps because they are
//!   hot, at the front of their chains, where lookups find them first.
//! - **Remove / evict** marks the victim's `next` pointer ([`Node::kill`]), then unlinks
//!   it by a CAS on its predecessor's (unmarked) `next` ([`unlink_dead`]).
//! - **Replace** marks the old node's `next` *and points it at the new node* in one CAS:
//!   `old.next: succ -> new|MARK` with `new.next = succ`. A reader that reaches the old
//!   node sees it dead and walks on to the new node, so a concurrent `get` sees the old
//!   value or the new one, never a miss (hazard 4).
//! - **Lookup** walks the chain without writing anything and skips marked nodes.
//!
//! Publication: a node's fields are written before the Release half of the CAS that
//! links it; readers load pointers with Acquire, so they see initialized nodes.

use std::borrow::Borrow;

use crate::node::{release, NewNode, Node, MARK, UNLINKED};
use crate::sync::{Atomic, Guard, Ordering, Shared};

/// The head of one bucket chain.
pub(crate) type Bucket<K, V> = Atomic<Node<K, V>>;

/// The result of a successful [`link`].
pub(crate) enum Linked<'g, K, V> {
    /// The key was absent; `new` now ends the chain.
    Inserted(Shared<'g, Node<K, V>>),
    /// `old` was live and has been atomically superseded by `new`.
    Replaced {
        new: Shared<'g, Node<K, V>>,
        old: Shared<'g, Node<K, V>>,
    },
}

/// Finds the live node holding `key` in the chain starting at `first`.
#[inline]
pub(crate) fn find<'g, K, V, Q>(
    mut cur: Shared<'g, Node<K, V>>,
    key: &Q,
    guard: &'g Guard,
) -> Option<&'g Node<K, V>>
where
    K: Borrow<Q>,
    Q: Eq + ?Sized,
{
    // SAFETY: every node reachable from a bucket was published by a Release CAS and is
    // freed only after it is unlinked and dequeued *and* the epoch of `guard` has passed.
    while let Some(node) = unsafe { cur.as_ref() } {
        let next = node.next.load(Ordering::Acquire, guard);
        if next.tag() & MARK == 0 && node.key.borrow() == key {
            return Some(node);
        }
        cur = next.with_tag(0);
    }
    None
}

/// Links `node` into `bucket`: replaces `old` if given (it must be the live node of the
/// same key, found by [`find`]), otherwise appends it if the chain still holds no live
/// node of its key. Hands `node` back if the chain changed under us; the caller then
/// searches again.
pub(crate) fn link<'g, K: Eq, V>(
    bucket: &Bucket<K, V>,
    old: Option<Shared<'g, Node<K, V>>>,
    node: NewNode<K, V>,
    guard: &'g Guard,
) -> Result<Linked<'g, K, V>, NewNode<K, V>> {
    match old {
        None => append(bucket, node, guard).map(Linked::Inserted),
        Some(old) => replace(old, node, guard).map(|new| Linked::Replaced { new, old }),
    }
}

/// The linked node, or the node handed back when the CAS lost a race.
type LinkResult<'g, K, V> = Result<Shared<'g, Node<K, V>>, NewNode<K, V>>;

/// Appends `node` after the chain's last node (see the module doc). Fails if a live node
/// of the same key is met, if the last node is dead (it is unlinked first, so the retry
/// can go further), or if the CAS loses a race.
fn append<'g, K: Eq, V>(
    bucket: &Bucket<K, V>,
    node: NewNode<K, V>,
    guard: &'g Guard,
) -> LinkResult<'g, K, V> {
    let mut slot = bucket;
    loop {
        let cur = slot.load(Ordering::Acquire, guard);
        // SAFETY: as in `find`.
        match unsafe { cur.with_tag(0).as_ref() } {
            Some(n) if n.key == node.get().key && n.is_live(guard) => return Err(node),
            Some(n) => slot = &n.next,
            None if cur.tag() & MARK != 0 => {
                // `slot` is the `next` of a dead last node: nothing may follow it.
                unlink_dead(bucket, guard);
                return Err(node);
            }
            None => {
                // A node handed back by a failed replace still points at that chain's
                // successor; linked at the end, it would close a cycle.
                node.get().next.store(Shared::null(), Ordering::Relaxed);
                return match slot.compare_exchange(
                    cur,
                    node.shared(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                    guard,
                ) {
                    Ok(_) => Ok(node.publish()),
                    Err(_) => Err(node),
                };
            }
        }
    }
}

/// `old.next: succ -> new|MARK`, with `new.next = succ`. Fails only if `old` died.
fn replace<'g, K, V>(
    old: Shared<'g, Node<K, V>>,
    new: NewNode<K, V>,
    guard: &'g Guard,
) -> LinkResult<'g, K, V> {
    // SAFETY: `old` came from `find` under `guard`.
    let old = unsafe { old.deref() };
    let mut succ = old.next.load(Ordering::Acquire, guard);
    loop {
        if succ.tag() & MARK != 0 {
            return Err(new);
        }
        // `new` is ours until the CAS below publishes it.
        new.get().next.store(succ, Ordering::Relaxed);
        match old.next.compare_exchange(
            succ,
            new.shared().with_tag(MARK),
            Ordering::AcqRel,
            Ordering::Acquire,
            guard,
        ) {
            Ok(_) => return Ok(new.publish()),
            Err(e) => succ = e.current,
        }
    }
}

/// Physically unlinks every dead node of `bucket`, releasing the table's reference to
/// each node it unlinks. On return, every node that was dead when the call started is
/// unreachable from the bucket: we never step over a marked node without unlinking it,
/// and a dead node is never linked anew (links are only made to live heads or to the
/// successor of a live node).
pub(crate) fn unlink_dead<K, V>(bucket: &Bucket<K, V>, guard: &Guard) {
    'restart: loop {
        let mut prev = bucket;
        let mut cur = prev.load(Ordering::Acquire, guard);
        // SAFETY: as in `find`.
        while let Some(node) = unsafe { cur.as_ref() } {
            let next = node.next.load(Ordering::Acquire, guard);
            if next.tag() & MARK == 0 {
                prev = &node.next;
                cur = next;
                continue;
            }
            let succ = next.with_tag(0);
            if prev
                .compare_exchange(cur, succ, Ordering::AcqRel, Ordering::Acquire, guard)
                .is_err()
            {
                continue 'restart;
            }
            // SAFETY: our CAS was the one that unlinked `cur`; the table's reference is
            // given up exactly once, here.
            unsafe { release(cur, UNLINKED, guard) };
            cur = succ;
        }
        return;
    }
}

/// Calls `f` on every live node of the chain (weakly consistent under concurrency).
pub(crate) fn for_each_live<'g, K, V>(
    bucket: &Bucket<K, V>,
    guard: &'g Guard,
    mut f: impl FnMut(Shared<'g, Node<K, V>>),
) where
    K: 'g,
    V: 'g,
{
    let mut cur = bucket.load(Ordering::Acquire, guard);
    // SAFETY: as in `find`.
    while let Some(node) = unsafe { cur.as_ref() } {
        let next = node.next.load(Ordering::Acquire, guard);
        if next.tag() & MARK == 0 {
            f(cur);
        }
        cur = next.with_tag(0);
    }
}
