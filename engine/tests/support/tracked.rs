//! The checker for caches with the default (randomly seeded) hasher and any shard count,
//! where the model cannot know which shard holds a key, so it cannot predict the hand's
//! victims or which shards' wheels a write advances. Instead the listener tells which
//! entries left, and every step checks that each departure was allowed:
//! - the hand took a victim only while an insert still needed room, a table entry with
//!   its latest value, reported `Expired` if it was past its deadline, else `Evicted`;
//! - an expiry (`Expired`) only of an entry at or past its deadline (never early), and
//!   after `run_pending_tasks` every entry whose deadline (which only ever moves later,
//!   under time-to-idle) lies at or before the current tick is gone;
//! - reads, removals and bulk operations behave exactly (they do not depend on shards),
//!   including their expiring of entries past their deadline.
//!
//! The cache then holds exactly the last inserted value of every key not removed,
//! evicted or expired since (`iter`, `len`, `weighted_size`, `remaining_ttl`, stats).

use std::collections::BTreeMap;
use std::sync::Arc;

use clockwheel::{Cache, Pattern};
use quanta::Mock;

use crate::driver::{
    check_refused, check_state, drain, pattern_text, sorted, ttl, Config, Event, Expected, Got,
    Log, Op, Val,
};
use crate::ensure_eq;
use crate::model::{deadline, Cause, Refused, Stats, MAX_TTL, NEVER, TICK_SHIFT};

/// What the checker knows of one entry in the table.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    value: Val,
    /// Only ever moves later, so the entry's timer sits at or before its tick.
    deadline: u64,
}

impl Tracked {
    fn expired(&self, now: u64) -> bool {
        self.deadline != NEVER && self.deadline <= now
    }
}

/// A cache with the default hasher, checked against listener-driven contents.
pub struct TrackedCache {
    cfg: Config,
    cache: Cache<String, Val>,
    mock: Arc<Mock>,
    log: Log,
    seq: u32,
    now: u64,
    contents: BTreeMap<String, Tracked>,
    stats: Stats,
}

