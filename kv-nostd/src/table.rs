//! The concurrent table: a fixed array of set-associative buckets with cuckoo displacement.
//!
//! Every key has two candidate buckets, `b1` from its hash and `b2 = alt(b1, tag)` from the 16-bit
//! tag stored beside it, so an entry can be moved to its other bucket without rehashing its key
//! (MemC3, libcuckoo). A put that finds both buckets full searches breadth-first, without locks,
//! for a path of moves that ends in a free slot, then executes it backwards: each hop copies an
//! entry into the free slot first and only then frees the source, so the *hole* travels and a key
//! is never absent from both of its buckets.
//!
//! Writers lock the buckets they touch, at most two at a time and always in index order, so no
//! cycle of waiters (deadlock) can form; a write to a key already present locks only the bucket
//! holding it, which every other writer or mover of that key must also lock. Readers lock
//! nothing: they read a bucket's version, copy, and check the version again, retrying on change
//! and locking after a bounded number of lost races. A hit is checked against its own bucket's
//! version; a miss against both buckets'.

use crate::bucket::{
    as_bytes, is_occupied, klen_of, meta, pack, store_bytes, tag_of, Bucket, Meta, Payload, WORD,
};
use crate::error::{Error, LayoutError};
use crate::hash::{sip13, HashKey};
use crate::sync::{fence, prefetch, spin_hint, AtomicUsize, Lock, LockGuard, Ordering, Version};

/// Optimistic reads a lookup tries before it takes the locks. Under the model checker one lost
/// race is enough, so that the locking fallback is explored.
const OPTIMISTIC_TRIES: usize = if cfg!(kv_loom) { 1 } else { 32 };

/// The longest cuckoo path, in moves.
const MAX_DEPTH: usize = 4;

/// Buckets the breadth-first path search may queue; the queue lives on the stack of `put`
/// (8 bytes a node).
pub const SEARCH_QUEUE: usize = 128;

/// Concurrent visitors (`visit`) that may run at once; more wait for a free place.
const VISITORS: usize = 2;
const NO_VISITOR: usize = usize::MAX;

/// Cuckoo moves remembered for resumable scans; a scan whose client falls further behind than
/// this restarts.
pub const MOVE_LOG: usize = 64;

/// The destinations of the most recent cuckoo moves, numbered. A resumable scan revisits the
/// destinations of moves made since its previous step, so an entry moved into a bucket the scan
/// has passed is not lost to it.
struct MoveLog {
    lock: Lock,
    /// Moves logged so far (wrapping).
    count: AtomicUsize,
    /// `dest[n % MOVE_LOG]` is the bucket move `n` carried an entry into.
    dest: [AtomicUsize; MOVE_LOG],
}

impl MoveLog {
    #[cfg(not(kv_loom))]
    const fn new() -> Self {
        Self {
            lock: Lock::new(),
            count: AtomicUsize::new(0),
            dest: [const { AtomicUsize::new(0) }; MOVE_LOG],
        }
    }

    #[cfg(kv_loom)]
    fn new() -> Self {
        Self {
            lock: Lock::new(),
            count: AtomicUsize::new(0),
            dest: core::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    /// The destinations of moves `since..` (the count now, and how many were copied into
    /// `out`), or `None` if more than [`MOVE_LOG`] were made and the oldest are forgotten.
    fn since(&self, since: usize, out: &mut [usize; MOVE_LOG]) -> Option<(usize, usize)> {
        let _guard = self.lock.lock();
        let now = self.count.load(Ordering::Relaxed);
        let n = now.wrapping_sub(since);
        if n > MOVE_LOG {
            return None;
        }
        for (k, o) in out.iter_mut().enumerate().take(n) {
            *o = self.dest[since.wrapping_add(k) % MOVE_LOG].load(Ordering::Relaxed);
        }
        Some((now, n))
    }

    fn now(&self) -> usize {
        let _guard = self.lock.lock();
        self.count.load(Ordering::Relaxed)
    }
}

/// Where a resumable [`Table::scan`] stands: the next bucket, and how many moves had been logged
/// when it last looked. [`ScanCursor::START`] starts a scan; a scan returns it when done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanCursor {
    bucket: usize,
    moves: usize,
}

impl ScanCursor {
    /// The cursor that starts a scan, and that a finished scan returns.
    pub const START: ScanCursor = ScanCursor {
        bucket: 0,
        moves: 0,
    };

    const BUCKET_BITS: u32 = 40;

    /// The cursor as one number, for a wire protocol: the bucket in the low 40 bits and the low
    /// 24 bits of the move count above them. [`ScanCursor::START`] is 0.
    pub fn to_u64(self) -> u64 {
        let moves = (self.moves as u64) & ((1 << (64 - Self::BUCKET_BITS)) - 1);
        (moves << Self::BUCKET_BITS) | (self.bucket as u64 & ((1 << Self::BUCKET_BITS) - 1))
    }

    /// The cursor [`ScanCursor::to_u64`] made. Any number is accepted: a bucket past the end
    /// finishes the scan, and a move count that does not match makes the scan restart.
    pub fn from_u64(n: u64) -> Self {
        Self {
            // Both fit: 40 and 24 bits, and a table has fewer than 2^40 buckets.
            bucket: usize::try_from(n & ((1 << Self::BUCKET_BITS) - 1)).unwrap_or(usize::MAX),
            moves: (n >> Self::BUCKET_BITS) as usize,
        }
    }

