//! Deadlines and expiry: the table's clock, the calls that read or change a key's deadline, and
//! the removal of expired items, for one key or a step at a time over the whole index.
//!
//! # Visibility
//! An item whose deadline is at or before the clock ([`Table::now`]) is expired, and every call
//! treats its key as absent: gets, `contains`, `value_len`, [`Table::deadline`], visits and
//! scans do not see it, a conditional put sees the key absent (and hands out no old value), a
//! delete answers `false`. The clock is read after the item: by a reader once its copy is
//! validated, by a writer under the bucket lock. Since the clock never goes back, an item found
//! expired stays expired.
//!
//! # Who removes an expired item
//! Reads never remove anything: they hide. So a replica, whose copy of the data must change only
//! as its primary says, calls no removing call of its own and sees exactly what it should. The
//! calls that remove an expired item are a delete of its key (answering `false`),
//! [`Table::reap`] (one key, for a server's lazy expiry), [`Table::expire_step`] (the active
//! cycle), and a put that writes the key (as if it were absent: the written value supersedes the
//! expired one in a log). Each calls its `then` hook with the bucket still locked, so a log
//! written there records every removal in the order it happened. Removed items' memory goes back
//! to the arena. (A [`Table::set_deadline`] with a past deadline deletes a live key, telling its
//! `then`; on an expired key it does nothing.)
//!
//! # Changing a deadline
//! An item with a deadline field has its deadline changed in place (`item.rs` argues why that
//! is sound); one without gets a copy with a field, linked in its place like an overwrite. A
//! large item is copied under a pin rather than under the bucket lock, and linked only if its key
//! still has it.
//!
//! # Example
//! ```
//! use kv_nostd::{
//!     Config, Deadline, DeadlineChange, ExpireCursor, ExpireIf, HashKey, Table, When, Word,
//! };
//!
//! static ARENA: [Word; 8192] = [const { Word::new(0) }; 8192];
//! static INDEX: [Word; 2048] = [const { Word::new(0) }; 2048];
//! static TABLE: Table<&[Word], &[Word]> =
//!     Table::new_static(&ARENA, &INDEX, HashKey([42; 16]), Config::SMALL);
//!
//! TABLE.advance_clock(1_000);
//! // SET session:42 token PX 500
//! let at = Deadline::At(TABLE.now() + 500);
//! TABLE.put_with(b"session:42", b"token", When::Always, at, None, &mut |_| {})?;
//! assert_eq!(TABLE.deadline(b"session:42")?, Some(Some(1_500)));
//! // PEXPIRE session:42 1000 GT
//! let mut log = |_change: DeadlineChange| {};
//! let later = TABLE.set_deadline(b"session:42", Some(2_000), ExpireIf::Later, &mut log)?;
//! assert_eq!(later, DeadlineChange::Changed);
//!
//! TABLE.advance_clock(2_000);
//! assert_eq!(TABLE.contains(b"session:42")?, false, "expired: hidden at once");
//! assert_eq!(TABLE.len(), 1, "but still stored");
//!
//! // The active cycle removes it (a server runs a few steps per event-loop turn).
//! let mut cursor = ExpireCursor::START;
//! loop {
//!     let step = TABLE.expire_step(cursor, 16, &mut |_expired| { /* log DEL here */ });
//!     cursor = step.cursor;
//!     if cursor.is_start() {
//!         break;
//!     }
//! }
//! assert_eq!((TABLE.len(), TABLE.stats().expired), (0, 1));
//! # Ok::<(), kv_nostd::Error>(())
//! ```

use crate::arena::ArenaView;
use crate::bucket::Bucket;
use crate::bucket::SLOTS;
use crate::error::Error;
use crate::item::NO_DEADLINE;
use crate::memory::Memory;
use crate::page;
use crate::scan::Entry;
use crate::segment;
use crate::slot::Slot;
use crate::sync::{spin_hint, Ordering, Wait};
use crate::table::{Look, Remove, Removed, Table};

/// The deadline a put gives its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// None: the key never expires (a plain `SET`).
    None,
    /// Milliseconds on the table's clock ([`Table::now`]); `u64::MAX` is none.
    At(u64),
    /// The deadline the key has now, if it is live; none if it is absent or expired (Redis
    /// `SET ... KEEPTTL`).
    Keep,
}

