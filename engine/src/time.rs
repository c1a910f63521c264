//! The cache's clock, and how reads judge a deadline cheaply.
//!
//! # Precision
//! Deadlines are kept in nanoseconds of the cache's clock ([`TimeSource`]). By default
//! that is the kernel's coarse monotonic clock, which lags real time by less than one
//! kernel tick (its resolution, 1 to 4 ms). Reads allow for that lag: an entry is never
//! returned past its deadline and may be treated as expired up to two ticks early.
//!
//! A read does not even need the clock for an entry more than a lease (1 s) from its
//! deadline: the process-wide ticker (`crate::ticker`) publishes the coarse clock every
//! 10 ms, and `published + lease + lag` bounds real time as long as the ticker thread
//! is not kept off every CPU for a second. Entries nearer their deadline, caches under
//! time-to-idle, and every read while nothing is published read the clock.
//!
//! A `quanta::Clock` given to the builder (TSC or mock) is used exactly, on every read.

use std::time::Duration;

use crate::node::NEVER;

/// The longest TTL accepted: 100 years (anything longer means "never" in practice, and
/// `now + ttl` must not overflow 64-bit nanoseconds).
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The cache's clock: nanoseconds since the cache was built.
///
/// By default it reads the kernel's coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`, a
/// vDSO read of the time of the last timer interrupt, no TSC read), which lags real time
/// by less than its resolution `slack` (1 to 4 ms, the kernel tick). Reads therefore test
/// deadlines against `now() + slack`, the latest real time can be, so they never return an
/// entry past its deadline, at the price of expiring it up to two ticks early; most of
/// them skip the clock through [`Self::surely_before`]. A clock given to the builder
/// (quanta's TSC clock, or its mock) is used exactly, with no slack. On other systems the
/// default is quanta's clock.
pub(crate) struct TimeSource {
    clock: ClockKind,
    origin: u64,
    /// How far `now()` may lag real time, in ns (0 for exact clocks).
    slack: u64,
    /// This cache's registration with the ticker, taken when it first sets a deadline.
    #[cfg(all(target_os = "linux", not(clockwheel_loom)))]
    ticker: std::sync::OnceLock<crate::ticker::Subscription>,
}

enum ClockKind {
    #[cfg(target_os = "linux")]
    Coarse,
    Quanta(quanta::Clock),
}

impl TimeSource {
    /// `None`: the default clock.
    pub(crate) fn new(clock: Option<quanta::Clock>) -> Self {
        let (clock, slack) = match clock {
            Some(clock) => (ClockKind::Quanta(clock), 0),
            #[cfg(target_os = "linux")]
            None => (ClockKind::Coarse, coarse::resolution()),
            #[cfg(not(target_os = "linux"))]
            None => (ClockKind::Quanta(quanta::Clock::new()), 0),
        };
        let origin = match &clock {
            #[cfg(target_os = "linux")]
            ClockKind::Coarse => coarse::now(),
            ClockKind::Quanta(clock) => clock.raw(),
        };
        TimeSource {
            clock,
            origin,
            slack,
            #[cfg(all(target_os = "linux", not(clockwheel_loom)))]
            ticker: std::sync::OnceLock::new(),
        }
    }

    /// Nanoseconds since the cache was built; never ahead of real time.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match &self.clock {
            #[cfg(target_os = "linux")]
            ClockKind::Coarse => coarse::now().saturating_sub(self.origin),
            ClockKind::Quanta(clock) => clock.delta_as_nanos(self.origin, clock.raw()),
        }
    }

    /// [`Self::now`], for a deadline about to be set: the first call on the default
    /// clock subscribes the cache to the ticker, so that reads can skip the clock.
    #[inline]
    pub(crate) fn now_for_deadline(&self) -> u64 {
        #[cfg(all(target_os = "linux", not(clockwheel_loom)))]
        if matches!(self.clock, ClockKind::Coarse) {
            // After the first call, one load.
            self.ticker
                .get_or_init(|| crate::ticker::Subscription::new(coarse_now));
        }
        self.now()
    }

    /// True if real time is surely before `deadline`, judged from the ticker's last
    /// reading without reading the clock; false when unsure (then read the clock).
    #[inline]
    pub(crate) fn surely_before(&self, deadline: u64) -> bool {
        #[cfg(all(target_os = "linux", not(clockwheel_loom)))]
        if matches!(self.clock, ClockKind::Coarse) {
            return self.before_by_reading(deadline, crate::ticker::TICKER.published());
        }
        let _ = deadline;
        false
    }

    /// [`Self::surely_before`] given the ticker's reading `published` (0: none). Real
    /// time is below `published + LEASE + slack` while the lease holds (see
    /// `crate::ticker`); a reading so old that this bound precedes the cache's origin
    /// breaks the lease, and is not trusted.
    #[cfg(all(target_os = "linux", not(clockwheel_loom)))]
    #[inline]
    fn before_by_reading(&self, deadline: u64, published: u64) -> bool {
        let latest = (published + crate::ticker::LEASE + self.slack).checked_sub(self.origin);
        match latest {
            Some(latest) if published != 0 => deadline > latest,
            _ => false,
        }
    }

    /// How far `now()` may lag real time: reads treat a deadline within `now() + slack`
    /// as passed, so they never return an entry late.
    #[inline]
    pub(crate) fn slack(&self) -> u64 {
        self.slack
    }

    /// The deadline `ttl` from `now`; `None` means never.
    pub(crate) fn deadline(now: u64, ttl: Option<Duration>) -> u64 {
        match ttl {
            None => NEVER,
            Some(ttl) => now
                .saturating_add(ttl.min(MAX_TTL).as_nanos() as u64)
                .min(NEVER - 1),
        }
    }
}

