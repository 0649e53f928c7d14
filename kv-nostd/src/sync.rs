//! The one place the table gets its synchronisation primitives from.
//!
//! Under `--cfg kv_loom` every atomic, fence, lock and spin hint comes from `loom`, so the model
//! checker sees each access the table makes; otherwise they come from `core` and `spin`. Nothing
//! else in the crate names `core::sync::atomic` or `spin` directly.

#[cfg(not(kv_loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32 as AtomicMeta, AtomicUsize, Ordering};
#[cfg(kv_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32 as AtomicMeta, AtomicUsize, Ordering};

/// The per-bucket version counter.
///
/// It must not wrap while one optimistic read is in flight. Where the target has 64-bit atomics
/// that is a `u64`, which cannot wrap in practice. On 32-bit targets without them (thumbv7em) it
/// is a `usize`: a false validation would need 2^31 writes to one bucket during a single read,
/// each a locked update, which no realistic interrupt or thread schedule produces. An emulated
/// 64-bit atomic would put a critical section on every read, which is worse.
#[cfg(all(not(kv_loom), target_has_atomic = "64"))]
pub(crate) type AtomicVersion = core::sync::atomic::AtomicU64;
#[cfg(all(not(kv_loom), target_has_atomic = "64"))]
pub(crate) type Version = u64;
#[cfg(all(not(kv_loom), not(target_has_atomic = "64")))]
pub(crate) type AtomicVersion = core::sync::atomic::AtomicUsize;
#[cfg(all(not(kv_loom), not(target_has_atomic = "64")))]
pub(crate) type Version = usize;
#[cfg(kv_loom)]
pub(crate) type AtomicVersion = loom::sync::atomic::AtomicU64;
#[cfg(kv_loom)]
pub(crate) type Version = u64;

/// Tells the processor (or, under loom, the scheduler) that this thread is waiting on another.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(kv_loom))]
    core::hint::spin_loop();
    #[cfg(kv_loom)]
    loom::thread::yield_now();
}

/// A bucket lock: a spinlock from `spin`, or loom's mutex under the model checker.
pub(crate) struct Lock {
    #[cfg(not(kv_loom))]
    inner: spin::mutex::SpinMutex<()>,
    #[cfg(kv_loom)]
    inner: loom::sync::Mutex<()>,
}

/// Proof that a bucket lock is held; dropping it releases the lock.
pub(crate) struct LockGuard<'a> {
    #[cfg(not(kv_loom))]
    _inner: spin::mutex::SpinMutexGuard<'a, ()>,
    #[cfg(kv_loom)]
    _inner: loom::sync::MutexGuard<'a, ()>,
}

impl Lock {
    #[cfg(not(kv_loom))]
    pub(crate) const fn new() -> Self {
        Self {
            inner: spin::mutex::SpinMutex::new(()),
        }
    }

    #[cfg(kv_loom)]
    pub(crate) fn new() -> Self {
        Self {
            inner: loom::sync::Mutex::new(()),
        }
    }

    /// Takes the lock, spinning (with the shim's hint) until it is free.
    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_> {
        #[cfg(not(kv_loom))]
        loop {
            if let Some(guard) = self.try_lock() {
                return guard;
            }
            // Wait on a plain load so a contended lock's cache line is not written in a loop.
            while self.inner.is_locked() {
                spin_hint();
            }
        }
        #[cfg(kv_loom)]
        LockGuard {
            _inner: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Takes the lock if it is free, without waiting.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<LockGuard<'_>> {
        #[cfg(not(kv_loom))]
        let guard = self.inner.try_lock();
        #[cfg(kv_loom)]
        let guard = self.inner.try_lock().ok();
        guard.map(|g| LockGuard { _inner: g })
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