    /// A cursor that scans again from the first bucket; never equal to [`ScanCursor::START`],
    /// even once encoded, so the caller does not take it for the end.
    fn restart(moves: usize) -> Self {
        let mut c = ScanCursor { bucket: 0, moves };
        if c.to_u64() == 0 {
            // A count one lower reads as one extra logged move: a harmless revisit.
            c.moves = moves.wrapping_sub(1);
        }
        c
    }

    /// Whether this is [`ScanCursor::START`] (as given) or the end of a scan (as returned).
    pub fn is_start(self) -> bool {
        self == Self::START
    }
}

/// Whether a call may wait for a lock or must return [`Error::Busy`] instead.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    Block,
    Try,
}

impl Wait {
    /// Takes `lock`, waiting for it or answering [`Error::Busy`] as this mode says.
    fn lock(self, lock: &Lock) -> Result<LockGuard<'_>, Error> {
        match self {
            Wait::Block => Ok(lock.lock()),
            Wait::Try => lock.try_lock().ok_or(Error::Busy),
        }
    }
}

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

/// Receives the value a key held before a put, or `None` if it was absent.
pub type OldValue<'a> = &'a mut dyn FnMut(Option<&[u8]>);

/// Where a key may live.
#[derive(Clone, Copy)]
struct Loc {
    b1: usize,
    b2: usize,
    tag: u16,
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

/// A copy of one slot, taken while no writer was active.
#[derive(Clone, Copy)]
struct SlotCopy<const KW: usize, const VW: usize> {
    meta: Meta,
    vlen: usize,
    key: [usize; KW],
    value: [usize; VW],
}

impl<const KW: usize, const VW: usize> SlotCopy<KW, VW> {
    const EMPTY: Self = Self {
        meta: 0,
        vlen: 0,
        key: [0; KW],
        value: [0; VW],
    };
}

/// A value copied out of the table.
struct Found<const VW: usize> {
    words: [usize; VW],
    len: usize,
}

impl<const VW: usize> Found<VW> {
    fn read<const KW: usize>(slot: &Payload<KW, VW>) -> Self {
        let mut words = [0; VW];
        let len = slot.read_value_words(&mut words);
        Self { words, len }
    }

    fn bytes(&self) -> &[u8] {
        &as_bytes(&self.words)[..self.len]
    }
}

/// A fixed-capacity concurrent hash table with keys of up to `KW` words and values of up to `VW`
/// words stored inline, in buckets of `W` slots held by the storage `S`.
///
/// `S` is anything that lends a slice of buckets: an array (for a `static`), a `&'static` slice,
/// or a `Box<[Bucket]>` on a host. The bucket count must be a power of two. Capacity is fixed at
/// construction; the table never allocates.
///
/// # Calling from an interrupt handler
/// The blocking calls (`put`, `get_into`, `delete`, `visit`, ...) may spin on a bucket lock. On a
/// single core, an interrupt handler that spins on a lock held by the code it interrupted spins
/// forever. From interrupt context use only the `try_` calls: they never wait, and answer
/// [`Error::Busy`] when a bucket is locked or mid-write. The interrupted code may itself be a
/// reader or a writer of the same table; a `try_` write from the handler that completes makes an
/// interrupted optimistic reader retry, which is correct. Blocking calls are safe from thread
/// context, and from interrupt handlers only if no code of lower priority uses the table.
pub struct Table<S, const KW: usize, const VW: usize, const W: usize = 8> {
    buckets: S,
    mask: usize,
    hash_key: HashKey,
    len: AtomicUsize,
    /// Each running visit's progress (the bucket it is copying), or `NO_VISITOR`.
    visitors: [AtomicUsize; VISITORS],
    moves: MoveLog,
}

impl<const N: usize, const KW: usize, const VW: usize, const W: usize>
    Table<[Bucket<KW, VW, W>; N], KW, VW, W>
{
    /// A table that owns an array of `N` buckets; `N` must be a power of two (checked at compile
    /// time). A `const fn`, so the table can be a `static`:
    ///
    /// ```
    /// use kv_nostd::{Bucket, HashKey, Table};
    /// static TABLE: Table<[Bucket<2, 4, 4>; 16], 2, 4, 4> =
    ///     Table::from_array([const { Bucket::new() }; 16], HashKey([7; 16]));
    /// TABLE.put(b"k", b"v").unwrap();
    /// ```
    #[cfg(not(kv_loom))]
    pub const fn from_array(buckets: [Bucket<KW, VW, W>; N], hash_key: HashKey) -> Self {
        const { assert!(N.is_power_of_two(), "bucket count must be a power of two") };
        Self {
            buckets,
            mask: N - 1,
            hash_key,
            len: AtomicUsize::new(0),
            visitors: [const { AtomicUsize::new(NO_VISITOR) }; VISITORS],
            moves: MoveLog::new(),
        }
    }
}

impl<S, const KW: usize, const VW: usize, const W: usize> Table<S, KW, VW, W>
where
    S: AsRef<[Bucket<KW, VW, W>]>,
{
    /// The longest key, in bytes.
    pub const MAX_KEY: usize = KW * WORD;
    /// The longest value, in bytes.
    pub const MAX_VALUE: usize = VW * WORD;

    /// A table over `buckets`, whose count must be a non-zero power of two (and at most 2^32).
    /// The buckets should be empty; entries already in them are not counted by [`Table::len`].
    pub fn new(buckets: S, hash_key: HashKey) -> Result<Self, LayoutError> {
        let n = buckets.as_ref().len();
        if !n.is_power_of_two() || n as u64 > 1 << 32 {
            return Err(LayoutError::BucketCount(n));
        }
        Ok(Self {
            buckets,
            mask: n - 1,
            hash_key,
            len: AtomicUsize::new(0),
            visitors: core::array::from_fn(|_| AtomicUsize::new(NO_VISITOR)),
            moves: MoveLog::new(),
        })
    }

    /// The number of slots: the most entries the table can ever hold.
    pub fn capacity(&self) -> usize {
        self.buckets.as_ref().len() * W
    }

    /// The number of entries. Exact when no write is in flight.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the table holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts or overwrites `key`, reporting which it did.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<Put, Error> {
        self.put_inner(key, value, When::Always, None, None, Wait::Block)
            .map(|p| p.unwrap_or(Put::Replaced))
    }

