//! Per-entry expiry driven by quanta's mock clock: no test here sleeps for TTL time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clockwheel::{BuildError, Cache, InsertError, RemovalCause, MAX_TTL};
use quanta::{Clock, Mock};

type Log = Arc<Mutex<Vec<(u32, RemovalCause)>>>;

fn cache(cap: u64, shards: usize, ttl: Option<Duration>) -> (Cache<u32, u32>, Arc<Mock>, Log) {
    let (clock, mock) = Clock::mock();
    let log: Log = Arc::default();
    let sink = log.clone();
    let mut b = Cache::builder()
        .max_capacity(cap)
        .shards(shards)
        .clock(clock)
        .eviction_listener(move |k: &u32, _v: &u32, c| sink.lock().unwrap().push((*k, c)));
    if let Some(ttl) = ttl {
        b = b.default_ttl(ttl);
    }
    (b.build().unwrap(), mock, log)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn reads_never_return_an_expired_entry() {
    let (c, mock, log) = cache(10, 1, Some(secs(300)));
    c.insert(1, 10);
    mock.increment(secs(300) - Duration::from_nanos(1));
    assert_eq!(c.get(&1), Some(10));
    mock.increment(Duration::from_nanos(1));
    assert_eq!(c.get(&1), None, "expired exactly at its deadline");
    assert!(!c.contains_key(&1));
    assert_eq!(*log.lock().unwrap(), vec![(1, RemovalCause::Expired)]);
    assert_eq!(c.stats().expirations, 1);
    c.validate().unwrap();
}

#[test]
fn explicit_ttl_overrides_default_and_none_never_expires() {
    let (c, mock, _) = cache(10, 1, Some(secs(300)));
    c.insert_with_ttl(1, 1, Some(secs(60)));
    c.insert_with_ttl(2, 2, None);
    c.insert(3, 3);
    assert_eq!(c.remaining_ttl(&1), Some(Some(secs(60))));
    assert_eq!(c.remaining_ttl(&2), Some(None));
    assert_eq!(c.remaining_ttl(&4), None);
    mock.increment(secs(61));
    assert_eq!(c.get(&1), None);
    assert_eq!(c.remaining_ttl(&3), Some(Some(secs(239))));
    mock.increment(secs(1_000_000));
    assert_eq!(c.get(&2), Some(2));
    assert_eq!(c.get(&3), None);
    c.validate().unwrap();
}

#[test]
fn expired_entries_are_reclaimed_without_reads() {
    for shards in [1, 8] {
        let (c, mock, log) = cache(10_000, shards, Some(secs(60)));
        for i in 0..1000 {
            c.insert(i, i);
        }
        c.insert_with_ttl(5000, 5000, None);
        mock.increment(secs(60) + Duration::from_millis(2));
        c.run_pending_tasks();
        assert_eq!(c.len(), 1);
        assert_eq!(c.weighted_size(), 1);
        assert_eq!(c.stats().expirations, 1000);
        assert_eq!(log.lock().unwrap().len(), 1000);
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .all(|(_, cause)| *cause == RemovalCause::Expired));
        c.validate().unwrap();
    }
}

#[test]
fn wheel_never_expires_early() {
    let (c, mock, _) = cache(100, 1, None);
    c.insert_with_ttl(1, 1, Some(Duration::from_millis(5)));
    mock.increment(Duration::from_millis(4));
    c.run_pending_tasks();
    assert_eq!(c.peek(&1), Some(1));
    mock.increment(Duration::from_millis(3));
    c.run_pending_tasks();
    assert_eq!(c.len(), 0);
    c.validate().unwrap();
}

#[test]
fn writes_advance_the_wheel() {
    let (c, mock, _) = cache(100, 1, Some(secs(10)));
    for i in 0..50 {
        c.insert(i, i);
    }
    mock.increment(secs(11));
    c.insert(1000, 0);
    assert_eq!(c.len(), 1, "one write reclaimed the 50 expired entries");
    c.validate().unwrap();
}

#[test]
fn replacing_an_entry_restarts_its_ttl_and_obsoletes_the_old_timer() {
    let (c, mock, log) = cache(10, 1, Some(secs(10)));
    c.insert(1, 1);
    mock.increment(secs(5));
    c.insert(1, 2);
    mock.increment(secs(7));
    c.run_pending_tasks();
    assert_eq!(
        c.get(&1),
        Some(2),
        "the old timer must not expire the new value"
    );
    mock.increment(secs(3));
    c.run_pending_tasks();
    assert_eq!(c.get(&1), None);
    assert_eq!(
        *log.lock().unwrap(),
        vec![(1, RemovalCause::Replaced), (1, RemovalCause::Expired)]
    );
    c.validate().unwrap();
}

