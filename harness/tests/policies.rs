//! Hand-computed hit counts for the reference policies, a hand-computed TTL
//! trace and pattern invalidation. Each expected value is derived in the
//! comment above it.

use clockwheel_harness::policy::list::{ListCache, ListMode};
use clockwheel_harness::policy::{self, belady::Belady, CacheSim, Capacity, PolicyKind};
use clockwheel_harness::replay::{replay, PolicyResult};
use clockwheel_harness::source::VecSource;
use clockwheel_harness::trace::{
    annotate_next_access, make_key, pattern_key, KeyClass, Op, Request,
};

fn gets(keys: &[u64]) -> Vec<Request> {
    let mut t: Vec<Request> = keys.iter().map(|&k| Request::get(0, k, 1)).collect();
    annotate_next_access(&mut t);
    t
}

fn run(sim: Box<dyn CacheSim>, trace: &[Request], cap: Capacity) -> PolicyResult {
    let mut sims = vec![sim];
    let mut src = VecSource::new(trace, true);
    replay(&mut src, &mut sims, cap, None).unwrap().remove(0)
}

fn hits(mode: ListMode, keys: &[u64], cap: u64) -> u64 {
    let c = Capacity::Entries(cap);
    run(Box::new(ListCache::new(mode, c)), &gets(keys), c).ops[0].hits
}

/// Hits of a Clockwheel engine cache (one shard at these sizes: exact order).
fn engine_hits(kind: PolicyKind, keys: &[u64], cap: u64) -> u64 {
    let c = Capacity::Entries(cap);
    run(policy::build(kind, c).unwrap(), &gets(keys), c).ops[0].hits
}

fn belady_hits(keys: &[u64], cap: u64) -> u64 {
    let c = Capacity::Entries(cap);
    run(Box::new(Belady::new(c)), &gets(keys), c).ops[0].hits
}

// T1, capacity 3: 1 2 3 1 4 2 5 1 2 3
// LRU:   m m m H(1) m(ev 2) m(ev 3) m(ev 1) m(ev 4) H(2) m(ev 5)  -> 2 hits
// FIFO:  m m m H(1) m(ev 1) H(2) m(ev 2) m(ev 3) m(ev 4) m(ev 5)  -> 2 hits
// CLOCK: m m m H(1*) 4: 1* cleared+requeued, ev 2; 2: ev 3; 5: ev 1;
//        1: ev 4; H(2*); 3: 2* requeued, ev 5                      -> 2 hits
// Belady (next uses 3,5,9,7,-,8,-,-,-,-): 1,2,3 admitted; 4 and 5 bypassed
//        (never used again); hits at 1,2,1,2,3                     -> 5 hits
const T1: [u64; 10] = [1, 2, 3, 1, 4, 2, 5, 1, 2, 3];

// T2, capacity 3: 1 2 3 2 1 4 5 2 1
// LRU:   m m m H H 4(ev 3)[2,1,4] 5(ev 2)[1,4,5] 2 m(ev 1) 1 m(ev 4) -> 2
// FIFO:  m m m H H 4(ev 1) 5(ev 2) 2 m(ev 3) 1 m(ev 4)              -> 2
// CLOCK: m m m H(2*) H(1*) 4: requeue 1, requeue 2, ev 3 -> [1,2,4];
//        5: ev 1 -> [2,4,5]; H(2*); 1: requeue 2, ev 4              -> 3
// Belady: 3, 4, 5 are never reused and bypassed; 2 and 1 stay       -> 4
const T2: [u64; 9] = [1, 2, 3, 2, 1, 4, 5, 2, 1];

// T3, capacity 2: 1 2 3 1 2 3 (a loop one larger than the cache)
// LRU, FIFO, CLOCK: every request misses                            -> 0
// Belady: 3 (next at 5) is used later than 1 (3) and 2 (4): bypass;
//         hits on 1 and 2, 3 misses again                           -> 2
const T3: [u64; 6] = [1, 2, 3, 1, 2, 3];

// T4, capacity 2: 1 2 3 2 3 1
// Belady: 3 (next 4) evicts 1 (next 5, furthest); hits 2, 3; 1 misses -> 2
// LRU: 3 evicts 1; hits 2, 3; 1 misses                               -> 2
const T4: [u64; 6] = [1, 2, 3, 2, 3, 1];

