//! The one place that chooses between `std` and `loom` synchronization primitives.
//!
//! Under `--cfg clockwheel_loom` every atomic the engine touches is loom's, and so is
//! crossbeam-epoch's `Atomic<T>` (its `loom` feature plus `--cfg crossbeam_loom`), so loom
//! explores the interleavings of our pointer loads and CASes as well as of our counters.

#[cfg(clockwheel_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(not(clockwheel_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};

pub(crate) use std::sync::atomic::Ordering;

pub(crate) use crossbeam_epoch::{Atomic, Guard, Owned, Shared};

/// Pins the current thread to the global epoch collector: once per cache operation.
#[cfg(not(clockwheel_loom))]
#[inline]
pub(crate) fn pin(_collector: &Collector) -> Guard {
    crossbeam_epoch::pin()
}

/// Under loom each cache owns a private collector, so that a failing model reports
/// instead of aborting the test binary (see `shared/engineering-notes.md`).
#[cfg(clockwheel_loom)]
pub(crate) fn pin(collector: &Collector) -> Guard {
    collector.0.register().pin()
}

/// The reclamation domain of one cache: the global collector in normal builds.
#[derive(Default)]
pub(crate) struct Collector(#[cfg(clockwheel_loom)] crossbeam_epoch::Collector);

impl Collector {
    /// Pins, flushes this thread's deferred destructors and advances the epoch, enough
    /// times to run the destructors of up to `FLUSH_ROUNDS` × 8 sealed bags (crossbeam
    /// frees at most 8 bags per collection), so garbage from a finished workload, e.g.
    /// the bags exited threads left behind, does not linger after the cache is dropped.
    /// A few microseconds, once per dropped cache. (Loom models drop small caches with a
    /// private collector: a few rounds free everything there, and each is a loom step.)
    pub(crate) fn flush(&self) {
        const FLUSH_ROUNDS: usize = if cfg!(clockwheel_loom) { 4 } else { 256 };
        for _ in 0..FLUSH_ROUNDS {
            pin(self).flush();
        }
    }
}

/// A small per-thread index used to stripe statistics counters across cache lines.
#[cfg(not(clockwheel_loom))]
pub(crate) fn thread_stripe() -> usize {
    use std::cell::Cell;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        let mut v = s.get();
        if v == usize::MAX {
            v = NEXT.fetch_add(1, Ordering::Relaxed);
            s.set(v);
        }
        v
    })
}

#[cfg(clockwheel_loom)]
pub(crate) fn thread_stripe() -> usize {
    0
}

/// An `UnsafeCell` whose accesses loom can check (`with_mut` maps to loom's tracked cell).
pub(crate) struct ExclusiveCell<T> {
    #[cfg(clockwheel_loom)]
    inner: loom::cell::UnsafeCell<T>,
    #[cfg(not(clockwheel_loom))]
    inner: std::cell::UnsafeCell<T>,
}

impl<T> ExclusiveCell<T> {
    pub(crate) fn new(value: T) -> Self {
        ExclusiveCell {
            #[cfg(clockwheel_loom)]
            inner: loom::cell::UnsafeCell::new(value),
            #[cfg(not(clockwheel_loom))]
            inner: std::cell::UnsafeCell::new(value),
        }
    }

    /// Runs `f` with exclusive access to the contents.
    ///
    /// # Safety
    /// No other access to the contents may happen during the call (the caller holds
    /// whatever flag or `&mut` grants exclusivity).
    pub(crate) unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(clockwheel_loom)]
        {
            // SAFETY: exclusivity is the caller's contract.
            self.inner.with_mut(|ptr| f(unsafe { &mut *ptr }))
        }
        #[cfg(not(clockwheel_loom))]
        {
            // SAFETY: exclusivity is the caller's contract.
            f(unsafe { &mut *self.inner.get() })
        }
    }
}