/// When [`Table::set_deadline`] changes a deadline: Redis 7's `EXPIRE` options. A key without
/// a deadline counts as having one infinitely far away (so `Later` never gives it one and
/// `Earlier` always does), and a new deadline of `None` is infinitely far too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireIf {
    /// Whatever the key's deadline is.
    Always,
    /// Only if the key has no deadline (`NX`).
    NoDeadline,
    /// Only if the key has a deadline (`XX`).
    HasDeadline,
    /// Only if the new deadline is later than the key's (`GT`).
    Later,
    /// Only if the new deadline is earlier than the key's (`LT`).
    Earlier,
    /// Only if the key has a deadline and the new one is earlier (`XX` with `LT`).
    EarlierDeadline,
}

impl ExpireIf {
    /// Whether the condition allows moving a key's deadline from `current` to `new`.
    fn holds(self, current: Option<u64>, new: Option<u64>) -> bool {
        // `u64::MAX` is no deadline: the farthest there is.
        let far = |d: Option<u64>| d.unwrap_or(NO_DEADLINE);
        match self {
            ExpireIf::Always => true,
            ExpireIf::NoDeadline => current.is_none(),
            ExpireIf::HasDeadline => current.is_some(),
            ExpireIf::Later => far(new) > far(current),
            ExpireIf::Earlier => far(new) < far(current),
            ExpireIf::EarlierDeadline => current.is_some() && far(new) < far(current),
        }
    }
}

/// What [`Table::set_deadline`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineChange {
    /// The key is absent or expired: nothing changed.
    Absent,
    /// The condition did not hold, or there was no deadline to remove: nothing changed.
    Unchanged,
    /// The deadline was set (perhaps to the one it had), moved, or removed.
    Changed,
    /// The new deadline had already passed: the key was deleted.
    Deleted,
}

/// Where an active-expiry cycle stands: a position in the hash space, in scan order, and a
/// bucket of the segment there. [`ExpireCursor::START`] starts a cycle; a step returns it when
/// the cycle is done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireCursor {
    pos: u32,
    bucket: u32,
}

impl ExpireCursor {
    /// The cursor that starts a cycle, and that a step ending one returns.
    pub const START: ExpireCursor = ExpireCursor { pos: 0, bucket: 0 };

    /// Whether this is [`ExpireCursor::START`] (as given) or the end of a cycle (as returned).
    pub fn is_start(self) -> bool {
        self == Self::START
    }
}

/// What one [`Table::expire_step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireStep {
    /// Where the next step starts; [`ExpireCursor::START`] when this step ended a cycle.
    pub cursor: ExpireCursor,
    /// Keys looked at.
    pub examined: usize,
    /// Expired keys removed.
    pub expired: usize,
}

impl<A: Memory, I: Memory> Table<A, I> {
    /// The table's clock, in milliseconds: what deadlines are compared with.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Moves the clock to `now_ms` if that is later than it stands (a clock never runs
    /// backwards, so a key never comes back to life); returns the clock after. A server calls it
    /// once per event-loop turn, a device from its millisecond tick. Where the clock is two
    /// words (targets without 64-bit atomics) this may wait for another advance in progress;
    /// elsewhere it never waits.
    pub fn advance_clock(&self, now_ms: u64) -> u64 {
        // Blocking mode never answers Busy.
        self.clock.advance(now_ms, Wait::Block).unwrap_or(now_ms)
    }

    /// [`Table::advance_clock`] that never waits: [`Error::Busy`] if another advance is in
    /// progress (only where the clock is two words).
    pub fn try_advance_clock(&self, now_ms: u64) -> Result<u64, Error> {
        self.clock.advance(now_ms, Wait::Try)
    }

    /// Keys stored with a deadline (expired keys not yet removed included). Exact when no write
    /// is in flight.
    pub fn expires(&self) -> usize {
        self.expires.load(Ordering::Relaxed)
    }

    /// `key`'s deadline: `None` if the key is absent (or expired), `Some(None)` if it is live
    /// without a deadline, `Some(Some(ms))` if it expires when the clock reaches `ms` (Redis
    /// `TTL`, `PTTL`, `EXPIRETIME`).
    pub fn deadline(&self, key: &[u8]) -> Result<Option<Option<u64>>, Error> {
        Ok(match self.lookup::<[u8]>(key, None, Wait::Block)? {
            Look::Live { deadline, .. } => Some(deadline),
            Look::Absent | Look::Expired => None,
        })
    }

