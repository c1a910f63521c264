//! The one place that chooses between `std` and `loom` synchronization primitives.
//!
//! Under `--cfg clockwheel_loom` every atomic the engine touches is loom's, and so is
//! crossbeam-epoch's `Atomic<T>` (its `loom` feature plus `--cfg crossbeam_loom`), so loom
//! explores the interleavings of our pointer loads and CASes as well as of our counters.

#[cfg(clockwheel_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
#[cfg(clockwheel_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(clockwheel_loom)]
pub(crate) use loom::thread::yield_now;
#[cfg(not(clockwheel_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
#[cfg(not(clockwheel_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(clockwheel_loom))]
pub(crate) use std::thread::yield_now;

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

/// A hint to load the cache line at `ptr`; no effect where there is no such instruction.
#[inline]
pub(crate) fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and reads nothing the program
    // can observe, whatever the address (a freed or unmapped one included). SSE, which
    // provides it, is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Statistics stripes that threads can own (see [`owned_stripe`]).
pub(crate) const OWNED_STRIPES: usize = 64;

/// The statistics stripe the calling thread owns: `Some(i)`, `i < OWNED_STRIPES`, while
/// no other live thread has `i`, so the owner may count with a plain load and store
/// instead of a locked read-modify-write. `None` when all are taken (more than
/// `OWNED_STRIPES` live threads use caches), while the thread is being torn down, and
/// under loom: the caller then adds atomically to a shared stripe.
///
/// A thread claims the lowest free bit of a process-wide bitmap on first use and
/// clears it when it exits. Claim (Acquire) and release (Release) order the previous
/// owner's last counts before the next owner's first load, so no count is lost.
#[cfg(not(clockwheel_loom))]
#[inline]
pub(crate) fn owned_stripe() -> Option<usize> {
    use std::sync::atomic::AtomicU64 as StdAtomicU64;
    static TAKEN: StdAtomicU64 = StdAtomicU64::new(0);

    struct StripeOwner(Option<usize>);

    impl StripeOwner {
        fn claim() -> Self {
            let mut taken = TAKEN.load(Ordering::Relaxed);
            while taken != u64::MAX {
                let bit = (!taken).trailing_zeros() as usize;
                match TAKEN.compare_exchange_weak(
                    taken,
                    taken | 1 << bit,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return StripeOwner(Some(bit)),
                    Err(now) => taken = now,
                }
            }
            StripeOwner(None)
        }
    }

    impl Drop for StripeOwner {
        fn drop(&mut self) {
            if let Some(bit) = self.0 {
                TAKEN.fetch_and(!(1 << bit), Ordering::Release);
            }
        }
    }

    const _: () = assert!(OWNED_STRIPES == u64::BITS as usize);
    thread_local! {
        static STRIPE: StripeOwner = StripeOwner::claim();
    }
    STRIPE.try_with(|owner| owner.0).ok().flatten()
}

#[cfg(clockwheel_loom)]
pub(crate) fn owned_stripe() -> Option<usize> {
    None
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