impl TrackedCache {
    pub fn new(cfg: Config) -> Self {
        let log = Log::default();
        let (builder, mock) = cfg.builder(&log);
        let cache = builder.build().expect("valid config");
        TrackedCache {
            cfg,
            cache,
            mock,
            log,
            seq: 0,
            now: 0,
            contents: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    fn total(&self) -> u64 {
        self.contents
            .values()
            .map(|t| self.cfg.weight(&t.value))
            .sum()
    }

    pub fn step(&mut self, op: &Op) -> Result<(), String> {
        self.apply(op).map_err(|e| format!("{op:?}: {e}"))?;
        let entries: Vec<(String, Val)> = self
            .contents
            .iter()
            .filter(|(_, t)| !t.expired(self.now))
            .map(|(k, t)| (k.clone(), t.value))
            .collect();
        let remaining = self.cfg.keys().map(|k| {
            let r = self.contents.get(&k).and_then(|t| match t.deadline {
                NEVER => Some(None),
                d => (d > self.now).then(|| Some(std::time::Duration::from_nanos(d - self.now))),
            });
            (k, r)
        });
        let want = Expected {
            entries: &entries,
            len: self.contents.len(),
            weighted: self.total(),
            stats: self.stats,
            remaining: remaining.collect(),
        };
        check_state(&self.cache, &self.cfg, &want).map_err(|e| format!("after {op:?}: {e}"))
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Insert { .. }
            | Op::TryInsert { .. }
            | Op::InsertWithTtl { .. }
            | Op::TryInsertWithTtl { .. } => self.insert(op),
            Op::Advance(_) | Op::AlignTick(_) => {
                let step = op.clock_step(self.now);
                self.mock.increment(step);
                self.now += step;
                Ok(())
            }
            Op::RunPendingTasks => {
                self.cache.run_pending_tasks();
                self.run_pending_tasks()
            }
            Op::RemainingTtl(_) => Ok(()), // every key's is checked after each step
            Op::Clear | Op::Retain { .. } | Op::RemoveMatching(_) => self.bulk(op),
            _ => self.single_key(op),
        }
    }

    /// Reads and removals: exact, events included.
    fn single_key(&mut self, op: &Op) -> Result<(), String> {
        let mut events = Vec::new();
        match *op {
            Op::Get(key) | Op::GetWith(key) | Op::Contains(key) => {
                let k = self.cfg.key(key);
                let want = self.read(&k, true, &mut events);
                let got = match op {
                    Op::Get(_) => self.cache.get(k.as_str()),
                    Op::GetWith(_) => self.cache.get_with(k.as_str(), |v| *v),
                    _ => self
                        .cache
                        .contains_key(k.as_str())
                        .then_some(want.unwrap_or_default()),
                };
                ensure_eq!(got, want, "lookup");
            }
            Op::Peek(key) => {
                let k = self.cfg.key(key);
                let want = self.read(&k, false, &mut events);
                ensure_eq!(self.cache.peek(k.as_str()), want, "peek");
            }
            Op::Remove(key) | Op::Invalidate(key) => {
                let k = self.cfg.key(key);
                let want = match self.expire_if_due(&k, &mut events) {
                    true => None,
                    false => self.take(&k, Cause::Removed, &mut events),
                };
                if matches!(op, Op::Remove(_)) {
                    ensure_eq!(self.cache.remove(k.as_str()), want, "remove");
                } else {
                    ensure_eq!(
                        self.cache.invalidate(k.as_str()),
                        want.is_some(),
                        "invalidate"
                    );
                }
            }
            _ => unreachable!("not a single-key operation: {op:?}"),
        }
        ensure_eq!(drain(&self.log), events, "events");
        Ok(())
    }

    /// The read path on the tracked contents: expiry at the deadline, time-to-idle,
    /// statistics (`touch`: a `get`-like read, else `peek`).
    fn read(&mut self, k: &str, touch: bool, events: &mut Vec<Event>) -> Option<Val> {
        let now = self.now;
        let found = match self.contents.get_mut(k) {
            Some(t) if t.expired(now) => None,
            Some(t) => {
                if let (true, Some(tti), false) =
                    (touch, self.cfg.time_to_idle, t.deadline == NEVER)
                {
                    t.deadline = t.deadline.max(deadline(now, ttl(Some(tti))));
                }
                Some(t.value)
            }
            None => None,
        };
        if found.is_none() {
            self.take(k, Cause::Expired, events);
        }
        if touch {
            match found {
                Some(_) => self.stats.hits += 1,
                None => self.stats.misses += 1,
            }
        }
        found
    }

    /// Takes `k` out of the contents as `Expired` if it is past its deadline.
    fn expire_if_due(&mut self, k: &str, events: &mut Vec<Event>) -> bool {
        let due = self.contents.get(k).is_some_and(|t| t.expired(self.now));
        if due {
            self.take(k, Cause::Expired, events);
        }
        due
    }

    /// Takes `k` out of the contents for `cause`, if present, with its event and count.
    fn take(&mut self, k: &str, cause: Cause, events: &mut Vec<Event>) -> Option<Val> {
        let t = self.contents.remove(k)?;
        match cause {
            Cause::Expired => self.stats.expirations += 1,
            _ => self.stats.removals += 1,
        }
        events.push((k.to_string(), t.value, cause));
        Some(t.value)
    }

    /// Checks an `Expired` event reported by a wheel: the entry was in the table with
    /// that value and at or past its deadline (the wheel never fires early).
    fn expired(&mut self, (k, v, _): &Event) -> Result<(), String> {
        match self.contents.get(k) {
            Some(t) if t.value == *v && t.expired(self.now) => {
                let mut sink = Vec::new();
                self.take(k, Cause::Expired, &mut sink);
                Ok(())
            }
            other => Err(format!(
                "wheel expired {k}={v:?} at {}, tracked {other:?}",
                self.now
            )),
        }
    }

    fn run_pending_tasks(&mut self) -> Result<(), String> {
        for event in drain(&self.log) {
            ensure_eq!(event.2, Cause::Expired, "cause of {event:?}");
            self.expired(&event)?;
        }
        // Every timer whose deadline tick has been reached fired: an entry whose every
        // deadline lies at or before the current tick cannot have survived.
        let reached = (self.now >> TICK_SHIFT) << TICK_SHIFT;
        match self.contents.iter().find(|(_, t)| t.deadline <= reached) {
            Some((k, t)) => Err(format!(
                "{k} survived run_pending_tasks at {}: {t:?}",
                self.now
            )),
            None => Ok(()),
        }
    }

    fn bulk(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Clear => {
                self.cache.clear();
                self.remove_where(|_, _| true, None)
            }
            Op::Retain { modulus, residue } => {
                let keep = |v: &Val| v.0 % u32::from(modulus.max(1)) != u32::from(residue);
                let got = self.cache.retain(|_, v| keep(v));
                self.remove_where(|_, v| !keep(v), Some(got))
            }
            Op::RemoveMatching(index) => {
                let text = pattern_text(index);
                match (self.cache.remove_matching(&text), Pattern::new(&text)) {
                    (Ok(got), Ok(p)) => self.remove_where(|k, _| p.matches(k), Some(got)),
                    (Err(_), Err(_)) => {
                        ensure_eq!(drain(&self.log), Vec::<Event>::new(), "events");
                        Ok(())
                    }
                    (got, _) => Err(format!("remove_matching returned {got:?}")),
                }
            }
            _ => unreachable!("not a bulk operation: {op:?}"),
        }
    }

