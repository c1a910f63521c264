//! Helpers of the hazard-10 stress test in `engine/tests/stress.rs` (included there by
//! path): user code that panics on purpose, and a worker that shrugs those panics off.

use std::panic::AssertUnwindSafe;
use std::sync::Once;
use std::time::Duration;

use clockwheel::Cache;
use quanta::Mock;

use super::churn::Rng;

/// Payload of the panics the hazard-10 test provokes; the panic hook stays quiet for it.
pub const PROVOKED: &str = "provoked panic (stress test of panicking user code)";

/// Installs (once) a panic hook that stays quiet for [`PROVOKED`] and defers to the
/// previous hook for every other panic.
pub fn quiet_provoked_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PROVOKED) {
                previous(info);
            }
        }));
    });
}

/// Runs `op`, swallowing only the provoked panics; returns whether it panicked.
fn tolerate(op: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(AssertUnwindSafe(op)) {
        Ok(()) => false,
        Err(p) if p.downcast_ref::<&str>() == Some(&PROVOKED) => true,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// One thread of the hazard-10 test: random writes, reads, expiry and bulk removals.
pub fn panicky_worker(cache: &Cache<u64, u64>, mock: &Mock, seed: u64, ops: u64) -> u64 {
    let mut rng = Rng::new(seed);
    let mut panics = 0;
    for i in 0..ops {
        let key = rng.below(PANICKY_KEYS as u64);
        let ttl = rng
            .chance(30)
            .then(|| Duration::from_micros(rng.between(50, 5_000)));
        let value = rng.below(1 << 20);
        panics += u64::from(tolerate(|| match rng.below(10) {
            0..=4 => drop(cache.insert_with_ttl(key, value, ttl)),
            5..=7 => drop(cache.get(&key)),
            8 => drop(cache.remove(&key)),
            _ if i % 1_000 == 0 => drop(cache.retain(|_, v| v % 3 != 0)),
            _ => cache.run_pending_tasks(),
        }));
        mock.increment(Duration::from_micros(1));
    }
    panics
}

/// Keys the hazard-10 test draws from.
pub const PANICKY_KEYS: usize = 2_000;
