//! Unit tests of the timing wheel: hashing (`position`), cascading across level and
//! epoch boundaries, exact firing, rescheduling, the bulk operations, the cost bound of
//! `advance`, and a proptest against a sorted-list model. `validate()` runs after every
//! mutation.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

/// One tick more than level `level` can hold from `elapsed = 0`: 64^(level + 1).
const fn span(level: u32) -> u64 {
    1 << (LEVEL_BITS * (level + 1))
}

/// The level a deadline belongs to, computed independently of `position`: the lowest
/// level `L` such that `deadline` and `elapsed` agree on every bit from `6 (L + 1)` up.
fn expected_level(elapsed: u64, deadline: u64) -> Option<usize> {
    (0..LEVELS).find(|&level| {
        let above = LEVEL_BITS * (level as u32 + 1);
        deadline >> above == elapsed >> above
    })
}

/// Advances and returns the fired `(item, deadline)` pairs, sorted; validates after.
fn advance(wheel: &mut TimingWheel<u64>, now: u64) -> Vec<(u64, u64)> {
    let mut fired = Vec::new();
    wheel.advance(now, |item, deadline| {
        fired.push((item, deadline));
        Fired::Done
    });
    fired.sort_unstable();
    wheel.validate().unwrap();
    fired
}

/// A wheel at `elapsed` (reached by one advance of an empty wheel).
fn wheel_at(elapsed: u64) -> TimingWheel<u64> {
    let mut wheel = TimingWheel::new();
    assert!(advance(&mut wheel, elapsed).is_empty());
    assert_eq!(wheel.elapsed(), elapsed);
    wheel
}

fn schedule(wheel: &mut TimingWheel<u64>, item: u64, deadline: u64) {
    wheel.schedule(item, deadline);
    wheel.validate().unwrap();
}

