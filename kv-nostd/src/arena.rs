//! The arena: caller memory cut into pages, pages cut into chunks of one size class, and the
//! bookkeeping that hands chunks and pages out and takes them back.
//!
//! Layout of the arena region, in words: the per-class state (a lock and the list of the
//! class's pages that have free chunks), then [`META_WORDS`](crate::page::META_WORDS) of metadata
//! per page, then the pages themselves, the first aligned to the smaller of a page and 4 KiB so
//! that a host can give whole pages back to the system. Page contents are only ever items (or,
//! in a free chunk, the link to the next free chunk); nothing the allocator relies on is kept
//! there.
//!
//! Concurrency: each class has its own lock, held for a few loads and stores per allocation or
//! free; the free-page stack is pushed without a lock and popped under a lock of its own (pops
//! being serialised, a pop cannot be fooled by a page pushed, popped and pushed again). A page
//! whose chunks are all free goes back to the stack, and the region's owner is told it may give
//! the memory back ([`Memory::release`]), unless it is the last page of its class with free
//! chunks: keeping that one spares a system call and a page fault per insert when one key is
//! deleted and inserted over and over. When memory (or the budget) runs out, a page a class kept
//! empty is taken back for whatever needs it.
//!
//! A free that cannot take a lock without waiting (a `try_` call, as from an interrupt handler)
//! is not dropped: the item goes on a stack of deferred frees, pushed without a lock, which the
//! next blocking write empties.

use crate::budget::Budget;
use crate::class::Classes;
use crate::error::{Error, LayoutError};
use crate::memory::{Memory, Word, WORD};
use crate::page::{self, Kind, CLASS_FREE, LINK, META_WORDS, NEXT, PREV, STATE};
use crate::sync::{fence, AtomicUsize, BitLock, Ordering, Wait};

/// Words of state per size class: its lock, and the first of its pages with a free chunk.
const CLASS_WORDS: usize = 2;
const CLASS_LOCK: usize = 0;
const CLASS_PARTIAL: usize = 1;

/// Where things are in the arena region.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArenaLayout {
    pub(crate) page_bytes: usize,
    pub(crate) page_shift: u32,
    pub(crate) pages: usize,
    meta_at: usize,
    pages_at: usize,
}

impl ArenaLayout {
    /// The layout of `words` words of arena with pages of `page_bytes` (already checked to be a
    /// power of two in range) and `classes` size classes.
    pub(crate) const fn new(
        words: usize,
        page_bytes: usize,
        classes: &Classes,
    ) -> Result<Self, LayoutError> {
        let page_words = page_bytes / WORD;
        let meta_at = classes.count() * CLASS_WORDS;
        let align = if page_bytes < 4096 { page_bytes } else { 4096 } / WORD;
        let fixed = meta_at + align;
        let needed = (fixed + META_WORDS + page_words) * WORD;
        if words * WORD < needed {
            return Err(LayoutError::ArenaTooSmall {
                bytes: words * WORD,
                needed,
            });
        }
        let mut pages = (words - meta_at) / (META_WORDS + page_words);
        let mut pages_at = round_up(meta_at + pages * META_WORDS, align);
        while pages_at + pages * page_words > words {
            pages -= 1;
            pages_at = round_up(meta_at + pages * META_WORDS, align);
        }
        // Slot words address the arena in 8-byte units with 39 bits.
        if pages as u64 * page_bytes as u64 >= 1 << 42 {
            return Err(LayoutError::ArenaTooLarge(words * WORD));
        }
        Ok(Self {
            page_bytes,
            page_shift: page_bytes.trailing_zeros(),
            pages,
            meta_at,
            pages_at,
        })
    }

    /// Bytes one page costs against the budget: the page and its metadata.
    pub(crate) const fn page_cost(&self) -> usize {
        self.page_bytes + META_WORDS * WORD
    }
}

const fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// The arena over memory `A`.
pub(crate) struct Arena<A> {
    mem: A,
    pub(crate) lay: ArenaLayout,
    pub(crate) classes: Classes,
    /// Serialises pops of the free-page stack.
    pool_lock: AtomicUsize,
    /// The free-page stack: page + 1, 0 when empty; linked through the pages' `NEXT` words.
    free_pages: AtomicUsize,
    /// Pages never used so far are `fresh..pages`.
    fresh: AtomicUsize,
    /// Pages in use.
    in_use: AtomicUsize,
    /// Items waiting to be freed (location + 1, 0 for none), linked through their first word.
    deferred: AtomicUsize,
}

