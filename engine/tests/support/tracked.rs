//! The checker for caches with the default (randomly seeded) hasher and any shard count,
//! where the model cannot know which shard holds a key, so it cannot predict the hand's
//! victims or which shards' wheels a write advances. Instead the listener tells which
//! entries left, and every step checks that each departure was allowed:
//! - an eviction happened only while an insert still needed room, of a table entry
//!   with its latest value;
//! - an expiry (`Expired`) only of an entry at or past its deadline (never early), and
//!   after `run_pending_tasks` every entry whose deadline (all of the deadlines it has
//!   had, under time-to-idle) lies at or before the current tick is gone;
//! - reads, removals and bulk operations behave exactly (they do not depend on shards).
//!
//! The cache then holds exactly the last inserted value of every key not removed,
//! evicted or expired since (`iter`, `len`, `weighted_size`, `remaining_ttl`, stats).

use std::collections::BTreeMap;
use std::sync::Arc;

use clockwheel::{Cache, Pattern};
use quanta::Mock;

use crate::driver::{
    canonical, check_refused, check_state, drain, pattern_text, sorted, ttl, Config, Event,
    Expected, Got, Log, Op, Val,
};
use crate::ensure_eq;
use crate::model::{deadline, Cause, Refused, Stats, MAX_TTL, NEVER, TICK_SHIFT};

/// What the checker knows of one entry in the table.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    value: Val,
    deadline: u64,
    /// The largest deadline the entry has had: its timer's tick is at most this one's.
    latest: u64,
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
                let want = self.take(&k, Cause::Removed, &mut events);
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
            Some(t) if t.deadline <= now => None,
            Some(t) => {
                if let (true, Some(tti), false) =
                    (touch, self.cfg.time_to_idle, t.deadline == NEVER)
                {
                    t.deadline = deadline(now, ttl(Some(tti)));
                    t.latest = t.latest.max(t.deadline);
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
            Some(t) if t.value == *v && t.deadline <= self.now => {
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
        match self.contents.iter().find(|(_, t)| t.latest <= reached) {
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

    /// Bulk removals see every entry in the table, expired or not.
    fn remove_where(
        &mut self,
        mut doomed: impl FnMut(&String, &Val) -> bool,
        count: Option<usize>,
    ) -> Result<(), String> {
        let victims: Vec<String> = self
            .contents
            .iter()
            .filter(|(k, t)| doomed(k, &t.value))
            .map(|(k, _)| k.clone())
            .collect();
        if let Some(got) = count {
            ensure_eq!(got, victims.len(), "removed count");
        }
        let mut events = Vec::new();
        for k in &victims {
            self.take(k, Cause::Removed, &mut events);
        }
        ensure_eq!(sorted(drain(&self.log)), events, "events");
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
            None => self.admitted(got, k, v, clamped),
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
            let old = self.take(k, Cause::Removed, &mut events);
            ensure_eq!(got, Ok(old), "refused insert returned");
        }
        ensure_eq!(drain(&self.log), events, "events");
        Ok(())
    }

    /// An admitted insert reports, in order: evictions while it made room, expirations by
    /// the wheels it advanced (possibly of itself, for a zero TTL), then `Replaced`.
    fn admitted(
        &mut self,
        got: Got,
        k: String,
        v: Val,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), String> {
        let events = canonical(drain(&self.log));
        let evictions = events.iter().take_while(|e| e.2 == Cause::Evicted).count();
        let expirations = events[evictions..]
            .iter()
            .take_while(|e| e.2 == Cause::Expired)
            .count();
        let (evicted, rest) = events.split_at(evictions);
        let (expired, rest) = rest.split_at(expirations);
        self.check_evictions(evicted, &k, self.cfg.weight(&v))?;
        let survivor = self.contents.get(&k).map(|t| t.value);
        match survivor {
            Some(_) => self.stats.replacements += 1,
            None => self.stats.insertions += 1,
        }
        let d = deadline(self.now, ttl);
        let entry = Tracked {
            value: v,
            deadline: d,
            latest: d,
        };
        self.contents.insert(k.clone(), entry);
        for event in expired {
            self.expired(event)?;
        }
        let replaced: Vec<Event> = survivor
            .map(|old| (k.clone(), old, Cause::Replaced))
            .into_iter()
            .collect();
        ensure_eq!(
            rest,
            replaced.as_slice(),
            "events after evictions and expirations"
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

    /// Each eviction was of a tracked entry with its latest value, while the insert of
    /// weight `w` still did not fit; afterwards it fits.
    fn check_evictions(&mut self, evicted: &[Event], k: &str, w: u64) -> Result<(), String> {
        let old_weight = |me: &Self| me.contents.get(k).map_or(0, |t| me.cfg.weight(&t.value));
        for (ek, ev, _) in evicted {
            if self
                .total()
                .saturating_add(w.saturating_sub(old_weight(self)))
                <= self.cfg.capacity
            {
                return Err(format!("evicted {ek}={ev:?} though {w} already fitted"));
            }
            let found = self.contents.remove(ek).map(|t| t.value);
            ensure_eq!(found, Some(*ev), "evicted entry {ek}");
            self.stats.evictions += 1;
        }
        if self
            .total()
            .saturating_add(w.saturating_sub(old_weight(self)))
            > self.cfg.capacity
        {
            return Err(format!(
                "inserted weight {w} without making room (total {})",
                self.total()
            ));
        }
        Ok(())
    }
}