/// Checks that `deadline`, scheduled at `elapsed`, fires at exactly `deadline`: not at
/// `deadline - 1` (after a stop at every level boundary on the way), then at `deadline`.
fn fires_exactly_at(elapsed: u64, deadline: u64) {
    let mut wheel = wheel_at(elapsed);
    schedule(&mut wheel, 7, deadline);
    let mut stops: Vec<u64> = (0..=LEVELS as u32)
        .map(|level| deadline >> (LEVEL_BITS * level) << (LEVEL_BITS * level))
        .filter(|&t| t > elapsed && t < deadline)
        .collect();
    stops.extend([deadline - 1, deadline - 1]);
    stops.sort_unstable();
    for stop in stops {
        let fired = advance(&mut wheel, stop);
        assert!(fired.is_empty(), "deadline {deadline} fired at {stop}");
        assert_eq!(wheel.len(), 1);
        let next = wheel.next_deadline().expect("one item pending");
        assert!(next <= deadline, "next_deadline {next} above {deadline}");
    }
    assert_eq!(advance(&mut wheel, deadline), [(7, deadline)]);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn position_at_level_boundaries() {
    let slot = |level, slot| Position::Slot { level, slot };
    let cases = [
        (0, 1, slot(0, 1)),
        (0, 63, slot(0, 63)),
        (0, 64, slot(1, 1)),
        (0, 65, slot(1, 1)),
        (0, 127, slot(1, 1)),
        (0, 128, slot(1, 2)),
        (0, 4095, slot(1, 63)),
        (0, 4096, slot(2, 1)),
        (0, span(2) - 1, slot(2, 63)),
        (0, span(2), slot(3, 1)),
        (0, span(3), slot(4, 1)),
        (0, span(4), slot(5, 1)),
        (0, span(5) - 1, slot(5, 63)),
        (0, span(5), Position::Overflow),
        (0, u64::MAX, Position::Overflow),
        // Across a boundary of `elapsed`: 60 -> 65 crosses 64, so level 1 although only
        // 5 ticks ahead; 64 -> 127 stays inside one level-1 slot, so level 0.
        (60, 65, slot(1, 1)),
        (64, 127, slot(0, 63)),
        (4000, 4100, slot(2, 1)),
        (span(5) - 10, span(5) + 5, Position::Overflow),
        (span(5) + 3, span(5) + 5, slot(0, 5)),
        // At or before `elapsed`.
        (100, 100, Position::Due),
        (100, 3, Position::Due),
        (u64::MAX, u64::MAX, Position::Due),
    ];
    for (elapsed, deadline, want) in cases {
        assert_eq!(
            position(elapsed, deadline),
            want,
            "elapsed {elapsed} deadline {deadline}"
        );
    }
}

proptest! {
    /// `position` agrees with an independent statement of the hashing rule.
    #[test]
    fn position_matches_the_rule(elapsed in any::<u64>(), delta in any::<u64>(), shift in 0u32..64) {
        let deadline = elapsed.wrapping_add(delta >> shift);
        let want = if deadline <= elapsed {
            Position::Due
        } else {
            match expected_level(elapsed, deadline) {
                Some(level) => Position::Slot { level, slot: slot_index(deadline, level) },
                None => Position::Overflow,
            }
        };
        prop_assert_eq!(position(elapsed, deadline), want);
    }
}

#[test]
fn fires_exactly_at_every_boundary() {
    let ahead = [
        1,
        63,
        64,
        65,
        4095,
        4096,
        4097,
        span(2),
        span(2) + 1,
        span(3),
        span(4) - 1,
        span(4),
        span(5) - 1,
        span(5),
        span(5) + 1,
        3 * span(5) + 12_345,
    ];
    // From tick 0, from inside a level-0 rotation, and from just before boundaries of
    // level 1, level 3 and the 2^36-tick epoch.
    let starts = [0, 5, 60, span(0) * 63 + 62, span(2) - 3, span(5) - 2];
    for start in starts {
        for a in ahead {
            fires_exactly_at(start, start + a);
        }
    }
}

#[test]
fn cascades_keep_every_deadline() {
    let deadlines = [
        63,
        64,
        65,
        4095,
        4096,
        span(2),
        span(3),
        span(4),
        span(5) - 1,
        span(5),
        span(5) + 64,
        1 << 40,
    ];
    let mut wheel = TimingWheel::new();
    for (i, &d) in deadlines.iter().enumerate() {
        schedule(&mut wheel, i as u64, d);
    }
    assert_eq!(wheel.len(), deadlines.len());
    // Walk time forward to one tick before and then onto each deadline in turn.
    for (i, &d) in deadlines.iter().enumerate() {
        assert!(advance(&mut wheel, d - 1).is_empty(), "early before {d}");
        assert_eq!(advance(&mut wheel, d), [(i as u64, d)]);
        assert_eq!(wheel.len(), deadlines.len() - i - 1);
    }
}

#[test]
fn one_big_jump_fires_everything_due_and_nothing_else() {
    let mut wheel = TimingWheel::new();
    let deadlines = [1, 64, 4096, span(2) + 7, span(4) + 9, span(5) + 3, 1 << 41];
    for (i, &d) in deadlines.iter().enumerate() {
        schedule(&mut wheel, i as u64, d);
    }
    let fired = advance(&mut wheel, span(5) + 2);
    let want: Vec<(u64, u64)> = (0..5).map(|i| (i, deadlines[i as usize])).collect();
    assert_eq!(fired, want);
    assert_eq!(wheel.len(), 2);
    assert_eq!(
        advance(&mut wheel, u64::MAX),
        [(5, span(5) + 3), (6, 1 << 41)]
    );
}

#[test]
fn wraps_around_every_level() {
    // Park `elapsed` just below a boundary of each level, then schedule across it: the
    // deadline's slot index is *lower* than elapsed's at that level (the level wraps).
    for level in 0..LEVELS as u32 {
        let boundary = span(level) * 5;
        let elapsed = boundary - 1;
        let mut wheel = wheel_at(elapsed);
        schedule(&mut wheel, 1, boundary + 2);
        schedule(&mut wheel, 2, elapsed + 1);
        assert_eq!(advance(&mut wheel, boundary), [(2, boundary)]);
        assert!(advance(&mut wheel, boundary + 1).is_empty());
        assert_eq!(advance(&mut wheel, boundary + 2), [(1, boundary + 2)]);
    }
}

#[test]
fn overflow_beyond_the_wheel_fires_exactly() {
    for deadline in [
        span(5),
        span(5) + 1,
        5 * span(5) + 17,
        1 << 50,
        u64::MAX - 1,
    ] {
        let mut wheel = TimingWheel::new();
        schedule(&mut wheel, 9, deadline);
        assert_eq!(wheel.next_deadline(), Some(deadline), "overflow is exact");
        // Enter the deadline's epoch, then stop just short of it.
        let epoch = epoch_start(deadline);
        if epoch < deadline {
            assert!(advance(&mut wheel, epoch).is_empty());
        }
        assert!(advance(&mut wheel, deadline - 1).is_empty());
        assert_eq!(advance(&mut wheel, deadline), [(9, deadline)]);
    }
}

#[test]
fn deadline_at_or_before_elapsed_fires_on_next_advance() {
    let mut wheel = wheel_at(1000);
    schedule(&mut wheel, 1, 1000);
    schedule(&mut wheel, 2, 3);
    schedule(&mut wheel, 3, 0);
    assert_eq!(wheel.next_deadline(), Some(0));
    // An advance to a `now` below elapsed counts as elapsed and still fires them.
    assert_eq!(advance(&mut wheel, 10), [(1, 1000), (2, 3), (3, 0)]);
    assert_eq!(wheel.elapsed(), 1000, "time never goes backwards");
}

#[test]
fn reschedule_to_the_past_waits_for_the_next_advance() {
    let mut wheel = TimingWheel::new();
    schedule(&mut wheel, 1, 10);
    schedule(&mut wheel, 2, 10);
    let mut calls = Vec::new();
    wheel.advance(20, |item, deadline| {
        calls.push((item, deadline));
        match item {
            1 => Fired::Reschedule(1, 15), // already reached: next advance
            _ => Fired::Reschedule(2, 30), // later: in the wheel
        }
    });
    wheel.validate().unwrap();
    calls.sort_unstable();
    assert_eq!(calls, [(1, 10), (2, 10)], "each fired once, no livelock");
    assert_eq!(wheel.len(), 2);
    assert_eq!(wheel.next_deadline(), Some(15));
    assert_eq!(advance(&mut wheel, 20), [(1, 15)]);
    assert!(advance(&mut wheel, 29).is_empty());
    assert_eq!(advance(&mut wheel, 30), [(2, 30)]);
}

#[test]
fn retain_keeps_exactly_the_chosen_items() {
    let mut wheel = wheel_at(100);
    let deadlines = [50, 101, 164, 5000, span(3), span(5) + 1, 1 << 45];
    for round in 0..40u64 {
        for (i, &d) in deadlines.iter().enumerate() {
            schedule(&mut wheel, round * 10 + i as u64, d + round);
        }
    }
    wheel.retain(|item| item % 3 == 0);
    wheel.validate().unwrap();
    let mut kept = Vec::new();
    wheel.for_each(|&item| kept.push(item));
    kept.sort_unstable();
    let want: Vec<u64> = (0..40u64)
        .flat_map(|round| (0..deadlines.len() as u64).map(move |i| round * 10 + i))
        .filter(|item| item % 3 == 0)
        .collect();
    assert_eq!(kept, want);
    assert_eq!(wheel.len(), want.len());
    wheel.retain(|_| false);
    wheel.validate().unwrap();
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
    assert!(advance(&mut wheel, u64::MAX).is_empty());
}

#[test]
fn drain_and_for_each_see_every_item() {
    let mut wheel = wheel_at(70);
    let deadlines = [1, 70, 71, 200, 9000, span(4) + 5, span(5) * 2];
    for (i, &d) in deadlines.iter().enumerate() {
        schedule(&mut wheel, i as u64, d);
    }
    let mut seen = Vec::new();
    wheel.for_each(|&item| seen.push(item));
    seen.sort_unstable();
    assert_eq!(seen, (0..deadlines.len() as u64).collect::<Vec<_>>());
    let mut drained = wheel.drain();
    drained.sort_unstable();
    assert_eq!(drained, seen);
    wheel.validate().unwrap();
    assert!(wheel.is_empty());
    assert_eq!(wheel.elapsed(), 70, "drain keeps the current tick");
    assert_eq!(wheel.next_deadline(), None);
    // The drained wheel is still usable.
    schedule(&mut wheel, 99, 75);
    assert_eq!(advance(&mut wheel, 75), [(99, 75)]);
}

/// Buckets `advance` processes for one jump from `from` to `to` with `deadlines` pending.
fn steps_for_jump(from: u64, to: u64, deadlines: &[u64]) -> u64 {
    let mut wheel = wheel_at(from);
    for (i, &d) in deadlines.iter().enumerate() {
        wheel.schedule(i as u64, d);
    }
    let before = wheel.steps;
    advance(&mut wheel, to);
    wheel.steps - before
}

#[test]
fn advance_cost_does_not_grow_with_the_jump() {
    // An empty wheel: no bucket at all, whatever the jump.
    for jump in [1, 1000, span(3), span(5) * 7, u64::MAX - 5] {
        assert_eq!(steps_for_jump(5, 5 + jump, &[]), 0);
    }
    // One item per level, far beyond the jump or within it: each item is touched by at
    // most one bucket per level it passes through, however far time jumps.
    let items: Vec<u64> = (0..LEVELS as u32).map(|l| 5 + span(l) * 3 / 2).collect();
    let bound = (items.len() * (LEVELS + 1)) as u64;
    for jump in [1, 100, 5000, span(2), span(4), span(5) - 6, span(5) * 9] {
        let steps = steps_for_jump(5, 5 + jump, &items);
        assert!(steps <= bound, "jump {jump}: {steps} steps > {bound}");
    }
    // Ten thousand small advances over the same span cost nothing extra per empty tick:
    // only occupied buckets count.
    let mut wheel = wheel_at(0);
    wheel.schedule(1, 9_999);
    for now in 1..10_000 {
        wheel.advance(now, |_, _| Fired::Done);
    }
    wheel.validate().unwrap();
    assert!(wheel.is_empty());
    assert!(wheel.steps <= LEVELS as u64, "{} steps", wheel.steps);
}

// ---------------------------------------------------------------------- proptest

#[derive(Clone, Debug)]
enum Step {
    /// Schedule at `elapsed + ahead` (or before elapsed when `ahead` is negative).
    Schedule(i64),
    /// Advance by this many ticks (0: same tick again).
    Advance(u64),
    /// Keep items whose id `% 3 != residue`.
    Retain(u64),
}

/// Distances that hit level boundaries, epochs and the overflow list.
fn distance() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..130,
        2 => (0u32..=LEVELS as u32, -2i64..=2).prop_map(|(l, d)| (1u64 << (6 * l)).saturating_add_signed(d)),
        1 => 0u64..(1 << 40),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => distance().prop_map(|d| Step::Schedule(d as i64)),
        1 => (0i64..200).prop_map(|d| Step::Schedule(-d)),
        4 => distance().prop_map(Step::Advance),
        1 => (0u64..3).prop_map(Step::Retain),
    ]
}

