//! Slot words: what the index stores for each key, 64 bits.
//!
//! ```text
//! bit 63       occupied
//! bits 48..63  tag: 15 bits of the key's hash, so a lookup compares keys only on a tag match
//! bits 40..48  access metadata (`evict.rs`): a coarse time of last access, or an LFU counter
//! bit 39       large: the item takes whole pages and is read under a pin
//! bits 0..39   the item's location in the arena, in 8-byte units (up to 4 TiB)
//! ```
//!
//! The large bit spares a lookup of a small item the load of its page's metadata (another cache
//! line): a reader trusts nothing it read until it validates, so it may decide how to read the
//! item from the slot alone.
//!
//! On targets with 64-bit atomics (and under loom) a slot is one `AtomicUsize`. Where `usize` is
//! 32 bits (thumbv7em has no 64-bit atomics) a slot is two words, the high half first; a reader
//! may see one half of a change and not the other, but slots change only under the bucket lock
//! with the bucket's version odd, so such a reader's copy fails validation like any torn read.
//! `--cfg kv_split_slots` selects the two-word form on 64-bit hosts too, to test it there.
//!
//! The access metadata is the one part of a slot that changes without the bucket lock: a reader
//! updates it with [`touch`], a compare-and-swap of the word holding it (the high word on
//! 32-bit targets) that changes only those eight bits. It fails if anything else changed
//! meanwhile, and when it succeeds the word keeps every other bit it held at that moment, so it
//! can never bring back a location, tag or occupied bit a writer replaced: at worst a writer's
//! store (a plain store under the lock, of a slot it loaded earlier) overwrites a touch, and an
//! access goes uncounted. Readers validate their copies by the bucket's version, never by the
//! slot word, and a touch does not move the version, so it disturbs no reader.

use crate::memory::Word;
use crate::sync::Ordering;

/// Words per slot.
#[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
pub(crate) const SLOT_WORDS: usize = 1;
/// Words per slot.
#[cfg(any(target_pointer_width = "32", kv_split_slots))]
pub(crate) const SLOT_WORDS: usize = 2;

const OCCUPIED: u64 = 1 << 63;
const TAG_SHIFT: u32 = 48;
const LARGE: u64 = 1 << 39;
const META_SHIFT: u32 = 40;
const META_MASK: u64 = 0xff << META_SHIFT;
const LOC_BITS: u32 = 39;
const LOC_MASK: u64 = (1 << LOC_BITS) - 1;

/// A slot's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Slot(u64);

impl Slot {
    /// No key.
    pub(crate) const EMPTY: Slot = Slot(0);

    /// A key with `tag` (15 bits) whose item is at `loc`, large (whole pages) or not.
    #[inline]
    pub(crate) fn new(tag: u16, loc: usize, large: bool) -> Self {
        debug_assert!((loc as u64) <= LOC_MASK);
        let large = if large { LARGE } else { 0 };
        Slot(OCCUPIED | u64::from(tag & 0x7fff) << TAG_SHIFT | large | (loc as u64 & LOC_MASK))
    }

    /// This slot with access metadata `m`.
    #[inline]
    pub(crate) fn with_meta(self, m: u8) -> Self {
        Slot(self.0 & !META_MASK | u64::from(m) << META_SHIFT)
    }

    /// The access metadata.
    #[inline]
    pub(crate) fn meta(self) -> u8 {
        (self.0 >> META_SHIFT) as u8
    }

    /// Whether two slots link the same item under the same tag (their metadata aside).
    #[inline]
    pub(crate) fn same_item(self, other: Slot) -> bool {
        (self.0 ^ other.0) & !META_MASK == 0
    }

    /// Whether the item takes whole pages (read under a pin).
    #[inline]
    pub(crate) fn is_large(self) -> bool {
        self.0 & LARGE != 0
    }

    /// Whether a key is here.
    #[inline]
    pub(crate) fn is_occupied(self) -> bool {
        self.0 & OCCUPIED != 0
    }

    /// The tag, with the occupied bit: what [`Slot::key_bits`] of a search is compared with.
    #[inline]
    pub(crate) fn key_bits(self) -> u16 {
        (self.0 >> TAG_SHIFT) as u16
    }

