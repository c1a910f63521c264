//! W3, heap bytes per entry: each engine is built with capacity 1,000,000,
//! filled with 1,000,000 `u64 -> u64` entries, and the live heap it holds is
//! read from a counting global allocator.
//!
//! Not a criterion benchmark (`harness = false`, plain `main`): the global
//! allocator wraps `System` and counts the bytes *requested* by live
//! allocations (malloc's own headers and rounding are not included). The
//! figure for each engine is `(live after fill - live before build) / len`,
//! with `len` the number of entries the engine actually kept.
//!
//! Run: `cargo bench --bench w3_memory`. Results go to stdout and to
//! `target/criterion-extra/w3-memory.txt` (inside `$CARGO_TARGET_DIR` when
//! set). Under `cargo test --benches` (criterion-style `--test` argument) it
//! runs with 10,000 entries as a smoke test and writes no file.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use clockwheel_benches::{key_of_rank, write_extra};
use common::{BenchCache, Clockwheel, Moka, MutexLru, QuickCache};

/// `System`, plus a count of the bytes requested by live allocations.
struct CountingAlloc;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counter has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's (valid, non-zero-size) layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from this allocator (hence
        // from `System`) with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees for `realloc` are passed through.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn live() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

struct Row {
    name: &'static str,
    len: u64,
    bytes: usize,
}

impl Row {
    fn per_entry(&self) -> f64 {
        self.bytes as f64 / self.len.max(1) as f64
    }
}

/// Build, fill, measure. `len` counts the keys that are still present.
fn measure<C: BenchCache>(n: u64) -> Row {
    let before = live();
    let cache = C::with_capacity(n);
    for rank in 0..n {
        cache.insert(key_of_rank(rank), rank);
    }
    cache.settle();
    let bytes = live().wrapping_sub(before);
    let len = (0..n)
        .filter(|&rank| cache.get(key_of_rank(rank)).is_some())
        .count() as u64;
    drop(cache);
    Row {
        name: C::NAME,
        len,
        bytes,
    }
}

fn measure_hashbrown(n: u64) -> Row {
    let before = live();
    let mut map = hashbrown::HashMap::<u64, u64>::with_capacity(n as usize);
    for rank in 0..n {
        map.insert(key_of_rank(rank), rank);
    }
    let bytes = live().wrapping_sub(before);
    Row {
        name: "hashbrown",
        len: map.len() as u64,
        bytes,
    }
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    let n: u64 = if smoke { 10_000 } else { 1_000_000 };

    let rows = [
        measure_hashbrown(n),
        measure::<Clockwheel>(n),
        measure::<QuickCache>(n),
        measure::<Moka>(n),
        measure::<MutexLru>(n),
    ];

    let mut out = format!(
        "# W3 heap bytes per entry: {n} u64 -> u64 entries, capacity {n}; \
         live requested bytes (counting global allocator) / entries kept\n\
         {:<22} {:>10} {:>14} {:>12}\n",
        "engine", "entries", "heap bytes", "bytes/entry"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<22} {:>10} {:>14} {:>12.1}",
            r.name,
            r.len,
            r.bytes,
            r.per_entry()
        );
    }
    print!("{out}");
    if !smoke {
        if let Some(path) = write_extra("w3-memory.txt", &out) {
            println!("written to {}", path.display());
        }
    }
}