/// A location in the arena: 8-byte units from the start of the first page.
pub(crate) type Loc = usize;

/// What reading the arena needs: its pages, their metadata and its layout. Copied freely.
#[derive(Clone, Copy)]
pub(crate) struct ArenaView<'a> {
    data: &'a [Word],
    metas: &'a [Word],
    pub(crate) lay: ArenaLayout,
}

impl<'a> ArenaView<'a> {
    /// The pages, as one run of words; a location `loc` is byte `loc * 8` of it.
    #[inline]
    pub(crate) fn data(&self) -> &'a [Word] {
        self.data
    }

    /// Bytes in the page area; every valid location is below this divided by 8.
    #[inline]
    pub(crate) fn data_bytes(&self) -> usize {
        self.lay.pages << self.lay.page_shift
    }

    /// The page a location lies in.
    #[inline]
    pub(crate) fn page_of(&self, loc: Loc) -> usize {
        (loc * 8) >> self.lay.page_shift
    }

    /// The location of the start of page `p`.
    #[inline]
    pub(crate) fn page_loc(&self, p: usize) -> Loc {
        (p << self.lay.page_shift) / 8
    }

    /// The metadata words of page `p`.
    #[inline]
    pub(crate) fn meta(&self, p: usize) -> &'a [Word] {
        &self.metas[p * META_WORDS..(p + 1) * META_WORDS]
    }

    /// The state word of page `p`.
    #[inline]
    pub(crate) fn state(&self, p: usize) -> &'a Word {
        &self.meta(p)[STATE]
    }

    /// The word at byte `at` of the page area (which must be word-aligned).
    #[inline]
    pub(crate) fn word_at(&self, at: usize) -> &'a Word {
        &self.data()[at / WORD]
    }
}

impl<A: Memory> Arena<A> {
    /// An arena over `mem`, laid out as `lay` says.
    #[cfg(not(kv_loom))]
    pub(crate) const fn build(mem: A, lay: ArenaLayout, classes: Classes) -> Self {
        Self {
            mem,
            lay,
            classes,
            pool_lock: AtomicUsize::new(0),
            free_pages: AtomicUsize::new(0),
            fresh: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            deferred: AtomicUsize::new(0),
        }
    }

    /// An arena over `mem`, laid out as `lay` says.
    #[cfg(kv_loom)]
    pub(crate) fn build(mem: A, lay: ArenaLayout, classes: Classes) -> Self {
        Self {
            mem,
            lay,
            classes,
            pool_lock: AtomicUsize::new(0),
            free_pages: AtomicUsize::new(0),
            fresh: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            deferred: AtomicUsize::new(0),
        }
    }

    /// The memory.
    pub(crate) fn memory(&self) -> &A {
        &self.mem
    }

