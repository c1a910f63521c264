//! Fuzz target: arbitrary operation sequences, on a mock clock, against the reference
//! model of `engine/tests/support/` (the same checkers as `engine/tests/model.rs`).
//!
//! Each input is a cache configuration and up to 512 operations (inserts with and
//! without TTLs, reads, removals, bulk removals, clock steps, `run_pending_tasks`,
//! `remaining_ttl`). With a deterministic hasher the cache is compared exactly with the
//! model after every operation (any shard count); with the default random hasher it is
//! checked by the listener-driven `TrackedCache`. Both call `validate()` after each
//! operation. A failed check panics with the operation and the difference.

#![no_main]

#[allow(dead_code)] // each checker uses a different part of the shared support code
#[path = "../../engine/tests/support/driver.rs"]
mod driver;
#[allow(dead_code)] // each checker uses a different part of the shared support code
#[path = "../../engine/tests/support/model.rs"]
mod model;
#[allow(dead_code)] // each checker uses a different part of the shared support code
#[path = "../../engine/tests/support/tracked.rs"]
mod tracked;

use arbitrary::{Arbitrary, Result, Unstructured};
use driver::{Config, Exact, Op, KEYS, PATTERNS};
use libfuzzer_sys::fuzz_target;
use tracked::TrackedCache;

/// One tick of the engine's timing wheel, in nanoseconds.
const TICK: u64 = 1 << 20;

/// The most operations one input runs.
const MAX_OPS: usize = 512;

/// A duration in nanoseconds, biased towards tick boundaries: `ticks` whole ticks plus
/// `offset` nanoseconds (negative: just before the boundary), or any raw value.
fn nanos(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => {
            let (ticks, offset) = (u64::from(u.arbitrary::<u8>()?), u.arbitrary::<i8>()?);
            (ticks * TICK).saturating_add_signed(i64::from(offset))
        }
        1 => u64::from(u.arbitrary::<u32>()?),
        2 => u64::from(u.arbitrary::<u16>()?) * 1_000_000_000,
        _ => u.arbitrary()?,
    })
}

fn weight(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => u64::MAX,
        1 => u.arbitrary()?,
        n => u64::from(n - 2),
    })
}

fn ttl(u: &mut Unstructured<'_>) -> Result<Option<u64>> {
    Ok(if u.ratio(1, 4)? {
        None
    } else {
        Some(nanos(u)?)
    })
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    let key = u.arbitrary::<u8>()?;
    Ok(match u.int_in_range(0..=18u8)? {
        0..=2 => Op::Insert {
            key,
            weight: weight(u)?,
        },
        3 => Op::TryInsert {
            key,
            weight: weight(u)?,
        },
        4 | 5 => Op::InsertWithTtl {
            key,
            weight: weight(u)?,
            ttl: ttl(u)?,
        },
        6 => Op::TryInsertWithTtl {
            key,
            weight: weight(u)?,
            ttl: ttl(u)?,
        },
        7 => Op::Get(key),
        8 => Op::GetWith(key),
        9 => Op::Peek(key),
        10 => Op::Contains(key),
        11 => Op::Remove(key),
        12 => Op::Invalidate(key),
        13 => match key % 8 {
            0 => Op::Clear,
            k if k < 4 => Op::Retain {
                modulus: 1 + key % 4,
                residue: key / 4 % 4,
            },
            _ => Op::RemoveMatching(key % (PATTERNS.len() as u8 + 1)),
        },
        14 | 15 => Op::Advance(nanos(u)?),
        16 => Op::AlignTick(key % 7),
        17 => Op::RunPendingTasks,
        _ => Op::RemainingTtl(key),
    })
}

/// A cache-wide duration setting: off, or 1 ns up (zero is not a valid setting).
fn setting(u: &mut Unstructured<'_>) -> Result<Option<u64>> {
    Ok(if u.arbitrary()? {
        None
    } else {
        Some(nanos(u)?.clamp(1, model::MAX_TTL.as_nanos() as u64))
    })
}

fn config(u: &mut Unstructured<'_>) -> Result<Config> {
    let weighted = u.arbitrary()?;
    Ok(Config {
        capacity: u.int_in_range(1..=if weighted { 64 } else { 24 })?,
        weighted,
        fifo: u.arbitrary()?,
        shards: u.int_in_range(1..=16)?,
        estimated_entries: match u.int_in_range(0..=3u8)? {
            0 => None,
            n => Some(1 << (2 * (n - 1))),
        },
        record_stats: !u.ratio(1, 10)?,
        universe: u.int_in_range(1..=KEYS.len())?,
        seed: u.arbitrary()?,
        default_ttl: setting(u)?,
        time_to_idle: setting(u)?,
    })
}

/// The decoded input: which checker, the configuration, the operations.
#[derive(Debug)]
struct Input {
    exact: bool,
    cfg: Config,
    ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let exact = !u.ratio(1, 4)?;
        let cfg = config(u)?;
        let mut ops = Vec::new();
        while ops.len() < MAX_OPS && !u.is_empty() {
            ops.push(op(u)?);
        }
        Ok(Input { exact, cfg, ops })
    }
}

/// Applies one operation to the cache under test and checks it.
type Step = dyn FnMut(&Op) -> std::result::Result<(), String>;

fuzz_target!(|input: Input| {
    let Input { exact, cfg, ops } = input;
    let mut step: Box<Step> = if exact {
        let mut exact = Exact::new(cfg.clone());
        Box::new(move |op| exact.step(op))
    } else {
        let mut tracked = TrackedCache::new(cfg.clone());
        Box::new(move |op| tracked.step(op))
    };
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = step(op) {
            panic!("{cfg:?}\nop #{i}: {e}\nops: {:?}", &ops[..=i]);
        }
    }
});