    /// Bulk removals expire every entry past its deadline (uncounted, unseen by
    /// `doomed`) and remove the others that `doomed` picks.
    fn remove_where(
        &mut self,
        mut doomed: impl FnMut(&String, &Val) -> bool,
        count: Option<usize>,
    ) -> Result<(), String> {
        let keys: Vec<String> = self.contents.keys().cloned().collect();
        let mut events = Vec::new();
        let mut removed = 0;
        for k in &keys {
            if !self.expire_if_due(k, &mut events) && doomed(k, &self.contents[k].value) {
                self.take(k, Cause::Removed, &mut events);
                removed += 1;
            }
        }
        if let Some(got) = count {
            ensure_eq!(got, removed, "removed count");
        }
        ensure_eq!(sorted(drain(&self.log)), sorted(events), "events");
        Ok(())
    }

    // ------------------------------------------------------------------ insert

    /// Any of the four inserts, through the API it names.
    fn insert(&mut self, op: &Op) -> Result<(), String> {
        let (key, weight, explicit) = match *op {
            Op::Insert { key, weight } | Op::TryInsert { key, weight } => (key, weight, None),
            Op::InsertWithTtl {
                key,
                weight,
                ttl: t,
            }
            | Op::TryInsertWithTtl {
                key,
                weight,
                ttl: t,
            } => (key, weight, Some(ttl(t))),
            _ => unreachable!("not an insert: {op:?}"),
        };
        let try_insert = matches!(op, Op::TryInsert { .. } | Op::TryInsertWithTtl { .. });
        let (k, v) = (self.cfg.key(key), self.value(weight));
        let got = match (op, explicit) {
            (Op::Insert { .. }, _) => Ok(self.cache.insert(k.clone(), v)),
            (Op::TryInsert { .. }, _) => self.cache.try_insert(k.clone(), v),
            (Op::InsertWithTtl { .. }, Some(t)) => Ok(self.cache.insert_with_ttl(k.clone(), v, t)),
            (_, t) => self.cache.try_insert_with_ttl(k.clone(), v, t.flatten()),
        };
        // `insert_with_ttl` clamps the TTL; `try_insert_with_ttl` refuses it.
        let ttl = explicit.unwrap_or(ttl(self.cfg.default_ttl));
        let (w, clamped) = (self.cfg.weight(&v), ttl.map(|t| t.min(MAX_TTL)));
        let refused = match ttl.filter(|t| try_insert && *t > MAX_TTL) {
            Some(t) => Some(Refused::TtlTooLarge(t)),
            None => (w > self.cfg.capacity).then_some(Refused::TooHeavy(w)),
        };
        match refused {
            Some(refused) => self.refused(got, &k, refused, try_insert),
            None => {
                // Under time-to-idle an entry starts with at most the idle limit.
                let tti = crate::driver::ttl(self.cfg.time_to_idle);
                let start = clamped.map(|t| tti.map_or(t, |tti| t.min(tti)));
                self.admitted(got, k, v, start)
            }
        }
    }