#[test]
fn lru_hand_computed() {
    assert_eq!(hits(ListMode::Lru, &T1, 3), 2);
    assert_eq!(hits(ListMode::Lru, &T2, 3), 2);
    assert_eq!(hits(ListMode::Lru, &T3, 2), 0);
    assert_eq!(hits(ListMode::Lru, &T4, 2), 2);
}

#[test]
fn fifo_hand_computed() {
    assert_eq!(hits(ListMode::Fifo, &T1, 3), 2);
    assert_eq!(hits(ListMode::Fifo, &T2, 3), 2);
    assert_eq!(hits(ListMode::Fifo, &T3, 2), 0);
}

#[test]
fn clockwheel_fifo_matches_hand_computed_fifo() {
    let k = PolicyKind::ClockwheelFifo;
    assert_eq!(engine_hits(k, &T1, 3), 2);
    assert_eq!(engine_hits(k, &T2, 3), 2);
    assert_eq!(engine_hits(k, &T3, 2), 0);
}

#[test]
fn clockwheel_clock_matches_hand_computed_clock() {
    let k = PolicyKind::ClockwheelClock;
    assert_eq!(engine_hits(k, &T1, 3), 2);
    assert_eq!(engine_hits(k, &T2, 3), 3);
    assert_eq!(engine_hits(k, &T3, 2), 0);
}

#[test]
fn clock_hand_computed() {
    assert_eq!(hits(ListMode::Clock, &T1, 3), 2);
    assert_eq!(hits(ListMode::Clock, &T2, 3), 3);
    assert_eq!(hits(ListMode::Clock, &T3, 2), 0);
}

#[test]
fn belady_hand_computed() {
    assert_eq!(belady_hits(&T1, 3), 5);
    assert_eq!(belady_hits(&T2, 3), 4);
    assert_eq!(belady_hits(&T3, 2), 2);
    assert_eq!(belady_hits(&T4, 2), 2);
}

fn set(c: &mut ListCache, k: u64) {
    c.insert(&Request::get(0, k, 1));
}

#[test]
fn reference_semantics_examples() {
    // LRUCache max_size 3: set 1..3, get 1, set 4 -> 2 evicted.
    for mode in [ListMode::Lru, ListMode::Clock] {
        let mut c = ListCache::new(mode, Capacity::Entries(3));
        (1..=3).for_each(|k| set(&mut c, k));
        assert!(c.get(&Request::get(0, 1, 1)));
        set(&mut c, 4);
        let mut keys = c.keys_in_order();
        keys.sort();
        assert_eq!(keys, vec![1, 3, 4], "{mode:?}");
    }
    // InMemoryCache max_size 2 (FIFO): set 1, 2, 3 -> 2 and 3 remain.
    let mut c = ListCache::new(ListMode::Fifo, Capacity::Entries(2));
    (1..=3).for_each(|k| set(&mut c, k));
    assert_eq!(c.keys_in_order(), vec![2, 3]);
    assert_eq!(c.len(), 2);
}

#[test]
fn byte_capacity_evicts_by_size() {
    // Capacity 100 bytes: 60 + 30 fit; 50 evicts the oldest (60) -> 30+50.
    let mut c = ListCache::new(ListMode::Lru, Capacity::Bytes(100));
    c.insert(&Request::get(0, 1, 60));
    c.insert(&Request::get(0, 2, 30));
    c.insert(&Request::get(0, 3, 50));
    assert_eq!(c.keys_in_order(), vec![2, 3]);
    assert_eq!(c.weighted_size(), 80);
    // An object larger than the whole cache is not admitted.
    c.insert(&Request::get(0, 4, 101));
    assert_eq!(c.keys_in_order(), vec![2, 3]);
}

fn at(time_ms: u64, op: Op, key: u64, ttl_s: u32) -> Request {
    Request {
        time_ms,
        op,
        ttl_ms: ttl_s * 1000,
        ..Request::get(0, key, 10)
    }
}

