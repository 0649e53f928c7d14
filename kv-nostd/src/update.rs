//! Read-modify-write of one key: the caller sees the key's value and decides what it becomes,
//! all under the key's bucket lock, so no other write of the key comes between the read and the
//! write (Redis's `INCR`, `APPEND`, `SETRANGE`, `SETBIT`, `GETDEL`, ...).
//!
//! [`Table::update`] locks the bucket holding the key (both of its buckets when it is absent),
//! hands the caller's closure the live value as an [`Entry`] (or `None`) and a scratch buffer of
//! the caller's, and applies the [`Update`] it answers: keep, delete, or a new value from the
//! scratch buffer. A new value's item is allocated and written while the lock is held (bucket,
//! then size class, then free pages: the lock order), linked in place of the old, and the old
//! freed after the unlock. The closure may be called more than once (an absent key whose buckets
//! are full must make room with the locks released); only the last call's answer takes effect,
//! and each call sees the key as it is then.
//!
//! # Example
//! ```
//! use kv_nostd::update::{Change, Update};
//! use kv_nostd::{Config, Deadline, HashKey, Table, Word};
//!
//! static ARENA: [Word; 8192] = [const { Word::new(0) }; 8192];
//! static INDEX: [Word; 2048] = [const { Word::new(0) }; 2048];
//! static TABLE: Table<&[Word], &[Word]> =
//!     Table::new_static(&ARENA, &INDEX, HashKey([42; 16]), Config::SMALL);
//!
//! // INCR counter, twice: read the number, write it back plus one, keeping any deadline.
//! let incr = || {
//!     let mut buf = [0u8; 20];
//!     TABLE.update(b"counter", &mut buf[..], |old, buf| {
//!         let mut n = 0u64;
//!         if let Some(e) = old {
//!             let mut digits = [0u8; 20];
//!             let len = e.read_value(0, &mut digits);
//!             n = core::str::from_utf8(&digits[..len]).unwrap().parse().unwrap();
//!         }
//!         let mut text = heapless::String::<20>::new();
//!         core::fmt::write(&mut text, format_args!("{}", n + 1)).unwrap();
//!         buf[..text.len()].copy_from_slice(text.as_bytes());
//!         Update::Set { len: text.len(), deadline: Deadline::Keep }
//!     }, &mut |change| {
//!         // Under the lock: a server logs the write here, in the order writes took effect.
//!         assert!(matches!(change, Change::Set { .. }));
//!     })
//! };
//! incr()?;
//! incr()?;
//! assert_eq!(TABLE.get_vec::<8>(b"counter")?.unwrap().as_slice(), b"2");
//! # Ok::<(), kv_nostd::Error>(())
//! ```

use crate::arena::ArenaView;
use crate::bucket::Bucket;
use crate::error::Error;
use crate::expire::Deadline;
use crate::item::NO_DEADLINE;
use crate::memory::Memory;
use crate::scan::Entry;
use crate::segment::Place;
use crate::slot::Slot;
use crate::sync::{spin_hint, Ordering, Wait};
use crate::table::{Guards, Table};

/// What the closure of [`Table::update`] decides the key becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// Leave the key as it is.
    Keep,
    /// Remove the key (if it is absent, nothing changes).
    Delete,
    /// Store the first `len` bytes of the scratch buffer as the key's value, with this deadline:
    /// [`Deadline::Keep`] keeps the live key's deadline (none for an absent key). A deadline the
    /// clock has already reached removes the key instead.
    Set {
        /// Bytes of the scratch buffer that make the new value.
        len: usize,
        /// The new value's deadline.
        deadline: Deadline,
    },
}

/// What [`Table::update`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Updated {
    /// The key is as it was (an expired item found may have been removed: the key was absent
    /// and still is).
    Unchanged,
    /// The key was live and is gone.
    Deleted,
    /// The key was absent (or expired) and now holds the new value.
    Inserted,
    /// The key was live and now holds the new value.
    Replaced,
}

/// A change [`Table::update`] made, as its `then` hook is told, under the bucket lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<'v> {
    /// The key now holds `value`, with `deadline` (the one kept, for [`Deadline::Keep`]).
    Set {
        /// The new value.
        value: &'v [u8],
        /// Its deadline, `None` for none.
        deadline: Option<u64>,
    },
    /// A live key was removed.
    Deleted,
    /// An expired item was removed and nothing written: the key stays absent (a server logs
    /// this as the `DEL` of an expiry).
    Expired,
}

