//! The checks `engine/tests/stress.rs` runs once its threads have joined (included there
//! by path; it uses the stress test's `World`).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::Duration;

use super::{check_belongs, key_id, Owned, Val, World};

/// `validate()` once the cache's cleaner thread has settled. After the workers join, a
/// TTL cache's cleaner may still be reaping entries that expired during the run: it kills
/// a node under the wheel's flag and unlinks it after letting go, and `validate()` must
/// not look in between (it would see a dead node still linked). So a failure is retried
/// for a while; one that persists is a real inconsistency, and is returned.
pub fn validate_settled(w: &World) -> Result<(), String> {
    let mut result = w.cache.validate();
    for _ in 0..500 {
        if result.is_ok() {
            break;
        }
        thread::sleep(Duration::from_millis(1));
        result = w.cache.validate();
    }
    result
}

/// Every check that needs the cache to be still; run after the workers joined.
pub fn check_quiescent(w: &World, owned: &[Vec<Owned>]) {
    validate_settled(w).expect("validate() after the run");
    let max = w.max_weight_seen.load(Relaxed);
    assert!(
        max <= w.cfg.overshoot_bound(),
        "weighted_size reached {max}, documented bound {}",
        w.cfg.overshoot_bound()
    );
    for &(id, version) in w.late.lock().unwrap().iter() {
        assert!(
            w.ledger.key(id).heard_gone(version),
            "key {id}: version {version} vanished but the listener never heard it leave"
        );
    }
    let present = check_per_key(w);
    check_owned_final(w, owned, &present);
    check_totals(w);
}

/// Key by key: every entry inserted left exactly once or is still present, and every
/// replacement the callers saw was reported to the listener. Returns the contents.
pub fn check_per_key(w: &World) -> HashMap<usize, Val> {
    let mut present = HashMap::new();
    for (k, v) in w.cache.iter() {
        let id = key_id(&k);
        check_belongs(Some(&v), id, "iter");
        assert!(present.insert(id, v).is_none(), "key {id} iterated twice");
    }
    assert_eq!(present.len(), w.cache.len(), "len disagrees with iter");
    for id in 0..w.ledger.len() {
        let k = w.ledger.key(id);
        let inserted = k.inserted.load(Relaxed);
        let left = k.gone() + u64::from(present.contains_key(&id));
        assert_eq!(
            inserted,
            left,
            "key {id}: {inserted} insertions but {} departures and present={}",
            k.gone(),
            present.contains_key(&id)
        );
        assert_eq!(
            k.replaced_seen.load(Relaxed),
            k.replaced.load(Relaxed),
            "key {id}: replacements seen by callers vs by the listener"
        );
    }
    present
}

/// An owned key present at the end holds its owner's last version; a key its owner
/// removed (or saw gone) is absent.
pub fn check_owned_final(w: &World, owned: &[Vec<Owned>], present: &HashMap<usize, Val>) {
    for (t, state) in owned.iter().enumerate() {
        for (j, s) in state.iter().enumerate() {
            let id = w.cfg.shared + t * w.cfg.owned + j;
            match (present.get(&id), s.last) {
                (Some(v), Some((version, _, _))) => assert_eq!(v.version, version, "key {id}"),
                (Some(v), None) => panic!("key {id}: {v:?} present after its owner saw it gone"),
                (None, Some((version, _, _))) => assert!(
                    w.ledger.key(id).heard_gone(version),
                    "key {id}: version {version} lost without a listener call"
                ),
                (None, None) => {}
            }
        }
    }
}

/// The statistics agree with the listener and the callers, and `len` with the flow.
pub fn check_totals(w: &World) {
    let s = w.cache.stats();
    let t = w.ledger.totals();
    assert_eq!(w.ledger.unknown_causes.load(Relaxed), 0);
    assert_eq!(s.insertions, t.inserted, "insertions: stats vs callers");
    assert_eq!(
        s.replacements, t.replaced_seen,
        "replacements: stats vs callers"
    );
    assert_eq!(
        s.replacements, t.replaced,
        "replacements: stats vs listener"
    );
    assert_eq!(s.evictions, t.evicted, "evictions: stats vs listener");
    assert_eq!(s.removals, t.removed, "removals: stats vs listener");
    assert_eq!(s.expirations, t.expired, "expirations: stats vs listener");
    assert_eq!(s.rejections, w.rejections.load(Relaxed), "rejections");
    assert_eq!(
        s.len,
        s.insertions - s.evictions - s.removals - s.expirations,
        "len vs insertions - departures: {s:?}"
    );
    let by_calls = w.removed_by_calls.load(Relaxed);
    if w.cleared.load(Relaxed) {
        assert!(by_calls <= s.removals, "{by_calls} removals seen, {s:?}");
    } else {
        assert_eq!(by_calls, s.removals, "removals: callers vs stats");
    }
    assert!(s.weighted_size <= s.capacity, "{s:?}");
}

/// Prints the run's numbers (shown with `--nocapture`).
pub fn report(name: &str, w: &World) {
    let s = w.cache.stats();
    println!(
        "{name}: max weighted {} / capacity {} (bound {}); {s:?}",
        w.max_weight_seen.load(Relaxed),
        s.capacity,
        w.cfg.overshoot_bound()
    );
}
