//! Atomic operations on several keys: [`Table::locked`] locks the buckets of a set of keys in
//! one global order, runs the caller's closure over them, and releases them. `MSET`, `MSETNX`,
//! `RENAME`, `COPY` and a `DEL` of several keys are each one call.
//!
//! - **Deadlock-free.** Each key has two candidate buckets; all of them are locked in the order
//!   of (segment number, bucket number), each once. Every other path locks at most one segment's
//!   buckets, in bucket order (a pair, or all of them for a split, a merge or a scan step), and a
//!   merge locks its two segments in number order; so no cycle of waiters can form.
//! - **Nobody sees part of it.** Once every bucket is locked, every one of them is put in the
//!   *writing* state before the closure runs, and all leave it after it returns. An optimistic
//!   reader of any of the keys retries until then; a reader that saw one key's new value reads
//!   any other key afterwards, and that key's bucket was already *writing* when the first left
//!   it, so it sees the other's new value too. The closure should be quick: readers of those
//!   buckets wait for it.
//! - **Room for inserts.** A key absent when the buckets are locked needs a free slot in one of
//!   its two buckets, and there is no cuckoo move or split under these locks. So before the
//!   closure runs, a free slot is set aside for every absent key (when the caller says it may
//!   insert); if one is missing, the locks are released, room is made for that key as a put
//!   would make it (cuckoo moves, or a split), and everything starts again.
//! - **All or nothing for memory.** New items are written by [`Locked::prepare`] while the locks
//!   are held and linked by [`Locked::link`]; a caller that prepares every item before linking
//!   any makes no change at all when memory runs out.
//!
//! A segment whose split word changed between the lookup and the locking (a split or merge got
//! there first) makes the call start again.

use crate::bucket::{Bucket, LOCKED};
use crate::error::Error;
use crate::item::Header;
use crate::memory::Memory;
use crate::scan::Entry;
use crate::segment::Place;
use crate::slot::Slot;
use crate::sync::{spin_hint, Ordering, Wait};
use crate::table::{Put, Removed, Table};

/// No slot set aside for a key (it is present, or the call does not insert).
const NO_SLOT: usize = usize::MAX;

/// Scratch space for [`Table::locked`], which needs three per key; [`Held::EMPTY`] fills it.
/// For a bucket, `reserved` counts the slots set aside in it; for a key, it is the bucket set
/// aside for it, or [`NO_SLOT`].
#[derive(Clone, Copy, Debug)]
pub struct Held {
    seg: usize,
    bucket: usize,
    sw: usize,
    h: u64,
    reserved: usize,
}

impl Held {
    /// An unused entry.
    pub const EMPTY: Self = Self {
        seg: 0,
        bucket: 0,
        sw: 0,
        h: 0,
        reserved: 0,
    };
}

/// The bucket locks of a [`Table::locked`] call; on drop, the writes begun end and the locks
/// are released (also when the closure panics).
struct Locks<'a, I: Memory> {
    index: &'a crate::index::Index<I>,
    held: &'a [Held],
    taken: usize,
    writing: bool,
}

impl<I: Memory> Locks<'_, I> {
    fn bucket(&self, b: &Held) -> Bucket<'_> {
        self.index.segment(b.seg).bucket(b.bucket)
    }

    /// Puts every bucket in the *writing* state.
    fn begin_writes(&mut self) {
        self.held.iter().for_each(|b| self.bucket(b).begin_write());
        self.writing = true;
    }
}

impl<I: Memory> Drop for Locks<'_, I> {
    fn drop(&mut self) {
        for b in &self.held[..self.taken] {
            let bucket = self.bucket(b);
            if self.writing {
                bucket.end_write();
            }
            bucket.header().fetch_and(!LOCKED, Ordering::Release);
        }
    }
}

/// The keys of one [`Table::locked`] call, their buckets locked: what its closure works on.
/// Keys are named by their index in the call's `keys`.
pub struct Locked<'a, A: Memory, I: Memory> {
    table: &'a Table<A, I>,
    keys: &'a [&'a [u8]],
    per_key: &'a mut [Held],
}

/// A new item for a key of a [`Locked`] call, written and not yet linked; freed if dropped
/// unlinked.
pub struct Prepared<'a, A: Memory, I: Memory> {
    table: &'a Table<A, I>,
    key: usize,
    loc: usize,
    large: bool,
    deadline: Option<u64>,
}

