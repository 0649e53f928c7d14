//! Page metadata: what each arena page is used for, kept in an array beside the pages and never
//! in the pages themselves, so nothing an item's bytes overwrite can corrupt it.
//!
//! Every page has [`META_WORDS`] words. The first, the state word, says what the page holds
//! ([`Kind`]), and for a page that starts a large item ([`Kind::Head`]) how many readers have it
//! pinned and whether it is dead (unlinked from the index, to be freed by the last unpinner). It
//! also counts how often the page was freed (its generation), so that a reader that read the
//! state word of an item that was since freed and reused cannot pin the new one by mistake.

use crate::memory::Word;
use crate::sync::Ordering;

/// Words of metadata per page.
pub(crate) const META_WORDS: usize = 6;

/// The state word: kind, dead bit, pin count and generation.
pub(crate) const STATE: usize = 0;
/// A slab page's class and free-chunk count: `class | free << 8`.
pub(crate) const CLASS_FREE: usize = 1;
/// A slab page's count of chunks handed out by bumping (never used before).
pub(crate) const BUMP: usize = 2;
/// A slab page's first free chunk (index + 1, 0 for none); for a `Head` or `Chain` page, the
/// location of the item's next piece (+ 1, 0 for none).
pub(crate) const LINK: usize = 3;
/// The next page in a class's list of pages with free chunks, or in the free-page stack
/// (page + 1, 0 for none).
pub(crate) const NEXT: usize = 4;
/// The previous page in a class's list of pages with free chunks (page + 1, 0 for none).
pub(crate) const PREV: usize = 5;

/// What a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing (never used, or freed).
    Free = 0,
    /// Chunks of one size class.
    Slab = 1,
    /// The first piece of an item larger than the largest class: read under a pin.
    Head = 2,
    /// A later piece of such an item.
    Chain = 3,
}

const KIND_MASK: usize = 0b11;
/// The item that starts on this page is unlinked; the last reader to unpin it frees it.
pub(crate) const DEAD: usize = 1 << 2;
const PIN_SHIFT: u32 = 3;
const PIN_BITS: u32 = 13;
/// One pin.
pub(crate) const PIN: usize = 1 << PIN_SHIFT;
const PIN_MASK: usize = ((1 << PIN_BITS) - 1) << PIN_SHIFT;
const GEN_SHIFT: u32 = PIN_SHIFT + PIN_BITS;
/// One generation: added each time the page is freed.
pub(crate) const GEN: usize = 1 << GEN_SHIFT;

/// The kind in a state word.
#[inline]
pub(crate) fn kind(state: usize) -> Kind {
    match state & KIND_MASK {
        0 => Kind::Free,
        1 => Kind::Slab,
        2 => Kind::Head,
        _ => Kind::Chain,
    }
}

/// The pins in a state word.
#[inline]
pub(crate) fn pins(state: usize) -> usize {
    (state & PIN_MASK) >> PIN_SHIFT
}

/// The state word of a page put to a new use `kind`: the generation kept, no pins, not dead.
#[inline]
pub(crate) fn reuse(state: usize, kind: Kind) -> usize {
    (state & !(GEN - 1)) | kind as usize
}

/// The state word of a page being freed: its generation advanced, kind `Free`.
#[inline]
pub(crate) fn freed(state: usize) -> usize {
    (state & !(GEN - 1)).wrapping_add(GEN)
}

/// How a pin attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pin {
    /// The item is pinned: it will not be freed until unpinned.
    Held,
    /// The page no longer holds the item that `seen` described (freed, reused, or dead).
    Gone,
}

/// Moves a page's state word to `f(state)` with a compare-and-swap loop, never a plain store:
/// a stale reader's pin attempt (a compare-and-swap) may race the change, and the model checker
/// can order a plain store before a concurrent read-modify-write of the same word, which no
/// machine does (tokio-rs/loom#254). `Release`: see `Arena::give_page`.
#[inline]
pub(crate) fn change(state: &Word, f: impl Fn(usize) -> usize) {
    let mut cur = state.load(Ordering::Relaxed);
    while let Err(now) = state.compare_exchange(cur, f(cur), Ordering::Release, Ordering::Relaxed) {
        cur = now;
    }
}

/// Pins the item whose head page had state `seen` when a validated read saw it linked.
///
/// The compare-and-swap succeeds only while the generation is the one seen and the item is not
/// dead: the generation advances whenever the page is freed, so success proves the page has held
/// this same item since `seen` was read, and the dead bit, set only by the writer that unlinked
/// it and checked by it afterwards, makes that writer leave the free to the last unpinner.
#[inline]
pub(crate) fn pin(state: &Word, seen: usize) -> Pin {
    let mut cur = seen;
    loop {
        let same = (cur ^ seen) & !PIN_MASK == 0;
        if !same || kind(cur) != Kind::Head || cur & DEAD != 0 || pins(cur) == PIN_MASK >> PIN_SHIFT
        {
            return Pin::Gone;
        }
        match state.compare_exchange(cur, cur + PIN, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return Pin::Held,
            Err(now) => cur = now,
        }
    }
}

/// Pins an item the caller knows is linked (it holds the bucket lock): it cannot be dead.
#[inline]
pub(crate) fn pin_linked(state: &Word) {
    state.fetch_add(PIN, Ordering::AcqRel);
}

/// Drops a pin; `true` if the item is dead and this was its last pin: the caller frees it.
#[inline]
pub(crate) fn unpin(state: &Word) -> bool {
    let before = state.fetch_sub(PIN, Ordering::AcqRel);
    before & DEAD != 0 && pins(before) == 1
}

/// Marks an unlinked item dead; `true` if nobody has it pinned: the caller frees it now.
/// Otherwise the last [`unpin`] answers `true` instead.
#[inline]
pub(crate) fn kill(state: &Word) -> bool {
    let before = state.fetch_or(DEAD, Ordering::AcqRel);
    pins(before) == 0
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_side_frees_a_pinned_item() {
        let w = Word::new(reuse(freed(0), Kind::Head));
        let seen = w.load(Ordering::Relaxed);
        assert_eq!(pin(&w, seen), Pin::Held);
        assert!(!kill(&w), "pinned: the unlinker must not free");
        assert_eq!(pin(&w, seen), Pin::Gone, "dead items cannot be pinned");
        assert!(unpin(&w), "the last unpinner frees");

        let w = Word::new(reuse(0, Kind::Head));
        assert!(kill(&w), "unpinned: the unlinker frees");
    }

    #[test]
    fn a_freed_and_reused_page_cannot_be_pinned_with_an_old_state() {
        let w = Word::new(reuse(0, Kind::Head));
        let seen = w.load(Ordering::Relaxed);
        assert!(kill(&w));
        let state = w.load(Ordering::Relaxed);
        w.store(reuse(freed(state), Kind::Head), Ordering::Relaxed);
        assert_eq!(pin(&w, seen), Pin::Gone);
    }
}