/// The model: pending `(deadline, id)` pairs, sorted. `Reschedule` decisions are a pure
/// function of the id and the firing count, so the model can replay them.
#[derive(Default)]
struct Model {
    pending: BTreeSet<(u64, u64)>,
    elapsed: u64,
}

/// Items with `id % 4 == 0` are rescheduled once to `now + id % 7 - 3` (possibly at or
/// before `now`: then they wait for the next advance), with `id + 1` as the new id.
fn decide(id: u64, now: u64) -> Option<(u64, u64)> {
    (id % 4 == 0).then(|| (id + 1, (now + id % 7).saturating_sub(3)))
}

fn apply(wheel: &mut TimingWheel<u64>, model: &mut Model, step: &Step, next_id: &mut u64) {
    match *step {
        Step::Schedule(ahead) => {
            *next_id += 4; // ids are multiples of 4 (rescheduled ones are odd)
            let deadline = model.elapsed.saturating_add_signed(ahead);
            wheel.schedule(*next_id, deadline);
            model.pending.insert((deadline, *next_id));
        }
        Step::Advance(by) => {
            let now = model.elapsed.saturating_add(by);
            let mut fired = Vec::new();
            wheel.advance(now, |id, deadline| {
                fired.push((deadline, id));
                match decide(id, now) {
                    Some((id, d)) => Fired::Reschedule(id, d),
                    None => Fired::Done,
                }
            });
            fired.sort_unstable();
            let due: Vec<(u64, u64)> = model
                .pending
                .iter()
                .copied()
                .filter(|&(d, _)| d <= now)
                .collect();
            assert_eq!(fired, due, "fired at now {now}");
            for item in &due {
                model.pending.remove(item);
                if let Some((id, d)) = decide(item.1, now) {
                    model.pending.insert((d, id));
                }
            }
            model.elapsed = now;
        }
        Step::Retain(residue) => {
            wheel.retain(|id| id % 3 != residue);
            model.pending.retain(|(_, id)| id % 3 != residue);
        }
    }
}

