//! The index: extendible hashing over cuckoo segments (the idea of Dragonfly's dashtable, with
//! MemC3's tags and versions inside each segment).
//!
//! The directory is an array of segment numbers indexed by the low `global_depth` bits of a key's
//! hash; a segment of local depth `d` is named by the `2^(global_depth - d)` entries that share
//! its `d`-bit prefix. The index starts as one segment and one directory entry, and grows one
//! segment at a time:
//!
//! - **Split.** When a segment cannot place a key (both candidate buckets full and no cuckoo
//!   path), it splits: under the directory lock it sets its split word's `splitting` bit, takes
//!   every bucket lock of the segment in order (waiting for writers already inside), moves the
//!   slot words of keys whose hash bit `d` is set into a new segment at the same bucket and slot,
//!   points the directory entries with that bit at the new segment, stores its split word with
//!   depth `d + 1`, and unlocks. Readers of the segment meanwhile see `splitting` and wait (or
//!   answer `Busy`); readers and writers of every other segment are not stopped at all. A split
//!   costs one pass over the segment's slots and one hash of each of its keys.
//! - **Doubling.** If the segment's depth equals the global depth, the directory first doubles:
//!   its lower half is copied into the upper half, then the new depth is published (`Release`).
//!   A reader that loaded the old depth indexes the lower half, which is still correct.
//!
//! A reader that found a segment through a directory entry that a split has since changed finds
//! out from the segment's split word: either it is still `splitting`, or its depth no longer
//! covers the key's hash ([`Segment::covers`]); it then reads the directory again. Writers check
//! the split word after taking their bucket lock, so a split never moves a slot under a writer.
//!
//! - **Merge.** When the last segment and its buddy together fill at most half a segment, the
//!   last merges back: the reverse of its split ([`Index::merge_last`]), then the directory
//!   halves while no segment is as deep as it. Its caller runs it from time to time (the
//!   server's expiry cycle), so an index that grew for a million keys shrinks back when they
//!   expire or are deleted.
//!
//! Structural changes (splits, doublings, merges) are serialised by the directory lock;
//! ordinary reads and writes never take it.
//!
//! Layout of the index region, in words: the directory (a power-of-two number of entries, twice
//! the largest power of two not above the segment count, so segments of uneven depth fit), then
//! the segments, the first on a 64-byte boundary.

use crate::bucket::{Bucket, BUCKET_WORDS, LOCKED};
use crate::budget::Budget;
use crate::error::{Error, LayoutError};
use crate::memory::{Memory, Word, WORD};
use crate::segment::{self, mask, Segment, HEADER_WORDS};
use crate::slot::Slot;
use crate::sync::{spin_hint, AtomicUsize, BitLock, Ordering, Wait};

/// The deepest the directory may get: the hash bits a directory index and a scan cursor use.
pub(crate) const MAX_DEPTH: u32 = 32;

/// Where things are in the index region.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IndexLayout {
    /// log2 of the directory's capacity.
    dir_bits: u32,
    seg_at: usize,
    seg_words: usize,
    /// The most segments the region holds.
    pub(crate) segments: usize,
    /// Buckets per segment, minus one.
    pub(crate) mask: usize,
}

impl IndexLayout {
    /// The layout of `words` words of index with `buckets` buckets a segment (checked to be a
    /// power of two in range).
    pub(crate) const fn new(words: usize, buckets: usize) -> Result<Self, LayoutError> {
        let seg_words = HEADER_WORDS + buckets * BUCKET_WORDS;
        // Segments plus a directory of up to four entries each.
        let mut segments = words / (seg_words + 4);
        let mut dir_bits = 0;
        let mut seg_at = 0;
        while segments > 0 {
            dir_bits = usize::BITS - (segments - 1).leading_zeros();
            if segments == 1 {
                dir_bits = 0;
            }
            dir_bits += 1;
            if dir_bits > MAX_DEPTH {
                dir_bits = MAX_DEPTH;
            }
            seg_at = ((1usize << dir_bits) * WORD).div_ceil(64) * 64 / WORD;
            if seg_at + segments * seg_words <= words {
                break;
            }
            segments -= 1;
        }
        if segments == 0 {
            return Err(LayoutError::IndexTooSmall {
                bytes: words * WORD,
                needed: (seg_words + 64 / WORD) * WORD,
            });
        }
        Ok(Self {
            dir_bits,
            seg_at,
            seg_words,
            segments,
            mask: buckets - 1,
        })
    }