/// TTL trace, TTL 10 s for key 1, none for key 2, capacity never binding.
///   t=0      GET 1   miss, filled, deadline 10000
///   t=5000   GET 1   hit
///   t=9999   GET 1   hit
///   t=10000  GET 1   expired (deadline <= now): miss, refilled -> 20000
///   t=15000  GET 1   hit
///   t=16000  PUT 1   write-through, deadline 26000
///   t=25000  GET 1   hit (would have expired at 20000 without the PUT)
///   t=26000  HEAD 1  expired: miss, not filled
///   t=26001  GET 1   miss (removed), filled
///   t=0      GET 2   miss, filled, never expires   (times need not be sorted
///   t=10^6   GET 2   hit                            for other keys' deadlines)
/// Lookups 10, hits 5, expiries 2.
fn ttl_trace() -> Vec<Request> {
    let mut t = vec![
        at(0, Op::Get, 2, 0),
        at(0, Op::Get, 1, 10),
        at(5_000, Op::Get, 1, 10),
        at(9_999, Op::Get, 1, 10),
        at(10_000, Op::Get, 1, 10),
        at(15_000, Op::Get, 1, 10),
        at(16_000, Op::Put, 1, 10),
        at(25_000, Op::Get, 1, 10),
        at(26_000, Op::Head, 1, 10),
        at(26_001, Op::Get, 1, 10),
        at(1_000_000, Op::Get, 2, 0),
    ];
    annotate_next_access(&mut t);
    t
}

#[test]
fn ttl_hand_computed() {
    let cap = Capacity::Entries(100);
    let mut kinds = vec![
        PolicyKind::Lru,
        PolicyKind::Fifo,
        PolicyKind::Clock,
        PolicyKind::ClockwheelClock,
        PolicyKind::ClockwheelFifo,
    ];
    if cfg!(feature = "peers") {
        kinds.extend([PolicyKind::Moka, PolicyKind::QuickCache]);
    }
    for kind in kinds {
        let r = run(policy::build(kind, cap).unwrap(), &ttl_trace(), cap);
        let lookups: u64 = r.ops[Op::Get as usize].count + r.ops[Op::Head as usize].count;
        let hits = r.ops[Op::Get as usize].hits + r.ops[Op::Head as usize].hits;
        assert_eq!((lookups, hits), (10, 5), "{}", kind.name());
        assert_eq!(r.ops[Op::Head as usize].hits, 0, "{}", kind.name());
        // Peers keep no expiry counter; the engine counts its own expiries.
        if !matches!(kind, PolicyKind::Moka | PolicyKind::QuickCache) {
            assert_eq!(r.counters.expired, 2, "{}", kind.name());
        }
    }
}

/// Pattern invalidation: list keys of Product are dropped by
/// `INVALIDATE s3v:list:Product:*`; Order's list key and Product's model
/// key survive.
///   GET L1 miss, GET L2 miss, GET O1 miss, GET M miss, GET L1 hit,
///   INVALIDATE Product lists (removes L1, L2),
///   GET L1 miss, GET L2 miss, GET O1 hit, GET M hit  -> 3 hits of 9 lookups
#[test]
fn pattern_invalidation() {
    let l1 = make_key(KeyClass::List, 0, 1);
    let l2 = make_key(KeyClass::List, 0, 2);
    let o1 = make_key(KeyClass::List, 1, 1);
    let m = make_key(KeyClass::Model, 0, 1);
    let mut t: Vec<Request> = [l1, l2, o1, m, l1]
        .iter()
        .map(|&k| at(0, Op::List, k, 0))
        .collect();
    t.push(at(0, Op::Invalidate, pattern_key(KeyClass::List, 0), 0));
    t.extend([l1, l2, o1, m].iter().map(|&k| at(0, Op::List, k, 0)));
    annotate_next_access(&mut t);
    let cap = Capacity::Entries(100);
    for kind in [
        PolicyKind::Lru,
        PolicyKind::Clock,
        PolicyKind::Fifo,
        PolicyKind::ClockwheelClock,
        PolicyKind::ClockwheelFifo,
    ] {
        let r = run(policy::build(kind, cap).unwrap(), &t, cap);
        assert_eq!(r.ops[Op::List as usize].count, 9);
        assert_eq!(r.ops[Op::List as usize].hits, 3, "{}", kind.name());
        assert_eq!(r.removed, 2, "{}", kind.name());
    }
}

