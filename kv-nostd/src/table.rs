//! The table: keys and values of any length in an arena of caller memory, found through an index
//! that grows as keys arrive.
//!
//! A put writes its item (key and value) into arena memory first, with no lock held, then locks
//! the key's buckets only to link the item's slot word (and to run the caller's `then` hook);
//! the item it replaced, if any, is freed after the lock is released (or, if a reader has it
//! pinned, by that reader). A get locks nothing: it reads the bucket's version, finds the slot
//! by its tag, compares the key and copies the value out of the arena, and keeps the copy only
//! if the version did not move meanwhile (`item.rs` argues why this is sound even when the item
//! was freed and its memory reused during the copy); after a bounded number of lost races it
//! takes the locks. A large value is read under a pin instead, without retries.
//!
//! Inside a segment (`segment.rs`) every key has two candidate buckets. A put that finds both
//! full searches breadth-first, without locks, for a path of moves that ends in a free slot,
//! then executes it backwards, so the hole travels and a key is never absent from both of its
//! buckets. When no path exists the segment splits (`index.rs`).
//!
//! Lock order: the directory lock, then bucket locks of one segment in bucket order (at most two
//! for ordinary writes, all of them for a split or a scan step), then a size class's lock, then
//! the free-page lock. No call holds a lock of a later kind while it waits for an earlier one.
//!
//! An item may carry a deadline (`expire.rs`): once the table's clock reaches it, every call
//! treats the key as absent. Reads only hide such an item; a put over it replaces it as if the
//! key were absent, and `delete`, `reap` and `expire_step` remove it.

use crate::arena::{Arena, ArenaLayout, ArenaView, Loc};
use crate::bucket::{self, Bucket, SLOTS};
use crate::budget::Budget;
use crate::class::Classes;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, LayoutError};
use crate::evict::EvictState;
use crate::expire::Deadline;
use crate::hash::{sip13, HashKey, SipHasher13};
use crate::index::{self, Index, IndexLayout};
use crate::item::{Header, NO_DEADLINE};
use crate::memory::{Memory, Word};
use crate::page::{self, Kind, Pin};
use crate::scan::{Entry, ScanCursor};
use crate::segment::{self, alt, Place, Segment};
use crate::sink::Sink;
use crate::slot::Slot;
use crate::sync::{fence, prefetch, spin_hint, AtomicUsize, BitLock, Ordering, Wait};

/// Optimistic reads a lookup tries before it takes the locks. Under the model checker one lost
/// race is enough, so that the locking fallback is explored.
const OPTIMISTIC_TRIES: usize = if cfg!(kv_loom) { 1 } else { 32 };

/// The longest cuckoo path, in moves.
const MAX_PATH: usize = 4;

/// Buckets the breadth-first path search may queue; the queue lives on the stack of `put`
/// (8 bytes a node).
pub const SEARCH_QUEUE: usize = 128;

/// Slots in each bucket of the index.
pub const BUCKET_SLOTS: usize = SLOTS;

/// Large items a scan step pins and hands out after releasing its segment's locks; more are
/// handed out with the locks held.
const PINNED_BATCH: usize = 8;

/// What a successful put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// The key was absent; the entry is new.
    Inserted,
    /// The key was present; its value was replaced.
    Replaced,
}

/// When a conditional put writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Always (insert or overwrite).
    Always,
    /// Only if the key is absent (Redis `SET NX`).
    IfAbsent,
    /// Only if the key is present (Redis `SET XX`).
    IfPresent,
}

impl When {
    /// Whether the key was present before a put with this condition answered `result`, the
    /// case in which the put's `old` sink was handed the value it held.
    pub fn was_present(self, result: Option<Put>) -> bool {
        matches!(
            (self, result),
            (_, Some(Put::Replaced)) | (When::IfAbsent, None)
        )
    }
}

/// Receives the value a key held before a put (only if it was present; see
/// [`When::was_present`]).
pub type OldValue<'a> = &'a mut dyn Sink;

/// Figures about a table's memory, as `INFO memory` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Keys stored (expired keys not yet removed included, as Redis's `DBSIZE` counts them).
    pub len: usize,
    /// Keys stored with a deadline (the `expires=` of Redis's keyspace line).
    pub expires: usize,
    /// Expired keys removed since the table was built (Redis's `expired_keys`).
    pub expired: usize,
    /// Bytes of arena pages and index in use (Redis's `used_memory`).
    pub used_bytes: usize,
    /// The byte limit; `None` for none.
    pub max_memory: Option<usize>,
    /// Bytes in an arena page.
    pub page_bytes: usize,
    /// Arena pages in use.
    pub pages_in_use: usize,
    /// Arena pages the memory holds.
    pub pages: usize,
    /// Bytes of one index segment.
    pub segment_bytes: usize,
    /// Index segments in use.
    pub segments: usize,
    /// Index segments the memory holds.
    pub max_segments: usize,
    /// The directory's global depth (it has `2^global_depth` entries).
    pub global_depth: u32,
    /// Slots in the segments in use: the keys the index holds before it must split.
    pub slots: usize,
}

/// A slot on a cuckoo path.
#[derive(Clone, Copy, Default)]
struct Hop {
    bucket: usize,
    slot: usize,
}

/// A node of the path search: a bucket reached by moving `slot` of the parent's bucket.
#[derive(Clone, Copy)]
struct Node {
    bucket: u32,
    parent: u16,
    slot: u8,
    depth: u8,
}

/// What an optimistic probe of one bucket found.
enum Probe {
    /// The key, with a small value of this length (copied into the sink, if any) and this
    /// deadline, in this slot as seen.
    Hit(usize, Option<u64>, usize, Slot),
    /// The key, with a value longer than the sink takes.
    TooSmall(usize, Option<u64>),
    /// The key, expired by the clock as the lookup began (its value not copied).
    Expired,
    /// A slot whose tag matches, holding a large item: read under a pin. The page's state word
    /// and the item's deadline, as seen.
    Large(usize, Slot, usize, Option<u64>),
    /// Not in this bucket (from this slot on).
    Miss,
}

/// What a search of one bucket concluded.
enum Found {
    /// A value of this length and deadline, in this slot as seen.
    Value(usize, Option<u64>, usize, Slot),
    TooSmall(usize),
    Expired,
    Absent,
    Retry,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// No item for the key.
    Absent,
    /// An item whose deadline the clock has reached: the key counts as absent.
    Expired,
    /// The key, with a value of `len` bytes (copied into the sink, if any) and its deadline.
    Live { len: usize, deadline: Option<u64> },
}

impl Look {
    /// The value's length, if the key is live.
    fn len(self) -> Option<usize> {
        match self {
            Look::Live { len, .. } => Some(len),
            _ => None,
        }
    }
}

/// A put's item, written and not yet linked.
#[derive(Clone, Copy)]
struct NewItem {
    loc: Loc,
    large: bool,
    hdr: Header,
    /// The deadline it was written with (`None` also for a field to be filled under the lock).
    deadline: Option<u64>,
}

/// How an attempt to link a put's item ended.
enum Linked {
    /// The put's answer.
    Done(Option<Put>),
    /// The put keeps the key's deadline, which its item has no field for: write it again with
    /// one.
    NeedsField,
}

/// What a removal of one key may remove.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remove {
    /// The key's item, live or expired (a delete).
    Any,
    /// Its item only if expired (a reap).
    Expired,
}

/// What a removal of one key removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// No item: the key was absent.
    Nothing,
    /// A live item.
    Live,
    /// An item whose deadline had passed (counted as expired).
    Expired,
}

/// The bucket locks a write holds: one, or a pair.
pub(crate) type Guards<'a> = (BitLock<'a>, Option<BitLock<'a>>);