#[test]
fn time_to_idle_extends_on_reads() {
    let (clock, mock) = Clock::mock();
    let c: Cache<u32, u32> = Cache::builder()
        .max_capacity(10)
        .default_ttl(secs(10))
        .time_to_idle(secs(10))
        .clock(clock)
        .build()
        .unwrap();
    c.insert(1, 1);
    for _ in 0..5 {
        mock.increment(secs(8));
        assert_eq!(c.get(&1), Some(1));
    }
    mock.increment(secs(8));
    c.run_pending_tasks();
    assert_eq!(c.peek(&1), Some(1), "read 8 s ago, idle limit 10 s");
    mock.increment(secs(3));
    c.run_pending_tasks();
    assert_eq!(c.len(), 0);
    c.validate().unwrap();
}

#[test]
fn eviction_and_expiry_never_double_count() {
    let (c, mock, log) = cache(4, 1, Some(secs(10)));
    for i in 0..10 {
        c.insert(i, i);
        mock.increment(secs(2));
        c.validate().unwrap();
    }
    mock.increment(secs(100));
    c.run_pending_tasks();
    c.validate().unwrap();
    let s = c.stats();
    assert_eq!(s.len, 0);
    assert_eq!(s.insertions, s.evictions + s.expirations + s.removals);
    assert_eq!(log.lock().unwrap().len() as u64, s.insertions);
    let mut keys: Vec<u32> = log.lock().unwrap().iter().map(|(k, _)| *k).collect();
    keys.sort();
    assert_eq!(
        keys,
        (0..10).collect::<Vec<_>>(),
        "each entry left exactly once"
    );
}

#[test]
fn remove_then_timer_fires_harmlessly() {
    let (c, mock, log) = cache(10, 1, Some(secs(1)));
    for i in 0..5 {
        c.insert(i, i);
    }
    for i in 0..5 {
        c.remove(&i);
    }
    mock.increment(secs(2));
    c.run_pending_tasks();
    assert_eq!(c.stats().expirations, 0);
    assert_eq!(log.lock().unwrap().len(), 5);
    c.validate().unwrap();
}

#[test]
fn update_churn_compacts_obsolete_timers() {
    // Long TTL, many updates: obsolete timers must not accumulate without bound.
    let (c, mock, _) = cache(100, 1, Some(secs(3600)));
    for round in 0..200 {
        for k in 0..10 {
            c.insert(k, round);
        }
        mock.increment(Duration::from_millis(10));
    }
    c.validate().unwrap();
    assert_eq!(c.len(), 10);
}

#[test]
fn bad_durations_are_errors() {
    let b = || Cache::<u32, u32>::builder().max_capacity(1);
    assert!(matches!(
        b().default_ttl(Duration::ZERO).build().unwrap_err(),
        BuildError::ZeroDuration { .. }
    ));
    assert!(matches!(
        b().default_ttl(MAX_TTL + secs(1)).build().unwrap_err(),
        BuildError::TtlTooLarge { .. }
    ));
    assert!(matches!(
        b().time_to_idle(Duration::MAX).build().unwrap_err(),
        BuildError::TtlTooLarge { .. }
    ));
    assert!(matches!(
        b().cleanup_interval(Duration::ZERO).build().unwrap_err(),
        BuildError::ZeroDuration { .. }
    ));
    let c = b().build().unwrap();
    let (_, err) = c
        .try_insert_with_ttl(1, 1, Some(Duration::MAX))
        .unwrap_err();
    assert_eq!(err, InsertError::TtlTooLarge { ttl: Duration::MAX });
    // The infallible form clamps to MAX_TTL instead.
    c.insert_with_ttl(1, 1, Some(Duration::MAX));
    assert!(c.remaining_ttl(&1).unwrap().unwrap() <= MAX_TTL);
}

#[test]
fn cleaner_thread_reclaims_and_stops_on_drop() {
    let (clock, mock) = Clock::mock();
    let c: Cache<u32, u32> = Cache::builder()
        .max_capacity(100)
        .default_ttl(secs(1))
        .cleanup_interval(Duration::from_millis(1))
        .clock(clock)
        .build()
        .unwrap();
    for i in 0..20 {
        c.insert(i, i);
    }
    mock.increment(secs(2));
    // Wait for the cleaner (bounded): nobody reads or writes meanwhile.
    let start = std::time::Instant::now();
    while c.weighted_size() != 0 && start.elapsed() < secs(20) {
        std::thread::yield_now();
    }
    assert_eq!(c.len(), 0);
    let weak_probe = c.clone();
    drop(c);
    drop(weak_probe); // joins the cleaner; a hang here fails the test by timeout
}

