//! An anonymous mapping as table memory.

use kv_nostd::{Memory, Word, WORD};
use std::io;
use std::ptr::NonNull;

/// The system's page size.
pub(crate) fn system_page() -> usize {
    // SAFETY: `sysconf` reads a configuration value; `_SC_PAGESIZE` is always supported.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096)
}

/// Anonymous, private, zero-filled memory reserved with `MAP_NORESERVE`: address space now,
/// resident pages only once written. Unmapped on drop.
///
/// Made with `libc` (already a dependency of this crate) rather than `memmap2`: the table needs
/// the region as words it reads and writes atomically through shared references, not as the
/// `&mut [u8]` a `MmapMut` derefs to, and `madvise` on ranges of it; both are a few lines over
/// `mmap` itself.
pub struct Region {
    ptr: NonNull<Word>,
    bytes: usize,
}

// SAFETY: the region is plain memory owned by this value; every access to it goes through
// `AtomicUsize`s (`Word`), which may be shared and sent between threads.
unsafe impl Send for Region {}
// SAFETY: as above: shared access is only ever atomic.
unsafe impl Sync for Region {}

impl Region {
    /// Reserves `bytes` (rounded up to whole system pages) of zeroed address space.
    pub fn new(bytes: usize) -> io::Result<Self> {
        let page = system_page();
        let bytes = bytes.max(1).div_ceil(page) * page;
        // SAFETY: a fresh anonymous private mapping at an address of the kernel's choosing: it
        // overlaps no memory the program uses. The arguments are valid for `mmap`.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p.cast::<Word>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Self { ptr, bytes })
    }

    /// Bytes reserved.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// Whether nothing is reserved (never: a region has at least one page).
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }
}

impl Memory for Region {
    fn words(&self) -> &[Word] {
        // SAFETY: 1. the mapping is `bytes` bytes long, readable and writable, and stays mapped
        // while `self` lives (it is unmapped only in `drop`), which the returned borrow cannot
        // outlive; 2. it starts on a page boundary, aligned for `AtomicUsize`; 3. anonymous
        // memory starts zeroed, and zero (like every bit pattern) is a valid `AtomicUsize`;
        // 4. `AtomicUsize` permits mutation through shared references, so handing out many
        // `&[Word]` at once is fine.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.bytes / WORD) }
    }

    fn release(&self, start: usize, len: usize) {
        // Only whole system pages inside the range can be given back.
        let page = system_page();
        let from = (start * WORD).div_ceil(page) * page;
        let to = ((start + len) * WORD).min(self.bytes) / page * page;
        if from >= to {
            return;
        }
        // SAFETY: `from..to` lies inside the mapping (clamped to `bytes` above) and is page
        // aligned. The table calls `release` only for a page it no longer uses and writes again
        // before it reads it as its own; concurrent optimistic readers of it may see zeros
        // instead of stale bytes, which they discard on validation like any stale bytes. Anonymous
        // private memory reads back as zeros after `MADV_DONTNEED`, a valid value of every word.
        let rc = unsafe {
            libc::madvise(
                self.ptr.as_ptr().cast::<u8>().add(from).cast(),
                to - from,
                libc::MADV_DONTNEED,
            )
        };
        // Giving memory back is advice: if the system refuses, the memory stays resident and
        // the table is unaffected.
        debug_assert_eq!(rc, 0, "madvise: {}", io::Error::last_os_error());
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this address and length, and `&mut self`
        // proves no borrow of its words is alive (every `&[Word]` borrows `self`).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.bytes);
        }
    }
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("bytes", &self.bytes)
            .finish()
    }
}