/// A concurrent hash table over an arena `A` and an index `I` of caller memory (see
/// [`Memory`]): keys and values of any length up to the configured limits, a memory limit that
/// can change at run time, and an index that grows as keys arrive. The table never allocates.
///
/// # Calling from an interrupt handler
/// The blocking calls (`put`, `get_into`, `delete`, `visit`, ...) may spin on a lock. On a
/// single core, an interrupt handler that spins on a lock held by the code it interrupted spins
/// forever. From interrupt context use only the `try_` calls: they never wait, and answer
/// [`Error::Busy`] when a lock is held or a write is in progress. See
/// [`interrupts`](crate::interrupts).
pub struct Table<A: Memory, I: Memory> {
    pub(crate) arena: Arena<A>,
    pub(crate) index: Index<I>,
    pub(crate) budget: Budget,
    hash_key: HashKey,
    max_key: usize,
    max_value: usize,
    pub(crate) len: AtomicUsize,
    /// Milliseconds, as the caller advances them: what deadlines are compared with.
    pub(crate) clock: Clock,
    /// Linked items with a deadline.
    pub(crate) expires: AtomicUsize,
    /// Expired items removed.
    pub(crate) expired: AtomicUsize,
    /// The eviction policy and its state.
    pub(crate) evict: EvictState,
}

/// The layouts of both regions, or why they do not fit.
const fn layouts(
    arena_words: usize,
    index_words: usize,
    c: &Config,
) -> Result<(ArenaLayout, IndexLayout, Classes), LayoutError> {
    if !c.page_bytes.is_power_of_two() || c.page_bytes < 64 || c.page_bytes > 4 << 20 {
        return Err(LayoutError::PageSize(c.page_bytes));
    }
    let nb = c.segment_buckets;
    if !nb.is_power_of_two() || nb < 2 || nb > 1 << 16 {
        return Err(LayoutError::SegmentBuckets(nb));
    }
    let classes = Classes::new(c.page_bytes);
    let al = match ArenaLayout::new(arena_words, c.page_bytes, &classes) {
        Ok(l) => l,
        Err(e) => return Err(e),
    };
    let il = match IndexLayout::new(index_words, nb) {
        Ok(l) => l,
        Err(e) => return Err(e),
    };
    Ok((al, il, classes))
}

const fn limit_of(c: &Config) -> usize {
    if c.max_memory == 0 {
        usize::MAX
    } else {
        c.max_memory
    }
}

const fn max_key_of(c: &Config) -> usize {
    // The long item header stores key lengths in 32 bits.
    if c.max_key > u32::MAX as usize {
        u32::MAX as usize
    } else {
        c.max_key
    }
}

#[cfg(not(kv_loom))]
impl<'a> Table<&'a [Word], &'a [Word]> {
    /// A table over `static` arrays (or any slices of zeroed words), as a `const fn`, so the
    /// table can be a `static` itself. Panics (at compile time, in a `static`) if the memory
    /// does not fit the configuration; [`Table::new`] answers the reason instead.
    pub const fn new_static(
        arena: &'a [Word],
        index: &'a [Word],
        hash_key: HashKey,
        config: Config,
    ) -> Self {
        let Ok((al, il, classes)) = layouts(arena.len(), index.len(), &config) else {
            panic!("the memory does not fit the configuration (Table::new says why)");
        };
        Self {
            arena: Arena::build(arena, al, classes),
            index: Index::build(index, il),
            budget: Budget::new(il.segment_bytes() + crate::WORD, limit_of(&config)),
            hash_key,
            max_key: max_key_of(&config),
            max_value: config.max_value,
            len: AtomicUsize::new(0),
            clock: Clock::new(),
            expires: AtomicUsize::new(0),
            expired: AtomicUsize::new(0),
            evict: EvictState::new(),
        }
    }
}

impl<A: Memory, I: Memory> Table<A, I> {
    /// A table over `arena` and `index`, both all zeros. Fails if the configuration is out of
    /// range or the memory too small for it (one page and one segment at least).
    pub fn new(arena: A, index: I, hash_key: HashKey, config: Config) -> Result<Self, LayoutError> {
        let (al, il, classes) = layouts(arena.words().len(), index.words().len(), &config)?;
        Ok(Self {
            arena: Arena::build(arena, al, classes),
            index: Index::build(index, il),
            budget: Budget::new(Index::<I>::initial_bytes(&il), limit_of(&config)),
            hash_key,
            max_key: max_key_of(&config),
            max_value: config.max_value,
            len: AtomicUsize::new(0),
            clock: Clock::new(),
            expires: AtomicUsize::new(0),
            expired: AtomicUsize::new(0),
            evict: EvictState::new(),
        })
    }

    /// The memory the table was built over: arena and index.
    pub fn memory(&self) -> (&A, &I) {
        (self.arena.memory(), self.index.memory())
    }

    /// The number of keys. Exact when no write is in flight. Expired keys count until they are
    /// removed (by [`Table::expire_step`], [`Table::reap`], a delete or a put), as Redis's
    /// `DBSIZE` counts them.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the table holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of arena pages (with their metadata) and index segments (with the directory) in
    /// use: what the memory limit counts, Redis's `used_memory`.
    pub fn used_bytes(&self) -> usize {
        self.budget.used()
    }

    /// The memory limit in bytes, `None` for none.
    pub fn max_memory(&self) -> Option<usize> {
        Some(self.budget.limit()).filter(|&l| l != usize::MAX)
    }

    /// Sets the memory limit (0 for none). Memory already in use above a lowered limit stays
    /// in use; writes that need more answer [`Error::NoSpace`] until deletes bring the use
    /// down.
    pub fn set_max_memory(&self, bytes: usize) {
        self.budget
            .set_limit(if bytes == 0 { usize::MAX } else { bytes });
    }

    /// The bytes a key of `key_len` bytes with a value of `value_len` bytes takes: its item's
    /// memory in the arena (rounded up to its size class, or whole pages for a large value) and
    /// its slot in the index. The same for every key of these lengths without a deadline; a
    /// deadline adds 8 bytes to the item (before its rounding up to a class).
    pub fn item_bytes(&self, key_len: usize, value_len: usize) -> usize {
        self.arena.footprint(key_len, value_len) + core::mem::size_of::<u64>()
    }

    /// The longest key, in bytes.
    pub fn max_key(&self) -> usize {
        self.max_key
    }

    /// The longest value, in bytes.
    pub fn max_value(&self) -> usize {
        self.max_value
    }

    /// Figures about the table's memory.
    pub fn stats(&self) -> Stats {
        let segments = self.index.segments();
        Stats {
            len: self.len(),
            expires: self.expires(),
            expired: self.expired.load(Ordering::Relaxed),
            used_bytes: self.used_bytes(),
            max_memory: self.max_memory(),
            page_bytes: self.arena.lay.page_bytes,
            pages_in_use: self.arena.pages_in_use(),
            pages: self.arena.lay.pages,
            segment_bytes: self.index.lay.segment_bytes(),
            segments,
            max_segments: self.index.lay.segments,
            global_depth: self.index.global_depth(),
            slots: segments * (self.index.lay.mask + 1) * SLOTS,
        }
    }

