//! Where the wheel keeps an item, so that a timer can be cancelled in O(1).
//!
//! Varghese and Lauck's schemes cancel in O(1) by unlinking the timer from a doubly
//! linked slot list; tokio's wheel does the same with an intrusive list through its timer
//! entries. Ours keeps each slot as a `Vec` (cache-friendly to fire and cascade) and tells
//! every item its bucket and index whenever it lands somewhere; a cancel then
//! `swap_remove`s at that index and tells the item moved into the hole its new index. An
//! item that left the wheel (fired, compacted, drained) keeps a stale place: `cancel`
//! checks the item found there before removing anything, so a stale place only makes a
//! cancel report "not here".

/// A bucket and an index in it, packed into one word: bits 0–31 the index, bits 32 and
/// up the bucket (`level * SLOTS + slot` for a slot, then one code each for the due and
/// overflow lists). [`Place::NOWHERE`] is all ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place(u64);

/// Which of the wheel's buckets an item is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Home {
    Slot { level: usize, slot: usize },
    Due,
    Overflow,
}

const INDEX_BITS: u32 = 32;
const DUE: u64 = (super::LEVELS * super::SLOTS) as u64;
const OVERFLOW: u64 = DUE + 1;

impl Place {
    /// Not in the wheel (in the engine: in the inbox, or never scheduled).
    pub(crate) const NOWHERE: Place = Place(u64::MAX);

    /// `index` of `home`; [`Place::NOWHERE`] for an index that does not fit 32 bits (such
    /// an item simply cannot be cancelled early).
    pub(crate) fn new(home: Home, index: usize) -> Place {
        let bucket = match home {
            Home::Slot { level, slot } => (level * super::SLOTS + slot) as u64,
            Home::Due => DUE,
            Home::Overflow => OVERFLOW,
        };
        match u32::try_from(index) {
            Ok(index) if index != u32::MAX => Place(bucket << INDEX_BITS | u64::from(index)),
            _ => Place::NOWHERE,
        }
    }

    /// The bucket and index, `None` for [`Place::NOWHERE`] (or any word no `new` made).
    pub(crate) fn get(self) -> Option<(Home, usize)> {
        let index = (self.0 & u64::from(u32::MAX)) as usize;
        let home = match self.0 >> INDEX_BITS {
            DUE => Home::Due,
            OVERFLOW => Home::Overflow,
            b if b < DUE => Home::Slot {
                level: b as usize / super::SLOTS,
                slot: b as usize % super::SLOTS,
            },
            _ => return None,
        };
        Some((home, index))
    }

    /// The raw word, for storing in an atomic.
    pub(crate) fn to_bits(self) -> u64 {
        self.0
    }

    /// The inverse of [`Place::to_bits`].
    pub(crate) fn from_bits(bits: u64) -> Place {
        Place(bits)
    }
}

/// What the wheel asks of its items: to be told where they lie.
pub(crate) trait Timer: PartialEq {
    /// The wheel now keeps this item at `at`.
    fn placed(&self, at: Place);

    /// Where the item was last placed, for `validate`; `None` if it does not remember.
    fn place(&self) -> Option<Place>;
}

/// `Vec::retain` over a bucket that also tells each kept item its new index if it moved.
/// Returns how many items were kept.
pub(super) fn retain_placed<T: Timer>(
    items: &mut Vec<(T, u64)>,
    home: Home,
    keep: &mut impl FnMut(&T) -> bool,
) -> usize {
    let mut kept = 0;
    for i in 0..items.len() {
        if keep(&items[i].0) {
            if kept != i {
                items.swap(kept, i);
                items[kept].0.placed(Place::new(home, kept));
            }
            kept += 1;
        }
    }
    items.truncate(kept);
    kept
}

/// Checks that every item of a bucket that remembers its place remembers this one.
pub(super) fn check_places<T: Timer>(items: &[(T, u64)], home: Home) -> Result<(), String> {
    for (index, (item, _)) in items.iter().enumerate() {
        match item.place() {
            Some(at) if at != Place::new(home, index) => {
                return Err(format!(
                    "item at {home:?}[{index}] believes it is at {:?}",
                    at.get()
                ))
            }
            _ => {}
        }
    }
    Ok(())
}
