//! The table's clock: milliseconds the caller advances, never backwards.
//!
//! The table knows no time of its own. A server advances the clock once per turn of its event
//! loop (as Redis caches `mstime()` in `server.mstime`), a microcontroller from its SysTick
//! count; an item whose deadline is at or before the clock is expired. Advancing is a
//! fetch-max: a caller with an older time changes nothing, so the clock never runs backwards
//! inside the table and an expired key never comes back to life, whatever order concurrent
//! callers advance it in.
//!
//! On targets with 64-bit atomics the clock is one word, advanced with `fetch_max`. Thumbv7em
//! has neither 64-bit atomics nor a 64-bit compare-and-swap, so there (and on a host under
//! `--cfg kv_split_slots`, to test it) the clock is three words — the high half twice, around
//! the low half — written by one advancer at a time (a bit lock) and read without waiting:
//! 1. an advance stores the new high half into `hi2`, then the low half into `lo` (`Release`),
//!    then the high half into `hi1` (`Release`); advances are serialised by the lock, so every
//!    word's stores follow the order of the advances;
//! 2. a reader loads `hi1` (`Acquire`), `lo` (`Acquire`), `hi2`. Having seen advance `k`'s
//!    `hi1`, it sees advance `k`'s `lo` or a later one, say `m`'s; having seen `m`'s `lo`, it
//!    sees `m`'s `hi2` or a later one, `n`'s: `k ≤ m ≤ n`;
//! 3. high halves never decrease from one advance to the next, so if `hi1 == hi2` every advance
//!    from `k` to `n` had that high half, `m`'s included, and `(hi1, lo)` is the time advance
//!    `m` stored: a value the clock held;
//! 4. otherwise an advance that changes the high half is under way, and the reader answers the
//!    start of the new high half, `hi2 << 32`: later than anything the clock held before that
//!    advance, and no later than where it is going. So a reader never waits (an interrupt
//!    handler may read while the code it interrupted is advancing the clock), and the answers
//!    one reader gets never decrease.

#[cfg(any(target_pointer_width = "32", kv_split_slots))]
use crate::error::Error;
#[cfg(any(target_pointer_width = "32", kv_split_slots))]
use crate::sync::BitLock;
use crate::sync::{AtomicUsize, Ordering, Wait};

/// Milliseconds, as the caller counts them, advanced by fetch-max.
pub(crate) struct Clock {
    #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
    now: AtomicUsize,
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    hi1: AtomicUsize,
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    lo: AtomicUsize,
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    hi2: AtomicUsize,
    /// Serialises advances (bit 0).
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    lock: AtomicUsize,
}

macro_rules! clock_at_zero {
    () => {
        Clock {
            #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
            now: AtomicUsize::new(0),
            #[cfg(any(target_pointer_width = "32", kv_split_slots))]
            hi1: AtomicUsize::new(0),
            #[cfg(any(target_pointer_width = "32", kv_split_slots))]
            lo: AtomicUsize::new(0),
            #[cfg(any(target_pointer_width = "32", kv_split_slots))]
            hi2: AtomicUsize::new(0),
            #[cfg(any(target_pointer_width = "32", kv_split_slots))]
            lock: AtomicUsize::new(0),
        }
    };
}

impl Clock {
    /// A clock at 0.
    #[cfg(not(kv_loom))]
    pub(crate) const fn new() -> Self {
        clock_at_zero!()
    }

    /// A clock at 0.
    #[cfg(kv_loom)]
    pub(crate) fn new() -> Self {
        clock_at_zero!()
    }

    /// The time: at least every time an advance that returned before this call began set.
    #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.now.load(Ordering::Relaxed) as u64
    }

    /// Moves the clock to `t` if that is later; returns the time after. Never waits.
    #[cfg(not(any(target_pointer_width = "32", kv_split_slots)))]
    #[inline]
    pub(crate) fn advance(&self, t: u64, _wait: Wait) -> Result<u64, crate::Error> {
        // `usize` is 64 bits here.
        let before = self.now.fetch_max(t as usize, Ordering::Relaxed) as u64;
        Ok(before.max(t))
    }

    /// The time (see the module docs for what a reader sees during an advance).
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        let hi1 = self.hi1.load(Ordering::Acquire) as u32;
        let lo = self.lo.load(Ordering::Acquire) as u32;
        let hi2 = self.hi2.load(Ordering::Relaxed) as u32;
        if hi1 == hi2 {
            u64::from(hi1) << 32 | u64::from(lo)
        } else {
            u64::from(hi2) << 32
        }
    }

    /// Moves the clock to `t` if that is later; returns the time after. Waits for (or, under
    /// [`Wait::Try`], answers [`Error::Busy`] to) another advance in progress.
    #[cfg(any(target_pointer_width = "32", kv_split_slots))]
    pub(crate) fn advance(&self, t: u64, wait: Wait) -> Result<u64, Error> {
        let _lock = BitLock::take_as(&self.lock, 1, wait)?;
        // Only advances store, and we hold their lock: the three words agree.
        let cur = u64::from(self.hi1.load(Ordering::Relaxed) as u32) << 32
            | u64::from(self.lo.load(Ordering::Relaxed) as u32);
        if t <= cur {
            return Ok(cur);
        }
        let (hi, lo) = ((t >> 32) as usize, t as u32 as usize);
        self.hi2.store(hi, Ordering::Relaxed);
        self.lo.store(lo, Ordering::Release);
        self.hi1.store(hi, Ordering::Release);
        Ok(t)
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_clock_only_moves_forward() {
        let c = Clock::new();
        assert_eq!(c.now(), 0);
        assert_eq!(c.advance(5, Wait::Block), Ok(5));
        assert_eq!(c.advance(3, Wait::Block), Ok(5));
        assert_eq!(c.now(), 5);
        // Across the 32-bit boundary, where the two-word form changes its high half.
        let big = (7u64 << 32) + 11;
        assert_eq!(c.advance(big, Wait::Try), Ok(big));
        assert_eq!(c.now(), big);
        assert_eq!(c.advance(u64::MAX, Wait::Block), Ok(u64::MAX));
        assert_eq!(c.advance(0, Wait::Block), Ok(u64::MAX));
        assert_eq!(c.now(), u64::MAX);
    }

    /// Two threads advance the clock across many 2^32 boundaries while two read it: every
    /// reader's answers never decrease, and each is a time some advance was given or the start
    /// of a high half one was crossing to.
    #[test]
    fn readers_racing_advances_never_see_the_clock_go_back() {
        extern crate std;
        const STEPS: u64 = 200_000;
        // Steps of half a 2^32 span, offset per writer, so high halves change often and the
        // writers race.
        let time = |w: u64, i: u64| (i << 31) + w * 7 + (i & 0xff);
        let given = |t: u64| {
            let i = t >> 31;
            (0..2).any(|w| time(w, i) == t) || t & 0xffff_ffff == 0
        };
        let c = Clock::new();
        std::thread::scope(|s| {
            for w in 0..2u64 {
                let c = &c;
                s.spawn(move || {
                    for i in 0..STEPS {
                        assert!(c.advance(time(w, i), Wait::Block).unwrap() >= time(w, i));
                    }
                });
            }
            for _ in 0..2 {
                let c = &c;
                s.spawn(move || {
                    let mut last = 0;
                    for _ in 0..4 * STEPS {
                        let now = c.now();
                        assert!(now >= last, "the clock went back: {last:#x} then {now:#x}");
                        assert!(given(now), "{now:#x} is no time the clock was given");
                        last = now;
                    }
                });
            }
        });
        assert_eq!(c.now(), time(1, STEPS - 1));
    }
}
