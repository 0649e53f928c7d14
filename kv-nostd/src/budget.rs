//! The byte budget: memory in use (arena pages and index segments) against a limit that can
//! change at run time, Redis's `maxmemory`.

use crate::error::Error;
use crate::sync::{AtomicUsize, Ordering};

/// Bytes in use and the most that may be.
pub(crate) struct Budget {
    used: AtomicUsize,
    /// `usize::MAX` for no limit.
    limit: AtomicUsize,
}

impl Budget {
    #[cfg(not(kv_loom))]
    pub(crate) const fn new(used: usize, limit: usize) -> Self {
        Self {
            used: AtomicUsize::new(used),
            limit: AtomicUsize::new(limit),
        }
    }

    #[cfg(kv_loom)]
    pub(crate) fn new(used: usize, limit: usize) -> Self {
        Self {
            used: AtomicUsize::new(used),
            limit: AtomicUsize::new(limit),
        }
    }

    /// Takes `bytes` from the budget, or answers [`Error::NoSpace`] and takes nothing if the
    /// limit would be exceeded.
    #[inline]
    pub(crate) fn take(&self, bytes: usize) -> Result<(), Error> {
        let limit = self.limit.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                u.checked_add(bytes).filter(|&n| n <= limit)
            })
            .map(|_| ())
            .map_err(|_| Error::NoSpace)
    }

    /// Gives back `bytes` taken before.
    #[inline]
    pub(crate) fn give(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes in use.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit, `usize::MAX` for none.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Sets the limit; memory already in use above it stays in use, but nothing more is taken.
    pub(crate) fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }
}