    /// The `key_bits` an occupied slot of `tag` has.
    #[inline]
    pub(crate) fn key_bits_of(tag: u16) -> u16 {
        0x8000 | (tag & 0x7fff)
    }

    /// The tag.
    #[inline]
    pub(crate) fn tag(self) -> u16 {
        self.key_bits() & 0x7fff
    }

    /// The item's location.
    #[inline]
    pub(crate) fn loc(self) -> usize {
        // At most 39 bits, and the arena layout keeps locations below `usize::MAX`.
        (self.0 & LOC_MASK) as usize
    }
}

/// The slot held by `w` (`SLOT_WORDS` words), read with `Relaxed` loads.
#[inline]
pub(crate) fn load(w: &[Word]) -> Slot {
    #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
    {
        Slot(w[0].load(Ordering::Relaxed) as u64)
    }
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    {
        let hi = w[0].load(Ordering::Relaxed) as u64;
        let lo = w[1].load(Ordering::Relaxed) as u64 & 0xffff_ffff;
        Slot(hi << 32 | lo)
    }
}

/// Stores `s` into `w`; the caller holds the bucket lock and has begun a write.
///
/// The word holding the metadata is written with a swap, not a store: a reader's [`touch`] (a
/// compare-and-swap) may run at the same time, and the model checker can order a plain store
/// before a concurrent read-modify-write of the same word (tokio-rs/loom#254), letting the
/// touch write back the slot the store replaced, which no machine does. With both
/// read-modify-writes the touch fails, as it does on hardware.
#[inline]
pub(crate) fn store(w: &[Word], s: Slot) {
    #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
    {
        w[0].swap(s.0 as usize, Ordering::Relaxed);
    }
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    {
        w[0].swap((s.0 >> 32) as usize, Ordering::Relaxed);
        // Never touched: the metadata is in the high word.
        w[1].store(s.0 as u32 as usize, Ordering::Relaxed);
    }
}

/// Sets the access metadata of the slot in `w` to `m` if the slot still is `seen` (metadata
/// included); whether it did. Needs no lock: see the module's docs.
#[inline]
pub(crate) fn touch(w: &[Word], seen: Slot, m: u8) -> bool {
    let new = seen.with_meta(m);
    #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
    {
        w[0].compare_exchange(
            seen.0 as usize,
            new.0 as usize,
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .is_ok()
    }
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    {
        // The metadata is in the high word; the low word (the rest of the location) is not
        // compared: a touch changes the metadata of whatever item the slot names, which is
        // harmless (a miscounted access), and never the location.
        w[0].compare_exchange(
            (seen.0 >> 32) as usize,
            (new.0 >> 32) as usize,
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .is_ok()
    }
}

/// Whether the slot in `w` is occupied by a key with these `key_bits`, from its high word only
/// (one load, for the probe).
#[inline]
pub(crate) fn matches(w: &[Word], key_bits: u16) -> bool {
    #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
    {
        (w[0].load(Ordering::Relaxed) >> TAG_SHIFT) as u16 == key_bits
    }
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    {
        (w[0].load(Ordering::Relaxed) >> (TAG_SHIFT - 32)) as u16 == key_bits
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    use super::*;

    fn words(s: Slot) -> [Word; SLOT_WORDS] {
        let w: [Word; SLOT_WORDS] = core::array::from_fn(|_| Word::new(0));
        store(&w, s);
        w
    }

    #[test]
    fn a_touch_changes_only_the_metadata_of_the_slot_it_saw() {
        let a = Slot::new(0x1234, (1 << 38) + 5, true);
        let w = words(a);
        assert!(touch(&w, a, 0xab));
        let now = load(&w);
        assert_eq!(now.meta(), 0xab);
        assert!(now.same_item(a));
        assert_eq!(
            (now.tag(), now.loc(), now.is_large()),
            (0x1234, (1 << 38) + 5, true)
        );
        // Seen before the touch: fails, changes nothing.
        assert!(!touch(&w, a, 1));
        assert_eq!(load(&w), now);
        // An emptied slot is never filled by a touch.
        store(&w, Slot::EMPTY);
        assert!(!touch(&w, now, 2));
        assert_eq!(load(&w), Slot::EMPTY);
    }
}