#[test]
fn get_with_ttl_reads_value_and_time_left_of_one_entry() {
    let (c, mock, _) = cache(10, 1, Some(secs(300)));
    c.insert(1, 10);
    c.insert_with_ttl(2, 20, None);
    mock.increment(secs(100));
    assert_eq!(c.get_with_ttl(&1), Some((10, Some(secs(200)))));
    assert_eq!(c.get_with_ttl(&2), Some((20, None)));
    c.insert_with_ttl(1, 11, Some(secs(5)));
    assert_eq!(c.get_with_ttl(&1), Some((11, Some(secs(5)))));
    mock.increment(secs(5));
    assert_eq!(c.get_with_ttl(&1), None);
    assert_eq!(c.stats().hits, 3);
    assert_eq!(c.stats().misses, 1);
    c.validate().unwrap();
}

#[test]
fn time_to_idle_starts_at_the_shorter_limit_and_reads_never_shorten_it() {
    let (clock, mock) = Clock::mock();
    let c: Cache<u32, u32> = Cache::builder()
        .max_capacity(10)
        .default_ttl(secs(300))
        .time_to_idle(secs(60))
        .clock(clock)
        .build()
        .unwrap();
    c.insert(1, 1);
    c.insert_with_ttl(2, 2, Some(secs(30)));
    assert_eq!(c.remaining_ttl(&1), Some(Some(secs(60))), "min(ttl, tti)");
    assert_eq!(
        c.remaining_ttl(&2),
        Some(Some(secs(30))),
        "a shorter TTL stands"
    );
    mock.increment(secs(10));
    assert_eq!(c.get(&2), Some(2));
    assert_eq!(
        c.remaining_ttl(&2),
        Some(Some(secs(60))),
        "a read extends to tti"
    );
    // The wheel holds key 1's timer at 60 s: it must fire then, not later.
    mock.increment(secs(50));
    c.run_pending_tasks();
    assert_eq!(c.peek(&1), None);
    assert_eq!(c.stats().expirations, 1);
    c.validate().unwrap();
}

#[test]
fn expired_but_unreclaimed_entries_are_never_handed_out() {
    let (c, mock, log) = cache(10, 1, Some(secs(10)));
    for k in 0..4 {
        c.insert(k, k * 10);
    }
    mock.increment(secs(10));
    // No reads and no timer ran: the entries are still linked, but past their deadline.
    assert_eq!(
        c.remove(&0),
        None,
        "remove must not return an expired value"
    );
    assert_eq!(
        c.insert(1, 11),
        None,
        "insert over an expired entry replaces nothing"
    );
    assert_eq!(c.iter().collect::<Vec<_>>(), vec![(1, 11)]);
    let mut seen = Vec::new();
    c.retain(|k, _| {
        seen.push(*k);
        true
    });
    assert_eq!(seen, vec![1], "predicates never see expired entries");
    let s = c.stats();
    assert_eq!((s.expirations, s.removals, s.replacements), (4, 0, 0));
    let expired = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, c)| *c == RemovalCause::Expired)
        .count();
    assert_eq!(expired, 4);
    c.validate().unwrap();
}

#[test]
fn an_expired_victim_of_the_hand_is_reported_as_expired() {
    let (c, mock, log) = cache(2, 1, None);
    c.insert_with_ttl(1, 1, Some(secs(5)));
    c.insert(2, 2);
    mock.increment(secs(5));
    c.insert(3, 3); // the hand takes key 1, already past its deadline
    assert_eq!(*log.lock().unwrap(), vec![(1, RemovalCause::Expired)]);
    let s = c.stats();
    assert_eq!((s.evictions, s.expirations), (0, 1));
    c.validate().unwrap();
}

/// The one test on the default clock, in real time: reads of an entry more than a lease
/// (1 s) from its deadline skip the clock and trust the ticker's last reading; nearer
/// the deadline they read the clock. Across both, no read that starts after the
/// deadline may return the entry, and the entry must expire.
#[test]
fn default_clock_reads_never_return_an_entry_late() {
    let cache: Cache<u32, u32> = Cache::builder().max_capacity(10).build().unwrap();
    let ttl = Duration::from_millis(1_200);
    cache.insert_with_ttl(2, 2, Some(secs(3600)));
    cache.insert_with_ttl(1, 1, Some(ttl));
    let deadline = std::time::Instant::now() + ttl;
    let give_up = deadline + secs(10);
    let mut hits = 0u64;
    loop {
        let started = std::time::Instant::now();
        match cache.get(&1) {
            Some(_) => assert!(started < deadline, "returned {:?} late", started - deadline),
            None => break,
        }
        hits += 1;
        assert!(started < give_up, "the entry never expired");
    }
    assert!(hits > 0 && cache.get(&2) == Some(2));
    assert_eq!(cache.stats().expirations, 1);
}
