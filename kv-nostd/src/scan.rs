//! Visits and resumable scans: walking every key while writers keep running.
//!
//! # Order
//! A scan walks the hash space in the order of the bit-reversed low 32 bits of the key's hash
//! (Redis's reverse-binary `SCAN` cursor). A segment of prefix `p` and depth `d` holds exactly
//! the keys whose position lies in one interval: positions whose top `d` bits are `p` reversed.
//! A split cuts a segment's interval in two halves, so the boundary a scan stopped at stays a
//! boundary however the index grows, and the positions behind the cursor stay behind it.
//!
//! # One segment at a time
//! Each step takes every bucket lock of the segment under the cursor, in bucket order, and reads
//! all its keys: no key can move between buckets (a cuckoo move needs a bucket lock) or out of
//! the segment (a split needs them all) meanwhile, so a key present in the segment is seen
//! exactly once. Because a key's position never changes, and each position is in exactly one of
//! the intervals the scan passes, a key present throughout a visit is visited exactly once, and
//! a key present from a scan's first step to its last is returned at least once (exactly once
//! unless the scan restarts from a cursor it did not return). Writers of the segment wait while
//! it is read; a large value is pinned and handed to the callback after the locks are released.
//!
//! # Expired keys
//! A key whose deadline is at or before the table's clock, read once the segment is locked, is
//! skipped: visits and scans hand out only live keys. They remove nothing (the active expiry
//! step, `Table::expire_step`, walks the index in the same order and does).

use crate::arena::{ArenaView, Loc};
use crate::item::Header;

/// Where a resumable [`Table::scan`](crate::Table::scan) stands: the next position in the hash
/// space. [`ScanCursor::START`] starts a scan; a scan returns it when done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanCursor(pub(crate) u64);

impl ScanCursor {
    /// The cursor that starts a scan, and that a finished scan returns.
    pub const START: ScanCursor = ScanCursor(0);

    /// The cursor as one number, for a wire protocol (below 2^32). [`ScanCursor::START`] is 0.
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// The cursor [`ScanCursor::to_u64`] made. Any number is accepted: one at or above 2^32
    /// finishes the scan at once, one that no step returned resumes at the segment holding that
    /// position (returning some keys a second time, perhaps).
    pub fn from_u64(n: u64) -> Self {
        Self(n)
    }

    /// Whether this is [`ScanCursor::START`] (as given) or the end of a scan (as returned).
    pub fn is_start(self) -> bool {
        self.0 == 0
    }
}

/// One key and its value, as a visit or scan hands them out. The item cannot change or go away
/// while the callback runs (its segment is locked, or it is pinned), so reads of it need no
/// retry. Its deadline was read under the bucket lock.
pub struct Entry<'t> {
    pub(crate) view: ArenaView<'t>,
    pub(crate) loc: Loc,
    pub(crate) hdr: Header,
    pub(crate) deadline: Option<u64>,
}

impl Entry<'_> {
    /// The key's deadline (milliseconds on the table's clock), `None` if it has none.
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// The key's length in bytes.
    pub fn key_len(&self) -> usize {
        self.hdr.klen
    }

    /// The value's length in bytes.
    pub fn value_len(&self) -> usize {
        self.hdr.vlen
    }

    /// Copies the key into the front of `out` and returns it, or `None` if `out` is too short.
    pub fn key<'b>(&self, out: &'b mut [u8]) -> Option<&'b [u8]> {
        let out = out.get_mut(..self.hdr.klen)?;
        self.view.read(self.loc, &self.hdr, self.hdr.key_at, out);
        Some(out)
    }

    /// Whether the key is `key`.
    pub fn key_is(&self, key: &[u8]) -> bool {
        self.view.key_is(self.loc, &self.hdr, key)
    }

    /// Copies value bytes from offset `from` into `out`, as many as fit and remain; returns how
    /// many. A large value can be copied out in pieces this way, into a buffer of any size.
    pub fn read_value(&self, from: usize, out: &mut [u8]) -> usize {
        let n = out.len().min(self.hdr.vlen.saturating_sub(from));
        self.view.read(
            self.loc,
            &self.hdr,
            self.hdr.value_at() + from,
            &mut out[..n],
        );
        n
    }
}