impl<A: Memory, I: Memory> Drop for Prepared<'_, A, I> {
    fn drop(&mut self) {
        if self.loc != usize::MAX {
            // Never linked, so never seen.
            self.table
                .arena
                .free_item(&self.table.budget, self.loc, Wait::Block);
        }
    }
}

impl<A: Memory, I: Memory> Table<A, I> {
    /// Locks the buckets of `keys` (see the module docs), runs `f` over them, and releases
    /// them; returns what `f` returned. `scratch` needs `3 * keys.len()` entries. With
    /// `inserts`, every absent key has a slot set aside, so [`Locked::link`] can insert any of
    /// them; without, it can only replace. Keys may repeat.
    ///
    /// Errors: a key too long, [`Error::BufferTooSmall`] for too little scratch, and
    /// [`Error::NoSpace`] when the index has no room for a key to insert.
    pub fn locked<R>(
        &self,
        keys: &[&[u8]],
        scratch: &mut [Held],
        inserts: bool,
        f: impl FnOnce(&mut Locked<'_, A, I>) -> R,
    ) -> Result<R, Error> {
        self.locked_inner(keys, scratch, inserts, true, f)
    }

    /// Reads `keys` at one instant: locks their buckets as [`Table::locked`] does and runs `f`
    /// over them, which can only read (`Locked::entry`). No writer of any of the keys runs
    /// meanwhile, so `f` sees all of a `locked` call's writes or none; the buckets are not
    /// put in the *writing* state, so readers of them go on undisturbed. Redis's `MGET`.
    pub fn read_locked<R>(
        &self,
        keys: &[&[u8]],
        scratch: &mut [Held],
        f: impl FnOnce(&Locked<'_, A, I>) -> R,
    ) -> Result<R, Error> {
        self.locked_inner(keys, scratch, false, false, |l| f(l))
    }

    fn locked_inner<R>(
        &self,
        keys: &[&[u8]],
        scratch: &mut [Held],
        inserts: bool,
        writes: bool,
        f: impl FnOnce(&mut Locked<'_, A, I>) -> R,
    ) -> Result<R, Error> {
        let n = keys.len();
        if scratch.len() < 3 * n {
            return Err(Error::BufferTooSmall {
                needed: 3 * n,
                len: scratch.len(),
            });
        }
        for k in keys {
            self.check_key(k)?;
        }
        self.arena.drain_deferred(&self.budget);
        let (per_key, rest) = scratch.split_at_mut(n);
        let buckets = &mut rest[..2 * n];
        for (held, key) in per_key.iter_mut().zip(keys) {
            held.h = self.hash(key);
        }
        // Rounds that made room by cuckoo moves. Two keys short of room in one neighbourhood
        // could take turns: the moves for one fill the slot the other had set aside, and back.
        // After a move that did not settle it the segment splits, which always makes room.
        let mut moves = 0;
        loop {
            for (i, k) in per_key.iter_mut().enumerate() {
                // Blocking mode never answers Busy.
                let (seg, id, sw) = self.index.locate(k.h, Wait::Block)?;
                let place = Place::of(k.h, seg.mask);
                (k.seg, k.sw) = (id, sw);
                for (b, bucket) in [place.b1, place.b2].into_iter().enumerate() {
                    buckets[2 * i + b] = Held {
                        seg: id,
                        bucket,
                        ..*k
                    };
                }
            }
            buckets.sort_unstable_by_key(|b| (b.seg, b.bucket));
            let mut m = 0;
            for k in 0..buckets.len() {
                if m == 0
                    || (buckets[m - 1].seg, buckets[m - 1].bucket)
                        != (buckets[k].seg, buckets[k].bucket)
                {
                    buckets[m] = buckets[k];
                    m += 1;
                }
            }
            let held = &mut buckets[..m];
            for (k, b) in held.iter().enumerate() {
                let bucket = self.index.segment(b.seg).bucket(b.bucket);
                // Blocking mode never answers Busy; were it to, the locks taken go back.
                if let Err(e) = bucket.lock(Wait::Block).map(|g| g.keep()) {
                    drop(Locks {
                        index: &self.index,
                        held,
                        taken: k,
                        writing: false,
                    });
                    return Err(e);
                }
            }
            // Every bucket locked: a split or merge of these segments cannot start, so the
            // split words seen now hold until the end.
            let moved = per_key
                .iter()
                .any(|k| self.index.segment(k.seg).split().load(Ordering::Relaxed) != k.sw);
            let short = if !moved && inserts {
                self.reserve(keys, &mut *per_key, held)
            } else {
                per_key.iter_mut().for_each(|k| k.reserved = NO_SLOT);
                None
            };
            let mut locks = Locks {
                index: &self.index,
                held,
                taken: held.len(),
                writing: false,
            };
            if moved {
                drop(locks);
                spin_hint();
                continue;
            }
            if let Some(i) = short {
                drop(locks);
                let k = per_key[i];
                let seg = self.index.segment(k.seg);
                let place = Place::of(k.h, seg.mask);
                // Both buckets full: room is made as for a put. Free slots all set aside for
                // other keys of this call: a cuckoo move would find one of them, so the
                // segment splits.
                let full = seg.bucket(place.b1).free_slots() + seg.bucket(place.b2).free_slots();
                let split = full > 0 || moves > 0;
                moves += 1;
                self.make_room_or_split(seg, k.seg, k.sw, place, split, Wait::Block)?;
                continue;
            }
            if writes {
                locks.begin_writes();
            }
            let mut locked = Locked {
                table: self,
                keys,
                per_key,
            };
            let r = f(&mut locked);
            // Every write ends, then every lock goes.
            drop(locks);
            return Ok(r);
        }
    }

    /// Sets a free slot aside for each key absent from its (locked) buckets, counting them in
    /// `held`; the first key left without one, if any.
    fn reserve(&self, keys: &[&[u8]], per_key: &mut [Held], held: &mut [Held]) -> Option<usize> {
        let view = self.arena.view();
        held.iter_mut().for_each(|b| b.reserved = 0);
        for i in 0..per_key.len() {
            let k = per_key[i];
            per_key[i].reserved = NO_SLOT;
            // A key given twice needs one slot: the one set aside for it first.
            if let Some(e) = per_key[..i]
                .iter()
                .zip(keys)
                .find(|(e, key)| e.h == k.h && **key == keys[i])
            {
                per_key[i].reserved = e.0.reserved;
                continue;
            }
            let seg = self.index.segment(k.seg);
            let place = Place::of(k.h, seg.mask);
            let kb = Slot::key_bits_of(place.tag);
            let (b1, b2) = (seg.bucket(place.b1), seg.bucket(place.b2));
            if Self::find_locked(view, b1, kb, keys[i]).is_some()
                || Self::find_locked(view, b2, kb, keys[i]).is_some()
            {
                continue;
            }
            let room = [place.b1, place.b2].into_iter().find_map(|bi| {
                let at = held
                    .binary_search_by_key(&(k.seg, bi), |b| (b.seg, b.bucket))
                    .ok()?;
                let b = seg.bucket(bi);
                (b.free_slots() > held[at].reserved).then_some((at, bi))
            });
            match room {
                Some((at, bi)) => {
                    held[at].reserved += 1;
                    per_key[i].reserved = bi;
                }
                None => return Some(i),
            }
        }
        None
    }
}

impl<'a, A: Memory, I: Memory> Locked<'a, A, I> {
    /// The slot holding key `i`, live or expired: its bucket (and its number), the slot's
    /// index, word and header.
    fn find(&self, i: usize) -> Option<(Bucket<'a>, usize, usize, Slot, Header)> {
        let k = &self.per_key[i];
        let seg = self.table.index.segment(k.seg);
        let place = Place::of(k.h, seg.mask);
        let kb = Slot::key_bits_of(place.tag);
        let view = self.table.arena.view();
        [place.b1, place.b2].into_iter().find_map(|bi| {
            let b = seg.bucket(bi);
            Table::<A, I>::find_locked(view, b, kb, self.keys[i]).map(|(j, s, h)| (b, bi, j, s, h))
        })
    }

    /// Key `i`'s entry (value, deadline), unless it is absent or expired. It stays as it is
    /// until the call returns, unless this call changes the key.
    pub fn entry(&self, i: usize) -> Option<Entry<'a>> {
        let (_, _, _, s, _) = self.find(i)?;
        let e = Table::<A, I>::entry(self.table.arena.view(), s.loc());
        (!self.table.is_expired(e.deadline)).then_some(e)
    }

    /// Writes a new item for key `i` with `value` and `deadline` (milliseconds on the table's
    /// clock, `None` for none), to be linked by [`Locked::link`]. [`Error::NoSpace`] when memory
    /// or the budget has no room, with nothing changed.
    pub fn prepare(
        &self,
        i: usize,
        value: &[u8],
        deadline: Option<u64>,
    ) -> Result<Prepared<'a, A, I>, Error> {
        self.table.check_value(value)?;
        let t = self.table;
        let (loc, large) =
            t.arena
                .write_item(&t.budget, self.keys[i], value, deadline, Wait::Block)?;
        Ok(Prepared {
            table: t,
            key: i,
            loc,
            large,
            deadline,
        })
    }

    /// Links a prepared item in place of its key's item (a live one: `Replaced`; none, or an
    /// expired one: `Inserted`). [`Error::NoSpace`] if the key is absent and the call did not
    /// set slots aside for inserts (the item is then freed).
    pub fn link(&mut self, mut p: Prepared<'a, A, I>) -> Result<Put, Error> {
        let t = self.table;
        let view = t.arena.view();
        let k = &self.per_key[p.key];
        let tag = Place::of(k.h, t.index.lay.mask).tag;
        let new = Slot::new(tag, p.loc, p.large);
        let result = if let Some((b, _, j, s, hdr)) = self.find(p.key) {
            let old_deadline = view.deadline(s.loc(), &hdr);
            let live = !t.is_expired(old_deadline);
            b.set(j, new.with_meta(t.fresh_meta(Some(s))));
            if old_deadline.is_some() {
                t.expires.fetch_sub(1, Ordering::Relaxed);
            }
            if !live {
                t.expired.fetch_add(1, Ordering::Relaxed);
            }
            t.retire(view, s.loc(), Wait::Block);
            if live {
                Put::Replaced
            } else {
                Put::Inserted
            }
        } else {
            // The bucket set aside for the key (or for the same key given at another index):
            // each key with a slot set aside there, not yet linked, still has one free.
            let reserved = if k.reserved != NO_SLOT {
                k.reserved
            } else {
                let key = self.keys[p.key];
                let same = self
                    .per_key
                    .iter()
                    .zip(self.keys)
                    .find(|(e, other)| e.reserved != NO_SLOT && e.h == k.h && **other == key);
                match same {
                    Some((e, _)) => e.reserved,
                    None => return Err(Error::NoSpace),
                }
            };
            let b = t.index.segment(k.seg).bucket(reserved);
            let Some(j) = b.free_slot() else {
                return Err(Error::NoSpace);
            };
            self.per_key[p.key].reserved = NO_SLOT;
            b.set(j, new.with_meta(t.fresh_meta(None)));
            t.len.fetch_add(1, Ordering::Relaxed);
            Put::Inserted
        };
        if p.deadline.is_some() {
            t.expires.fetch_add(1, Ordering::Relaxed);
        }
        p.loc = usize::MAX;
        Ok(result)
    }

    /// Removes key `i`: a live item, an expired one (counted as expired), or nothing.
    pub fn delete(&mut self, i: usize) -> Removed {
        let t = self.table;
        let view = t.arena.view();
        let Some((b, bi, j, s, hdr)) = self.find(i) else {
            return Removed::Nothing;
        };
        let deadline = view.deadline(s.loc(), &hdr);
        let live = !t.is_expired(deadline);
        b.set(j, Slot::EMPTY);
        // The slot freed is the key's, should it be linked again in this call.
        self.per_key[i].reserved = bi;
        t.len.fetch_sub(1, Ordering::Relaxed);
        if deadline.is_some() {
            t.expires.fetch_sub(1, Ordering::Relaxed);
        }
        if !live {
            t.expired.fetch_add(1, Ordering::Relaxed);
        }
        // Unlinked inside the write of its bucket: a reader that read the slot before sees the
        // version move when it validates, even if the chunk is reused at once.
        t.retire(view, s.loc(), Wait::Block);
        if live {
            Removed::Live
        } else {
            Removed::Expired
        }
    }
}