    /// Bytes one segment costs against the budget.
    pub(crate) const fn segment_bytes(&self) -> usize {
        self.seg_words * WORD
    }
}

/// The index over memory `I`.
pub(crate) struct Index<I> {
    mem: I,
    pub(crate) lay: IndexLayout,
    /// The global depth: how many low hash bits index the directory.
    depth: AtomicUsize,
    /// Serialises splits and doublings.
    dir_lock: AtomicUsize,
    /// Segments in use; segment 0 exists from the start (all-zero memory is one empty segment
    /// of depth 0, named by the one directory entry, 0).
    segments: AtomicUsize,
    /// Walks in numbered order under way ([`Index::walk`]).
    walkers: AtomicUsize,
    /// Segments in use of each local depth (changed under the directory lock).
    at_depth: [AtomicUsize; MAX_DEPTH as usize + 1],
}

/// One segment of depth 0: the index of all-zero memory.
#[cfg(not(kv_loom))]
const fn initial_depths() -> [AtomicUsize; MAX_DEPTH as usize + 1] {
    let mut at = [const { AtomicUsize::new(0) }; MAX_DEPTH as usize + 1];
    at[0] = AtomicUsize::new(1);
    at
}

/// One segment of depth 0: the index of all-zero memory.
#[cfg(kv_loom)]
fn initial_depths() -> [AtomicUsize; MAX_DEPTH as usize + 1] {
    core::array::from_fn(|d| AtomicUsize::new(usize::from(d == 0)))
}

/// Every bucket lock of one segment, released on drop.
pub(crate) struct SegmentLock<'a> {
    seg: Segment<'a>,
    held: usize,
}

impl Drop for SegmentLock<'_> {
    fn drop(&mut self) {
        for i in 0..self.held {
            self.seg
                .bucket(i)
                .header()
                .fetch_and(!LOCKED, Ordering::Release);
        }
    }
}