#[test]
fn noop_never_hits() {
    let c = Capacity::Entries(10);
    let r = run(policy::build(PolicyKind::Noop, c).unwrap(), &gets(&T1), c);
    assert_eq!((r.ops[0].count, r.ops[0].hits), (10, 0));
}

/// Belady with byte capacity 100 never evicts for a newcomer it then
/// refuses. Sizes in brackets; next uses (by index) in parentheses:
///   0: A[50](5) and 1: B[40](3) fill 90 bytes;
///   2: X[70](4) needs 60 bytes freed: A (next 5, later than X's 4) would
///      free 50, not enough, and B is needed sooner (3) than X: X is
///      bypassed and A must stay;
///   3: B hits; 4: X misses (bypassed, never used again: not admitted);
///   5: A hits (an implementation that evicted A first would miss here).
/// Hits 2, evictions 0.
#[test]
fn belady_bytes_bypass_evicts_nothing() {
    let mut t = vec![
        Request::get(0, 1, 50),
        Request::get(0, 2, 40),
        Request::get(0, 3, 70),
        Request::get(0, 2, 40),
        Request::get(0, 3, 70),
        Request::get(0, 1, 50),
    ];
    annotate_next_access(&mut t);
    let cap = Capacity::Bytes(100);
    let r = run(Box::new(Belady::new(cap)), &t, cap);
    assert_eq!(r.ops[0].hits, 2);
    assert_eq!(r.counters.evictions, 0);
}

/// The list disciplines against a plain vector model on a random trace of
/// lookups, fills, updates with new sizes and deletes, by bytes: same hits
/// and the same keys in the same order after every request.
#[test]
fn lru_and_fifo_match_a_vector_model() {
    for mode in [ListMode::Lru, ListMode::Fifo] {
        let limit = 100u64;
        let mut c = ListCache::new(mode, Capacity::Bytes(limit));
        // Oldest first: (key, weight).
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut x = 12_345u64;
        for step in 0..20_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let (key, size) = ((x >> 33) % 40, ((x >> 13) % 110 + 1) as u32);
            let req = Request::get(0, key, size);
            let pos = model.iter().position(|e| e.0 == key);
            match (x >> 60) % 4 {
                0 => {
                    assert_eq!(c.remove(key), pos.is_some(), "step {step}");
                    if let Some(p) = pos {
                        model.remove(p);
                    }
                }
                1 => {
                    // An update (or fill) with a new size.
                    c.insert(&req);
                    model_insert(&mut model, mode, pos, key, size as u64, limit);
                }
                _ => {
                    assert_eq!(c.get(&req), pos.is_some(), "step {step}");
                    match pos {
                        Some(p) if mode == ListMode::Lru => {
                            let e = model.remove(p);
                            model.push(e);
                        }
                        Some(_) => {}
                        None => {
                            c.insert(&req);
                            model_insert(&mut model, mode, None, key, size as u64, limit);
                        }
                    }
                }
            }
            let keys: Vec<u64> = model.iter().map(|e| e.0).collect();
            assert_eq!(c.keys_in_order(), keys, "{mode:?} step {step}");
            assert_eq!(c.weighted_size(), model.iter().map(|e| e.1).sum::<u64>());
        }
    }
}

/// The model's insert: an object larger than the cache is refused (and an
/// older version dropped); else update in place (LRU moves it to the newest
/// end) or append, then drop the oldest until the weights fit.
fn model_insert(
    model: &mut Vec<(u64, u64)>,
    mode: ListMode,
    pos: Option<usize>,
    key: u64,
    w: u64,
    limit: u64,
) {
    if w > limit {
        if let Some(p) = pos {
            model.remove(p);
        }
        return;
    }
    match pos {
        Some(p) => {
            model[p].1 = w;
            if mode == ListMode::Lru {
                let e = model.remove(p);
                model.push(e);
            }
        }
        None => model.push((key, w)),
    }
    while model.iter().map(|e| e.1).sum::<u64>() > limit {
        model.remove(0);
    }
}