    /// Sets (`Some`) or removes (`None`) `key`'s deadline if `cond` allows (Redis `EXPIRE`,
    /// `PEXPIREAT`, `PERSIST`, with `NX`, `XX`, `GT`, `LT`); reports what it did. A deadline the
    /// clock has already reached deletes the key (Redis: a non-positive TTL deletes), once
    /// `cond` allows it. `then` is called with the change (`Changed` or `Deleted`) while the
    /// key's bucket is still locked (see [`Table::put_if_then`]).
    ///
    /// A key whose item has no deadline field gets a copy of it with one, so giving a deadline
    /// to such a key needs memory for its item: [`Error::NoSpace`] when there is none (nothing
    /// changed). Moving or removing a deadline, or deleting, needs none.
    pub fn set_deadline(
        &self,
        key: &[u8],
        deadline: Option<u64>,
        cond: ExpireIf,
        then: &mut dyn FnMut(DeadlineChange),
    ) -> Result<DeadlineChange, Error> {
        self.check_key(key)?;
        let wait = Wait::Block;
        self.arena.drain_deferred(&self.budget);
        let target = deadline.filter(|&d| d != NO_DEADLINE);
        let h = self.hash(key);
        let view = self.arena.view();
        loop {
            let Some((guards, b, j, s)) = self.find_for_write(view, h, key, wait)? else {
                return Ok(DeadlineChange::Absent);
            };
            let loc = s.loc();
            let hdr = view.header(loc);
            let current = view.deadline(loc, &hdr);
            let now = self.clock.now();
            if current.is_some_and(|d| d <= now) {
                return Ok(DeadlineChange::Absent);
            }
            if !cond.holds(current, target) || (target.is_none() && current.is_none()) {
                return Ok(DeadlineChange::Unchanged);
            }
            if target.is_some_and(|d| d <= now) {
                b.begin_write();
                b.set(j, Slot::EMPTY);
                b.end_write();
                self.len.fetch_sub(1, Ordering::Relaxed);
                if current.is_some() {
                    self.expires.fetch_sub(1, Ordering::Relaxed);
                }
                then(DeadlineChange::Deleted);
                drop(guards);
                self.retire(view, loc, wait);
                return Ok(DeadlineChange::Deleted);
            }
            if hdr.has_deadline {
                // In place: a write of the bucket, so optimistic readers that copied any of
                // the field's bytes fail validation (`item.rs`).
                b.begin_write();
                view.set_deadline(loc, &hdr, target.unwrap_or(NO_DEADLINE));
                b.end_write();
                if current.is_none() {
                    self.expires.fetch_add(1, Ordering::Relaxed);
                } else if target.is_none() {
                    self.expires.fetch_sub(1, Ordering::Relaxed);
                }
                then(DeadlineChange::Changed);
                return Ok(DeadlineChange::Changed);
            }
            // No field, so no deadline now (`current` is none) and one to give (`target` is
            // some): a copy with a field takes the item's place.
            let Some(d) = target else {
                return Ok(DeadlineChange::Unchanged);
            };
            if !s.is_large() {
                // Small: copied under the lock, which keeps the item linked and unchanged.
                let (copy, large) = self.arena.copy_item(&self.budget, loc, &hdr, d, wait)?;
                b.begin_write();
                b.set(j, Slot::new(s.tag(), copy, large).with_meta(s.meta()));
                b.end_write();
                self.expires.fetch_add(1, Ordering::Relaxed);
                then(DeadlineChange::Changed);
                drop(guards);
                self.retire(view, loc, wait);
                return Ok(DeadlineChange::Changed);
            }
            // Large: pinned, so never freed and so never another item at `loc`; copied with no
            // lock held; linked only if the key's slot still names it.
            page::pin_linked(view.state(view.page_of(loc)));
            drop(guards);
            let copy = self.arena.copy_item(&self.budget, loc, &hdr, d, wait);
            let (copy, large) = match copy {
                Ok(c) => c,
                Err(e) => {
                    self.unpin(view, loc, wait);
                    return Err(e);
                }
            };
            let linked = match self.find_for_write(view, h, key, wait) {
                // The same slot word: the same item, still without a deadline, so `cond` holds
                // as before. Unless the clock reached `d` meanwhile: then go round again.
                Ok(Some((guards, b, j, now_s))) if now_s.same_item(s) && d > self.clock.now() => {
                    b.begin_write();
                    b.set(j, Slot::new(s.tag(), copy, large).with_meta(s.meta()));
                    b.end_write();
                    self.expires.fetch_add(1, Ordering::Relaxed);
                    then(DeadlineChange::Changed);
                    drop(guards);
                    // Dead while we hold our pin: the unpin below frees it (or a later one).
                    self.retire(view, loc, wait);
                    Ok(true)
                }
                Ok(_) => Ok(false),
                Err(e) => Err(e),
            };
            self.unpin(view, loc, wait);
            match linked {
                Ok(true) => return Ok(DeadlineChange::Changed),
                Ok(false) => {
                    // Overwritten, deleted or expired meanwhile: the copy was never seen.
                    self.arena.free_item(&self.budget, copy, wait);
                    spin_hint();
                }
                Err(e) => {
                    self.arena.free_item(&self.budget, copy, wait);
                    return Err(e);
                }
            }
        }
    }

