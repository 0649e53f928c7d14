//! The one place the table gets its synchronisation primitives from.
//!
//! Under `--cfg kv_loom` every atomic, fence and spin hint comes from `loom`, so the model checker
//! sees each access the table makes; otherwise they come from `core`. Nothing else in the crate
//! names `core::sync::atomic` directly.
//!
//! Every lock of the table is one bit of an atomic word ([`BitLock`]): the bucket locks share
//! their word with the bucket's version, and the allocator's and the directory's locks are words
//! of their own. A lock is taken with an `Acquire` `fetch_or` and released with a `Release`
//! `fetch_and`, so a holder sees everything the previous holder wrote; under loom the same code
//! runs on loom's atomics, and its spin loops yield.

#[cfg(not(kv_loom))]
pub(crate) use core::sync::atomic::{fence, AtomicUsize, Ordering};
#[cfg(kv_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicUsize, Ordering};

use crate::error::Error;

/// Tells the processor (or, under loom, the scheduler) that this thread is waiting on another.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(kv_loom))]
    core::hint::spin_loop();
    #[cfg(kv_loom)]
    loom::thread::yield_now();
}

/// Whether a call may wait for a lock or must answer [`Error::Busy`] instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Spin until the lock is free.
    Block,
    /// Never wait: `Busy`.
    Try,
}

/// Proof that one bit of a word, used as a lock, is held; dropping it clears the bit.
#[must_use]
pub(crate) struct BitLock<'a> {
    word: &'a AtomicUsize,
    bit: usize,
}

impl<'a> BitLock<'a> {
    /// Sets `bit` of `word` if it is clear, without waiting.
    ///
    /// One `fetch_or`, with no load before it: setting a bit that is already set changes
    /// nothing, and a lock taken without reading the word first is also one whose race with a
    /// reader of the word the model checker sees (loom remembers one access per word, and a load
    /// by the locker itself would hide the reader's).
    #[inline]
    pub(crate) fn try_take(word: &'a AtomicUsize, bit: usize) -> Option<Self> {
        let before = word.fetch_or(bit, Ordering::Acquire);
        // Not `then_some`: it would build the guard, and drop it (unlocking someone else's
        // lock), even when the lock was not taken.
        (before & bit == 0).then(|| Self { word, bit })
    }

    /// Sets `bit` of `word`, spinning (with the shim's hint) while another holder has it.
    #[inline]
    pub(crate) fn take(word: &'a AtomicUsize, bit: usize) -> Self {
        loop {
            if let Some(guard) = Self::try_take(word, bit) {
                return guard;
            }
            // Wait on plain loads, so a contended lock's cache line is not written in a loop.
            while word.load(Ordering::Relaxed) & bit != 0 {
                spin_hint();
            }
        }
    }

    /// [`BitLock::take`] or [`BitLock::try_take`], as `wait` says.
    #[inline]
    pub(crate) fn take_as(word: &'a AtomicUsize, bit: usize, wait: Wait) -> Result<Self, Error> {
        match wait {
            Wait::Block => Ok(Self::take(word, bit)),
            Wait::Try => Self::try_take(word, bit).ok_or(Error::Busy),
        }
    }

    /// Keeps the lock held past this guard: the caller releases it some other way (a
    /// `SegmentLock` releases every bucket lock of a segment at once).
    #[inline]
    pub(crate) fn keep(self) {
        core::mem::forget(self);
    }
}

impl Drop for BitLock<'_> {
    #[inline]
    fn drop(&mut self) {
        self.word.fetch_and(!self.bit, Ordering::Release);
    }
}

/// Asks the processor to start loading the cache line at `p`, where the target has a way to ask
/// (x86_64); elsewhere, and under the model checker, it does nothing. A hint only: it reads no
/// value and has no effect on what any load returns.
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 processor has (it is in the target's
    // baseline features). A prefetch never faults and reads nothing into the program, so any
    // address is sound; this one is a live reference anyway.
    #[cfg(all(not(kv_loom), target_arch = "x86_64"))]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (p as *const T).cast::<i8>(),
        );
    }
    #[cfg(any(kv_loom, not(target_arch = "x86_64")))]
    let _ = p;
}
