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

/// The most buckets one shard may have: [`bucket_index`] multiplies 32-bit quantities.
/// A `u64`, since 2^32 does not fit a 32-bit `usize`.
pub(crate) const MAX_BUCKETS: u64 = 1 << 32;

/// The bucket of `hash` among `buckets` (at most [`MAX_BUCKETS`]): the low 32 bits of the
/// hash, read as a fraction of 2^32, scaled to `buckets` (Lemire, "A fast alternative to
/// the modulo reduction", 2016). Unlike a mask, any bucket count works, so the arrays are
/// sized to the entry estimate rather than to the next power of two (which wasted up to
/// 8 bytes per entry). Always less than `buckets`; uses none of the top 16 bits that pick
/// the shard.
#[inline]
pub(crate) fn bucket_index(hash: u64, buckets: usize) -> usize {
    debug_assert!(buckets as u64 <= MAX_BUCKETS);
    ((hash as u32 as u64 * buckets as u64) >> 32) as usize
}

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

#[cfg(test)]
mod tests {
    use super::{bucket_index, MAX_BUCKETS};

    /// A 64-bit mixer (splitmix64's finalizer), standing in for the cache's hasher.
    fn mix(mut x: u64) -> u64 {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    #[test]
    fn every_index_is_in_range_at_the_extremes() {
        let most = usize::try_from(MAX_BUCKETS).unwrap_or(usize::MAX);
        for buckets in [1, 2, 3, 7, 1000, 117_188, most - 1, most] {
            for hash in [
                0,
                1,
                u32::MAX as u64,
                u64::MAX,
                1 << 48,
                mix(buckets as u64),
            ] {
                assert!(
                    bucket_index(hash, buckets) < buckets,
                    "{hash:#x} of {buckets}"
                );
            }
        }
        assert_eq!(bucket_index(u32::MAX as u64, 3), 2);
        assert_eq!(bucket_index(0, 3), 0);
    }

    #[test]
    fn the_shard_bits_do_not_move_the_bucket() {
        for i in 0..1000u64 {
            let hash = mix(i) & 0x0000_ffff_ffff_ffff;
            assert_eq!(
                bucket_index(hash, 1013),
                bucket_index(hash | 0xabcd << 48, 1013)
            );
        }
    }

    #[test]
    fn buckets_fill_evenly_for_a_count_that_is_no_power_of_two() {
        let buckets = 1000;
        let mut load = vec![0u32; buckets];
        for i in 0..200_000u64 {
            load[bucket_index(mix(i), buckets)] += 1;
        }
        // 200 per bucket expected; a binomial's sd is ~14, so 130..270 is 5 sd.
        let (min, max) = (load.iter().min().unwrap(), load.iter().max().unwrap());
        assert!(*min > 130 && *max < 270, "min {min}, max {max}");
    }
}