impl<A: Memory, I: Memory> Table<A, I> {
    /// Reads and rewrites `key` atomically: `f` is called under the key's bucket lock with the
    /// key's live value (`None` if it is absent or expired) and the caller's `scratch` buffer,
    /// and decides what the key becomes ([`Update`]). No other write of the key can come
    /// between what `f` saw and what it decided. `then` is called with the change made, if
    /// any, while the lock is still held (see [`Table::put_if_then`]): a log written there
    /// records the key's writes in the order they took effect.
    ///
    /// `f` reads the value through [`Entry::read_value`] (in pieces if it is large) and writes
    /// a new one into `scratch`. It may be called more than once: when the key is absent and
    /// both of its buckets are full, the locks are released to make room and `f` is asked again
    /// (only the last call's answer counts). It runs with a bucket lock held, so it should be
    /// quick, and must not use this table.
    ///
    /// A new value's item is allocated under the lock. [`Error::NoSpace`] (or a value longer
    /// than the table takes, or a `len` beyond `scratch`) changes nothing and calls no `then`.
    /// An expired item the call finds is removed unless it is replaced (`then` is told
    /// [`Change::Expired`]), as a server's lazy expiry would. The old item is freed after the
    /// lock is released.
    pub fn update<B, F>(
        &self,
        key: &[u8],
        scratch: &mut B,
        mut f: F,
        then: &mut dyn FnMut(Change<'_>),
    ) -> Result<Updated, Error>
    where
        B: AsMut<[u8]> + ?Sized,
        F: FnMut(Option<&Entry<'_>>, &mut B) -> Update,
    {
        self.check_key(key)?;
        let wait = Wait::Block;
        self.arena.drain_deferred(&self.budget);
        let h = self.hash(key);
        let view = self.arena.view();
        loop {
            let (seg, id, sw) = self.index.locate(h, wait)?;
            let place = Place::of(h, seg.mask);
            let kb = Slot::key_bits_of(place.tag);
            // A key already present: only the bucket holding it, as every writer of it locks.
            if let Some((guards, b, j, s)) = Self::holder(view, seg, place, kb, key, wait)? {
                return self.update_present(view, key, (guards, b, j, s), scratch, &mut f, then);
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
                    return self.update_present(
                        view,
                        key,
                        (guards, b, j, s),
                        scratch,
                        &mut f,
                        then,
                    );
                }
            }
            // Absent, with both buckets locked.
            let Update::Set { len, deadline } = f(None, scratch) else {
                return Ok(Updated::Unchanged);
            };
            let deadline = match deadline {
                Deadline::None | Deadline::Keep | Deadline::At(NO_DEADLINE) => None,
                // Written and expired at once: the key stays absent.
                Deadline::At(d) if d <= self.clock.now() => return Ok(Updated::Unchanged),
                Deadline::At(d) => Some(d),
            };
            if let Some((b, j)) = [b1, b2].into_iter().find_map(|b| Some((b, b.free_slot()?))) {
                let value = Self::new_value(scratch, len)?;
                self.check_value(value)?;
                let (loc, large) =
                    self.arena
                        .write_item(&self.budget, key, value, deadline, wait)?;
                b.begin_write();
                b.set(
                    j,
                    Slot::new(place.tag, loc, large).with_meta(self.fresh_meta(None)),
                );
                b.end_write();
                self.len.fetch_add(1, Ordering::Relaxed);
                if deadline.is_some() {
                    self.expires.fetch_add(1, Ordering::Relaxed);
                }
                then(Change::Set { value, deadline });
                return Ok(Updated::Inserted);
            }
            drop(guards);
            self.make_room_or_split(seg, id, sw, place, false, wait)?;
            // Room was made, or others wrote meanwhile: look again, and ask `f` again.
        }
    }

    /// [`Table::update`] of a key found in slot `j` of bucket `b`, whose lock is held, as `s`.
    fn update_present<B, F>(
        &self,
        view: ArenaView<'_>,
        key: &[u8],
        (guards, b, j, s): (Guards<'_>, Bucket<'_>, usize, Slot),
        scratch: &mut B,
        f: &mut F,
        then: &mut dyn FnMut(Change<'_>),
    ) -> Result<Updated, Error>
    where
        B: AsMut<[u8]> + ?Sized,
        F: FnMut(Option<&Entry<'_>>, &mut B) -> Update,
    {
        let old = Self::entry(view, s.loc());
        let live = !self.is_expired(old.deadline);
        let decision = f(live.then_some(&old), scratch);
        let new = match decision {
            Update::Keep if live => return Ok(Updated::Unchanged),
            Update::Keep | Update::Delete => None,
            Update::Set { len, deadline } => {
                let deadline = match deadline {
                    Deadline::Keep => old.deadline.filter(|_| live),
                    Deadline::None | Deadline::At(NO_DEADLINE) => None,
                    Deadline::At(d) => Some(d),
                };
                // Expired on arrival: the key is removed.
                if deadline.is_some_and(|d| d <= self.clock.now()) {
                    None
                } else {
                    let value = Self::new_value(scratch, len)?;
                    self.check_value(value)?;
                    let (loc, large) =
                        self.arena
                            .write_item(&self.budget, key, value, deadline, Wait::Block)?;
                    Some((value, deadline, Slot::new(s.tag(), loc, large)))
                }
            }
        };
        b.begin_write();
        b.set(
            j,
            new.map_or(Slot::EMPTY, |(_, _, n)| {
                n.with_meta(self.fresh_meta(Some(s)))
            }),
        );
        b.end_write();
        if old.deadline.is_some() {
            self.expires.fetch_sub(1, Ordering::Relaxed);
        }
        if !live {
            self.expired.fetch_add(1, Ordering::Relaxed);
        }
        let updated = match new {
            Some((value, deadline, _)) => {
                if deadline.is_some() {
                    self.expires.fetch_add(1, Ordering::Relaxed);
                }
                then(Change::Set { value, deadline });
                if live {
                    Updated::Replaced
                } else {
                    Updated::Inserted
                }
            }
            None => {
                self.len.fetch_sub(1, Ordering::Relaxed);
                if live {
                    then(Change::Deleted);
                    Updated::Deleted
                } else {
                    then(Change::Expired);
                    Updated::Unchanged
                }
            }
        };
        drop(guards);
        self.retire(view, s.loc(), Wait::Block);
        Ok(updated)
    }

    /// The first `len` bytes of `scratch`, the new value an [`Update::Set`] names.
    fn new_value<B: AsMut<[u8]> + ?Sized>(scratch: &mut B, len: usize) -> Result<&[u8], Error> {
        let buf = scratch.as_mut();
        let room = buf.len();
        match buf.get(..len) {
            Some(v) => Ok(v),
            None => Err(Error::BufferTooSmall {
                needed: len,
                len: room,
            }),
        }
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    extern crate std;

    use super::*;
    use crate::config::Config;
    use crate::hash::HashKey;
    use crate::memory::Word;
    use crate::WORD;
    use std::vec::Vec;

    type T = Table<&'static [Word], &'static [Word]>;

    fn table(arena: usize) -> T {
        let words = |bytes: usize| -> &'static [Word] {
            Vec::leak((0..bytes / WORD).map(|_| Word::new(0)).collect())
        };
        Table::new(
            words(arena),
            words(1 << 16),
            HashKey([3; 16]),
            Config::SMALL,
        )
        .unwrap()
    }

    /// Appends `suffix` to `key`'s value; returns the new length.
    fn append(t: &T, key: &[u8], suffix: &[u8], log: &mut Vec<Vec<u8>>) -> Result<usize, Error> {
        let mut buf = Vec::new();
        let mut new_len = 0;
        t.update(
            key,
            &mut buf,
            |old, buf: &mut Vec<u8>| {
                let n = old.map_or(0, Entry::value_len);
                buf.resize(n, 0);
                if let Some(e) = old {
                    e.read_value(0, buf);
                }
                buf.extend_from_slice(suffix);
                new_len = buf.len();
                Update::Set {
                    len: buf.len(),
                    deadline: Deadline::Keep,
                }
            },
            &mut |c| {
                if let Change::Set { value, .. } = c {
                    log.push(value.to_vec());
                }
            },
        )?;
        Ok(new_len)
    }

    #[test]
    fn set_keep_and_delete_do_what_they_say() {
        let t = table(1 << 16);
        let mut log = Vec::new();
        assert_eq!(append(&t, b"k", b"ab", &mut log), Ok(2));
        assert_eq!(append(&t, b"k", b"cd", &mut log), Ok(4));
        assert_eq!(t.get_vec::<8>(b"k").unwrap().unwrap().as_slice(), b"abcd");
        assert_eq!(log, [b"ab".to_vec(), b"abcd".to_vec()]);
        let mut buf = [0u8; 0];
        let keep = t.update(b"k", &mut buf[..], |_, _| Update::Keep, &mut |_| panic!());
        assert_eq!(keep, Ok(Updated::Unchanged));
        let mut changes = Vec::new();
        let del = t.update(b"k", &mut buf[..], |_, _| Update::Delete, &mut |c| {
            changes.push(std::format!("{c:?}"))
        });
        assert_eq!(del, Ok(Updated::Deleted));
        assert_eq!(changes, ["Deleted"]);
        assert_eq!(t.get_vec::<8>(b"k"), Ok(None));
        assert_eq!((t.len(), t.expires()), (0, 0));
        // Deleting an absent key does nothing.
        let del = t.update(b"k", &mut buf[..], |_, _| Update::Delete, &mut |_| panic!());
        assert_eq!(del, Ok(Updated::Unchanged));
    }

    #[test]
    fn a_kept_deadline_stays_and_a_new_one_replaces_it() {
        let t = table(1 << 16);
        t.advance_clock(100);
        t.put_with(
            b"k",
            b"1",
            crate::When::Always,
            Deadline::At(500),
            None,
            &mut |_| {},
        )
        .unwrap();
        let mut log = Vec::new();
        append(&t, b"k", b"2", &mut log).unwrap();
        assert_eq!(t.deadline(b"k"), Ok(Some(Some(500))));
        assert_eq!(t.expires(), 1);
        let mut buf = *b"x";
        let mut told = None;
        let set = |deadline| Update::Set { len: 1, deadline };
        t.update(b"k", &mut buf[..], |_, _| set(Deadline::None), &mut |c| {
            told = Some(std::format!("{c:?}"))
        })
        .unwrap();
        assert_eq!(
            told.as_deref(),
            Some("Set { value: [120], deadline: None }")
        );
        assert_eq!(t.deadline(b"k"), Ok(Some(None)));
        assert_eq!(t.expires(), 0);
        t.update(
            b"k",
            &mut buf[..],
            |_, _| set(Deadline::At(900)),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(t.deadline(b"k"), Ok(Some(Some(900))));
        // A deadline already passed removes the key.
        let r = t.update(
            b"k",
            &mut buf[..],
            |_, _| set(Deadline::At(50)),
            &mut |_| {},
        );
        assert_eq!(r, Ok(Updated::Deleted));
        assert_eq!((t.len(), t.expires()), (0, 0));
    }

    #[test]
    fn an_expired_key_is_absent_and_removed() {
        let t = table(1 << 16);
        t.put_with(
            b"k",
            b"old",
            crate::When::Always,
            Deadline::At(10),
            None,
            &mut |_| {},
        )
        .unwrap();
        t.advance_clock(10);
        let mut seen = Vec::new();
        let mut buf = [0u8; 0];
        let r = t.update(
            b"k",
            &mut buf[..],
            |old, _| {
                seen.push(old.is_some());
                Update::Keep
            },
            &mut |c| assert_eq!(c, Change::Expired),
        );
        assert_eq!(r, Ok(Updated::Unchanged));
        assert_eq!(seen, [false]);
        assert_eq!((t.len(), t.expires(), t.stats().expired), (0, 0, 1));
        // An expired key written over counts as inserted, and does not keep its deadline.
        t.put_with(
            b"k",
            b"old",
            crate::When::Always,
            Deadline::At(20),
            None,
            &mut |_| {},
        )
        .unwrap();
        t.advance_clock(20);
        let mut log = Vec::new();
        append(&t, b"k", b"new", &mut log).unwrap();
        assert_eq!(log, [b"new".to_vec()]);
        assert_eq!(t.deadline(b"k"), Ok(Some(None)));
        assert_eq!((t.len(), t.expires(), t.stats().expired), (1, 0, 2));
    }

    #[test]
    fn no_space_changes_nothing() {
        let t = table(1 << 16);
        t.put(b"k", b"small").unwrap();
        t.set_max_memory(t.used_bytes());
        let mut big = std::vec![7u8; 40_000];
        let mut called = false;
        let r = t.update(
            b"k",
            &mut big,
            |_, b: &mut Vec<u8>| Update::Set {
                len: b.len(),
                deadline: Deadline::Keep,
            },
            &mut |_| called = true,
        );
        assert_eq!(r, Err(Error::NoSpace));
        assert!(!called);
        assert_eq!(t.get_vec::<8>(b"k").unwrap().unwrap().as_slice(), b"small");
        // A length beyond the scratch buffer is refused too.
        let mut buf = [0u8; 2];
        let r = t.update(
            b"k",
            &mut buf[..],
            |_, _| Update::Set {
                len: 3,
                deadline: Deadline::Keep,
            },
            &mut |_| called = true,
        );
        assert_eq!(r, Err(Error::BufferTooSmall { needed: 3, len: 2 }));
        assert!(!called);
    }

    #[test]
    fn large_values_are_read_and_written_in_pieces() {
        let t = table(1 << 20);
        let mut log = Vec::new();
        let chunk: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        for i in 1..=20 {
            assert_eq!(append(&t, b"big", &chunk, &mut log), Ok(3000 * i));
        }
        let mut out = std::vec![0u8; 60_000];
        assert_eq!(t.get_into(b"big", &mut out), Ok(Some(60_000)));
        assert!(out.chunks(3000).all(|c| c == chunk.as_slice()));
        // Only one item is kept: every old one went back.
        let before = t.used_bytes();
        append(&t, b"big", b"", &mut log).unwrap();
        assert_eq!(t.used_bytes(), before);
    }

    /// Adds one to the little-endian `u64` `key` holds (0 when absent).
    fn increment(t: &T, key: &[u8]) -> Result<Updated, Error> {
        let mut buf = [0u8; 8];
        t.update(
            key,
            &mut buf[..],
            |old, buf| {
                let mut n = [0u8; 8];
                if let Some(e) = old {
                    assert_eq!(e.read_value(0, &mut n), 8);
                }
                buf.copy_from_slice(&(u64::from_le_bytes(n) + 1).to_le_bytes());
                Update::Set {
                    len: 8,
                    deadline: Deadline::Keep,
                }
            },
            &mut |_| {},
        )
    }

    #[test]
    fn concurrent_increments_while_the_index_splits_lose_nothing() {
        let t = table(1 << 22);
        let t = &t;
        const THREADS: u64 = 4;
        const EACH: u64 = 5_000;
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(move || {
                    for i in 0..EACH {
                        // Four counters, and now and then a new key, which the threads race to
                        // insert: the segments split under the counters' feet.
                        increment(t, &[b'c', (i % 4) as u8]).unwrap();
                        if i % 4 == 0 {
                            increment(t, &(i * 1_000 + 7).to_le_bytes()).unwrap();
                        }
                    }
                });
            }
        });
        let total: u64 = (0..4u8)
            .map(|c| {
                let v = t.get_vec::<8>(&[b'c', c]).unwrap().unwrap();
                u64::from_le_bytes(v.as_slice().try_into().unwrap())
            })
            .sum();
        assert_eq!(total, THREADS * EACH);
        // Every thread inserted or incremented each new key once, racing the others.
        for i in (0..EACH).step_by(4) {
            let v = t
                .get_vec::<8>(&(i * 1_000 + 7).to_le_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(
                u64::from_le_bytes(v.as_slice().try_into().unwrap()),
                THREADS
            );
        }
        assert!(t.stats().segments > 1, "the index split meanwhile");
    }

    #[test]
    fn inserts_make_room_when_buckets_are_full() {
        let t = table(1 << 20);
        for i in 0..2_000u32 {
            let key = i.to_le_bytes();
            let mut buf = key;
            let r = t.update(
                &key,
                &mut buf[..],
                |old, _| {
                    assert!(old.is_none());
                    Update::Set {
                        len: 4,
                        deadline: Deadline::None,
                    }
                },
                &mut |_| {},
            );
            assert_eq!(r, Ok(Updated::Inserted));
        }
        assert_eq!(t.len(), 2_000);
        for i in 0..2_000u32 {
            let v = t.get_vec::<4>(&i.to_le_bytes()).unwrap().unwrap();
            assert_eq!(v.as_slice(), i.to_le_bytes());
        }
    }
}
