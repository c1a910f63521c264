//! Shared by `engine/tests/stress.rs` and `engine/tests/memory.rs`: a small deterministic
//! random source, the scale knob for op counts, and the per-key ledger that the eviction
//! listener and the callers fill in, so that every entry can be accounted for at the end.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use clockwheel::RemovalCause;

/// SplitMix64: tiny, fast, and good enough to pick keys and operations.
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; `n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// `release_ops` scaled for the build: full in release (times `CLOCKWHEEL_STRESS_SCALE`
/// percent, default 100), a fiftieth in debug so `cargo test --workspace` stays fast while
/// still running every check once.
pub fn scaled(release_ops: u64) -> u64 {
    let percent = std::env::var("CLOCKWHEEL_STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(100);
    let ops = release_ops * percent / 100;
    let ops = if cfg!(debug_assertions) {
        ops / 50
    } else {
        ops
    };
    ops.max(1)
}

/// What happened to one key, counted by the callers (`inserted`, `replaced_seen`) and by
/// the eviction listener (the rest).
#[derive(Default)]
pub struct KeyLedger {
    /// Inserts that found the key absent (`insert` returned `None`).
    pub inserted: AtomicU64,
    /// Inserts that superseded a live entry (`insert` returned `Some`).
    pub replaced_seen: AtomicU64,
    pub evicted: AtomicU64,
    pub removed: AtomicU64,
    pub expired: AtomicU64,
    pub replaced: AtomicU64,
    /// One more than the highest version that left by eviction, removal or expiry
    /// (0: none did).
    pub gone_version: AtomicU64,
}

impl KeyLedger {
    /// Entries of this key that left the cache other than by replacement.
    pub fn gone(&self) -> u64 {
        self.evicted.load(Relaxed) + self.removed.load(Relaxed) + self.expired.load(Relaxed)
    }

    /// True if the listener has heard that `version` (or a later one) left the cache.
    pub fn heard_gone(&self, version: u64) -> bool {
        self.gone_version.load(Relaxed) > version
    }
}

/// Sums over every key of a [`Ledger`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub inserted: u64,
    pub replaced_seen: u64,
    pub evicted: u64,
    pub removed: u64,
    pub expired: u64,
    pub replaced: u64,
}

/// One [`KeyLedger`] per key id, plus a count of causes this test does not know.
pub struct Ledger {
    keys: Box<[KeyLedger]>,
    pub unknown_causes: AtomicU64,
}

impl Ledger {
    pub fn new(keys: usize) -> Self {
        Ledger {
            keys: (0..keys).map(|_| KeyLedger::default()).collect(),
            unknown_causes: AtomicU64::new(0),
        }
    }

    pub fn key(&self, id: usize) -> &KeyLedger {
        &self.keys[id]
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The listener's half: records that `version` of key `id` left for `cause`.
    pub fn hear(&self, id: usize, version: u64, cause: RemovalCause) {
        let k = &self.keys[id];
        let counter = match cause {
            RemovalCause::Evicted => &k.evicted,
            RemovalCause::Removed => &k.removed,
            RemovalCause::Expired => &k.expired,
            RemovalCause::Replaced => &k.replaced,
            _ => &self.unknown_causes,
        };
        counter.fetch_add(1, Relaxed);
        if cause != RemovalCause::Replaced {
            k.gone_version.fetch_max(version + 1, Relaxed);
        }
    }

    /// The caller's half: records what an insert of key `id` returned.
    pub fn note_insert(&self, id: usize, replaced: bool) {
        let k = &self.keys[id];
        let counter = if replaced {
            &k.replaced_seen
        } else {
            &k.inserted
        };
        counter.fetch_add(1, Relaxed);
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for k in self.keys.iter() {
            t.inserted += k.inserted.load(Relaxed);
            t.replaced_seen += k.replaced_seen.load(Relaxed);
            t.evicted += k.evicted.load(Relaxed);
            t.removed += k.removed.load(Relaxed);
            t.expired += k.expired.load(Relaxed);
            t.replaced += k.replaced.load(Relaxed);
        }
        t
    }
}

/// Runs `body`, aborting the whole test binary with a message if it has not returned
/// after `CLOCKWHEEL_STRESS_WATCHDOG_S` seconds of real time (default 300): a stress test
/// that stops making progress (a livelock, a cycle in a bucket chain) then fails CI
/// instead of hanging it. A panic in `body` disarms the watchdog.
pub fn watchdog<R>(name: &str, body: impl FnOnce() -> R) -> R {
    let limit = std::env::var("CLOCKWHEEL_STRESS_WATCHDOG_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(
            std::time::Duration::from_secs(300),
            std::time::Duration::from_secs,
        );
    let (disarm, armed) = std::sync::mpsc::channel::<()>();
    let name = name.to_string();
    let dog = std::thread::spawn(move || {
        if armed.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            // Straight to stderr: the test harness would capture `eprintln!` and lose it.
            let _ = writeln!(
                std::io::stderr(),
                "{name}: still running after {limit:?}; the cache stopped making progress \
                 (livelock, or a cycle in a bucket chain). Aborting."
            );
            std::process::abort();
        }
    });
    let result = body();
    drop(disarm);
    dog.join().expect("the watchdog never panics");
    result
}