    /// Removes `key` if it is expired, calling `then` with its entry while its bucket is still
    /// locked (a server logs the delete there); answers whether it removed it. A live or absent
    /// key is left alone, at the cost of one lock-free lookup: a server's lazy expiry may call
    /// this after any read that found nothing.
    pub fn reap(&self, key: &[u8], then: &mut dyn FnMut(&Entry<'_>)) -> Result<bool, Error> {
        if self.lookup::<[u8]>(key, None, Wait::Block)? != Look::Expired {
            return Ok(false);
        }
        let removed = self.delete_inner(key, Remove::Expired, Some(then), Wait::Block)?;
        Ok(removed == Removed::Expired)
    }
    /// Unlinks the expired items of `b`, whose lock the caller holds, in one bucket write,
    /// storing their entries in `gone` (still allocated: the caller frees them after it has
    /// released the lock). Returns the items examined and how many were unlinked.
    pub(crate) fn unlink_expired<'v>(
        &self,
        view: ArenaView<'v>,
        b: &Bucket<'_>,
        gone: &mut [Option<Entry<'v>>; SLOTS],
    ) -> (usize, usize) {
        let now = self.clock.now();
        let (mut examined, mut n) = (0, 0);
        for j in 0..SLOTS {
            let s = b.slot(j);
            if !s.is_occupied() {
                continue;
            }
            examined += 1;
            let e = Self::entry(view, s.loc());
            if e.deadline.is_none_or(|d| d > now) {
                continue;
            }
            if n == 0 {
                b.begin_write();
            }
            b.set(j, Slot::EMPTY);
            gone[n] = Some(e);
            n += 1;
        }
        if n > 0 {
            b.end_write();
            self.len.fetch_sub(n, Ordering::Relaxed);
            self.expires.fetch_sub(n, Ordering::Relaxed);
            self.expired.fetch_add(n, Ordering::Relaxed);
        }
        (examined, n)
    }

    /// One step of active expiry (Redis's `activeExpireCycle`): from `cursor`, looks at up to
    /// `max_buckets` buckets of the index (each up to [`crate::table::BUCKET_SLOTS`] keys) and
    /// removes the expired keys it finds, calling `then` with each while its bucket is still
    /// locked (it should be quick, and must not use this table). Returns where to go on from,
    /// and what it saw: the fraction `expired / examined` tells a caller whether another step
    /// is worth its time now, as Redis's stale-key threshold does.
    ///
    /// The cursor walks segments in the order of [`Table::scan`], so a cycle from
    /// [`ExpireCursor::START`] until a step returns it looks at every key present throughout,
    /// however the index grows meanwhile. One bucket is locked at a time. Memory of removed
    /// items goes back to the arena.
    pub fn expire_step(
        &self,
        cursor: ExpireCursor,
        max_buckets: usize,
        then: &mut dyn FnMut(&Entry<'_>),
    ) -> ExpireStep {
        const END: u64 = 1 << 32;
        let wait = Wait::Block;
        self.arena.drain_deferred(&self.budget);
        let view = self.arena.view();
        let (mut pos, mut bi) = (u64::from(cursor.pos), cursor.bucket as usize);
        let mut step = ExpireStep {
            cursor,
            examined: 0,
            expired: 0,
        };
        let mut buckets = 0;
        while buckets < max_buckets {
            // A hash whose low 32 bits put it at `pos`; `pos` is below 2^32.
            let h = u64::from((pos as u32).reverse_bits());
            // Blocking mode never answers Busy.
            let Ok((seg, _, located)) = self.index.locate(h, wait) else {
                return step;
            };
            while bi < seg.buckets() && buckets < max_buckets {
                let b = seg.bucket(bi);
                // Blocking mode never answers Busy.
                let Ok(guard) = b.lock(wait) else {
                    return step;
                };
                // Under the lock every item is stable, and every one belongs to this segment:
                // a split moves slots out only with all its bucket locks held.
                let mut gone: [Option<Entry<'_>>; SLOTS] = core::array::from_fn(|_| None);
                let (examined, n) = self.unlink_expired(view, &b, &mut gone);
                step.examined += examined;
                // Unlinked, still locked (so logged in order with the key's other writes), not
                // yet freed (so readable); readers of the bucket no longer wait meanwhile.
                for e in gone.iter().flatten() {
                    then(e);
                }
                drop(guard);
                for e in gone.iter().flatten() {
                    self.retire(view, e.loc, wait);
                }
                step.expired += n;
                bi += 1;
                buckets += 1;
            }
            if bi < seg.buckets() {
                break;
            }
            // Done with the segment: go on past the interval it covers now. A split during the
            // step (waited out here) only narrowed it, so the keys it moved out lie ahead.
            let sw = loop {
                let sw = seg.split().load(Ordering::Acquire);
                if !segment::is_splitting(sw) {
                    break sw;
                }
                spin_hint();
            };
            // Merged away during the step: its keys are in its buddy, which covers `pos`
            // too. Walk that from its first bucket.
            if segment::is_dead(sw) || segment::generation(sw) != segment::generation(located) {
                bi = 0;
                continue;
            }
            let start = u64::from((seg.prefix().load(Ordering::Relaxed) as u32).reverse_bits());
            pos = start + (1u64 << (32 - segment::depth(sw)));
            bi = 0;
            if pos >= END {
                pos = 0;
                break;
            }
        }
        step.cursor = ExpireCursor {
            // Below 2^32.
            pos: pos as u32,
            bucket: bi as u32,
        };
        step
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    extern crate std;

    use super::*;
    use crate::{Config, HashKey, Put, When, Word, WORD};
    use std::vec::Vec;

    type T = Table<&'static [Word], &'static [Word]>;

    /// A table of 1 KiB pages (values above 512 bytes are large) and two-bucket segments (the
    /// index splits often).
    fn table() -> T {
        let words = |bytes: usize| -> &'static [Word] {
            Vec::leak((0..bytes / WORD).map(|_| Word::new(0)).collect())
        };
        let config = Config {
            page_bytes: 1024,
            segment_buckets: 2,
            max_key: 300,
            max_value: 8192,
            max_memory: 0,
        };
        Table::new(words(1 << 20), words(1 << 18), HashKey([3; 16]), config).unwrap()
    }

    fn get(t: &T, key: &[u8]) -> Option<Vec<u8>> {
        let mut buf = [0u8; 8192];
        let n = t.get_into(key, &mut buf).unwrap()?;
        Some(buf[..n].to_vec())
    }

    fn put(t: &T, key: &[u8], value: &[u8], deadline: Deadline) -> Option<Put> {
        t.put_with(key, value, When::Always, deadline, None, &mut |_| {})
            .unwrap()
    }

    fn large() -> Vec<u8> {
        (0..3000u32).map(|i| i as u8).collect()
    }

    #[test]
    fn an_item_is_hidden_from_every_read_once_the_clock_reaches_its_deadline() {
        let t = table();
        t.advance_clock(100);
        for (key, value) in [(&b"small"[..], b"v".to_vec()), (b"large", large())] {
            let d = t.now() + 50;
            assert_eq!(put(&t, key, &value, Deadline::At(d)), Some(Put::Inserted));
            assert_eq!(get(&t, key), Some(value.clone()));
            assert_eq!(t.deadline(key), Ok(Some(Some(d))));
            t.advance_clock(d - 1);
            assert_eq!(t.contains(key), Ok(true));
            t.advance_clock(d);
            assert_eq!(get(&t, key), None);
            assert_eq!(t.contains(key), Ok(false));
            assert_eq!(t.try_contains(key), Ok(false));
            assert_eq!(t.value_len(key), Ok(None));
            assert_eq!(t.try_get_into(key, &mut [0; 8192]), Ok(None));
            assert_eq!(t.deadline(key), Ok(None));
            assert_eq!(
                t.get_into(key, &mut [0; 1]),
                Ok(None),
                "absent, not too small"
            );
            let mut seen = 0;
            t.visit(|_| seen += 1);
            assert_eq!(seen, 0, "a visit skips it");
            // Still stored until something removes it.
            assert_eq!((t.len(), t.expires()), (1, 1));
            assert_eq!(t.delete(key), Ok(false), "an expired key is absent");
            assert_eq!((t.len(), t.expires()), (0, 0), "but it was removed");
        }
        assert_eq!(t.stats().expired, 2);
        // The clock never goes back.
        assert_eq!(t.advance_clock(10), 200);
        assert_eq!(t.now(), 200);
    }

    #[test]
    fn conditional_puts_see_an_expired_key_as_absent() {
        let t = table();
        put(&t, b"k", b"old", Deadline::At(10));
        t.advance_clock(10);
        let mut old = heapless::Vec::<u8, 16>::new();
        let r = t.put_with(
            b"k",
            b"x",
            When::IfPresent,
            Deadline::None,
            Some(&mut old),
            &mut |_| panic!("nothing written"),
        );
        assert_eq!(r, Ok(None));
        assert!(!When::IfPresent.was_present(None));
        assert!(old.is_empty(), "no old value of an expired key");
        assert_eq!(t.len(), 1, "a put that does not write removes nothing");
        let mut logged = 0;
        let r = t.put_with(
            b"k",
            b"new",
            When::IfAbsent,
            Deadline::None,
            Some(&mut old),
            &mut |_| logged += 1,
        );
        assert_eq!((r, logged), (Ok(Some(Put::Inserted)), 1));
        assert!(old.is_empty());
        assert_eq!(get(&t, b"k"), Some(b"new".to_vec()));
        assert_eq!((t.len(), t.expires(), t.stats().expired), (1, 0, 1));
    }

    #[test]
    fn keep_carries_the_deadline_of_a_live_key_only() {
        let t = table();
        for value in [b"v".to_vec(), large()] {
            put(&t, b"k", &value, Deadline::At(50));
            assert_eq!(put(&t, b"k", &value, Deadline::Keep), Some(Put::Replaced));
            assert_eq!(t.deadline(b"k"), Ok(Some(Some(50))));
            put(&t, b"k", &value, Deadline::None);
            assert_eq!(put(&t, b"k", &value, Deadline::Keep), Some(Put::Replaced));
            assert_eq!(t.deadline(b"k"), Ok(Some(None)));
            assert_eq!(t.delete(b"k"), Ok(true));
            assert_eq!(put(&t, b"k", &value, Deadline::Keep), Some(Put::Inserted));
            assert_eq!(t.deadline(b"k"), Ok(Some(None)));
            assert_eq!(t.expires(), 0);
            assert_eq!(t.delete(b"k"), Ok(true));
        }
        put(&t, b"k", b"v", Deadline::At(50));
        t.advance_clock(60);
        assert_eq!(put(&t, b"k", b"w", Deadline::Keep), Some(Put::Inserted));
        assert_eq!(
            t.deadline(b"k"),
            Ok(Some(None)),
            "an expired key's deadline is not kept"
        );
        assert_eq!(t.expires(), 0);
    }

    #[test]
    fn a_put_whose_deadline_has_passed_leaves_the_key_absent() {
        let t = table();
        t.advance_clock(100);
        let used = t.stats().pages_in_use;
        assert_eq!(put(&t, b"k", b"v", Deadline::At(100)), Some(Put::Inserted));
        assert_eq!((t.len(), get(&t, b"k")), (0, None));
        put(&t, b"k", b"old", Deadline::None);
        let mut old = heapless::Vec::<u8, 16>::new();
        let r = t.put_with(
            b"k",
            b"v",
            When::Always,
            Deadline::At(5),
            Some(&mut old),
            &mut |_| {},
        );
        assert_eq!(r, Ok(Some(Put::Replaced)));
        assert_eq!(old.as_slice(), b"old");
        assert_eq!((t.len(), t.expires(), get(&t, b"k")), (0, 0, None));
        assert!(t.stats().pages_in_use <= used + 1);
        // `u64::MAX` is no deadline.
        put(&t, b"k", b"v", Deadline::At(u64::MAX));
        assert_eq!(t.deadline(b"k"), Ok(Some(None)));
    }

    #[test]
    fn set_deadline_follows_redis_conditions() {
        let t = table();
        t.advance_clock(1_000);
        for value in [b"v".to_vec(), large()] {
            let mut changes = Vec::new();
            let mut set = |d: Option<u64>, c: ExpireIf| {
                t.set_deadline(b"k", d, c, &mut |ch| changes.push(ch))
                    .unwrap()
            };
            use DeadlineChange::*;
            assert_eq!(set(Some(2_000), ExpireIf::Always), Absent);
            put(&t, b"k", &value, Deadline::None);
            assert_eq!(set(None, ExpireIf::Always), Unchanged, "nothing to persist");
            assert_eq!(set(Some(2_000), ExpireIf::HasDeadline), Unchanged);
            assert_eq!(set(Some(2_000), ExpireIf::Later), Unchanged);
            // A copy of the item with a deadline field takes its place.
            assert_eq!(set(Some(2_000), ExpireIf::NoDeadline), Changed);
            assert_eq!(t.deadline(b"k"), Ok(Some(Some(2_000))));
            assert_eq!(get(&t, b"k"), Some(value.clone()));
            assert_eq!(t.expires(), 1);
            // In place from now on.
            assert_eq!(set(Some(3_000), ExpireIf::NoDeadline), Unchanged);
            assert_eq!(set(Some(1_500), ExpireIf::Later), Unchanged);
            assert_eq!(set(Some(3_000), ExpireIf::Later), Changed);
            assert_eq!(
                set(Some(3_000), ExpireIf::Always),
                Changed,
                "the same, set again"
            );
            assert_eq!(set(Some(4_000), ExpireIf::Earlier), Unchanged);
            assert_eq!(set(Some(2_500), ExpireIf::Earlier), Changed);
            assert_eq!(t.deadline(b"k"), Ok(Some(Some(2_500))));
            assert_eq!(set(None, ExpireIf::Always), Changed, "persist");
            assert_eq!((t.deadline(b"k"), t.expires()), (Ok(Some(None)), 0));
            assert_eq!(set(Some(5_000), ExpireIf::Earlier), Changed);
            assert_eq!(t.expires(), 1);
            assert_eq!(get(&t, b"k"), Some(value.clone()));
            // A past deadline deletes, once the condition holds.
            assert_eq!(set(Some(999), ExpireIf::Later), Unchanged);
            assert_eq!(set(Some(1_000), ExpireIf::Always), Deleted);
            assert_eq!((t.len(), t.expires(), get(&t, b"k")), (0, 0, None));
            assert_eq!(set(Some(2_000), ExpireIf::Always), Absent);
            assert_eq!(
                changes,
                [Changed, Changed, Changed, Changed, Changed, Changed, Deleted]
            );
        }
        put(&t, b"k", b"v", Deadline::At(1_200));
        t.advance_clock(1_200);
        let r = t.set_deadline(b"k", None, ExpireIf::Always, &mut |_| panic!("no change"));
        assert_eq!(
            r,
            Ok(DeadlineChange::Absent),
            "an expired key has no deadline to remove"
        );
    }

    #[test]
    fn reap_removes_only_an_expired_key() {
        let t = table();
        put(&t, b"live", b"v", Deadline::At(10));
        put(&t, b"dead", b"v", Deadline::At(5));
        t.advance_clock(5);
        let mut reaped = Vec::new();
        let mut note = |e: &Entry<'_>| {
            let mut k = [0u8; 8];
            reaped.push((e.key(&mut k).unwrap().to_vec(), e.deadline()));
        };
        assert_eq!(t.reap(b"live", &mut note), Ok(false));
        assert_eq!(t.reap(b"absent", &mut note), Ok(false));
        assert_eq!(t.reap(b"dead", &mut note), Ok(true));
        assert_eq!(t.reap(b"dead", &mut note), Ok(false));
        assert_eq!(reaped, [(b"dead".to_vec(), Some(5))]);
        assert_eq!((t.len(), t.expires(), t.stats().expired), (1, 1, 1));
    }

    #[test]
    fn a_cycle_of_steps_removes_every_expired_key_and_gives_back_its_memory() {
        let t = table();
        let empty = t.stats().pages_in_use;
        let n = 300u32;
        for i in 0..n {
            let key = std::format!("key{i}");
            let value = if i % 50 == 0 {
                large()
            } else {
                std::vec![i as u8; 40]
            };
            let deadline = if i % 3 == 0 {
                Deadline::None
            } else {
                Deadline::At(u64::from(i % 7) + 1)
            };
            put(&t, key.as_bytes(), &value, deadline);
        }
        let with_deadline = (0..n).filter(|i| i % 3 != 0).count();
        assert_eq!(t.expires(), with_deadline);
        t.advance_clock(100);
        let mut cursor = ExpireCursor::START;
        let (mut examined, mut expired, mut reported, mut steps) = (0, 0, 0, 0);
        loop {
            let step = t.expire_step(cursor, 3, &mut |e| {
                assert!(e.deadline().is_some_and(|d| d <= 100));
                reported += 1;
            });
            // Steps looking at more keys than there are would mean the walk went round twice.
            examined += step.examined;
            expired += step.expired;
            steps += 1;
            cursor = step.cursor;
            if cursor.is_start() {
                break;
            }
        }
        assert!(steps > 1);
        assert_eq!(examined, n as usize);
        assert_eq!((expired, reported), (with_deadline, with_deadline));
        assert_eq!((t.len(), t.expires()), (n as usize - with_deadline, 0));
        assert_eq!(t.stats().expired, with_deadline);
        t.clear();
        assert!(t.stats().pages_in_use <= empty + 12, "pages went back");
    }

    #[test]
    fn a_step_resumes_across_splits() {
        let t = table();
        for i in 0..40u32 {
            put(&t, std::format!("a{i}").as_bytes(), b"v", Deadline::At(1));
        }
        t.advance_clock(1);
        let step = t.expire_step(ExpireCursor::START, 1, &mut |_| {});
        assert!(!step.cursor.is_start());
        // The index grows under the cursor; the rest of the cycle still finds every key.
        for i in 0..400u32 {
            put(&t, std::format!("b{i}").as_bytes(), b"v", Deadline::None);
        }
        let mut cursor = step.cursor;
        let mut expired = step.expired;
        while !cursor.is_start() {
            let step = t.expire_step(cursor, 5, &mut |_| {});
            expired += step.expired;
            cursor = step.cursor;
        }
        assert_eq!(expired, 40);
        assert_eq!(t.len(), 400);
    }

    #[test]
    fn clear_counts_live_keys_and_reports_every_item() {
        let t = table();
        put(&t, b"a", b"v", Deadline::At(5));
        put(&t, b"b", b"v", Deadline::At(50));
        put(&t, b"c", b"v", Deadline::None);
        t.advance_clock(5);
        let mut seen = 0;
        assert_eq!(t.clear_then(&mut |_| seen += 1), 2);
        assert_eq!((seen, t.len(), t.expires()), (3, 0, 0));
    }

    #[test]
    fn conditions_count_no_deadline_as_infinitely_far() {
        use ExpireIf::*;
        assert!(Always.holds(Some(5), None));
        assert!(NoDeadline.holds(None, Some(5)));
        assert!(!NoDeadline.holds(Some(1), Some(5)));
        assert!(HasDeadline.holds(Some(1), Some(5)));
        assert!(!HasDeadline.holds(None, Some(5)));
        assert!(Later.holds(Some(1), Some(5)));
        assert!(!Later.holds(Some(5), Some(5)));
        assert!(
            !Later.holds(None, Some(5)),
            "GT never gives a deadline to a key without one"
        );
        assert!(Earlier.holds(None, Some(5)), "LT always does");
        assert!(
            !EarlierDeadline.holds(None, Some(5)),
            "XX LT needs a deadline to be earlier than"
        );
        assert!(EarlierDeadline.holds(Some(9), Some(5)));
        assert!(!EarlierDeadline.holds(Some(5), Some(9)));
        assert!(Earlier.holds(Some(9), Some(5)));
        assert!(!Earlier.holds(Some(5), Some(9)));
        assert!(
            Later.holds(Some(5), None),
            "removing a deadline moves it to infinity"
        );
    }
}