/// The kernel's coarse monotonic clock, in absolute ns (what the ticker publishes).
#[cfg(all(target_os = "linux", not(clockwheel_loom)))]
pub(crate) fn coarse_now() -> u64 {
    coarse::now()
}

/// The kernel's coarse monotonic clock.
#[cfg(target_os = "linux")]
mod coarse {
    fn read(f: unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on
        // every Linux since 2.6.32, and on failure `ts` stays zeroed (a clock stuck at 0
        // never expires anything early).
        unsafe { f(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    #[inline]
    pub(super) fn now() -> u64 {
        read(libc::clock_gettime)
    }

    /// The clock's resolution (the kernel tick), at least 1 ns.
    pub(super) fn resolution() -> u64 {
        read(libc::clock_getres).max(1)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::ticker::LEASE;

    #[test]
    fn default_clock_is_coarse_monotonic_and_never_ahead_of_real_time() {
        let time = TimeSource::new(None);
        let slack = time.slack();
        assert!(
            (1..=100_000_000).contains(&slack),
            "implausible resolution {slack} ns"
        );
        let start = std::time::Instant::now();
        let mut last = time.now();
        for _ in 0..1_000 {
            let now = time.now();
            assert!(now >= last, "went backwards: {last} -> {now}");
            last = now;
        }
        let real = start.elapsed().as_nanos() as u64;
        // `now` was sampled after `origin`, so real elapsed time plus one tick bounds it.
        assert!(
            last <= real + slack,
            "coarse now {last} ns ahead of real {real} ns"
        );
    }

    #[test]
    fn a_given_clock_is_exact() {
        let (clock, mock) = quanta::Clock::mock();
        let time = TimeSource::new(Some(clock));
        assert_eq!((time.now(), time.slack()), (0, 0));
        mock.increment(Duration::from_nanos(1_234));
        assert_eq!(time.now(), 1_234);
        assert_eq!(TimeSource::deadline(10, Some(Duration::from_nanos(5))), 15);
        assert_eq!(TimeSource::deadline(10, None), NEVER);
        assert_eq!(TimeSource::deadline(u64::MAX - 3, Some(MAX_TTL)), NEVER - 1);
    }

    #[test]
    fn a_given_clock_never_trusts_the_ticker() {
        let (clock, _mock) = quanta::Clock::mock();
        let time = TimeSource::new(Some(clock));
        let _ = time.now_for_deadline();
        assert!(time.ticker.get().is_none(), "a given clock needs no ticker");
        assert!(!time.surely_before(NEVER - 1));
    }

    #[test]
    fn a_reading_proves_only_deadlines_beyond_its_lease() {
        let time = TimeSource::new(None);
        let (origin, slack) = (time.origin, time.slack);
        // Real time is below reading + LEASE + slack: relative to the cache's origin,
        // that is the last deadline the reading cannot prove in the future.
        let reading = origin + 5_000;
        let latest = 5_000 + LEASE + slack;
        assert!(time.before_by_reading(latest + 1, reading));
        assert!(!time.before_by_reading(latest, reading));
        assert!(!time.before_by_reading(0, reading));
        assert!(
            !time.before_by_reading(NEVER - 1, 0),
            "0: nothing published"
        );
        // A reading from before the cache, but within a lease of it, still bounds time.
        assert!(time.before_by_reading(LEASE + slack, origin - 1));
        assert!(!time.before_by_reading(LEASE - 1, origin - slack - 1));
        // One so old that even its lease ended before the cache's origin proves nothing.
        let stale = origin - LEASE - slack - 1;
        assert!(!time.before_by_reading(NEVER - 1, stale));
    }

    #[test]
    fn the_first_deadline_subscribes_to_the_ticker() {
        let time = TimeSource::new(None);
        let _ = time.now();
        assert!(
            time.ticker.get().is_none(),
            "reading the clock alone does not"
        );
        let before = time.now();
        let now = time.now_for_deadline();
        assert!(now >= before && time.ticker.get().is_some());
    }
}