    /// A view for reading.
    #[inline]
    pub(crate) fn view(&self) -> ArenaView<'_> {
        let words = self.mem.words();
        let lay = self.lay;
        ArenaView {
            data: &words[lay.pages_at..lay.pages_at + (lay.pages << lay.page_shift) / WORD],
            metas: &words[lay.meta_at..lay.meta_at + lay.pages * META_WORDS],
            lay,
        }
    }

    #[inline]
    fn page_words(&self) -> usize {
        self.lay.page_bytes / WORD
    }

    #[inline]
    fn class_state(&self, c: usize) -> &[Word] {
        &self.mem.words()[c * CLASS_WORDS..(c + 1) * CLASS_WORDS]
    }

    /// Pages in use.
    pub(crate) fn pages_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Takes a page for a new use, charging the budget: a freed page if there is one, else one
    /// never used, else (when the memory or the budget is used up) an empty page some size class
    /// kept. `holding` is the class whose lock the caller holds (`None` for none).
    pub(crate) fn take_page(
        &self,
        budget: &Budget,
        wait: Wait,
        holding: Option<usize>,
    ) -> Result<usize, Error> {
        if budget.take(self.lay.page_cost()).is_err() {
            return self.reclaim_empty(holding).ok_or(Error::NoSpace);
        }
        let taken = match self.pop_free_page(wait) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => self
                .fresh
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| {
                    (f < self.lay.pages).then_some(f + 1)
                })
                .map_err(|_| Error::NoSpace),
            Err(e) => Err(e),
        };
        match taken {
            Ok(p) => {
                self.in_use.fetch_add(1, Ordering::Relaxed);
                Ok(p)
            }
            Err(e) => {
                budget.give(self.lay.page_cost());
                match e {
                    Error::NoSpace => self.reclaim_empty(holding).ok_or(Error::NoSpace),
                    e => Err(e),
                }
            }
        }
    }

    /// Takes back the empty page a size class keeps (see the module docs), from any class but
    /// `holding`, for a new use. Its lock is only tried: the caller may hold another class's,
    /// and classes are locked in no fixed order. The page stays counted as in use.
    fn reclaim_empty(&self, holding: Option<usize>) -> Option<usize> {
        for c in (0..self.classes.count()).filter(|&c| Some(c) != holding) {
            let cs = self.class_state(c);
            let Some(_class) = BitLock::try_take(&cs[CLASS_LOCK], 1) else {
                continue;
            };
            let per_page = self.lay.page_bytes / self.classes.size(c);
            let mut at = cs[CLASS_PARTIAL].load(Ordering::Relaxed);
            while at != 0 {
                let p = at - 1;
                let m = self.view().meta(p);
                if m[CLASS_FREE].load(Ordering::Relaxed) >> 8 == per_page {
                    self.remove_partial(cs, p);
                    // Freed and taken again at once: a new generation, as for any reuse.
                    page::change(&m[STATE], page::freed);
                    return Some(p);
                }
                at = m[NEXT].load(Ordering::Relaxed);
            }
        }
        None
    }

    /// Gives back the empty page each size class keeps (see the module docs), from every class
    /// whose lock is free.
    pub(crate) fn give_back_kept(&self, budget: &Budget) {
        for c in 0..self.classes.count() {
            let cs = self.class_state(c);
            let Some(class) = BitLock::try_take(&cs[CLASS_LOCK], 1) else {
                continue;
            };
            let per_page = self.lay.page_bytes / self.classes.size(c);
            let mut empty = None;
            let mut at = cs[CLASS_PARTIAL].load(Ordering::Relaxed);
            while at != 0 {
                let p = at - 1;
                let m = self.view().meta(p);
                if m[CLASS_FREE].load(Ordering::Relaxed) >> 8 == per_page {
                    self.remove_partial(cs, p);
                    empty = Some(p);
                    break;
                }
                at = m[NEXT].load(Ordering::Relaxed);
            }
            drop(class);
            if let Some(p) = empty {
                self.give_page(budget, p);
            }
        }
    }

    /// Pages used at least once so far (`0..` this many).
    pub(crate) fn pages_touched(&self) -> usize {
        self.fresh.load(Ordering::Relaxed)
    }

    /// Chunks of page `p` holding items, if it is a page of small items (read without a lock:
    /// a hint).
    pub(crate) fn slab_items(&self, p: usize) -> Option<usize> {
        let m = self.view().meta(p);
        if page::kind(m[STATE].load(Ordering::Relaxed)) != Kind::Slab {
            return None;
        }
        let cf = m[CLASS_FREE].load(Ordering::Relaxed);
        let per_page =
            self.lay.page_bytes / self.classes.size((cf & 0xff).min(self.classes.count() - 1));
        Some(per_page.saturating_sub(cf >> 8))
    }

    /// The chunks of page `p` that hold items, if it is a page of small items of at most
    /// `64 * used.len()` chunks: their size, and a bit per chunk in `used` (chunk `k` is bit
    /// `k % 64` of word `k / 64`). Read under the class's lock; chunks may be freed or taken
    /// as soon as it is released.
    pub(crate) fn chunks_in_use(&self, p: usize, used: &mut [u64]) -> Option<usize> {
        let m = self.view().meta(p);
        let c = m[CLASS_FREE].load(Ordering::Relaxed) & 0xff;
        if c >= self.classes.count() {
            return None;
        }
        let cs = self.class_state(c);
        let _class = BitLock::take(&cs[CLASS_LOCK], 1);
        // Again under the lock: the page may have been freed or given to another class.
        if page::kind(m[STATE].load(Ordering::Relaxed)) != Kind::Slab
            || m[CLASS_FREE].load(Ordering::Relaxed) & 0xff != c
        {
            return None;
        }
        let size = self.classes.size(c);
        let per_page = self.lay.page_bytes / size;
        if per_page > used.len() * 64 {
            return None;
        }
        used.fill(0);
        let handed = m[page::BUMP].load(Ordering::Relaxed).min(per_page);
        for k in 0..handed {
            used[k / 64] |= 1 << (k % 64);
        }
        let base = p << self.lay.page_shift;
        let mut link = m[LINK].load(Ordering::Relaxed);
        let mut steps = 0;
        while link != 0 && link <= per_page && steps < per_page {
            let k = link - 1;
            used[k / 64] &= !(1 << (k % 64));
            link = self.view().word_at(base + k * size).load(Ordering::Relaxed);
            steps += 1;
        }
        Some(size)
    }

    fn pop_free_page(&self, wait: Wait) -> Result<Option<usize>, Error> {
        if self.free_pages.load(Ordering::Relaxed) == 0 {
            return Ok(None);
        }
        let _pool = BitLock::take_as(&self.pool_lock, 1, wait)?;
        let mut head = self.free_pages.load(Ordering::Acquire);
        loop {
            if head == 0 {
                return Ok(None);
            }
            let next = self.view().meta(head - 1)[NEXT].load(Ordering::Relaxed);
            // Only pops change the head to something other than a newly pushed page, and pops
            // are serialised by the lock: if the head is still `head`, `next` is still its link.
            match self
                .free_pages
                .compare_exchange(head, next, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return Ok(Some(head - 1)),
                Err(now) => head = now,
            }
        }
    }

    /// Ends page `p`'s use: marks it free (a new generation), tells the memory's owner, puts it
    /// on the free-page stack and credits the budget. Never waits.
    pub(crate) fn give_page(&self, budget: &Budget, p: usize) {
        let state = self.view().state(p);
        // Release: a reader that sees the new state and then checks its bucket's version sees
        // the unlink that preceded this free (see `item.rs`).
        state.store(
            page::freed(state.load(Ordering::Relaxed)),
            Ordering::Release,
        );
        self.mem
            .release(self.lay.pages_at + p * self.page_words(), self.page_words());
        let m = self.view().meta(p);
        let mut head = self.free_pages.load(Ordering::Relaxed);
        loop {
            m[NEXT].store(head, Ordering::Relaxed);
            match self.free_pages.compare_exchange(
                head,
                p + 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        budget.give(self.lay.page_cost());
    }

    /// Takes a chunk of class `c`; the caller then owns its bytes.
    pub(crate) fn alloc_chunk(&self, budget: &Budget, c: usize, wait: Wait) -> Result<Loc, Error> {
        let cs = self.class_state(c);
        let _class = BitLock::take_as(&cs[CLASS_LOCK], 1, wait)?;
        let size = self.classes.size(c);
        let per_page = self.lay.page_bytes / size;
        let mut head = cs[CLASS_PARTIAL].load(Ordering::Relaxed);
        if head == 0 {
            let p = self.take_page(budget, wait, Some(c))?;
            let m = self.view().meta(p);
            m[CLASS_FREE].store(c | per_page << 8, Ordering::Relaxed);
            m[page::BUMP].store(0, Ordering::Relaxed);
            m[LINK].store(0, Ordering::Relaxed);
            page::change(&m[STATE], |s| page::reuse(s, Kind::Slab));
            self.push_partial(cs, p);
            head = p + 1;
        }
        let p = head - 1;
        let m = self.view().meta(p);
        let base = p << self.lay.page_shift;
        let first_free = m[LINK].load(Ordering::Relaxed);
        let k = if first_free != 0 {
            let k = first_free - 1;
            let next = self.view().word_at(base + k * size).load(Ordering::Relaxed);
            m[LINK].store(next, Ordering::Relaxed);
            k
        } else {
            let k = m[page::BUMP].load(Ordering::Relaxed);
            m[page::BUMP].store(k + 1, Ordering::Relaxed);
            k
        };
        let free = (m[CLASS_FREE].load(Ordering::Relaxed) >> 8) - 1;
        m[CLASS_FREE].store(c | free << 8, Ordering::Relaxed);
        if free == 0 {
            self.remove_partial(cs, p);
        }
        Ok((base + k * size) / 8)
    }

    /// Returns the chunk at `loc` to its class; [`Error::Busy`] (and nothing done) if the class
    /// lock is held and `wait` is `Try`. The caller owns the chunk: it was unlinked and no
    /// reader has it pinned.
    fn free_chunk(&self, budget: &Budget, loc: Loc, wait: Wait) -> Result<(), Error> {
        let p = self.view().page_of(loc);
        let m = self.view().meta(p);
        // The class cannot change while the page has a chunk in use, and this one is.
        let c = m[CLASS_FREE].load(Ordering::Relaxed) & 0xff;
        let cs = self.class_state(c);
        let class = BitLock::take_as(&cs[CLASS_LOCK], 1, wait)?;
        // The link below is a store into a chunk an optimistic reader may still be copying:
        // it must not become visible before the unlink that preceded this free (item.rs).
        fence(Ordering::Release);
        let size = self.classes.size(c);
        let base = p << self.lay.page_shift;
        let k = (loc * 8 - base) / size;
        self.view()
            .word_at(loc * 8)
            .store(m[LINK].load(Ordering::Relaxed), Ordering::Relaxed);
        m[LINK].store(k + 1, Ordering::Relaxed);
        let free = (m[CLASS_FREE].load(Ordering::Relaxed) >> 8) + 1;
        m[CLASS_FREE].store(c | free << 8, Ordering::Relaxed);
        if free == 1 {
            self.push_partial(cs, p);
        }
        let others = cs[CLASS_PARTIAL].load(Ordering::Relaxed) != p + 1
            || m[NEXT].load(Ordering::Relaxed) != 0;
        if free == self.lay.page_bytes / size && others {
            self.remove_partial(cs, p);
            drop(class);
            self.give_page(budget, p);
        }
        Ok(())
    }

    fn push_partial(&self, cs: &[Word], p: usize) {
        let head = cs[CLASS_PARTIAL].load(Ordering::Relaxed);
        let m = self.view().meta(p);
        m[NEXT].store(head, Ordering::Relaxed);
        m[PREV].store(0, Ordering::Relaxed);
        if head != 0 {
            self.view().meta(head - 1)[PREV].store(p + 1, Ordering::Relaxed);
        }
        cs[CLASS_PARTIAL].store(p + 1, Ordering::Relaxed);
    }

    fn remove_partial(&self, cs: &[Word], p: usize) {
        let m = self.view().meta(p);
        let prev = m[PREV].load(Ordering::Relaxed);
        let next = m[NEXT].load(Ordering::Relaxed);
        if prev != 0 {
            self.view().meta(prev - 1)[NEXT].store(next, Ordering::Relaxed);
        } else {
            cs[CLASS_PARTIAL].store(next, Ordering::Relaxed);
        }
        if next != 0 {
            self.view().meta(next - 1)[PREV].store(prev, Ordering::Relaxed);
        }
        m[NEXT].store(0, Ordering::Relaxed);
        m[PREV].store(0, Ordering::Relaxed);
    }

    /// Frees the item at `loc`, which the caller owns (unlinked, unpinned): its chunk, or its
    /// pages and last chunk. A part whose lock is busy under `Try` is deferred, never lost.
    pub(crate) fn free_item(&self, budget: &Budget, loc: Loc, wait: Wait) {
        let mut at = loc;
        loop {
            let p = self.view().page_of(at);
            let m = self.view().meta(p);
            match page::kind(m[STATE].load(Ordering::Relaxed)) {
                Kind::Head | Kind::Chain => {
                    let next = m[LINK].load(Ordering::Relaxed);
                    self.give_page(budget, p);
                    if next == 0 {
                        return;
                    }
                    at = next - 1;
                }
                Kind::Slab => {
                    if self.free_chunk(budget, at, wait).is_err() {
                        self.defer(at);
                    }
                    return;
                }
                // Not reached: an owned item's pages are in use. Leaking beats corrupting.
                Kind::Free => return,
            }
        }
    }

    /// Queues the item at `loc` (owned by the caller) to be freed by a later blocking call.
    fn defer(&self, loc: Loc) {
        // A store into the item: after the unlink, as for a free (see `free_chunk`).
        fence(Ordering::Release);
        let first = self.view().word_at(loc * 8);
        let mut head = self.deferred.load(Ordering::Relaxed);
        loop {
            first.store(head, Ordering::Relaxed);
            match self.deferred.compare_exchange(
                head,
                loc + 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Frees the items deferred so far; a blocking caller, so nothing is deferred again.
    pub(crate) fn drain_deferred(&self, budget: &Budget) {
        if self.deferred.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut cur = self.deferred.swap(0, Ordering::Acquire);
        while cur != 0 {
            let loc = cur - 1;
            cur = self.view().word_at(loc * 8).load(Ordering::Relaxed);
            self.free_item(budget, loc, Wait::Block);
        }
    }
}