fn check(wheel: &TimingWheel<u64>, model: &Model) {
    wheel.validate().unwrap();
    assert_eq!(wheel.len(), model.pending.len());
    assert_eq!(wheel.elapsed(), model.elapsed);
    let mut items = Vec::new();
    wheel.for_each(|&id| items.push(id));
    items.sort_unstable();
    let mut want: Vec<u64> = model.pending.iter().map(|&(_, id)| id).collect();
    want.sort_unstable();
    assert_eq!(items, want);
    // `next_deadline` is a lower bound on the earliest deadline, `None` iff empty.
    match (wheel.next_deadline(), model.pending.first()) {
        (None, None) => {}
        (Some(bound), Some(&(earliest, _))) => assert!(bound <= earliest),
        (got, want) => panic!("next_deadline {got:?} with earliest {want:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]
    /// Random schedules, advances (with reschedules) and retains against a sorted list.
    #[test]
    fn matches_a_sorted_list(steps in prop::collection::vec(step(), 1..120)) {
        let mut wheel = TimingWheel::new();
        let mut model = Model::default();
        let mut next_id = 0;
        for step in &steps {
            apply(&mut wheel, &mut model, step, &mut next_id);
            check(&wheel, &model);
        }
        // Drain at the end: every pending item comes out once.
        let mut drained = wheel.drain();
        drained.sort_unstable();
        let mut want: Vec<u64> = model.pending.iter().map(|&(_, id)| id).collect();
        want.sort_unstable();
        prop_assert_eq!(drained, want);
        prop_assert!(wheel.validate().is_ok());
    }
}
