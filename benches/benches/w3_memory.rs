//! W3, heap bytes per entry: each engine is built with capacity 1,000,000,
//! filled with 1,000,000 `u64 -> u64` entries, and the live heap it holds is
//! read from a counting global allocator.
//!
//! Not a criterion benchmark (`harness = false`, plain `main`): the global
//! allocator wraps `System` and counts, for live allocations, the bytes
//! *requested* and (on glibc) the bytes malloc actually set aside for them
//! (`malloc_usable_size`, which includes its rounding to 16-byte chunks but
//! not its 8-byte chunk header). The figure for each engine is
//! `(live after fill - live before build) / len`, with `len` the number of
//! entries the engine actually kept.
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
static USABLE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);

/// The bytes malloc reserved for the live block `p` (0 where unknown).
fn usable(p: *mut u8) -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `p` is a live block returned by `System` (glibc malloc),
        // which is what `malloc_usable_size` accepts.
        unsafe { libc::malloc_usable_size(p.cast()) }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = p;
        0
    }
}

fn count_alloc(p: *mut u8, requested: usize) {
    if !p.is_null() {
        LIVE_BYTES.fetch_add(requested, Ordering::Relaxed);
        USABLE_BYTES.fetch_add(usable(p), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
    }
}

fn count_free(p: *mut u8, requested: usize) {
    LIVE_BYTES.fetch_sub(requested, Ordering::Relaxed);
    USABLE_BYTES.fetch_sub(usable(p), Ordering::Relaxed);
    LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counter has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's (valid, non-zero-size) layout.
        let p = unsafe { System.alloc(layout) };
        count_alloc(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        count_alloc(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Counted first: the block must still be live for `malloc_usable_size`.
        count_free(ptr, layout.size());
        // SAFETY: the caller guarantees `ptr` came from this allocator (hence
        // from `System`) with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_usable = usable(ptr);
        // SAFETY: the caller's guarantees for `realloc` are passed through.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
            USABLE_BYTES.fetch_sub(old_usable, Ordering::Relaxed);
            LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
            count_alloc(p, new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Live heap: bytes requested, bytes reserved by malloc, blocks.
fn live() -> [usize; 3] {
    [&LIVE_BYTES, &USABLE_BYTES, &LIVE_BLOCKS].map(|c| c.load(Ordering::Relaxed))
}

/// Heap held since `before`, as [`live`] counts it.
fn held_since(before: [usize; 3]) -> [usize; 3] {
    let now = live();
    [0, 1, 2].map(|i| now[i].wrapping_sub(before[i]))
}

struct Row {
    name: &'static str,
    len: u64,
    /// Heap held after the fill: bytes requested, bytes reserved, blocks.
    held: [usize; 3],
}

impl Row {
    /// [`Row::held`] divided by the entries kept.
    fn per_entry(&self) -> [f64; 3] {
        let len = self.len.max(1) as f64;
        self.held.map(|x| x as f64 / len)
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
    let held = held_since(before);
    let len = (0..n)
        .filter(|&rank| cache.get(key_of_rank(rank)).is_some())
        .count() as u64;
    drop(cache);
    Row {
        name: C::NAME,
        len,
        held,
    }
}

fn measure_hashbrown(n: u64) -> Row {
    let before = live();
    let mut map = hashbrown::HashMap::<u64, u64>::with_capacity(n as usize);
    for rank in 0..n {
        map.insert(key_of_rank(rank), rank);
    }
    let held = held_since(before);
    Row {
        name: "hashbrown",
        len: map.len() as u64,
        held,
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
        "# W3 heap bytes per entry: {n} u64 -> u64 entries, capacity {n}; live heap \
         (counting global allocator) / entries kept; requested = asked of the allocator, \
         malloc = what glibc reserved (malloc_usable_size; each block also has an \
         8-byte chunk header, not counted)\n\
         {:<14} {:>9} {:>14} {:>10} {:>10} {:>11}\n",
        "engine", "entries", "requested B", "req B/ent", "mal B/ent", "blocks/ent"
    );
    for r in &rows {
        let [req, mal, blocks] = r.per_entry();
        let _ = writeln!(
            out,
            "{:<14} {:>9} {:>14} {:>10.1} {:>10.1} {:>11.3}",
            r.name, r.len, r.held[0], req, mal, blocks
        );
    }
    print!("{out}");
    if !smoke {
        if let Some(path) = write_extra("w3-memory.txt", &out) {
            println!("written to {}", path.display());
        }
    }
}