    /// Inserts or overwrites `key` (with no deadline), reporting which it did. A key whose
    /// deadline has passed counts as absent: writing it is an insert.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<Put, Error> {
        self.put_inner(
            key,
            value,
            When::Always,
            Deadline::None,
            None,
            None,
            Wait::Block,
        )
        .map(|p| p.unwrap_or(Put::Replaced))
    }

    /// [`Table::put`] that never waits: [`Error::Busy`] if a lock it needs is held.
    pub fn try_put(&self, key: &[u8], value: &[u8]) -> Result<Put, Error> {
        self.put_inner(
            key,
            value,
            When::Always,
            Deadline::None,
            None,
            None,
            Wait::Try,
        )
        .map(|p| p.unwrap_or(Put::Replaced))
    }

    /// Writes `key` (with no deadline) only `when` its presence allows; `Ok(None)` when it did
    /// not write. An expired key counts as absent.
    pub fn put_if(&self, key: &[u8], value: &[u8], when: When) -> Result<Option<Put>, Error> {
        self.put_inner(key, value, when, Deadline::None, None, None, Wait::Block)
    }

    /// [`Table::put_if`] that also hands `old` the value the key held before the call, if it
    /// was present (read atomically with the write, as Redis `SET ... GET` needs). Whether it
    /// was follows from the answer: [`When::was_present`]. An expired key's value is never
    /// handed out.
    pub fn put_if_with_old(
        &self,
        key: &[u8],
        value: &[u8],
        when: When,
        old: &mut dyn Sink,
    ) -> Result<Option<Put>, Error> {
        self.put_inner(
            key,
            value,
            when,
            Deadline::None,
            Some(old),
            None,
            Wait::Block,
        )
    }

    /// [`Table::put_if`] that also calls `then` after writing, while the key's bucket is still
    /// locked (both of its buckets, for an insert): every write to one key runs its `then` in
    /// the order the writes took effect, which is what an append-only log needs. `then` should
    /// be short (it delays other writers of those buckets) and must not use this table. `old`
    /// is as for [`Table::put_if_with_old`], and is filled after the locks are released.
    pub fn put_if_then(
        &self,
        key: &[u8],
        value: &[u8],
        when: When,
        old: Option<OldValue<'_>>,
        then: &mut dyn FnMut(),
    ) -> Result<Option<Put>, Error> {
        self.put_inner(
            key,
            value,
            when,
            Deadline::None,
            old,
            Some(&mut |_| then()),
            Wait::Block,
        )
    }

    /// [`Table::put_if_then`] with a [`Deadline`] for the key: none, an absolute time on the
    /// table's clock, or the one the key has now (Redis `SET ... KEEPTTL`: kept only from a
    /// live key). A deadline the clock has already reached makes the put take effect and the
    /// key expire at once: it answers as the put would, `then` runs, `old` gets the old value,
    /// and the key is left absent with no item stored (Redis `SET ... PXAT` with a past time).
    /// A deadline of `u64::MAX` is no deadline.
    ///
    /// `then` is told the deadline the key was written with: the one given, or, for
    /// [`Deadline::Keep`], the one kept (`None` also for a put that expired the key at once). A
    /// log that records it needs no old state to replay the put: a `KEEPTTL` logged as it is
    /// would keep, on replay, whatever deadline the key has then.
    #[allow(clippy::too_many_arguments)]
    pub fn put_with(
        &self,
        key: &[u8],
        value: &[u8],
        when: When,
        deadline: Deadline,
        old: Option<OldValue<'_>>,
        then: &mut dyn FnMut(Option<u64>),
    ) -> Result<Option<Put>, Error> {
        self.put_inner(key, value, when, deadline, old, Some(then), Wait::Block)
    }

    /// Copies `key`'s value into `out`, returning its length, or `None` if the key is absent
    /// (or expired).
    ///
    /// `out[..len]` holds the value. The rest of `out`, and all of it when the answer is not a
    /// value, may have been overwritten with zeros: the copy is made while writers run, and a
    /// copy a writer disturbed is wiped, never left behind.
    pub fn get_into(&self, key: &[u8], out: &mut [u8]) -> Result<Option<usize>, Error> {
        self.get_into_inner(key, out, Wait::Block)
    }

    /// [`Table::get_into`] that never waits: [`Error::Busy`] if the key's buckets are being
    /// written or its segment split.
    pub fn try_get_into(&self, key: &[u8], out: &mut [u8]) -> Result<Option<usize>, Error> {
        self.get_into_inner(key, out, Wait::Try)
    }

    /// Copies `key`'s value into a buffer `sink` provides for its exact length, and returns the
    /// length, or `None` if the key is absent (or expired). `sink` may be asked more than once
    /// (see [`Sink`]); the buffer of the last call holds the value.
    pub fn get_with<S: Sink + ?Sized>(
        &self,
        key: &[u8],
        sink: &mut S,
    ) -> Result<Option<usize>, Error> {
        self.lookup(key, Some(sink), Wait::Block).map(Look::len)
    }

    /// [`Table::get_with`] that never waits.
    pub fn try_get_with<S: Sink + ?Sized>(
        &self,
        key: &[u8],
        sink: &mut S,
    ) -> Result<Option<usize>, Error> {
        self.lookup(key, Some(sink), Wait::Try).map(Look::len)
    }

    /// `key`'s value as a `heapless::Vec` of capacity `N`.
    pub fn get_vec<const N: usize>(
        &self,
        key: &[u8],
    ) -> Result<Option<heapless::Vec<u8, N>>, Error> {
        let mut v = heapless::Vec::new();
        Ok(self.get_with(key, &mut v)?.map(|_| v))
    }

    /// Whether `key` is present (and not expired).
    pub fn contains(&self, key: &[u8]) -> Result<bool, Error> {
        Ok(self.lookup::<[u8]>(key, None, Wait::Block)?.len().is_some())
    }

    /// [`Table::contains`] that never waits.
    pub fn try_contains(&self, key: &[u8]) -> Result<bool, Error> {
        Ok(self.lookup::<[u8]>(key, None, Wait::Try)?.len().is_some())
    }

    /// The length of `key`'s value, or `None` if the key is absent (or expired).
    pub fn value_len(&self, key: &[u8]) -> Result<Option<usize>, Error> {
        self.lookup::<[u8]>(key, None, Wait::Block).map(Look::len)
    }

    /// Removes `key`, reporting whether it was present. An expired key counts as absent (the
    /// answer is `false`), and its item is removed all the same.
    pub fn delete(&self, key: &[u8]) -> Result<bool, Error> {
        self.delete_inner(key, Remove::Any, None, Wait::Block)
            .map(|r| r == Removed::Live)
    }

    /// [`Table::delete`] that calls `then` whenever it removed an item, live or expired, while
    /// the bucket that held it is still locked (see [`Table::put_if_then`]): a log that records
    /// a delete there also records the removal of an expired key, as Redis propagates one.
    pub fn delete_then(&self, key: &[u8], then: &mut dyn FnMut()) -> Result<bool, Error> {
        self.delete_inner(
            key,
            Remove::Any,
            Some(&mut |_: &Entry<'_>| then()),
            Wait::Block,
        )
        .map(|r| r == Removed::Live)
    }

    /// [`Table::delete`] that never waits.
    pub fn try_delete(&self, key: &[u8]) -> Result<bool, Error> {
        self.delete_inner(key, Remove::Any, None, Wait::Try)
            .map(|r| r == Removed::Live)
    }

    /// Removes every key, bucket by bucket; returns how many live keys it removed (expired
    /// ones go too, uncounted). Writes that run concurrently may land before or after their
    /// bucket is cleared. Arena pages go back as they empty; the index shrinks by [`Table::shrink_step`].
    pub fn clear(&self) -> usize {
        self.clear_then(&mut |_| {})
    }

    /// [`Table::clear`] that calls `then` with each entry it removes, expired ones included
    /// ([`Entry::deadline`] tells them apart), while that entry's bucket is still locked (see
    /// [`Table::put_if_then`]).
    pub fn clear_then(&self, then: &mut dyn FnMut(&Entry<'_>)) -> usize {
        // In numbered order: no segment may merge into one already cleared.
        let _walk = self.index.walk();
        let view = self.arena.view();
        let mut removed = 0;
        let mut id = 0;
        while id < self.index.segments() {
            let seg = self.index.segment(id);
            for i in 0..seg.buckets() {
                let b = seg.bucket(i);
                let guard = BitLock::take(b.header(), bucket::LOCKED);
                let now = self.clock.now();
                let mut gone = [Slot::EMPTY; SLOTS];
                let (mut n, mut live, mut with_deadline) = (0, 0, 0);
                let mut writing = false;
                for (j, g) in gone.iter_mut().enumerate() {
                    let s = b.slot(j);
                    if !s.is_occupied() {
                        continue;
                    }
                    let e = Self::entry(view, s.loc());
                    then(&e);
                    match e.deadline {
                        Some(d) if d <= now => with_deadline += 1,
                        Some(_) => (live, with_deadline) = (live + 1, with_deadline + 1),
                        None => live += 1,
                    }
                    if !writing {
                        b.begin_write();
                        writing = true;
                    }
                    b.set(j, Slot::EMPTY);
                    *g = s;
                    n += 1;
                }
                if writing {
                    b.end_write();
                }
                drop(guard);
                self.len.fetch_sub(n, Ordering::Relaxed);
                self.expires.fetch_sub(with_deadline, Ordering::Relaxed);
                for s in gone.iter().filter(|s| s.is_occupied()) {
                    self.retire(view, s.loc(), Wait::Block);
                }
                removed += live;
            }
            id += 1;
        }
        removed
    }

    /// Gives back memory the table no longer needs: merges up to `max_merges` index segments
    /// that deletes and expiry left sparse (the reverse of splits, last segment first; see
    /// `index.rs`), halving the directory when it can, and returns to the memory's owner the
    /// empty page each size class keeps for its next item. Returns the merges done. Meant to
    /// run from time to time (a server's expiry cycle); reads and writes go on meanwhile, but
    /// those of the two segments merging wait for the merge (a few microseconds), as for a
    /// split.
    pub fn shrink_step(&self, max_merges: usize) -> usize {
        let mut merged = 0;
        while merged < max_merges && self.index.merge_last(&self.budget) {
            merged += 1;
        }
        self.arena.drain_deferred(&self.budget);
        self.arena.give_back_kept(&self.budget);
        merged
    }

    /// Calls `f` with every live entry (expired keys are skipped), while writers keep running.
    ///
    /// Each entry is one its key held during the visit. Every key present for the whole visit
    /// is visited exactly once; a key inserted or deleted during the visit may or may not be.
    /// The visit locks one segment at a time while it reads it (see [`crate::scan`]), so `f`
    /// should be quick, and must not write to this table (a write that needs to split the
    /// segment would wait for the visit that waits for it).
    pub fn visit(&self, mut f: impl FnMut(&Entry<'_>)) {
        // Blocking mode never answers Busy.
        let _ = self.scan_inner(0, usize::MAX, &mut f, Wait::Block);
    }

    /// [`Table::visit`] that never waits; [`Error::Busy`] if a segment's bucket is locked.
    /// Entries visited before the error were passed to `f`.
    pub fn try_visit(&self, mut f: impl FnMut(&Entry<'_>)) -> Result<(), Error> {
        self.scan_inner(0, usize::MAX, &mut f, Wait::Try)
            .map(|_| ())
    }

    /// One step of a resumable scan, like Redis `SCAN`: calls `f` with the entries of whole
    /// segments from `cursor` on, until at least `count` were passed or the scan ends, and
    /// returns the cursor for the next step, [`ScanCursor::START`] when the scan is done.
    /// Nothing is held between steps.
    ///
    /// Entries are as for [`Table::visit`]. Every key present from the first step to the last
    /// is passed to `f` at least once, however the index grows meanwhile.
    pub fn scan(
        &self,
        cursor: ScanCursor,
        count: usize,
        mut f: impl FnMut(&Entry<'_>),
    ) -> ScanCursor {
        // Blocking mode never answers Busy.
        ScanCursor(
            self.scan_inner(cursor.0, count, &mut f, Wait::Block)
                .unwrap_or(0),
        )
    }

    /// The hash of `key` and its two candidate buckets in its segment, for tests that need keys
    /// that share buckets or segments.
    #[doc(hidden)]
    pub fn placement(&self, key: &[u8]) -> (u64, usize, usize) {
        let h = self.hash(key);
        let p = Place::of(h, self.index.lay.mask);
        (h, p.b1, p.b2)
    }

    #[cfg(kv_loom)]
    pub(crate) fn index(&self) -> &Index<I> {
        &self.index
    }

    #[cfg(kv_loom)]
    pub(crate) fn arena(&self) -> &Arena<A> {
        &self.arena
    }

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        sip13(&self.hash_key, key)
    }

    #[inline]
    pub(crate) fn check_key(&self, key: &[u8]) -> Result<(), Error> {
        if key.len() > self.max_key {
            return Err(Error::KeyTooLong {
                len: key.len(),
                max: self.max_key,
            });
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn check_value(&self, value: &[u8]) -> Result<(), Error> {
        if value.len() > self.max_value {
            return Err(Error::ValueTooLong {
                len: value.len(),
                max: self.max_value,
            });
        }
        Ok(())
    }

    /// The entry of the item at `loc`, which cannot change meanwhile (its bucket is locked):
    /// its deadline is read now.
    pub(crate) fn entry(view: ArenaView<'_>, loc: Loc) -> Entry<'_> {
        let hdr = view.header(loc);
        Entry {
            view,
            loc,
            hdr,
            deadline: view.deadline(loc, &hdr),
        }
    }

    /// Whether an item with `deadline` is expired by the clock now.
    #[inline]
    pub(crate) fn is_expired(&self, deadline: Option<u64>) -> bool {
        deadline.is_some_and(|d| d <= self.clock.now())
    }

    /// The hash of the key of the item a slot links (stable: its bucket is locked).
    pub(crate) fn rehash(&self, view: ArenaView<'_>, s: Slot) -> u64 {
        let loc = s.loc();
        let hdr = view.header(loc);
        let mut h = SipHasher13::new(&self.hash_key);
        view.hash_key(loc, &hdr, &mut h);
        h.finish()
    }

    fn get_into_inner(
        &self,
        key: &[u8],
        out: &mut [u8],
        wait: Wait,
    ) -> Result<Option<usize>, Error> {
        /// A caller's buffer, and how much of it copies have written, counted or not.
        struct Tracked<'b> {
            out: &'b mut [u8],
            written: usize,
        }
        impl Sink for Tracked<'_> {
            fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
                let b = self.out.get_mut(..len)?;
                self.written = self.written.max(len);
                Some(b)
            }
            fn room(&self) -> usize {
                self.out.len()
            }
        }
        let mut t = Tracked { out, written: 0 };
        let result = self.lookup(key, Some(&mut t), wait).map(Look::len);
        // A copy that did not count (torn by a writer, or of a value deleted before the answer)
        // must not leave another value's bytes in the caller's buffer.
        let kept = match result {
            Ok(Some(len)) => len,
            _ => 0,
        };
        if t.written > kept {
            t.out[kept..t.written].fill(0);
        }
        result
    }

    /// Copies a value of `len` bytes into `sink`, by `copy`; the error if the sink cannot take
    /// it.
    #[inline]
    fn fill<S: Sink + ?Sized>(
        sink: &mut S,
        len: usize,
        copy: impl FnOnce(&mut [u8]),
    ) -> Result<(), Error> {
        match sink.buffer(len).and_then(|b| b.get_mut(..len)) {
            Some(buf) => {
                copy(buf);
                Ok(())
            }
            None => Err(Error::BufferTooSmall {
                needed: len,
                len: sink.room(),
            }),
        }
    }

    /// Probes bucket `b` without locks from slot `from` on, for the key with `key_bits`. `now`
    /// is the clock as the lookup began: a value already expired then is not copied.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn probe<S: Sink + ?Sized>(
        view: ArenaView<'_>,
        b: Bucket<'_>,
        from: usize,
        key_bits: u16,
        key: &[u8],
        now: u64,
        sink: &mut Option<&mut S>,
    ) -> Probe {
        for j in from..SLOTS {
            let s = b.slot(j);
            if s.key_bits() != key_bits {
                continue;
            }
            let loc = s.loc();
            if loc >= view.data_bytes() / 8 {
                continue;
            }
            if s.is_large() {
                let state = view.state(view.page_of(loc)).load(Ordering::Relaxed);
                return Probe::Large(j, s, state, view.peek_deadline(loc));
            }
            let Some(g) = view.glimpse(loc) else {
                continue;
            };
            if !view.glimpse_key_is(&g, key) {
                continue;
            }
            let deadline = view.glimpse_deadline(&g);
            if deadline.is_some_and(|d| d <= now) {
                return Probe::Expired;
            }
            let len = g.hdr.vlen;
            if let Some(sink) = sink.as_deref_mut() {
                match sink.buffer(len).and_then(|buf| buf.get_mut(..len)) {
                    Some(buf) => view.glimpse_value(&g, buf),
                    None => return Probe::TooSmall(len, deadline),
                }
            }
            return Probe::Hit(len, deadline, j, s);
        }
        Probe::Miss
    }

    /// Searches bucket `b`, whose version the caller read as `v`, for `key`, validating a hit.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn search<S: Sink + ?Sized>(
        &self,
        view: ArenaView<'_>,
        b: Bucket<'_>,
        v: usize,
        key_bits: u16,
        key: &[u8],
        now: u64,
        sink: &mut Option<&mut S>,
        wait: Wait,
    ) -> Result<Found, Error> {
        // A hit needs only its own bucket unchanged: the slot was then linked there throughout
        // the copy, so the item was too (a split that moves the slot away bumps this bucket's
        // version like any other write), with the deadline copied (a change of it in place is a
        // write of this bucket). The copy must complete before the version is read again.
        let valid = || {
            fence(Ordering::Acquire);
            bucket::unchanged(v, b.version_again())
        };
        // The clock is read again after validation: a put that linked the item after the clock
        // reached its deadline happens before that read, so such an item, never live, is never
        // returned whatever the clock said as the lookup began.
        let mut from = 0;
        loop {
            match Self::probe(view, b, from, key_bits, key, now, sink) {
                Probe::Hit(len, deadline, j, s) => {
                    return Ok(if !valid() {
                        Found::Retry
                    } else if self.is_expired(deadline) {
                        Found::Expired
                    } else {
                        Found::Value(len, deadline, j, s)
                    });
                }
                Probe::TooSmall(len, deadline) => {
                    return Ok(if !valid() {
                        Found::Retry
                    } else if self.is_expired(deadline) {
                        Found::Expired
                    } else {
                        Found::TooSmall(len)
                    });
                }
                Probe::Expired => {
                    return Ok(if valid() {
                        Found::Expired
                    } else {
                        Found::Retry
                    });
                }
                Probe::Large(j, s, state, deadline) => {
                    // Linked when `state` and the deadline were read: pin it if it is still that
                    // item. Its deadline is the one validated now; the field is never read again
                    // without the bucket's lock or a validation.
                    if !valid() {
                        return Ok(Found::Retry);
                    }
                    let loc = s.loc();
                    let word = view.state(view.page_of(loc));
                    if page::pin(word, state) == Pin::Gone {
                        return Ok(Found::Retry);
                    }
                    let hdr = view.header(loc);
                    let found = if !view.key_is(loc, &hdr, key) {
                        None
                    } else if self.is_expired(deadline) {
                        Some(Found::Expired)
                    } else if let Some(sink) = sink.as_deref_mut() {
                        Some(
                            match Self::fill(sink, hdr.vlen, |buf| {
                                view.read(loc, &hdr, hdr.value_at(), buf)
                            }) {
                                Ok(()) => Found::Value(hdr.vlen, deadline, j, s),
                                Err(_) => Found::TooSmall(hdr.vlen),
                            },
                        )
                    } else {
                        Some(Found::Value(hdr.vlen, deadline, j, s))
                    };
                    self.unpin(view, loc, wait);
                    match found {
                        Some(f) => return Ok(f),
                        // Another key with the same tag: go on from the next slot.
                        None => from = j + 1,
                    }
                }
                Probe::Miss => return Ok(Found::Absent),
            }
        }
    }

    /// Finds `key` and copies its value into `sink` (if any), unless it is expired.
    #[inline]
    pub(crate) fn lookup<S: Sink + ?Sized>(
        &self,
        key: &[u8],
        mut sink: Option<&mut S>,
        wait: Wait,
    ) -> Result<Look, Error> {
        self.check_key(key)?;
        let h = self.hash(key);
        let view = self.arena.view();
        let now = self.clock.now();
        for _ in 0..OPTIMISTIC_TRIES {
            let (seg, _, sw) = self.index.locate(h, wait)?;
            let place = Place::of(h, seg.mask);
            let kb = Slot::key_bits_of(place.tag);
            let (b1, b2) = (seg.bucket(place.b1), seg.bucket(place.b2));
            // A miss in `b1` reads `b2`: start that load now rather than after the search.
            prefetch(b2.header());
            let v1 = b1.version();
            if bucket::is_writing(v1) {
                if wait == Wait::Try {
                    return Err(Error::Busy);
                }
                spin_hint();
                continue;
            }
            let too_small = |len, sink: &Option<&mut S>| Error::BufferTooSmall {
                needed: len,
                len: sink.as_ref().map_or(0, |s| s.room()),
            };
            match self.search(view, b1, v1, kb, key, now, &mut sink, wait)? {
                Found::Value(len, deadline, j, s) => {
                    self.touch(b1, j, s, h);
                    return Ok(Look::Live { len, deadline });
                }
                Found::TooSmall(len) => return Err(too_small(len, &sink)),
                Found::Expired => return Ok(Look::Expired),
                Found::Retry => {
                    spin_hint();
                    continue;
                }
                Found::Absent => {}
            }
            // A miss needs both buckets unchanged over one stretch of time that both searches
            // fall in: `v2` is read after `b1` was searched, and `v1` checked after `b2` was. A
            // key being moved is in one of the two throughout. And the segment must not have
            // split meanwhile: a split that moved the key out before `v1` was read leaves both
            // versions steady while the key is elsewhere.
            let v2 = b2.version();
            if bucket::is_writing(v2) {
                if wait == Wait::Try {
                    return Err(Error::Busy);
                }
                spin_hint();
                continue;
            }
            match self.search(view, b2, v2, kb, key, now, &mut sink, wait)? {
                Found::Value(len, deadline, j, s) => {
                    self.touch(b2, j, s, h);
                    return Ok(Look::Live { len, deadline });
                }
                Found::TooSmall(len) => return Err(too_small(len, &sink)),
                Found::Expired => return Ok(Look::Expired),
                Found::Retry => {
                    spin_hint();
                    continue;
                }
                Found::Absent => {}
            }
            fence(Ordering::Acquire);
            if bucket::unchanged(v1, b1.version_again())
                && bucket::unchanged(v2, b2.version_again())
                && seg.split().load(Ordering::Relaxed) == sw
            {
                return Ok(Look::Absent);
            }
            spin_hint();
        }
        // Writers kept winning: read under the locks, which always terminates.
        self.lookup_locked(view, key, h, sink, wait)
    }

    fn lookup_locked<S: Sink + ?Sized>(
        &self,
        view: ArenaView<'_>,
        key: &[u8],
        h: u64,
        sink: Option<&mut S>,
        wait: Wait,
    ) -> Result<Look, Error> {
        loop {
            let (seg, _, sw) = self.index.locate(h, wait)?;
            let place = Place::of(h, seg.mask);
            let kb = Slot::key_bits_of(place.tag);
            let guards = Self::lock_pair(seg, place.b1, place.b2, wait)?;
            if seg.split().load(Ordering::Relaxed) != sw {
                drop(guards);
                spin_hint();
                continue;
            }
            for b in [seg.bucket(place.b1), seg.bucket(place.b2)] {
                let Some((j, s, hdr)) = Self::find_locked(view, b, kb, key) else {
                    continue;
                };
                let loc = s.loc();
                let deadline = view.deadline(loc, &hdr);
                if self.is_expired(deadline) {
                    return Ok(Look::Expired);
                }
                self.touch(b, j, s, h);
                let live = Look::Live {
                    len: hdr.vlen,
                    deadline,
                };
                let Some(sink) = sink else {
                    return Ok(live);
                };
                let word = view.state(view.page_of(loc));
                let large = page::kind(word.load(Ordering::Relaxed)) == Kind::Head;
                if large {
                    // Copy a large value under a pin, not under the locks.
                    page::pin_linked(word);
                    drop(guards);
                }
                let copied = Self::fill(sink, hdr.vlen, |buf| {
                    view.read(loc, &hdr, hdr.value_at(), buf)
                });
                if large {
                    self.unpin(view, loc, wait);
                }
                return copied.map(|()| live);
            }
            return Ok(Look::Absent);
        }
    }

    /// Drops a pin on the large item at `loc`, freeing it if it was dead and this the last pin.
    pub(crate) fn unpin(&self, view: ArenaView<'_>, loc: Loc, wait: Wait) {
        if page::unpin(view.state(view.page_of(loc))) {
            self.arena.free_item(&self.budget, loc, wait);
        }
    }

    /// Ends the life of an item the caller unlinked: frees it now, or, for a large item that a
    /// reader has pinned, leaves the free to the last unpinner.
    pub(crate) fn retire(&self, view: ArenaView<'_>, loc: Loc, wait: Wait) {
        let word = view.state(view.page_of(loc));
        if page::kind(word.load(Ordering::Relaxed)) == Kind::Head && !page::kill(word) {
            return;
        }
        self.arena.free_item(&self.budget, loc, wait);
    }

    /// Locks buckets `a` and `b` of `seg` (one lock if they are the same), lower index first.
    pub(crate) fn lock_pair<'s>(
        seg: Segment<'s>,
        a: usize,
        b: usize,
        wait: Wait,
    ) -> Result<Guards<'s>, Error> {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let first = seg.bucket(lo).lock(wait)?;
        let second = if hi == lo {
            None
        } else {
            Some(seg.bucket(hi).lock(wait)?)
        };
        Ok((first, second))
    }

    /// The slot of locked bucket `b` holding `key`, with its header.
    pub(crate) fn find_locked(
        view: ArenaView<'_>,
        b: Bucket<'_>,
        key_bits: u16,
        key: &[u8],
    ) -> Option<(usize, Slot, Header)> {
        (0..SLOTS).find_map(|j| {
            let s = b.slot(j);
            if s.key_bits() != key_bits {
                return None;
            }
            let hdr = view.header(s.loc());
            view.key_is(s.loc(), &hdr, key).then_some((j, s, hdr))
        })
    }

    /// The lock of the bucket holding `key`, with the bucket, the slot and its contents, when a
    /// look without locks finds a matching tag and the key is there once that lock is held.
    /// `None` proves nothing: the key may be absent, or have moved meanwhile.
    ///
    /// No split-word check is needed here: finding the key under the bucket's lock proves it is
    /// linked in this bucket now, and a bucket only ever holds keys its segment covers (inserts
    /// and moves check the split word under their locks, and a split moves keys out under all
    /// of them).
    #[allow(clippy::type_complexity)]
    pub(crate) fn holder<'s>(
        view: ArenaView<'_>,
        seg: Segment<'s>,
        place: Place,
        key_bits: u16,
        key: &[u8],
        wait: Wait,
    ) -> Result<Option<(Guards<'s>, Bucket<'s>, usize, Slot)>, Error> {
        for bi in [place.b1, place.b2] {
            let b = seg.bucket(bi);
            if !(0..SLOTS).any(|j| b.slot_matches(j, key_bits)) {
                continue;
            }
            let guard = b.lock(wait)?;
            if let Some((j, s, _)) = Self::find_locked(view, b, key_bits, key) {
                return Ok(Some(((guard, None), b, j, s)));
            }
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_inner(
        &self,
        key: &[u8],
        value: &[u8],
        when: When,
        deadline: Deadline,
        mut old: Option<OldValue<'_>>,
        mut then: Option<&mut dyn FnMut(Option<u64>)>,
        wait: Wait,
    ) -> Result<Option<Put>, Error> {
        self.check_key(key)?;
        self.check_value(value)?;
        if wait == Wait::Block {
            self.arena.drain_deferred(&self.budget);
        }
        let h = self.hash(key);
        let keep = deadline == Deadline::Keep;
        // What the new item's deadline field holds, if it has one.
        let mut field = match deadline {
            Deadline::None => None,
            Deadline::At(NO_DEADLINE) => None,
            Deadline::At(d) if d <= self.clock.now() => {
                // Expired on arrival: the put takes effect and the key expires at once, so no
                // item is written (the clock never goes back, so it is expired under the lock
                // too).
                return match self.link(h, key, None, when, false, old, then, wait)? {
                    Linked::Done(result) => Ok(result),
                    Linked::NeedsField => unreachable!("only a put that keeps a deadline"),
                };
            }
            Deadline::At(d) => Some(d),
            // A guess, checked under the lock: a field only if the key has a deadline now.
            Deadline::Keep => match self.lookup::<[u8]>(key, None, wait)? {
                Look::Live {
                    deadline: Some(_), ..
                } => Some(NO_DEADLINE),
                _ => None,
            },
        };
        loop {
            // The item is written before any lock is taken; the locks are held only to link it.
            let (loc, large) = self
                .arena
                .write_item(&self.budget, key, value, field, wait)?;
            let item = NewItem {
                loc,
                large,
                hdr: Header::new(key.len(), value.len(), field.is_some()),
                deadline: field.filter(|&d| d != NO_DEADLINE),
            };
            let result = self.link(
                h,
                key,
                Some(item),
                when,
                keep,
                old.as_deref_mut(),
                then.as_deref_mut(),
                wait,
            );
            if !matches!(result, Ok(Linked::Done(Some(_)))) {
                // Never linked, so never seen: free it at once.
                self.arena.free_item(&self.budget, loc, wait);
            }
            match result? {
                Linked::Done(result) => return Ok(result),
                // The key gained a deadline since the guess: write the item again, with a field.
                Linked::NeedsField => field = Some(NO_DEADLINE),
            }
        }
    }

    /// Links `item` for `key` (hash `h`), or, if there is none (a put expired on arrival),
    /// removes the key's item.
    #[allow(clippy::too_many_arguments)]
    fn link(
        &self,
        h: u64,
        key: &[u8],
        item: Option<NewItem>,
        when: When,
        keep: bool,
        mut old: Option<&mut (dyn Sink + '_)>,
        mut then: Option<&mut (dyn FnMut(Option<u64>) + '_)>,
        wait: Wait,
    ) -> Result<Linked, Error> {
        let view = self.arena.view();
        loop {
            let (seg, id, sw) = self.index.locate(h, wait)?;
            let place = Place::of(h, seg.mask);
            let kb = Slot::key_bits_of(place.tag);
            let new = item.map(|i| Slot::new(place.tag, i.loc, i.large));
            let fresh = |old: Option<Slot>| new.map(|n| n.with_meta(self.fresh_meta(old)));
            // A key already present: lock only the bucket holding it, which every other writer
            // or mover of that key must also lock.
            if let Some((guards, b, j, s)) = Self::holder(view, seg, place, kb, key, wait)? {
                let (old, then) = (old.take(), then.take());
                let put = (item, fresh(Some(s)), when, keep);
                return Ok(self.replace(view, guards, b, j, s, put, old, then, wait));
            }
            let guards = Self::lock_pair(seg, place.b1, place.b2, wait)?;
            if seg.split().load(Ordering::Relaxed) != sw {
                drop(guards);
                spin_hint();
                continue;
            }
            let (b1, b2) = (seg.bucket(place.b1), seg.bucket(place.b2));
            for b in [b1, b2] {
                if let Some((j, s, _)) = Self::find_locked(view, b, kb, key) {
                    let (old, then) = (old.take(), then.take());
                    let put = (item, fresh(Some(s)), when, keep);
                    return Ok(self.replace(view, guards, b, j, s, put, old, then, wait));
                }
            }
            if when == When::IfPresent {
                return Ok(Linked::Done(None));
            }
            let (Some(item), Some(new)) = (item, new) else {
                // Expired on arrival: the key was absent and stays so.
                if let Some(then) = then.as_mut() {
                    then(None);
                }
                return Ok(Linked::Done(Some(Put::Inserted)));
            };
            for b in [b1, b2] {
                let Some(j) = b.free_slot() else { continue };
                b.begin_write();
                b.set(j, new.with_meta(self.fresh_meta(None)));
                b.end_write();
                self.len.fetch_add(1, Ordering::Relaxed);
                // A kept deadline of an absent key is none: a field the guess gave the item
                // holds "none" already.
                if item.deadline.is_some() {
                    self.expires.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(then) = then.as_mut() {
                    then(item.deadline);
                }
                return Ok(Linked::Done(Some(Put::Inserted)));
            }
            drop(guards);
            self.make_room_or_split(seg, id, sw, place, false, wait)?;
            // A slot was freed in one of the key's buckets, the segment split, or others wrote
            // meanwhile; either way, look again.
        }
    }

    /// Frees a slot in one of `place`'s buckets of segment `id` (read with split word `sw`) by
    /// cuckoo moves, or, with no path (or when `split` says so), splits the segment. No lock
    /// may be held. A split refused for want of memory names the place to the evictor
    /// ([`Table::evict`] then looks there first).
    pub(crate) fn make_room_or_split(
        &self,
        seg: Segment<'_>,
        id: usize,
        sw: usize,
        place: Place,
        split: bool,
        wait: Wait,
    ) -> Result<(), Error> {
        if !split && self.make_room(seg, sw, place, wait)? {
            return Ok(());
        }
        // No cuckoo path: the segment is full around this key.
        let view = self.arena.view();
        let prefetch = |s: Slot| {
            if let Some(w) = view.data().get(s.loc() * 8 / crate::WORD) {
                prefetch(w);
            }
        };
        let split = self.index.split(id, sw, &self.budget, wait, prefetch, |s| {
            self.rehash(view, s)
        });
        if split == Err(Error::NoSpace) {
            self.want_room(id, place);
        }
        split
    }

    /// Puts the new item (`new`, its slot; `None` for a put expired on arrival, which removes
    /// the key) in place of slot `j` of locked bucket `b`, which holds the key as `s`, if the
    /// put's condition allows. An expired old item counts as absent.
    #[allow(clippy::too_many_arguments)]
    fn replace(
        &self,
        view: ArenaView<'_>,
        guards: Guards<'_>,
        b: Bucket<'_>,
        j: usize,
        s: Slot,
        (item, new, when, keep): (Option<NewItem>, Option<Slot>, When, bool),
        old: Option<&mut (dyn Sink + '_)>,
        then: Option<&mut (dyn FnMut(Option<u64>) + '_)>,
        wait: Wait,
    ) -> Linked {
        let old_loc = s.loc();
        let hdr = view.header(old_loc);
        let old_deadline = view.deadline(old_loc, &hdr);
        let live = !self.is_expired(old_deadline);
        let copy_old = |sink: &mut dyn Sink| {
            let _ = Self::fill(sink, hdr.vlen, |buf| {
                view.read(old_loc, &hdr, hdr.value_at(), buf)
            });
        };
        match (when, live) {
            (When::IfAbsent, true) => {
                if let Some(sink) = old {
                    let word = view.state(view.page_of(old_loc));
                    if page::kind(word.load(Ordering::Relaxed)) == Kind::Head {
                        page::pin_linked(word);
                        drop(guards);
                        copy_old(sink);
                        self.unpin(view, old_loc, wait);
                    } else {
                        copy_old(sink);
                    }
                }
                return Linked::Done(None);
            }
            // An expired key is absent: nothing to write over, and nothing is removed.
            (When::IfPresent, false) => return Linked::Done(None),
            _ => {}
        }
        let deadline = if keep {
            old_deadline.filter(|_| live)
        } else {
            item.and_then(|i| i.deadline)
        };
        if let (true, Some(item), Some(d)) = (keep, item, deadline) {
            if !item.hdr.has_deadline {
                return Linked::NeedsField;
            }
            // Not linked yet, so nobody reads the field; linking it below publishes the store.
            view.set_deadline(item.loc, &item.hdr, d);
        }
        b.begin_write();
        b.set(j, new.unwrap_or(Slot::EMPTY));
        b.end_write();
        if new.is_none() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        if old_deadline.is_some() {
            self.expires.fetch_sub(1, Ordering::Relaxed);
        }
        if new.is_some() && deadline.is_some() {
            self.expires.fetch_add(1, Ordering::Relaxed);
        }
        if !live {
            self.expired.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(then) = then {
            then(deadline.filter(|_| new.is_some()));
        }
        drop(guards);
        // Unlinked by us and not yet retired: it cannot be freed while we read it.
        if let (true, Some(sink)) = (live, old) {
            copy_old(sink);
        }
        self.retire(view, old_loc, wait);
        Linked::Done(Some(if live { Put::Replaced } else { Put::Inserted }))
    }

    /// The locks of the bucket holding `key` (hash `h`), that bucket, the slot and its
    /// contents; `None` if the key has no item (held under both of its buckets' locks, so the
    /// answer was true at that moment).
    #[allow(clippy::type_complexity)]
    pub(crate) fn find_for_write(
        &self,
        view: ArenaView<'_>,
        h: u64,
        key: &[u8],
        wait: Wait,
    ) -> Result<Option<(Guards<'_>, Bucket<'_>, usize, Slot)>, Error> {
        loop {
            let (seg, _, sw) = self.index.locate(h, wait)?;
            let place = Place::of(h, seg.mask);
            let kb = Slot::key_bits_of(place.tag);
            if let Some(found) = Self::holder(view, seg, place, kb, key, wait)? {
                return Ok(Some(found));
            }
            let guards = Self::lock_pair(seg, place.b1, place.b2, wait)?;
            if seg.split().load(Ordering::Relaxed) != sw {
                drop(guards);
                spin_hint();
                continue;
            }
            let hit = [seg.bucket(place.b1), seg.bucket(place.b2)]
                .into_iter()
                .find_map(|b| Self::find_locked(view, b, kb, key).map(|f| (b, f)));
            return Ok(hit.map(|(b, (j, s, _))| (guards, b, j, s)));
        }
    }

    /// Removes `key`'s item, as `what` allows, calling `then` with it while its bucket is
    /// locked; says what it removed.
    pub(crate) fn delete_inner(
        &self,
        key: &[u8],
        what: Remove,
        then: Option<&mut dyn FnMut(&Entry<'_>)>,
        wait: Wait,
    ) -> Result<Removed, Error> {
        self.check_key(key)?;
        if wait == Wait::Block {
            self.arena.drain_deferred(&self.budget);
        }
        let h = self.hash(key);
        let view = self.arena.view();
        let Some((guards, b, j, s)) = self.find_for_write(view, h, key, wait)? else {
            return Ok(Removed::Nothing);
        };
        let e = Self::entry(view, s.loc());
        let expired = self.is_expired(e.deadline);
        if what == Remove::Expired && !expired {
            return Ok(Removed::Nothing);
        }
        b.begin_write();
        b.set(j, Slot::EMPTY);
        b.end_write();
        self.len.fetch_sub(1, Ordering::Relaxed);
        if e.deadline.is_some() {
            self.expires.fetch_sub(1, Ordering::Relaxed);
        }
        if expired {
            self.expired.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(then) = then {
            then(&e);
        }
        drop(guards);
        self.retire(view, s.loc(), wait);
        Ok(if expired {
            Removed::Expired
        } else {
            Removed::Live
        })
    }

    /// Frees a slot in one of `place`'s buckets by a chain of cuckoo moves. `Ok(false)` when no
    /// path exists within the search bounds: the segment is full around this key.
    pub(crate) fn make_room(
        &self,
        seg: Segment<'_>,
        sw: usize,
        place: Place,
        wait: Wait,
    ) -> Result<bool, Error> {
        let mut path = [Hop::default(); MAX_PATH + 1];
        let Some(len) = Self::search_path(seg, place.b1, place.b2, &mut path) else {
            return Ok(false);
        };
        // Move the hole backwards along the path: the last hop's entry goes into the free slot
        // first, so every entry is in one of its buckets at every moment.
        for k in (0..len - 1).rev() {
            if !Self::move_entry(seg, sw, path[k], path[k + 1], wait)? {
                spin_hint();
                break;
            }
        }
        Ok(true)
    }

    /// Breadth-first search, without locks, for a path from `b1` or `b2` to a free slot. Fills
    /// `path` from the start bucket to the free slot and returns its length in slots.
    fn search_path(
        seg: Segment<'_>,
        b1: usize,
        b2: usize,
        path: &mut [Hop; MAX_PATH + 1],
    ) -> Option<usize> {
        const ROOT: u16 = u16::MAX;
        let mut queue = [Node {
            bucket: 0,
            parent: ROOT,
            slot: 0,
            depth: 0,
        }; SEARCH_QUEUE];
        // Bucket indices fit in u32: segments have at most 2^16 buckets.
        queue[0].bucket = b1 as u32;
        let mut tail = 1;
        if b2 != b1 {
            queue[1].bucket = b2 as u32;
            tail = 2;
        }
        let mut head = 0;
        while head < tail {
            let node = queue[head];
            let bi = node.bucket as usize;
            let b = seg.bucket(bi);
            let slots: [Slot; SLOTS] = core::array::from_fn(|j| b.slot(j));
            if let Some(free) = slots.iter().position(|s| !s.is_occupied()) {
                return Some(Self::trace(&queue, head, free, path));
            }
            if usize::from(node.depth) < MAX_PATH {
                for (j, s) in slots.iter().enumerate() {
                    if tail == SEARCH_QUEUE {
                        break;
                    }
                    let next = alt(bi, s.tag(), seg.mask);
                    if next == bi {
                        continue;
                    }
                    queue[tail] = Node {
                        bucket: next as u32,
                        parent: head as u16,
                        // SLOTS < 256 and depth <= MAX_PATH.
                        slot: j as u8,
                        depth: node.depth + 1,
                    };
                    tail += 1;
                }
            }
            head += 1;
        }
        None
    }

    /// Writes into `path` the slots from the root of `queue[at]`'s chain to slot `free` of its
    /// bucket; returns the count.
    fn trace(queue: &[Node], at: usize, free: usize, path: &mut [Hop; MAX_PATH + 1]) -> usize {
        let len = usize::from(queue[at].depth) + 1;
        let mut i = at;
        let mut slot = free;
        for k in (0..len).rev() {
            path[k] = Hop {
                bucket: queue[i].bucket as usize,
                slot,
            };
            slot = usize::from(queue[i].slot);
            i = usize::from(queue[i].parent);
        }
        len
    }

    /// Moves the entry in `from` into the free slot `to`, if both still are what the search saw:
    /// `from` holds an entry whose other bucket is `to.bucket`, `to` is free, and the segment
    /// has not split. `Ok(false)` if not.
    fn move_entry(
        seg: Segment<'_>,
        sw: usize,
        from: Hop,
        to: Hop,
        wait: Wait,
    ) -> Result<bool, Error> {
        let _guards = Self::lock_pair(seg, from.bucket, to.bucket, wait)?;
        if seg.split().load(Ordering::Relaxed) != sw {
            return Ok(false);
        }
        let (src, dst) = (seg.bucket(from.bucket), seg.bucket(to.bucket));
        let s = src.slot(from.slot);
        if !s.is_occupied()
            || alt(from.bucket, s.tag(), seg.mask) != to.bucket
            || dst.slot(to.slot).is_occupied()
        {
            return Ok(false);
        }
        dst.begin_write();
        src.begin_write();
        dst.set(to.slot, s);
        src.set(from.slot, Slot::EMPTY);
        dst.end_write();
        src.end_write();
        Ok(true)
    }

    /// Locks every bucket of the segment holding scan position `pos`; returns it with its
    /// depth and prefix.
    pub(crate) fn lock_segment_at(
        &self,
        pos: u32,
        wait: Wait,
    ) -> Result<(index::SegmentLock<'_>, Segment<'_>, u32, usize), Error> {
        // A hash whose low 32 bits put it at `pos`.
        let h = u64::from(pos.reverse_bits());
        loop {
            let (seg, _, _) = self.index.lookup_segment(h);
            let lock = index::lock_all(seg, wait)?;
            // With every bucket locked, the segment's keys are exactly those its split word
            // says, `splitting` or not: a split moves keys only while it holds these locks.
            let sw = seg.split().load(Ordering::Relaxed);
            if seg.covers(sw, h) {
                let prefix = seg.prefix().load(Ordering::Relaxed);
                return Ok((lock, seg, segment::depth(sw), prefix));
            }
            drop(lock);
            spin_hint();
        }
    }

    fn scan_inner(
        &self,
        cursor: u64,
        count: usize,
        f: &mut dyn FnMut(&Entry<'_>),
        wait: Wait,
    ) -> Result<u64, Error> {
        const END: u64 = 1 << 32;
        if cursor >= END {
            return Ok(0);
        }
        let view = self.arena.view();
        let mut pos = cursor;
        let mut passed = 0;
        loop {
            // `pos` is below 2^32.
            let (lock, seg, depth, prefix) = self.lock_segment_at(pos as u32, wait)?;
            // The segment holds the positions whose top `depth` bits are its prefix reversed.
            let start = u64::from((prefix as u32).reverse_bits());
            // A segment that starts before `pos` merged with one this walk already passed
            // (only a merge widens a segment): its keys from before `pos` were passed there.
            let passed_before = start < pos;
            let now = self.clock.now();
            let mut pinned: [Option<Entry<'_>>; PINNED_BATCH] = core::array::from_fn(|_| None);
            let mut n_pinned = 0;
            for i in 0..seg.buckets() {
                let b = seg.bucket(i);
                for j in 0..SLOTS {
                    let s = b.slot(j);
                    if !s.is_occupied() {
                        continue;
                    }
                    if passed_before
                        && u64::from((self.rehash(view, s) as u32).reverse_bits()) < pos
                    {
                        continue;
                    }
                    // Read under the lock, as is the deadline: a pinned entry is handed out
                    // after the locks are released, when the field may be changing.
                    let e = Self::entry(view, s.loc());
                    if e.deadline.is_some_and(|d| d <= now) {
                        continue;
                    }
                    passed += 1;
                    let word = view.state(view.page_of(e.loc));
                    if page::kind(word.load(Ordering::Relaxed)) == Kind::Head
                        && n_pinned < PINNED_BATCH
                    {
                        page::pin_linked(word);
                        pinned[n_pinned] = Some(e);
                        n_pinned += 1;
                    } else {
                        f(&e);
                    }
                }
            }
            drop(lock);
            for e in pinned.iter().flatten() {
                f(e);
                self.unpin(view, e.loc, wait);
            }
            pos = start + (1u64 << (32 - depth));
            if pos >= END {
                return Ok(0);
            }
            if passed >= count {
                return Ok(pos);
            }
        }
    }
}

/// The only mutable state is atomics, so sharing a table across threads is safe whenever the
/// memory itself may be shared.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Table<&'static [Word], &'static [Word]>>();
};

#[cfg(all(test, not(kv_loom)))]
mod tests {
    extern crate std;

    use super::*;
    use crate::WORD;
    use std::vec::Vec;

    #[test]
    fn keeping_a_deadline_the_item_has_no_field_for_asks_for_the_item_again() {
        let words = |bytes: usize| -> &'static [Word] {
            Vec::leak((0..bytes / WORD).map(|_| Word::new(0)).collect())
        };
        let t = Table::new(
            words(1 << 16),
            words(1 << 14),
            HashKey([5; 16]),
            Config::SMALL,
        )
        .unwrap();
        let at = Deadline::At(50);
        t.put_with(b"k", b"v", When::Always, at, None, &mut |_| {})
            .unwrap();
        // What a put that keeps the deadline writes if it looked before the key had one.
        let (loc, large) = t
            .arena
            .write_item(&t.budget, b"k", b"w", None, Wait::Block)
            .unwrap();
        let item = NewItem {
            loc,
            large,
            hdr: Header::new(1, 1, false),
            deadline: None,
        };
        let h = t.hash(b"k");
        let linked = t.link(
            h,
            b"k",
            Some(item),
            When::Always,
            true,
            None,
            None,
            Wait::Block,
        );
        assert!(matches!(linked, Ok(Linked::NeedsField)));
        t.arena.free_item(&t.budget, loc, Wait::Block);
        // Nothing changed.
        assert_eq!(t.deadline(b"k"), Ok(Some(Some(50))));
        assert_eq!(t.get_vec::<4>(b"k").unwrap().unwrap().as_slice(), b"v");
        assert_eq!((t.len(), t.expires()), (1, 1));
    }
}
