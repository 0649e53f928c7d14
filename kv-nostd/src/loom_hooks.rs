//! Crate internals the loom models need and the public API does not offer: read-only views of
//! a table's buckets and pages for checking a model's final state, and a bit lock to model.
//!
//! Built only under `--cfg kv_loom`; not part of the crate's API.

use crate::bucket::{self, SLOTS};
use crate::memory::{Memory, Word};
use crate::page;
use crate::sync::{BitLock, Ordering};
use crate::table::Table;

/// Proof that a lock bit is held; dropping it releases the lock.
pub struct Guard<'a>(#[allow(dead_code)] BitLock<'a>);

/// Takes bit 0 of `word` as a lock, waiting as the table's writers do.
pub fn lock(word: &Word) -> Guard<'_> {
    Guard(BitLock::take(word, 1))
}

/// Takes bit 0 of `word` as a lock if it is free.
pub fn try_lock(word: &Word) -> Option<Guard<'_>> {
    BitLock::try_take(word, 1).map(Guard)
}

impl<A: Memory, I: Memory> Table<A, I> {
    /// Every bucket of every segment in use: (segment, bucket, locked, writing, occupied slots).
    pub fn loom_buckets(&self) -> std_free::Buckets {
        let mut out = std_free::Buckets::default();
        for id in 0..self.index().segments() {
            let seg = self.index().segment(id);
            for i in 0..seg.buckets() {
                let b = seg.bucket(i);
                let h = b.header().load(Ordering::Acquire);
                let occupied = (0..SLOTS).filter(|&j| b.slot(j).is_occupied()).count();
                out.push((
                    id,
                    i,
                    h & bucket::LOCKED != 0,
                    bucket::is_writing(h),
                    occupied,
                ));
            }
        }
        out
    }

    /// Where `key`'s item is in the arena, found by reading every slot (the caller makes sure
    /// nothing runs concurrently).
    pub fn loom_location(&self, key: &[u8]) -> Option<usize> {
        let view = self.arena().view();
        for id in 0..self.index().segments() {
            let seg = self.index().segment(id);
            for i in 0..seg.buckets() {
                let b = seg.bucket(i);
                for j in 0..SLOTS {
                    let s = b.slot(j);
                    if s.is_occupied() && view.key_is(s.loc(), &view.header(s.loc()), key) {
                        return Some(s.loc());
                    }
                }
            }
        }
        None
    }

    /// The pins held on all arena pages.
    pub fn loom_pins(&self) -> usize {
        let view = self.arena().view();
        (0..view.lay.pages)
            .map(|p| page::pins(view.state(p).load(Ordering::Acquire)))
            .sum()
    }
}

/// A fixed-capacity list, so this module needs no allocator of its own.
pub mod std_free {
    /// Up to 64 bucket descriptions.
    pub struct Buckets {
        items: [(usize, usize, bool, bool, usize); 64],
        len: usize,
    }

    impl Default for Buckets {
        fn default() -> Self {
            Self {
                items: [(0, 0, false, false, 0); 64],
                len: 0,
            }
        }
    }

    impl Buckets {
        pub(crate) fn push(&mut self, b: (usize, usize, bool, bool, usize)) {
            self.items[self.len] = b;
            self.len += 1;
        }

        /// The descriptions: (segment, bucket, locked, writing, occupied slots).
        pub fn as_slice(&self) -> &[(usize, usize, bool, bool, usize)] {
            &self.items[..self.len]
        }
    }
}
