//! The CLOCK hand and the capacity budget it enforces: making room before an insert,
//! shrinking back after a concurrent overshoot, one sweep of a shard's queue, and the
//! compaction of dead nodes out of that queue. The hot paths that call into it are in
//! `crate::core`; the capacity budget's rules are in its module doc.
//!
//! CLOCK (Corbató, 1968) as a FIFO with reinsertion: the hand pops the queue's head; a
//! node whose reference bit is set gets its bit cleared and goes back to the tail (a
//! second chance), the first node found with a clear bit is the victim.

use std::hash::{BuildHasher, Hash};

use super::CacheCore;
use crate::clock::EvictionPolicy;
use crate::listener::RemovalCause;
use crate::node::{release, Node, DEQUEUED};
use crate::shard::Shard;
use crate::stats::Counter;
use crate::sync::{fence, prefetch, Guard, Ordering, Shared};
use crate::table;

/// Whether a capacity check takes part in the fence handshake (see `evict_while`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handshake {
    /// Before adding weight: nothing to publish yet.
    No,
    /// After adding weight or pushing nodes back.
    Yes,
}

/// Dead nodes a shard's queue may hold beyond its live count before it is compacted.
const COMPACT_SLACK: isize = 64;

impl<K, V, S> CacheCore<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Runs the hand until `need` more weight fits, or nothing is evictable.
    pub(super) fn make_room(&self, need: u64, start_shard: usize, guard: &Guard) {
        self.evict_while(need, start_shard, std::ptr::null(), Handshake::No, guard);
    }

    /// After a concurrent overshoot, brings the cache back under capacity, evicting the
    /// node this insert just linked only as a last resort. The capacity bound wins over
    /// keeping it: a racing remove kills its node before it gives the weight back, so
    /// the overshoot may be only apparent, and then the new entry is evicted although a
    /// sequential order would have kept it (loom model
    /// `remove_vs_eviction_keeps_new_entry`, ignored for that reason); but a live node
    /// held by a compacting thread is invisible to the hand, and sparing the new entry
    /// then would leave the cache over capacity (loom model `compaction_vs_hand`).
    pub(super) fn shrink_to_capacity(
        &self,
        start_shard: usize,
        own: Shared<'_, Node<K, V>>,
        guard: &Guard,
    ) {
        let own = own.as_raw();
        if self.evict_while(0, start_shard, own, Handshake::Yes, guard) {
            self.evict_while(0, start_shard, std::ptr::null(), Handshake::Yes, guard);
        }
    }

    /// Runs the hand while `need` more weight does not fit; returns true if it stopped
    /// because nothing (other than `spare`) was evictable.
    ///
    /// With [`Handshake::Yes`] every capacity check is preceded by a SeqCst fence. The
    /// check is one side of a store-buffering handshake (Dekker): a thread that has
    /// added weight, or pushed nodes back onto a queue, then reads `weighted` and pops.
    /// For two such threads the fences order one's writes before the other's reads
    /// (C11 §32.4 [atomics.order], SC fences), so either the later checker sees the
    /// other's added weight, or its pops see the other's pushed nodes: a node in
    /// flight (popped and not yet pushed back, or in a claimed but unwritten slot) can
    /// make one hand give up, never both, and the cache does not stay over capacity.
    fn evict_while(
        &self,
        need: u64,
        start: usize,
        spare: *const Node<K, V>,
        handshake: Handshake,
        guard: &Guard,
    ) -> bool {
        loop {
            if handshake == Handshake::Yes {
                fence(Ordering::SeqCst);
            }
            if self.weighted.load(Ordering::Relaxed).saturating_add(need) <= self.capacity {
                return false;
            }
            if !self.evict_one(start, spare, guard) {
                return true;
            }
        }
    }

    /// Evicts one entry other than `spare`, trying the shards round-robin from `start`.
    fn evict_one(&self, start: usize, spare: *const Node<K, V>, guard: &Guard) -> bool {
        (0..self.shards.len()).any(|i| self.evict_from((start + i) & self.shard_mask, spare, guard))
    }

    /// One sweep of a shard's hand until it evicts a victim or the queue runs dry.
    ///
    /// Progress (hazard 6): each live node gets at most one second chance per call
    /// beyond the shard's length, so a sweep ends even while hits keep setting bits.
    /// `spare` is passed over (pushed back); meeting it twice ends the sweep.
    fn evict_from(&self, shard_idx: usize, spare: *const Node<K, V>, guard: &Guard) -> bool {
        let shard = &self.shards[shard_idx];
        let mut second_chances = shard.len() + 1;
        let mut spared = false;
        while let Some(ptr) = shard.queue.pop(guard) {
            // SAFETY: we now hold the queue's reference; the node is alive until released.
            let node = unsafe { ptr.deref() };
            if !node.is_live(guard) {
                self.discard_dead(shard, ptr, guard);
                continue;
            }
            if ptr.as_raw() == spare {
                shard.queue.push(ptr, guard);
                if std::mem::replace(&mut spared, true) {
                    return false;
                }
                continue;
            }
            let clock = self.policy == EvictionPolicy::Clock;
            if clock && second_chances > 0 && node.clear_referenced() {
                second_chances -= 1;
                shard.queue.push(ptr, guard);
                continue;
            }
            if !node.kill(guard) {
                self.discard_dead(shard, ptr, guard);
                continue;
            }
            self.finish_eviction(shard, ptr, guard);
            return true;
        }
        false
    }

    /// A dead node leaves the queue for good; its killer counted it in `dead`.
    fn discard_dead(&self, shard: &Shard<K, V>, ptr: Shared<'_, Node<K, V>>, guard: &Guard) {
        shard.add_dead(-1);
        // SAFETY: we hold the queue's reference (popped, not pushed back).
        unsafe { release(ptr, DEQUEUED, guard) };
    }

    fn finish_eviction(&self, shard: &Shard<K, V>, ptr: Shared<'_, Node<K, V>>, guard: &Guard) {
        // SAFETY: we hold the queue's reference, so the node is not freed yet.
        let node = unsafe { ptr.deref() };
        let hash = self.hash(&node.key);
        let bucket = self.bucket(self.shard_index(hash), hash);
        prefetch(bucket); // its miss overlaps the bookkeeping below
        self.weighted.fetch_sub(node.weight(), Ordering::Relaxed);
        shard.add_len(-1);
        if node.has_timer() {
            shard.timers.note_dead();
        }
        table::unlink_dead(bucket, guard);
        // A victim already past its deadline is reported as what it is.
        let cause = match self.is_expired(node) {
            true => RemovalCause::Expired,
            false => RemovalCause::Evicted,
        };
        self.count(match cause {
            RemovalCause::Expired => Counter::Expiration,
            _ => Counter::Eviction,
        });
        // SAFETY: we hold the queue's reference and give it up once, here. The node stays
        // readable for the listener below: destruction waits for `guard` to unpin.
        unsafe { release(ptr, DEQUEUED, guard) };
        self.bury(node, cause, guard);
    }

    /// Drops dead nodes from a shard's queue when they outnumber the live ones
    /// (hazard 3): a single rotation that keeps live nodes, bits and order intact.
    ///
    /// While the rotation holds a live node (popped, not yet pushed back) or has claimed
    /// a slot it has not written, a concurrent hand can miss that node, or stop at the
    /// gap, and give up with the cache over capacity; so a compaction ends by running
    /// the hand itself if the cache is over capacity.
    pub(super) fn maybe_compact(&self, shard_idx: usize, guard: &Guard) {
        let shard = &self.shards[shard_idx];
        if shard.dead() <= shard.len() as isize + COMPACT_SLACK
            || shard.counters.compacting.swap(true, Ordering::Acquire)
        {
            return;
        }
        let rounds = shard.len() + shard.dead().max(0) as usize;
        for _ in 0..rounds {
            let Some(ptr) = shard.queue.pop(guard) else {
                break;
            };
            // SAFETY: we hold the queue's reference.
            if unsafe { ptr.deref() }.is_live(guard) {
                shard.queue.push(ptr, guard);
            } else {
                self.discard_dead(shard, ptr, guard);
            }
        }
        shard.counters.compacting.store(false, Ordering::Release);
        self.evict_while(0, shard_idx, std::ptr::null(), Handshake::Yes, guard);
    }
}
