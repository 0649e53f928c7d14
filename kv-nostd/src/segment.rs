//! One segment of the index: a small cuckoo hash table of its own, covering the keys whose hash
//! ends in the segment's prefix.
//!
//! A segment is a header (a cache line on 64-bit targets) and a power-of-two count of buckets.
//! Every key has two candidate buckets in its segment, `b1` from bits 32..48 of its hash and
//! `b2 = alt(b1, tag)` from its 15-bit tag (bits 49..64), so a key can move between them
//! without its key being read (MemC3, libcuckoo); a split keeps each slot word at the same
//! bucket and slot, so it moves no key between buckets either.
//!
//! The header's first word is the split word:
//! ```text
//! bit 0    splitting: a split or a merge is moving this segment's slots
//! bit 1    dead: merged into its buddy; the segment covers no key until a split reuses it
//! bits 2…8 local depth
//! bits 8…  generation: bumped each time the segment dies, so a reader or writer holding a split
//!          word read before a merge never mistakes the segment's later reuse for its old self
//! ```
//! Its second word is its prefix: the segment holds exactly the keys whose hash
//! has these low `depth` bits. A segment that splits keeps the keys whose next bit is 0 (its
//! prefix does not change, its depth grows by one), so a reader that found the segment through
//! the directory can tell from the split word alone whether the key still belongs to it.

use crate::bucket::{Bucket, BUCKET_WORDS};
use crate::memory::{Word, WORD};
use crate::sync::Ordering;

/// Words of segment header: a cache line on 64-bit targets, so buckets stay line-aligned.
pub(crate) const HEADER_WORDS: usize = if WORD == 8 && !cfg!(kv_loom) { 8 } else { 2 };

const SPLITTING: usize = 1;
const DEAD: usize = 2;
const DEPTH_SHIFT: u32 = 2;
const DEPTH_BITS: usize = 0x3f;
const GENERATION: usize = 1 << 8;

/// Whether a split word says a split is in progress.
#[inline]
pub(crate) fn is_splitting(sw: usize) -> bool {
    sw & SPLITTING != 0
}

/// Whether a split word says the segment was merged away.
#[inline]
pub(crate) fn is_dead(sw: usize) -> bool {
    sw & DEAD != 0
}

/// The local depth in a split word.
#[inline]
pub(crate) fn depth(sw: usize) -> u32 {
    ((sw >> DEPTH_SHIFT) & DEPTH_BITS) as u32
}

/// The generation in a split word.
#[inline]
pub(crate) fn generation(sw: usize) -> usize {
    sw / GENERATION
}

/// The split word `sw` with local depth `depth`, live and not splitting (its generation kept).
#[inline]
pub(crate) fn with_depth(sw: usize, depth: u32) -> usize {
    (sw & !(GENERATION - 1)) | (depth as usize) << DEPTH_SHIFT
}

/// The split word of a segment merged away, whose last live split word was `sw`: dead, of the
/// next generation.
#[inline]
pub(crate) fn dead(sw: usize) -> usize {
    (sw & !(GENERATION - 1)).wrapping_add(GENERATION) | DEAD
}

/// The same split word, splitting.
#[inline]
pub(crate) fn splitting(sw: usize) -> usize {
    sw | SPLITTING
}

/// The low `bits` bits set.
#[inline]
pub(crate) fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Where a key may live in a segment of `mask + 1` buckets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    pub(crate) b1: usize,
    pub(crate) b2: usize,
    pub(crate) tag: u16,
}

impl Place {
    /// The place of a key with hash `h`.
    #[inline]
    pub(crate) fn of(h: u64, mask: usize) -> Self {
        let b1 = (h >> 32) as usize & mask;
        let tag = (h >> 49) as u16;
        Self {
            b1,
            b2: alt(b1, tag, mask),
            tag,
        }
    }
}

/// The other bucket of a key with `tag` in bucket `b`; `alt(alt(b)) == b`, and never `b`.
#[inline]
pub(crate) fn alt(b: usize, tag: u16, mask: usize) -> usize {
    let mixed = (u64::from(tag) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    let mut off = mixed as usize & mask;
    if off == 0 {
        off = 1 & mask;
    }
    b ^ off
}

/// A view of one segment's words.
#[derive(Clone, Copy)]
pub(crate) struct Segment<'a> {
    w: &'a [Word],
    pub(crate) mask: usize,
}

impl<'a> Segment<'a> {
    /// The segment made of `w`, with `mask + 1` buckets.
    #[inline]
    pub(crate) fn new(w: &'a [Word], mask: usize) -> Self {
        Self { w, mask }
    }

    /// The split word.
    #[inline]
    pub(crate) fn split(&self) -> &'a Word {
        &self.w[0]
    }

    /// The prefix word.
    #[inline]
    pub(crate) fn prefix(&self) -> &'a Word {
        &self.w[1]
    }

    /// Whether a key with hash `h` belongs here, by the split word `sw` read from this segment.
    #[inline]
    pub(crate) fn covers(&self, sw: usize, h: u64) -> bool {
        !is_dead(sw) && h & mask(depth(sw)) == self.w[1].load(Ordering::Relaxed) as u64
    }

    /// Slots in use (a racy count unless every bucket is locked).
    pub(crate) fn occupied(&self) -> usize {
        (0..self.buckets()).map(|i| self.bucket(i).occupied()).sum()
    }

    /// Bucket `i`.
    #[inline]
    pub(crate) fn bucket(&self, i: usize) -> Bucket<'a> {
        let at = HEADER_WORDS + i * BUCKET_WORDS;
        Bucket::new(&self.w[at..at + BUCKET_WORDS])
    }

    /// The number of buckets.
    #[inline]
    pub(crate) fn buckets(&self) -> usize {
        self.mask + 1
    }
}