/// Takes every bucket lock of `seg`, in bucket order (the order pairs are locked in, so no
/// cycle of waiters can form). On `Busy` the locks taken are released.
pub(crate) fn lock_all(seg: Segment<'_>, wait: Wait) -> Result<SegmentLock<'_>, Error> {
    let mut lock = SegmentLock { seg, held: 0 };
    for i in 0..seg.buckets() {
        seg.bucket(i).lock(wait)?.keep();
        lock.held += 1;
    }
    Ok(lock)
}

impl<I: Memory> Index<I> {
    /// An index over `mem`, laid out as `lay` says.
    #[cfg(not(kv_loom))]
    pub(crate) const fn build(mem: I, lay: IndexLayout) -> Self {
        Self {
            mem,
            lay,
            depth: AtomicUsize::new(0),
            dir_lock: AtomicUsize::new(0),
            segments: AtomicUsize::new(1),
            walkers: AtomicUsize::new(0),
            at_depth: initial_depths(),
        }
    }

    /// An index over `mem`, laid out as `lay` says.
    #[cfg(kv_loom)]
    pub(crate) fn build(mem: I, lay: IndexLayout) -> Self {
        Self {
            mem,
            lay,
            depth: AtomicUsize::new(0),
            dir_lock: AtomicUsize::new(0),
            segments: AtomicUsize::new(1),
            walkers: AtomicUsize::new(0),
            at_depth: initial_depths(),
        }
    }

    /// Bytes the index uses from the start: segment 0 and one directory entry.
    pub(crate) const fn initial_bytes(lay: &IndexLayout) -> usize {
        lay.segment_bytes() + WORD
    }

    /// The memory.
    pub(crate) fn memory(&self) -> &I {
        &self.mem
    }

    /// Segment `id`.
    #[inline]
    pub(crate) fn segment(&self, id: usize) -> Segment<'_> {
        let at = self.lay.seg_at + id * self.lay.seg_words;
        Segment::new(
            &self.mem.words()[at..at + self.lay.seg_words],
            self.lay.mask,
        )
    }

    #[inline]
    fn dir(&self, i: usize) -> &Word {
        &self.mem.words()[i]
    }

    /// The global depth.
    pub(crate) fn global_depth(&self) -> u32 {
        self.depth.load(Ordering::Acquire) as u32
    }

    /// Segments in use.
    pub(crate) fn segments(&self) -> usize {
        self.segments.load(Ordering::Relaxed)
    }

    /// The segment the directory names for hash `h` now, its number, and the split word read
    /// from it (`Acquire`); possibly splitting, or no longer covering `h`.
    #[inline]
    pub(crate) fn lookup_segment(&self, h: u64) -> (Segment<'_>, usize, usize) {
        let g = self.global_depth();
        let id = self.dir((h & mask(g)) as usize).load(Ordering::Acquire);
        let seg = self.segment(id);
        let sw = seg.split().load(Ordering::Acquire);
        (seg, id, sw)
    }

    /// The segment holding the keys of hash `h`, its number, and its split word, which is not
    /// splitting and covers `h`. Waits out a split, or answers `Busy` under `Try`.
    #[inline]
    pub(crate) fn locate(&self, h: u64, wait: Wait) -> Result<(Segment<'_>, usize, usize), Error> {
        loop {
            let (seg, id, sw) = self.lookup_segment(h);
            if !segment::is_splitting(sw) && seg.covers(sw, h) {
                return Ok((seg, id, sw));
            }
            if wait == Wait::Try && segment::is_splitting(sw) {
                return Err(Error::Busy);
            }
            spin_hint();
        }
    }

    /// Splits segment `id`, whose split word the caller read as `sw`, unless another split got
    /// there first. `rehash` gives the hash of a slot's key; it is called with every bucket of
    /// the segment locked, so the items it reads cannot change; `prefetch` is called first for
    /// every slot, so the items' cache misses overlap instead of following one another.
    /// [`Error::NoSpace`] if the index memory or the budget has no room for another segment (or
    /// a larger directory).
    pub(crate) fn split(
        &self,
        id: usize,
        sw: usize,
        budget: &Budget,
        wait: Wait,
        prefetch: impl Fn(Slot),
        rehash: impl Fn(Slot) -> u64,
    ) -> Result<(), Error> {
        let _dir = BitLock::take_as(&self.dir_lock, 1, wait)?;
        let seg = self.segment(id);
        if seg.split().load(Ordering::Relaxed) != sw {
            return Ok(());
        }
        let d = segment::depth(sw);
        let g = self.depth.load(Ordering::Relaxed) as u32;
        let n = self.segments.load(Ordering::Relaxed);
        if n == self.lay.segments || (d == g && g == self.lay.dir_bits) {
            return Err(Error::NoSpace);
        }
        let grow = if d == g { (1usize << g) * WORD } else { 0 };
        budget.take(self.lay.segment_bytes() + grow)?;

        // Freeze the segment: readers see `splitting`, writers back off once they hold a bucket
        // lock, and the bucket locks wait for the writers already inside.
        seg.split().store(segment::splitting(sw), Ordering::Relaxed);
        let locks = match lock_all(seg, wait) {
            Ok(locks) => locks,
            Err(e) => {
                seg.split().store(sw, Ordering::Release);
                budget.give(self.lay.segment_bytes() + grow);
                return Err(e);
            }
        };
        if grow != 0 {
            let half = 1usize << g;
            for i in 0..half {
                let target = self.dir(i).load(Ordering::Relaxed);
                self.dir(half + i).store(target, Ordering::Relaxed);
            }
            // Readers that load the new depth index the upper half: publish it first.
            self.depth.store(g as usize + 1, Ordering::Release);
        }
        let prefix = seg.prefix().load(Ordering::Relaxed);
        let new = self.segment(n);
        // A segment merged away earlier may be reused: readers that still hold an old
        // directory entry naming it must wait until it is complete, so it is `splitting` until
        // then (a fresh one is all zeros, generation 0).
        let new_sw = segment::with_depth(new.split().load(Ordering::Relaxed), d + 1);
        new.split()
            .store(segment::splitting(new_sw), Ordering::Relaxed);
        new.prefix().store(prefix | 1 << d, Ordering::Relaxed);
        let bit = 1u64 << d;
        for i in 0..seg.buckets() {
            let b = seg.bucket(i);
            (0..crate::bucket::SLOTS)
                .map(|j| b.slot(j))
                .filter(|s| s.is_occupied())
                .for_each(&prefetch);
        }
        for i in 0..seg.buckets() {
            move_bucket(seg.bucket(i), new.bucket(i), bit, &rehash);
        }
        // Publish the new segment: its header and slots are complete before any entry names it.
        let g = self.depth.load(Ordering::Relaxed) as u32;
        let mut i = prefix | 1 << d;
        while i < 1 << g {
            self.dir(i).store(n, Ordering::Release);
            i += 1 << (d + 1);
        }
        self.segments.store(n + 1, Ordering::Relaxed);
        self.at_depth[d as usize].fetch_sub(1, Ordering::Relaxed);
        self.at_depth[d as usize + 1].fetch_add(2, Ordering::Relaxed);
        new.split().store(new_sw, Ordering::Release);
        seg.split()
            .store(segment::with_depth(sw, d + 1), Ordering::Release);
        drop(locks);
        Ok(())
    }

    /// Marks the start of a walk over the segments in numbered order (see
    /// [`Index::merge_last`]); the walk ends when the guard drops.
    pub(crate) fn walk(&self) -> Walk<'_> {
        self.walkers.fetch_add(1, Ordering::Relaxed);
        Walk(&self.walkers)
    }

    /// Merges the last segment back into its buddy (the segment it split from) when the two
    /// together fill at most half of one segment and each of the last segment's buckets fits
    /// in its buddy's bucket of the same number: the reverse of a split. Then halves the
    /// directory while no segment is as deep as it. Whether it merged.
    ///
    /// Only the last segment merges, so merges undo splits in the reverse order: the last
    /// segment's buddy has its depth (any later split of the buddy made a later segment,
    /// merged back first) and the segments in use stay numbered `0..n`.
    ///
    /// Like a split, under the directory lock: both segments are marked `splitting`, every
    /// bucket of both is locked (buddy first: segments are locked in number order), the slots
    /// move to the same buckets of the buddy, the directory entries move to the buddy, the buddy
    /// gets its new depth and the last segment a dead split word of a new generation. A reader
    /// that reaches the dead segment through an old directory entry reads the directory again;
    /// one that validated against its old split word fails the check. Walks in numbered order
    /// (a [`Table::clear`](crate::Table::clear)) would miss keys moved behind them: a merge
    /// that finds one running, once it holds the locks, does nothing.
    pub(crate) fn merge_last(&self, budget: &Budget) -> bool {
        let _dir = BitLock::take(&self.dir_lock, 1);
        let n = self.segments.load(Ordering::Relaxed);
        if n <= 1 {
            return false;
        }
        let last = self.segment(n - 1);
        let sw_last = last.split().load(Ordering::Relaxed);
        let d = segment::depth(sw_last);
        let buddy_prefix = last.prefix().load(Ordering::Relaxed) & !(1 << (d - 1));
        let buddy_id = self.dir(buddy_prefix).load(Ordering::Relaxed);
        let buddy = self.segment(buddy_id);
        let sw_buddy = buddy.split().load(Ordering::Relaxed);
        if segment::depth(sw_buddy) != d || !Self::fits(buddy, last) {
            return false;
        }
        buddy
            .split()
            .store(segment::splitting(sw_buddy), Ordering::Relaxed);
        last.split()
            .store(segment::splitting(sw_last), Ordering::Relaxed);
        let unfreeze = || {
            buddy.split().store(sw_buddy, Ordering::Release);
            last.split().store(sw_last, Ordering::Release);
        };
        // Blocking mode never answers Busy.
        let (Ok(buddy_locks), Ok(last_locks)) =
            (lock_all(buddy, Wait::Block), lock_all(last, Wait::Block))
        else {
            unfreeze();
            return false;
        };
        // A walk that locked any bucket of the buddy before these locks is seen here; one that
        // has not reached the buddy yet will find the moved keys there.
        if self.walkers.load(Ordering::Relaxed) != 0 || !Self::fits(buddy, last) {
            unfreeze();
            return false;
        }
        for i in 0..last.buckets() {
            let (from, to) = (last.bucket(i), buddy.bucket(i));
            if from.occupied() == 0 {
                continue;
            }
            from.begin_write();
            to.begin_write();
            for j in 0..crate::bucket::SLOTS {
                let s = from.slot(j);
                if !s.is_occupied() {
                    continue;
                }
                // `fits` checked there is room.
                if let Some(k) = to.free_slot() {
                    to.set(k, s);
                    from.set(j, Slot::EMPTY);
                }
            }
            to.end_write();
            from.end_write();
        }
        let g = self.depth.load(Ordering::Relaxed) as u32;
        let mut i = buddy_prefix | 1 << (d - 1);
        while i < 1 << g {
            self.dir(i).store(buddy_id, Ordering::Release);
            i += 1 << d;
        }
        buddy
            .split()
            .store(segment::with_depth(sw_buddy, d - 1), Ordering::Release);
        last.split()
            .store(segment::dead(sw_last), Ordering::Release);
        self.segments.store(n - 1, Ordering::Relaxed);
        self.at_depth[d as usize].fetch_sub(2, Ordering::Relaxed);
        self.at_depth[d as usize - 1].fetch_add(1, Ordering::Relaxed);
        drop(last_locks);
        drop(buddy_locks);
        budget.give(self.lay.segment_bytes());
        self.halve(budget);
        true
    }

    /// Whether `last`'s slots fit in `buddy`: half a segment at most, bucket by bucket.
    fn fits(buddy: Segment<'_>, last: Segment<'_>) -> bool {
        let capacity = buddy.buckets() * crate::bucket::SLOTS;
        buddy.occupied() + last.occupied() <= capacity / 2
            && (0..last.buckets()).all(|i| {
                buddy.bucket(i).occupied() + last.bucket(i).occupied() <= crate::bucket::SLOTS
            })
    }

    /// Halves the directory while no segment is as deep as it (the directory lock is held).
    /// The upper half is left as it is: a reader that loaded the old depth finds there a
    /// segment that is dead, splitting or not covering its key, and reads the directory again,
    /// or one that covers its key, which is that key's segment.
    fn halve(&self, budget: &Budget) {
        let mut g = self.depth.load(Ordering::Relaxed);
        while g > 0 && self.at_depth[g].load(Ordering::Relaxed) == 0 {
            g -= 1;
            self.depth.store(g, Ordering::Release);
            budget.give((1usize << g) * WORD);
        }
    }
}

/// A walk over the segments in numbered order, during which no segment merges.
pub(crate) struct Walk<'a>(&'a AtomicUsize);

impl Drop for Walk<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Moves the slots of `from` whose key's hash has `bit` set into the same slots of `to` (a new
/// segment's bucket, not yet reachable); `from` is locked.
fn move_bucket(from: Bucket<'_>, to: Bucket<'_>, bit: u64, rehash: &impl Fn(Slot) -> u64) {
    let mut writing = false;
    for j in 0..crate::bucket::SLOTS {
        let s = from.slot(j);
        if s.is_occupied() && rehash(s) & bit != 0 {
            if !writing {
                from.begin_write();
                writing = true;
            }
            to.set(j, s);
            from.set(j, Slot::EMPTY);
        }
    }
    if writing {
        from.end_write();
    }
}
