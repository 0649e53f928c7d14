//! One bucket of a segment: a header word (version and lock) and [`SLOTS`] slot words, one
//! 64-byte cache line on 64-bit targets (as Segcache's 8 × 64-bit bucket, with the first word
//! for the version and lock instead of bucket info).
//!
//! The header word:
//! ```text
//! bit 0   writing: a writer is changing the slots (readers retry)
//! bit 1   locked: the bucket's lock (a `BitLock`)
//! bits 2… version: bumped by every write
//! ```
//! A writer takes the lock, sets `writing` with a read-modify-write followed by a
//! `fence(Release)`, stores slots, then moves to the next version with `writing` clear (a
//! `Release` read-modify-write), and unlocks. A reader loads the header (`Acquire`), copies, issues `fence(Acquire)` and loads
//! the header again: the copy stands if `writing` was clear and the version did not move (the
//! orderings of crossbeam's `seq_lock.rs`). The lock bit is ignored by that comparison: holding
//! the lock without writing (to read a value, or to look for a key) does not disturb readers.
//!
//! The version wraps after 2^62 writes on 64-bit targets, never in practice; on 32-bit targets
//! after 2^30 writes to one bucket, which a false validation would need to happen within a
//! single optimistic read.

use crate::memory::Word;
use crate::slot::{self, Slot, SLOT_WORDS};
use crate::sync::{fence, BitLock, Ordering, Wait};
use crate::Error;

/// Slots per bucket: 7 beside the header in 64 bytes; 1 under the model checker, whose tables
/// are tiny.
#[cfg(not(kv_loom))]
pub(crate) const SLOTS: usize = 7;
/// Slots per bucket: 7 beside the header in 64 bytes; 1 under the model checker, whose tables
/// are tiny.
#[cfg(kv_loom)]
pub(crate) const SLOTS: usize = 1;

/// Words per bucket.
pub(crate) const BUCKET_WORDS: usize = 1 + SLOTS * SLOT_WORDS;

const WRITING: usize = 1;
/// The lock bit of the header word.
pub(crate) const LOCKED: usize = 2;
const STEP: usize = 4;

/// Whether a header word says a write is in progress.
#[inline]
pub(crate) fn is_writing(header: usize) -> bool {
    header & WRITING != 0
}

/// Whether two header words show the same version (the lock bit aside).
#[inline]
pub(crate) fn unchanged(before: usize, after: usize) -> bool {
    (before ^ after) & !LOCKED == 0
}

/// A view of one bucket's words.
#[derive(Clone, Copy)]
pub(crate) struct Bucket<'a> {
    w: &'a [Word],
}

impl<'a> Bucket<'a> {
    /// The bucket made of `w` ([`BUCKET_WORDS`] words).
    #[inline]
    pub(crate) fn new(w: &'a [Word]) -> Self {
        Self { w }
    }

    /// The header word.
    #[inline]
    pub(crate) fn header(&self) -> &'a Word {
        &self.w[0]
    }

    /// The header, for a reader starting a copy.
    #[inline]
    pub(crate) fn version(&self) -> usize {
        self.w[0].load(Ordering::Acquire)
    }

    /// The header again, after a `fence(Acquire)`, for a reader ending a copy.
    #[inline]
    pub(crate) fn version_again(&self) -> usize {
        self.w[0].load(Ordering::Relaxed)
    }

    #[inline]
    fn slot_words(&self, j: usize) -> &'a [Word] {
        &self.w[1 + j * SLOT_WORDS..1 + (j + 1) * SLOT_WORDS]
    }

    /// Slot `j`.
    #[inline]
    pub(crate) fn slot(&self, j: usize) -> Slot {
        slot::load(self.slot_words(j))
    }

    /// Whether slot `j` holds a key with these key bits (one load).
    #[inline]
    pub(crate) fn slot_matches(&self, j: usize, key_bits: u16) -> bool {
        slot::matches(self.slot_words(j), key_bits)
    }

    /// Stores slot `j`; the caller holds the lock and has begun a write.
    #[inline]
    pub(crate) fn set(&self, j: usize, s: Slot) {
        slot::store(self.slot_words(j), s);
    }

    /// Sets slot `j`'s access metadata to `m` if the slot still is `seen`; needs no lock
    /// (`slot::touch`).
    #[inline]
    pub(crate) fn touch(&self, j: usize, seen: Slot, m: u8) -> bool {
        slot::touch(self.slot_words(j), seen, m)
    }

    /// Slots in use.
    #[inline]
    pub(crate) fn occupied(&self) -> usize {
        (0..SLOTS).filter(|&j| self.slot(j).is_occupied()).count()
    }

    /// Free slots.
    #[inline]
    pub(crate) fn free_slots(&self) -> usize {
        SLOTS - self.occupied()
    }

    /// The first free slot.
    #[inline]
    pub(crate) fn free_slot(&self) -> Option<usize> {
        (0..SLOTS).find(|&j| !self.slot(j).is_occupied())
    }

    /// Takes the bucket's lock.
    #[inline]
    pub(crate) fn lock(&self, wait: Wait) -> Result<BitLock<'a>, Error> {
        BitLock::take_as(&self.w[0], LOCKED, wait)
    }

    /// Marks the start of a write; the caller holds the lock.
    #[inline]
    pub(crate) fn begin_write(&self) {
        self.w[0].fetch_add(WRITING, Ordering::AcqRel);
        // Slot stores below may not become visible before `writing` does.
        fence(Ordering::Release);
    }

    /// Marks the end of a write begun by [`Bucket::begin_write`]: the next version, still
    /// locked, `writing` clear.
    ///
    /// A read-modify-write rather than a store of the same value: a failed `try_take` of the
    /// lock may run at the same time (a `fetch_or` that changes nothing), and the model checker
    /// can order a plain store before a concurrent read-modify-write of the same word, which no
    /// machine does (tokio-rs/loom#254); with every change a read-modify-write it cannot.
    #[inline]
    pub(crate) fn end_write(&self) {
        self.w[0].fetch_add(STEP - WRITING, Ordering::Release);
    }
}
