//! A live key picked at random ([`Table::random_entry`]), what Redis's `RANDOMKEY` answers.
//!
//! # How a key is picked
//! A seed names a position in the scan order of [`crate::scan`] and a slot to start from. The
//! segment holding that position is locked as a scan step locks it, and its slots are read from
//! the chosen one on, wrapping around, until a live key is found. A segment with none passes
//! the search to the next segment in scan order, wrapping past the end of the hash space, so a
//! table whose keys all sit in one segment, or have nearly all expired, still answers, and one
//! with no live key answers nothing after one pass over the index.
//!
//! The pick is not uniform, as Redis's is not: a key after a run of empty slots, or in a
//! sparse segment, is picked more often. Keys are placed by a keyed hash, so no client can make
//! one key the usual answer. Nothing is written: the key's access time is left alone, and an
//! expired key is skipped, not removed.

use crate::bucket::SLOTS;
use crate::memory::Memory;
use crate::page::{self, Kind};
use crate::scan::Entry;
use crate::sync::{Ordering, Wait};
use crate::table::Table;

impl<A: Memory, I: Memory> Table<A, I> {
    /// Calls `f` with one live entry picked by `seed` (see the module docs) and returns `true`,
    /// or returns `false` if the table holds no live key. Different seeds pick different keys;
    /// the same seed on an unchanged table picks the same one.
    ///
    /// Like [`Table::visit`], this locks one segment at a time; `f` must be quick and must not
    /// write to this table.
    pub fn random_entry(&self, seed: u64, f: impl FnOnce(&Entry<'_>)) -> bool {
        const END: u64 = 1 << 32;
        if self.len.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let view = self.arena.view();
        let start = seed & (END - 1);
        let first_slot = (seed >> 32) as usize;
        let mut pos = start;
        let mut wrapped = false;
        loop {
            // Blocking mode never answers Busy; `pos` is below 2^32.
            let Ok((lock, seg, depth, prefix)) = self.lock_segment_at(pos as u32, Wait::Block)
            else {
                return false;
            };
            let now = self.clock.now();
            let slots = seg.buckets() * SLOTS;
            let found = (0..slots).find_map(|k| {
                let at = (first_slot.wrapping_add(k)) % slots;
                // `rem_euclid`, not `%`: the model-checking build has one slot a bucket.
                let s = seg.bucket(at / SLOTS).slot(at.rem_euclid(SLOTS));
                if !s.is_occupied() {
                    return None;
                }
                let e = Self::entry(view, s.loc());
                e.deadline().is_none_or(|d| d > now).then_some(e)
            });
            if let Some(e) = found {
                let word = view.state(view.page_of(e.loc));
                if page::kind(word.load(Ordering::Relaxed)) == Kind::Head {
                    // A large item is read after the locks are released, pinned so that a
                    // writer replacing it meanwhile leaves its pages alone.
                    page::pin_linked(word);
                    drop(lock);
                    f(&e);
                    self.unpin(view, e.loc, Wait::Block);
                } else {
                    f(&e);
                    drop(lock);
                }
                return true;
            }
            drop(lock);
            // The segment holds the positions whose top `depth` bits are its prefix reversed.
            pos = u64::from((prefix as u32).reverse_bits()) + (1u64 << (32 - depth));
            if pos >= END {
                if wrapped {
                    return false;
                }
                pos = 0;
                wrapped = true;
            }
            // Past the segment the search began in, which it has read.
            if wrapped && pos > start {
                return false;
            }
        }
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    extern crate std;

    use crate::{Config, Deadline, HashKey, Table, When, Word, WORD};
    use std::collections::BTreeSet;
    use std::vec::Vec;

    type T = Table<&'static [Word], &'static [Word]>;

    /// A table of 1 KiB pages (values above 512 bytes are large) and two-bucket segments (the
    /// index splits often, so keys spread over many segments).
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
        Table::new(words(1 << 20), words(1 << 18), HashKey([9; 16]), config).unwrap()
    }

    fn put(t: &T, key: &[u8], value: &[u8], deadline: Deadline) {
        t.put_with(key, value, When::Always, deadline, None, &mut |_| {})
            .unwrap();
    }

    fn pick(t: &T, seed: u64) -> Option<Vec<u8>> {
        let mut key = None;
        t.random_entry(seed, |e| {
            let mut buf = [0u8; 300];
            key = e.key(&mut buf).map(<[u8]>::to_vec);
        })
        .then(|| key.unwrap())
    }

    /// A small xorshift, so the test sees seeds spread over all 64 bits.
    fn seeds() -> impl Iterator<Item = u64> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        core::iter::repeat_with(move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
    }

    #[test]
    fn an_empty_table_has_no_random_key() {
        let t = table();
        assert_eq!(pick(&t, 0), None);
        assert_eq!(pick(&t, u64::MAX), None);
    }

    #[test]
    fn every_key_is_picked_by_some_seed_and_only_live_keys_are() {
        let t = table();
        let keys: BTreeSet<Vec<u8>> = (0..40).map(|i| std::format!("k{i}").into_bytes()).collect();
        for k in &keys {
            put(&t, k, b"v", Deadline::None);
        }
        // Large values are handed out pinned, after the segment is unlocked.
        put(&t, b"large", &[7u8; 3000], Deadline::None);
        t.advance_clock(100);
        for i in 0..40 {
            put(
                &t,
                std::format!("gone{i}").as_bytes(),
                b"v",
                Deadline::At(150),
            );
        }
        t.advance_clock(200);
        let mut seen = BTreeSet::new();
        for seed in seeds().take(4000) {
            let k = pick(&t, seed).expect("the table has live keys");
            assert!(!k.starts_with(b"gone"), "an expired key was picked");
            seen.insert(k);
        }
        let mut all = keys.clone();
        all.insert(b"large".to_vec());
        assert_eq!(seen, all);
        assert_eq!(pick(&t, 12345), pick(&t, 12345));
    }

    #[test]
    fn a_lone_key_is_found_from_any_position() {
        let t = table();
        for i in 0..200 {
            put(
                &t,
                std::format!("filler{i}").as_bytes(),
                b"v",
                Deadline::None,
            );
        }
        for i in 0..200 {
            t.delete(std::format!("filler{i}").as_bytes()).unwrap();
        }
        put(&t, b"only", b"v", Deadline::None);
        for seed in seeds().take(500) {
            assert_eq!(pick(&t, seed).as_deref(), Some(&b"only"[..]));
        }
    }

    #[test]
    fn a_table_whose_keys_all_expired_has_no_random_key() {
        let t = table();
        t.advance_clock(10);
        for i in 0..50 {
            put(&t, std::format!("k{i}").as_bytes(), b"v", Deadline::At(20));
        }
        t.advance_clock(30);
        // Seeds at both ends of the hash space: the search starts in the first segment or
        // the last, and wraps around once.
        for seed in seeds().take(50).chain([0, u64::from(u32::MAX), u64::MAX]) {
            assert_eq!(pick(&t, seed), None);
        }
    }
}