    /// [`Table::put`] that never waits: [`Error::Busy`] if a bucket it needs is locked.
    pub fn try_put(&self, key: &[u8], value: &[u8]) -> Result<Put, Error> {
        self.put_inner(key, value, When::Always, None, None, Wait::Try)
            .map(|p| p.unwrap_or(Put::Replaced))
    }

    /// Writes `key` only `when` its presence allows; `Ok(None)` when it did not write.
    pub fn put_if(&self, key: &[u8], value: &[u8], when: When) -> Result<Option<Put>, Error> {
        self.put_inner(key, value, when, None, None, Wait::Block)
    }

    /// [`Table::put_if`] that also hands `old` the value the key held before the call (or `None`),
    /// read atomically with the write, as Redis `SET ... GET` needs.
    pub fn put_if_with_old(
        &self,
        key: &[u8],
        value: &[u8],
        when: When,
        old: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<Option<Put>, Error> {
        self.put_inner(key, value, when, Some(old), None, Wait::Block)
    }

    /// [`Table::put_if_with_old`] that also calls `then` after writing, while the key's bucket is
    /// still locked (both of its buckets, for an insert): every write to one key runs its `then`
    /// in the order the writes took effect, which is what an append-only log needs. `then` should
    /// be short (it delays other writers of those buckets) and must not use this table. `old` is
    /// optional here.
    pub fn put_if_then(
        &self,
        key: &[u8],
        value: &[u8],
        when: When,
        old: Option<OldValue<'_>>,
        then: &mut dyn FnMut(),
    ) -> Result<Option<Put>, Error> {
        self.put_inner(key, value, when, old, Some(then), Wait::Block)
    }

    /// Copies `key`'s value into `out`, returning its length, or `None` if the key is absent.
    ///
    /// `out[..len]` holds the value. The rest of `out`, and all of it when the answer is not a
    /// value, may have been overwritten with zeros: the copy is made while writers run, and a
    /// copy a writer disturbed is wiped, never left behind.
    pub fn get_into(&self, key: &[u8], out: &mut [u8]) -> Result<Option<usize>, Error> {
        self.get_into_inner(key, out, Wait::Block)
    }

    /// [`Table::get_into`] that never waits: [`Error::Busy`] if the key's buckets are being written.
    pub fn try_get_into(&self, key: &[u8], out: &mut [u8]) -> Result<Option<usize>, Error> {
        self.get_into_inner(key, out, Wait::Try)
    }

    /// `key`'s value as a `heapless::Vec` of capacity `N`.
    pub fn get_vec<const N: usize>(
        &self,
        key: &[u8],
    ) -> Result<Option<heapless::Vec<u8, N>>, Error> {
        match self.lookup(key, Wait::Block, Found::read)? {
            None => Ok(None),
            Some(found) => heapless::Vec::from_slice(found.bytes())
                .map(Some)
                .map_err(|_| Error::BufferTooSmall {
                    needed: found.len,
                    len: N,
                }),
        }
    }

    /// Calls `f` with `key`'s value (copied out of the table first), returning what `f` returns,
    /// or `None` if the key is absent.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, Error> {
        Ok(self
            .lookup(key, Wait::Block, Found::read)?
            .map(|v| f(v.bytes())))
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> Result<bool, Error> {
        Ok(self.lookup(key, Wait::Block, |_| ())?.is_some())
    }

    /// [`Table::contains`] that never waits.
    pub fn try_contains(&self, key: &[u8]) -> Result<bool, Error> {
        Ok(self.lookup(key, Wait::Try, |_| ())?.is_some())
    }

    /// Removes `key`, reporting whether it was present.
    pub fn delete(&self, key: &[u8]) -> Result<bool, Error> {
        self.delete_inner(key, None, Wait::Block)
    }

    /// [`Table::delete`] that calls `then`, if the key was present, while the bucket that held it
    /// is still locked (see [`Table::put_if_then`]).
    pub fn delete_then(&self, key: &[u8], then: &mut dyn FnMut()) -> Result<bool, Error> {
        self.delete_inner(key, Some(then), Wait::Block)
    }

    /// [`Table::delete`] that never waits.
    pub fn try_delete(&self, key: &[u8]) -> Result<bool, Error> {
        self.delete_inner(key, None, Wait::Try)
    }

    /// Removes every entry, bucket by bucket; returns how many it removed. Writes that run
    /// concurrently may land before or after their bucket is cleared.
    pub fn clear(&self) -> usize {
        self.clear_then(&mut |_| {})
    }

    /// [`Table::clear`] that calls `then(key)` for each entry it removes, while that entry's
    /// bucket is still locked (see [`Table::put_if_then`]).
    pub fn clear_then(&self, then: &mut dyn FnMut(&[u8])) -> usize {
        let mut removed = 0;
        for b in self.buckets.as_ref() {
            let _guard = b.lock.lock();
            let v = b.begin_write();
            for (m, slot) in b.meta.iter().zip(&b.slots) {
                let meta = m.load(Ordering::Relaxed);
                if is_occupied(meta) {
                    m.store(0, Ordering::Relaxed);
                    removed += 1;
                    let mut key = [0usize; KW];
                    for (k, a) in key.iter_mut().zip(&slot.key) {
                        *k = a.load(Ordering::Relaxed);
                    }
                    then(&as_bytes(&key)[..klen_of(meta).min(Self::MAX_KEY)]);
                }
            }
            b.end_write(v);
        }
        self.len.fetch_sub(removed, Ordering::Relaxed);
        removed
    }

    /// Calls `f(key, value)` for every entry, while writers keep running.
    ///
    /// Each pair is consistent: the value is one its key held. Every key present for the whole
    /// visit is visited exactly once, with some value it held during the visit; a key inserted or
    /// deleted during the visit may or may not be visited. At most two visits run at once; a
    /// third waits. A cuckoo move between a bucket a visit has finished and one it has yet to
    /// read waits until the visit has passed both, so `f` should be quick, and must not write to
    /// this table (a write that needs such a move would wait for the visit that waits for it).
    pub fn visit(&self, f: impl FnMut(&[u8], &[u8])) {
        // Blocking mode never answers Busy.
        let _ = self.visit_inner(f, Wait::Block);
    }

    /// [`Table::visit`] that never waits; [`Error::Busy`] if a bucket stays locked or two visits
    /// are already running. Entries visited before the error were passed to `f`.
    pub fn try_visit(&self, f: impl FnMut(&[u8], &[u8])) -> Result<(), Error> {
        self.visit_inner(f, Wait::Try)
    }

    /// One step of a resumable scan, like Redis `SCAN`: calls `f(key, value)` for the entries of
    /// about `buckets` buckets from `cursor`, and returns the cursor for the next step, which is
    /// [`ScanCursor::START`] when the scan is done. Nothing is held between steps.
    ///
    /// Pairs are consistent, as for [`Table::visit`]. Every key present from the first step to
    /// the last is passed to `f` at least once; some keys may be passed more than once (a step
    /// revisits the buckets that cuckoo moves filled behind the cursor since the previous step,
    /// and a scan whose steps are more than [`MOVE_LOG`] moves apart starts over).
    pub fn scan(
        &self,
        cursor: ScanCursor,
        buckets: usize,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> ScanCursor {
        let n = self.buckets().len();
        let mut copy = [SlotCopy::<KW, VW>::EMPTY; W];
        let mut emit_bucket = |bi: usize, f: &mut dyn FnMut(&[u8], &[u8])| {
            // Blocking mode never answers Busy.
            if self.copy_bucket(bi, &mut copy, Wait::Block).is_ok() {
                for c in copy.iter().filter(|c| is_occupied(c.meta)) {
                    let klen = klen_of(c.meta).min(Self::MAX_KEY);
                    f(&as_bytes(&c.key)[..klen], &as_bytes(&c.value)[..c.vlen]);
                }
            }
        };
        let mut dests = [0usize; MOVE_LOG];
        let (mut next, mut moves) = if cursor.is_start() {
            (0, self.moves.now())
        } else {
            (cursor.bucket.min(n), cursor.moves)
        };
        // Revisit the buckets behind the cursor that moves have filled since the last step.
        match self.moves.since(moves, &mut dests) {
            Some((now, count)) => {
                for &d in &dests[..count] {
                    if d < next {
                        emit_bucket(d, &mut f);
                    }
                }
                moves = now;
            }
            None => {
                next = 0;
                moves = self.moves.now();
            }
        }
        if next >= n {
            // Only the final look at the log was left.
            next = n;
        }
        let end = next.saturating_add(buckets.max(1)).min(n);
        for bi in next..end {
            emit_bucket(bi, &mut f);
        }
        if end < n {
            return ScanCursor { bucket: end, moves };
        }
        // The whole table has been passed: revisit what moves filled meanwhile until a look at
        // the log finds no new move, so nothing moved behind the cursor during the last step.
        for _ in 0..4 {
            match self.moves.since(moves, &mut dests) {
                Some((_, 0)) => return ScanCursor::START,
                Some((now, count)) => {
                    for &d in &dests[..count] {
                        emit_bucket(d, &mut f);
                    }
                    moves = now;
                }
                None => return ScanCursor::restart(self.moves.now()),
            }
        }
        ScanCursor { bucket: n, moves }
    }

    /// The candidate buckets of `key`, for tests that need keys sharing buckets.
    #[doc(hidden)]
    pub fn buckets_of(&self, key: &[u8]) -> (usize, usize) {
        let loc = self.locate(key);
        (loc.b1, loc.b2)
    }

    fn buckets(&self) -> &[Bucket<KW, VW, W>] {
        self.buckets.as_ref()
    }

    #[inline]
    fn bucket(&self, i: usize) -> &Bucket<KW, VW, W> {
        &self.buckets()[i & self.mask]
    }

    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn locate(&self, key: &[u8]) -> Loc {
        let h = sip13(&self.hash_key, key);
        // Truncation keeps the low bits for the bucket; the tag takes the top 16.
        let b1 = (h as usize) & self.mask;
        let tag = (h >> 48) as u16;
        Loc {
            b1,
            b2: self.alt(b1, tag),
            tag,
        }
    }

    /// The other bucket of an entry with `tag` in bucket `b`; `alt(alt(b)) == b`.
    #[inline]
    fn alt(&self, b: usize, tag: u16) -> usize {
        let mixed = (u64::from(tag) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        let mut off = (mixed as usize) & self.mask;
        if off == 0 {
            off = 1 & self.mask;
        }
        b ^ off
    }

    #[inline]
    fn check_key(key: &[u8]) -> Result<(), Error> {
        if key.len() > Self::MAX_KEY {
            return Err(Error::KeyTooLong {
                len: key.len(),
                max: Self::MAX_KEY,
            });
        }
        Ok(())
    }

    #[inline]
    fn check_value(value: &[u8]) -> Result<(), Error> {
        if value.len() > Self::MAX_VALUE {
            return Err(Error::ValueTooLong {
                len: value.len(),
                max: Self::MAX_VALUE,
            });
        }
        Ok(())
    }

    fn get_into_inner(
        &self,
        key: &[u8],
        out: &mut [u8],
        wait: Wait,
    ) -> Result<Option<usize>, Error> {
        let room = out.len();
        // How much of `out` copies have written, counted or not.
        let mut written = 0;
        let found = self.lookup(key, wait, |slot| {
            let len = slot.read_value_into(out);
            if len <= room {
                written = written.max(len);
            }
            len
        });
        let result = match found {
            Ok(Some(len)) if len > room => Err(Error::BufferTooSmall {
                needed: len,
                len: room,
            }),
            other => other,
        };
        // A copy that did not count (torn by a writer, or of a value deleted before the answer)
        // must not leave another value's bytes in the caller's buffer.
        let kept = match result {
            Ok(Some(len)) => len,
            _ => 0,
        };
        if written > kept {
            out[kept..written].fill(0);
        }
        result
    }

    /// Locks buckets `a` and `b` (one lock if they are the same), lower index first.
    fn lock_pair(
        &self,
        a: usize,
        b: usize,
        wait: Wait,
    ) -> Result<(LockGuard<'_>, Option<LockGuard<'_>>), Error> {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let take = |i: usize| wait.lock(&self.bucket(i).lock);
        let first = take(lo)?;
        let second = if hi == lo { None } else { Some(take(hi)?) };
        Ok((first, second))
    }

    /// The slot of bucket `b` holding the key packed in `kw` with length `klen`, if any.
    /// Reads are `Relaxed`: the caller holds the lock or validates the version afterwards.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn find_in(b: &Bucket<KW, VW, W>, tag: u16, klen: usize, kw: &[usize; KW]) -> Option<usize> {
        let want = meta(tag, klen);
        // Every metadata word is compared first, without a branch (`W <= 64`), so the loads can
        // all be in flight at once; only the slots whose word matches have their keys compared.
        let mut matches = 0u64;
        for (i, m) in b.meta.iter().enumerate() {
            matches |= u64::from(m.load(Ordering::Relaxed) == want) << i;
        }
        let n = klen.div_ceil(WORD);
        while matches != 0 {
            let i = matches.trailing_zeros() as usize;
            matches &= matches - 1;
            let key = &b.slots[i].key[..n];
            if key
                .iter()
                .zip(&kw[..n])
                .all(|(a, w)| a.load(Ordering::Relaxed) == *w)
            {
                return Some(i);
            }
        }
        None
    }

    /// Finds `key` and returns what `read` made of its slot, from a read no writer disturbed.
    /// `read` may run more than once, on copies that turn out torn; only the result of its last
    /// run is returned, so it must not act on what it reads, only copy it.
    #[inline]
    fn lookup<T>(
        &self,
        key: &[u8],
        wait: Wait,
        mut read: impl FnMut(&Payload<KW, VW>) -> T,
    ) -> Result<Option<T>, Error> {
        Self::check_key(key)?;
        let loc = self.locate(key);
        let kw: [usize; KW] = pack(key);
        let klen = key.len();
        let (b1, b2) = (self.bucket(loc.b1), self.bucket(loc.b2));
        // A miss in `b1` reads `b2`: start that load now rather than after the search of `b1`.
        prefetch(b2);
        for _ in 0..OPTIMISTIC_TRIES {
            let v1 = b1.version.load(Ordering::Acquire);
            if v1 & 1 == 0 {
                if let Some(i) = Self::find_in(b1, loc.tag, klen, &kw) {
                    // A hit needs only its own bucket unchanged: the copy is then the slot as it
                    // stood at one moment.
                    let got = read(&b1.slots[i]);
                    // The copy must complete before the version is read again.
                    fence(Ordering::Acquire);
                    if b1.version.load(Ordering::Relaxed) == v1 {
                        return Ok(Some(got));
                    }
                } else {
                    // A miss needs both buckets unchanged over one stretch of time that both
                    // searches fall in: `v2` is read after `b1` was searched, and `v1` checked
                    // after `b2` was. An entry being moved is in one of the two throughout.
                    let v2 = b2.version.load(Ordering::Acquire);
                    if v2 & 1 == 0 {
                        let found =
                            Self::find_in(b2, loc.tag, klen, &kw).map(|i| read(&b2.slots[i]));
                        fence(Ordering::Acquire);
                        if b1.version.load(Ordering::Relaxed) == v1
                            && b2.version.load(Ordering::Relaxed) == v2
                        {
                            return Ok(found);
                        }
                    } else if wait == Wait::Try {
                        return Err(Error::Busy);
                    }
                }
            } else if wait == Wait::Try {
                return Err(Error::Busy);
            }
            spin_hint();
        }
        // Writers kept winning: read under the locks, which always terminates.
        let _guards = self.lock_pair(loc.b1, loc.b2, wait)?;
        for b in [b1, b2] {
            if let Some(i) = Self::find_in(b, loc.tag, klen, &kw) {
                return Ok(Some(read(&b.slots[i])));
            }
        }
        Ok(None)
    }

    /// The lock of the bucket holding `key`, with the bucket and the slot, when a look without
    /// locks finds the key and it is still there once that lock is held. `None` proves nothing:
    /// the key may be absent, or have moved meanwhile.
    fn lock_holder(
        &self,
        loc: &Loc,
        klen: usize,
        kw: &[usize; KW],
        wait: Wait,
    ) -> Result<Option<(LockGuard<'_>, &Bucket<KW, VW, W>, usize)>, Error> {
        for bi in [loc.b1, loc.b2] {
            let b = self.bucket(bi);
            if Self::find_in(b, loc.tag, klen, kw).is_none() {
                continue;
            }
            let guard = wait.lock(&b.lock)?;
            return Ok(Self::find_in(b, loc.tag, klen, kw).map(|i| (guard, b, i)));
        }
        Ok(None)
    }

    /// Replaces the value in slot `i` of `b`, which holds the key being put; the caller holds the
    /// lock of `b`, which is all a writer of a present key needs: any other writer of that key,
    /// and any move of it, takes that lock too.
    fn overwrite(
        b: &Bucket<KW, VW, W>,
        i: usize,
        value: &[u8],
        when: When,
        old: Option<&mut OldValue<'_>>,
        then: Option<&mut &mut dyn FnMut()>,
    ) -> Option<Put> {
        let slot = &b.slots[i];
        if let Some(old) = old {
            old(Some(Found::read(slot).bytes()));
        }
        if when == When::IfAbsent {
            return None;
        }
        let v = b.begin_write();
        slot.vlen.store(value.len(), Ordering::Relaxed);
        store_bytes(&slot.value, value);
        b.end_write(v);
        if let Some(then) = then {
            then();
        }
        Some(Put::Replaced)
    }

    /// Frees slot `i` of `b`, which holds the key being deleted; the caller holds the lock of `b`
    /// (see [`Table::overwrite`]).
    fn remove(&self, b: &Bucket<KW, VW, W>, i: usize, then: Option<&mut dyn FnMut()>) {
        let v = b.begin_write();
        b.meta[i].store(0, Ordering::Relaxed);
        b.end_write(v);
        self.len.fetch_sub(1, Ordering::Relaxed);
        if let Some(then) = then {
            then();
        }
    }

    fn put_inner(
        &self,
        key: &[u8],
        value: &[u8],
        when: When,
        mut old: Option<OldValue<'_>>,
        mut then: Option<&mut dyn FnMut()>,
        wait: Wait,
    ) -> Result<Option<Put>, Error> {
        Self::check_key(key)?;
        Self::check_value(value)?;
        let loc = self.locate(key);
        let kw: [usize; KW] = pack(key);
        if let Some((_guard, b, i)) = self.lock_holder(&loc, key.len(), &kw, wait)? {
            return Ok(Self::overwrite(
                b,
                i,
                value,
                when,
                old.as_mut(),
                then.as_mut(),
            ));
        }
        loop {
            let guards = self.lock_pair(loc.b1, loc.b2, wait)?;
            for bi in [loc.b1, loc.b2] {
                let b = self.bucket(bi);
                if let Some(i) = Self::find_in(b, loc.tag, key.len(), &kw) {
                    let (old, then) = (old.as_mut(), then.as_mut());
                    return Ok(Self::overwrite(b, i, value, when, old, then));
                }
            }
            if let Some(old) = old.as_mut() {
                old(None);
            }
            if when == When::IfPresent {
                return Ok(None);
            }
            for bi in [loc.b1, loc.b2] {
                let b = self.bucket(bi);
                let free = (0..W).find(|&i| !is_occupied(b.meta[i].load(Ordering::Relaxed)));
                let Some(i) = free else { continue };
                let v = b.begin_write();
                let slot = &b.slots[i];
                store_bytes(&slot.key, key);
                slot.vlen.store(value.len(), Ordering::Relaxed);
                store_bytes(&slot.value, value);
                b.meta[i].store(meta(loc.tag, key.len()), Ordering::Relaxed);
                b.end_write(v);
                self.len.fetch_add(1, Ordering::Relaxed);
                if let Some(then) = then.as_mut() {
                    then();
                }
                return Ok(Some(Put::Inserted));
            }
            drop(guards);
            if !self.make_room(&loc, wait)? {
                return Err(Error::NoSpace);
            }
            // A slot was freed in one of the key's buckets, or the path went stale because others
            // wrote meanwhile; either way, look again.
        }
    }

    fn delete_inner(
        &self,
        key: &[u8],
        then: Option<&mut dyn FnMut()>,
        wait: Wait,
    ) -> Result<bool, Error> {
        Self::check_key(key)?;
        let loc = self.locate(key);
        let kw: [usize; KW] = pack(key);
        if let Some((_guard, b, i)) = self.lock_holder(&loc, key.len(), &kw, wait)? {
            self.remove(b, i, then);
            return Ok(true);
        }
        let _guards = self.lock_pair(loc.b1, loc.b2, wait)?;
        for bi in [loc.b1, loc.b2] {
            let b = self.bucket(bi);
            if let Some(i) = Self::find_in(b, loc.tag, key.len(), &kw) {
                self.remove(b, i, then);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Frees a slot in one of `loc`'s buckets by a chain of cuckoo moves. `Ok(false)` when no
    /// path exists within the search bounds: the table is full around this key.
    fn make_room(&self, loc: &Loc, wait: Wait) -> Result<bool, Error> {
        let mut path = [Hop::default(); MAX_DEPTH + 1];
        let Some(len) = self.search_path(loc.b1, loc.b2, &mut path) else {
            return Ok(false);
        };
        // Move the hole backwards along the path: the last hop's entry goes into the free slot
        // first, so every entry is in one of its buckets at every moment.
        for j in (0..len - 1).rev() {
            if !self.move_entry(path[j], path[j + 1], wait)? {
                spin_hint();
                break;
            }
        }
        Ok(true)
    }

    /// Breadth-first search, without locks, for a path from `b1` or `b2` to a free slot. Fills
    /// `path` from the start bucket to the free slot and returns its length in slots.
    fn search_path(&self, b1: usize, b2: usize, path: &mut [Hop; MAX_DEPTH + 1]) -> Option<usize> {
        const ROOT: u16 = u16::MAX;
        let mut queue = [Node {
            bucket: 0,
            parent: ROOT,
            slot: 0,
            depth: 0,
        }; SEARCH_QUEUE];
        // Bucket indices fit in u32: `new` admits at most 2^32 buckets.
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
            let b = self.bucket(bi);
            let metas: [Meta; W] = core::array::from_fn(|i| b.meta[i].load(Ordering::Relaxed));
            if let Some(free) = metas.iter().position(|&m| !is_occupied(m)) {
                return Some(Self::trace(&queue, head, free, path));
            }
            if usize::from(node.depth) < MAX_DEPTH {
                for (s, &m) in metas.iter().enumerate() {
                    if tail == SEARCH_QUEUE {
                        break;
                    }
                    let next = self.alt(bi, tag_of(m));
                    if next == bi {
                        continue;
                    }
                    queue[tail] = Node {
                        bucket: next as u32,
                        parent: head as u16,
                        // W <= 64 (checked by Bucket) and depth <= MAX_DEPTH.
                        slot: s as u8,
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
    fn trace(queue: &[Node], at: usize, free: usize, path: &mut [Hop; MAX_DEPTH + 1]) -> usize {
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
    /// `from` holds an entry whose other bucket is `to.bucket`, and `to` is free. `Ok(false)` if
    /// not, or if a running visit forbids the move for now.
    fn move_entry(&self, from: Hop, to: Hop, wait: Wait) -> Result<bool, Error> {
        // A move a visit already forbids is not tried: trying would bump versions the visit is
        // copying, making it copy again, and the two could keep each other from progressing.
        // The check after the bump below is the one correctness rests on.
        if self.visit_forbids(from.bucket, to.bucket) {
            return if wait == Wait::Try {
                Err(Error::Busy)
            } else {
                Ok(false)
            };
        }
        let _guards = self.lock_pair(from.bucket, to.bucket, wait)?;
        let (src, dst) = (self.bucket(from.bucket), self.bucket(to.bucket));
        let m = src.meta[from.slot].load(Ordering::Relaxed);
        if !is_occupied(m)
            || self.alt(from.bucket, tag_of(m)) != to.bucket
            || is_occupied(dst.meta[to.slot].load(Ordering::Relaxed))
        {
            return Ok(false);
        }
        // Both versions are bumped before the visitors are read: see `visit_buckets`.
        let vd = dst.begin_write();
        let vs = src.begin_write();
        // The move is logged under the same lock that scans read the log with, so a scan sees
        // either the entry where it was or the move that carried it away.
        let log = match wait {
            Wait::Block => Some(self.moves.lock.lock()),
            Wait::Try => self.moves.lock.try_lock(),
        };
        if log.is_none() || self.visit_forbids(from.bucket, to.bucket) {
            dst.end_write(vd);
            src.end_write(vs);
            return if wait == Wait::Try {
                Err(Error::Busy)
            } else {
                Ok(false)
            };
        }
        src.copy_payload(from.slot, &dst.slots[to.slot]);
        dst.meta[to.slot].store(m, Ordering::Relaxed);
        src.meta[from.slot].store(0, Ordering::Relaxed);
        let count = self.moves.count.load(Ordering::Relaxed);
        self.moves.dest[count % MOVE_LOG].store(to.bucket, Ordering::Relaxed);
        self.moves
            .count
            .store(count.wrapping_add(1), Ordering::Relaxed);
        drop(log);
        dst.end_write(vd);
        src.end_write(vs);
        Ok(true)
    }

    /// Whether a move between buckets `from` and `to` could hide an entry from a running visit
    /// or show it twice: the visit is copying one of them, or has copied one and not the other.
    /// A visit's cursor is the bucket it is copying; those below it are done.
    fn visit_forbids(&self, from: usize, to: usize) -> bool {
        let (lo, hi) = (from.min(to), from.max(to));
        self.visitors.iter().any(|c| {
            let cursor = c.load(Ordering::Acquire);
            lo <= cursor && cursor <= hi
        })
    }

    /// Copies bucket `bi` while no writer is inside; returns the version the copy belongs to.
    fn copy_bucket(
        &self,
        bi: usize,
        out: &mut [SlotCopy<KW, VW>; W],
        wait: Wait,
    ) -> Result<Version, Error> {
        let b = self.bucket(bi);
        let copy = |out: &mut [SlotCopy<KW, VW>; W]| {
            for (i, c) in out.iter_mut().enumerate() {
                c.meta = b.meta[i].load(Ordering::Relaxed);
                if is_occupied(c.meta) {
                    c.vlen = b.slots[i].read_value_words(&mut c.value);
                    for (k, a) in c.key.iter_mut().zip(&b.slots[i].key) {
                        *k = a.load(Ordering::Relaxed);
                    }
                }
            }
        };
        for _ in 0..OPTIMISTIC_TRIES {
            let v = b.version.load(Ordering::Acquire);
            if v & 1 == 1 {
                if wait == Wait::Try {
                    return Err(Error::Busy);
                }
                spin_hint();
                continue;
            }
            copy(out);
            fence(Ordering::Acquire);
            if b.version.load(Ordering::Relaxed) == v {
                return Ok(v);
            }
            spin_hint();
        }
        let _guard = wait.lock(&b.lock)?;
        copy(out);
        Ok(b.version.load(Ordering::Relaxed))
    }

    fn visit_inner(&self, mut f: impl FnMut(&[u8], &[u8]), wait: Wait) -> Result<(), Error> {
        let cursor = loop {
            let free = self.visitors.iter().find(|c| {
                c.compare_exchange(NO_VISITOR, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            });
            match free {
                Some(c) => break c,
                None if wait == Wait::Try => return Err(Error::Busy),
                None => spin_hint(),
            }
        };
        let result = self.visit_buckets(cursor, &mut f, wait);
        cursor.store(NO_VISITOR, Ordering::Release);
        result
    }

    fn visit_buckets(
        &self,
        cursor: &AtomicUsize,
        f: &mut impl FnMut(&[u8], &[u8]),
        wait: Wait,
    ) -> Result<(), Error> {
        let mut copy = [SlotCopy::<KW, VW>::EMPTY; W];
        for bi in 0..self.buckets().len() {
            // Freeze this bucket against moves, then copy it. The freeze is published before a
            // read-modify-write of the bucket's version, and a mover bumps that version before
            // it reads the cursors: so either the mover sees the freeze and leaves the entry
            // where it is, or its bump comes first and the copy below waits for its move to end.
            cursor.store(bi, Ordering::Release);
            self.bucket(bi).version.fetch_add(0, Ordering::AcqRel);
            self.copy_bucket(bi, &mut copy, wait)?;
            for c in copy.iter().filter(|c| is_occupied(c.meta)) {
                let klen = klen_of(c.meta).min(Self::MAX_KEY);
                f(&as_bytes(&c.key)[..klen], &as_bytes(&c.value)[..c.vlen]);
            }
        }
        Ok(())
    }
}

/// The only mutable state is atomics and locks, so sharing a table across threads is safe
/// whenever the storage itself may be shared.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Table<&'static [Bucket<2, 8>], 2, 8>>();
    assert_send_sync::<Bucket<2, 8>>();
};