    fn value(&mut self, weight: u64) -> Val {
        self.seq += 1;
        (self.seq, weight)
    }

    /// A refused insert: `try_insert` leaves the old entry, `insert` removes it.
    fn refused(
        &mut self,
        got: Got,
        k: &str,
        refused: Refused,
        try_insert: bool,
    ) -> Result<(), String> {
        if matches!(refused, Refused::TooHeavy(_)) {
            self.stats.rejections += 1;
        }
        let mut events = Vec::new();
        if try_insert {
            check_refused(got, k, refused, self.cfg.capacity)?;
        } else {
            // `insert` removes the old entry instead, as `remove` does.
            let old = match self.expire_if_due(k, &mut events) {
                true => None,
                false => self.take(k, Cause::Removed, &mut events),
            };
            ensure_eq!(got, Ok(old), "refused insert returned");
        }
        ensure_eq!(drain(&self.log), events, "events");
        Ok(())
    }

    /// An admitted insert reports, in order: the `Expired` of its key's old entry if that
    /// was past its deadline, the hand's victims while it made room, expirations by the
    /// wheels it advanced (possibly of itself, for a zero TTL), then `Replaced`.
    fn admitted(
        &mut self,
        got: Got,
        k: String,
        v: Val,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), String> {
        let mut events = drain(&self.log).into_iter();
        let mut stale = Vec::new();
        if self.expire_if_due(&k, &mut stale) {
            ensure_eq!(events.next(), stale.pop(), "first event (stale entry)");
        }
        let w = self.cfg.weight(&v);
        // The hand runs exactly while the insert does not fit; the wheels run after it.
        while !self.fits(&k, w) {
            match events.next() {
                Some(victim) => self.hand_victim(&victim)?,
                None => return Err(format!("inserted weight {w} without making room")),
            }
        }
        let survivor = self.contents.get(&k).map(|t| t.value);
        match survivor {
            Some(_) => self.stats.replacements += 1,
            None => self.stats.insertions += 1,
        }
        let deadline = deadline(self.now, ttl);
        self.contents
            .insert(k.clone(), Tracked { value: v, deadline });
        let rest: Vec<Event> = events.collect();
        let expirations = rest.iter().take_while(|e| e.2 == Cause::Expired).count();
        for event in &rest[..expirations] {
            self.expired(event)?;
        }
        let replaced: Vec<Event> = survivor
            .map(|old| (k.clone(), old, Cause::Replaced))
            .into_iter()
            .collect();
        ensure_eq!(
            &rest[expirations..],
            replaced.as_slice(),
            "events after the hand's and the wheels'"
        );
        ensure_eq!(got, Ok(survivor), "insert returned");
        // An insert that fits is readable at once, unless its deadline has already come
        // (`peek`: no statistics, no bit; it expires an entry at its deadline).
        let mut events = Vec::new();
        let want = self.read(&k, false, &mut events);
        ensure_eq!(self.cache.peek(k.as_str()), want, "peek right after insert");
        ensure_eq!(drain(&self.log), events, "events of that peek");
        Ok(())
    }

    /// True if an insert of weight `w` for `k` fits beside the contents.
    fn fits(&self, k: &str, w: u64) -> bool {
        let old = self
            .contents
            .get(k)
            .map_or(0, |t| self.cfg.weight(&t.value));
        self.total().saturating_add(w.saturating_sub(old)) <= self.cfg.capacity
    }

    /// A victim of the hand: a tracked entry with its latest value, reported `Expired` if
    /// it was past its deadline, else `Evicted`.
    fn hand_victim(&mut self, (ek, ev, cause): &Event) -> Result<(), String> {
        let found = self.contents.remove(ek);
        ensure_eq!(found.map(|t| t.value), Some(*ev), "hand victim {ek}");
        let expired = found.is_some_and(|t| t.expired(self.now));
        let want = if expired {
            Cause::Expired
        } else {
            Cause::Evicted
        };
        ensure_eq!(*cause, want, "cause of hand victim {ek}");
        match want {
            Cause::Expired => self.stats.expirations += 1,
            _ => self.stats.evictions += 1,
        }
        Ok(())
    }
}
