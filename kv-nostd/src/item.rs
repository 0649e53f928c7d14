//! Items: a key and its value stored together in the arena, behind a small header.
//!
//! # Format
//! An item is a byte stream: header, then (if flagged) an 8-byte deadline, then the key, then the
//! value. The header's first 32 bits, little-endian:
//! - bit 0: long form; bit 1: an 8-byte deadline follows the header;
//! - short form (bit 0 clear): bits 2..10 the key length (at most 255), bits 10..32 the value
//!   length (below 4 MiB): 4 bytes in all;
//! - long form: the rest of the word zero, then the key length as a 32-bit and the value length
//!   as a 64-bit little-endian number: 16 bytes in all.
//!
//! A 16-byte key with a 64-byte value is an 84-byte item in an 88-byte chunk; with a deadline,
//! 92 bytes in a 96-byte chunk.
//!
//! # The deadline
//! The deadline is a little-endian `u64` of milliseconds on the table's clock; [`NO_DEADLINE`]
//! (`u64::MAX`) in the field means none. Only items written with a deadline have the field, so a
//! key without one costs nothing for it. The field is the one part of an item that changes while
//! the item is linked: the writer holds the lock of the bucket linking the item and has begun a
//! write of that bucket (its version is odd), so an optimistic reader that copied any byte of the
//! change fails validation exactly as for a slot it saw changing (the seqlock argument of
//! `bucket.rs`). Readers that do not validate — under a pin (a large item), or after a visit's
//! locks are released — never read the field: the deadline they act on was read under the bucket
//! lock or validated. Nothing else of the item changes: its header (and so the presence of the
//! field) is fixed when it is written.
//!
//! # Where an item lives
//! An item no larger than the largest size class takes one chunk of the smallest class that
//! holds it. A larger one takes whole pages: the first (a `Head` page) holds the start of the
//! stream, each page's metadata links the next piece, and the rest goes in further (`Chain`)
//! pages while more than the largest class remains, the remainder in one chunk. All pieces are
//! taken and written before the item is linked into the index, and an item is never changed
//! while linked (but for its deadline, above): an overwrite links a new item and frees the old
//! one.
//!
//! # Reading an item that may be freed meanwhile
//! A reader that holds no lock finds an item through a slot word it read optimistically. A
//! small item (one chunk) is copied with atomic word loads and the copy is kept only if the
//! bucket's version, read again after a `fence(Acquire)`, did not change. That suffices even if
//! the chunk was freed and handed to another item while it was being copied:
//! 1. the writer that unlinks an item bumps the bucket's version before it frees the chunk;
//! 2. a free and the allocation that hands the chunk out again are ordered by the class lock
//!    (or the free-page stack), so the bump happens before the new owner owns the chunk;
//! 3. every store into a chunk by a new owner (or by the freer, writing a free-list link) comes
//!    after a `fence(Release)` issued after taking ownership;
//! 4. so if any word the reader copied came from such a store, that fence synchronises with the
//!    reader's `fence(Acquire)`, the bump happens before the reader's second version load, and
//!    the reader sees a changed version and discards the copy.
//!
//! The arena is never unmapped while the table lives, so the loads themselves are always of
//! valid memory; lengths read from a header are clamped to the page before they are used.
//!
//! A large item is read under a pin instead (`page.rs`): optimistic copies of megabytes could
//! be disturbed forever by writers, and a pinned item is never freed, so its copy needs no
//! retry.

use crate::arena::{Arena, ArenaView, Loc};
use crate::budget::Budget;
use crate::error::Error;
use crate::hash::SipHasher13;
use crate::memory::{copy_in, copy_out, equal, Memory, WordWriter, WORD};
use crate::page::{self, Kind, LINK, STATE};
use crate::sync::{fence, Ordering, Wait};

const LONG: u32 = 1;
/// An 8-byte deadline follows the header.
const DEADLINE: u32 = 2;
/// Bytes of the deadline field.
const DEADLINE_BYTES: usize = 8;
/// The deadline field's value for "none": an item keeps its field when its deadline is removed.
pub(crate) const NO_DEADLINE: u64 = u64::MAX;
const SHORT_KEY_MAX: usize = 255;
const SHORT_VALUE_MAX: usize = (1 << 22) - 1;
/// Header bytes an item may need: the long form.
pub(crate) const MAX_HEADER: usize = 16;

/// An item's lengths and where its key and value start in its byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) klen: usize,
    pub(crate) vlen: usize,
    /// Bytes before the key: header and deadline.
    pub(crate) key_at: usize,
    /// Whether the deadline field is there (just before the key).
    pub(crate) has_deadline: bool,
}

impl Header {
    /// The header of a new item, with a deadline field or not.
    #[inline]
    pub(crate) fn new(klen: usize, vlen: usize, has_deadline: bool) -> Self {
        let head = if klen <= SHORT_KEY_MAX && vlen <= SHORT_VALUE_MAX {
            4
        } else {
            MAX_HEADER
        };
        let field = if has_deadline { DEADLINE_BYTES } else { 0 };
        Self {
            klen,
            vlen,
            key_at: head + field,
            has_deadline,
        }
    }

    /// Where the deadline field starts, if there is one.
    #[inline]
    pub(crate) fn deadline_at(&self) -> Option<usize> {
        self.has_deadline.then(|| self.key_at - DEADLINE_BYTES)
    }

    /// Where the value starts.
    #[inline]
    pub(crate) fn value_at(&self) -> usize {
        self.key_at + self.klen
    }

    /// The item's length in bytes.
    #[inline]
    pub(crate) fn total(&self) -> usize {
        self.key_at + self.klen + self.vlen
    }

    /// The header's bytes and the deadline field (holding `deadline`, if the header has the
    /// field): everything before the key, `key_at` bytes.
    fn encode(&self, deadline: u64) -> [u8; MAX_HEADER + DEADLINE_BYTES] {
        let mut out = [0u8; MAX_HEADER + DEADLINE_BYTES];
        let (flag, field) = if self.has_deadline {
            (DEADLINE, DEADLINE_BYTES)
        } else {
            (0, 0)
        };
        let head = if self.key_at - field == 4 {
            // Both fit: checked by `new`.
            let h = ((self.klen as u32) << 2) | ((self.vlen as u32) << 10) | flag;
            out[..4].copy_from_slice(&h.to_le_bytes());
            4
        } else {
            out[..4].copy_from_slice(&(LONG | flag).to_le_bytes());
            // Key lengths are limited to 32 bits by `Table::new`.
            out[4..8].copy_from_slice(&(self.klen as u32).to_le_bytes());
            out[8..16].copy_from_slice(&(self.vlen as u64).to_le_bytes());
            MAX_HEADER
        };
        if self.has_deadline {
            out[head..head + DEADLINE_BYTES].copy_from_slice(&deadline.to_le_bytes());
        }
        out
    }

    /// The header whose stream starts with `first` (as many bytes as were readable, up to 16).
    /// `None` if they cannot be a header.
    #[inline]
    pub(crate) fn decode(first: &[u8]) -> Option<Self> {
        let h = u32::from_le_bytes(first.get(..4)?.try_into().ok()?);
        let has_deadline = h & DEADLINE != 0;
        let field = if has_deadline { DEADLINE_BYTES } else { 0 };
        if h & LONG == 0 {
            return Some(Self {
                klen: ((h >> 2) & 0xff) as usize,
                vlen: (h >> 10) as usize,
                key_at: 4 + field,
                has_deadline,
            });
        }
        let klen = u32::from_le_bytes(first.get(4..8)?.try_into().ok()?);
        let vlen = u64::from_le_bytes(first.get(8..16)?.try_into().ok()?);
        Some(Self {
            klen: usize::try_from(klen).ok()?,
            vlen: usize::try_from(vlen).ok()?,
            key_at: MAX_HEADER + field,
            has_deadline,
        })
    }
}

/// The deadline a field's bytes hold: `None` for [`NO_DEADLINE`].
#[inline]
fn deadline_of(bytes: [u8; DEADLINE_BYTES]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes)).filter(|&d| d != NO_DEADLINE)
}

/// A small item as an optimistic reader saw it: where it starts (byte offset in the page area)
/// and its header, clamped so every range it names lies inside its page. Untrusted until the
/// reader validates the bucket's version.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Glimpse {
    pub(crate) at: usize,
    pub(crate) hdr: Header,
}

/// A source of an item's bytes, handed out in order.
trait Bytes {
    /// Hands the next `n` bytes to `f`, in as few slices as the source allows.
    fn take(&mut self, n: usize, f: impl FnMut(&[u8]));
}

/// Slices, one after another: a new item's header and deadline, key and value.
struct Parts<'a> {
    parts: [&'a [u8]; 3],
    part: usize,
    off: usize,
}

impl<'a> Parts<'a> {
    fn new(parts: [&'a [u8]; 3]) -> Self {
        Self {
            parts,
            part: 0,
            off: 0,
        }
    }
}

impl Bytes for Parts<'_> {
    fn take(&mut self, mut n: usize, mut f: impl FnMut(&[u8])) {
        while n > 0 && self.part < 3 {
            let rest = &self.parts[self.part][self.off..];
            let k = rest.len().min(n);
            if k > 0 {
                f(&rest[..k]);
            }
            n -= k;
            self.off += k;
            if self.off == self.parts[self.part].len() {
                self.part += 1;
                self.off = 0;
            }
        }
    }
}

/// A new header and deadline, then the key and value of an item already in the arena (stable:
/// the caller holds its bucket lock or a pin), copied through a buffer on the stack.
struct Copied<'a, 'v> {
    head: &'a [u8],
    view: ArenaView<'v>,
    loc: Loc,
    hdr: Header,
    /// The next byte of the old item's stream to hand out.
    pos: usize,
}

impl Bytes for Copied<'_, '_> {
    fn take(&mut self, mut n: usize, mut f: impl FnMut(&[u8])) {
        if !self.head.is_empty() {
            let k = self.head.len().min(n);
            f(&self.head[..k]);
            self.head = &self.head[k..];
            n -= k;
        }
        let n = n.min(self.hdr.total() - self.pos);
        let words = self.view.data();
        let mut buf = [0u8; 256];
        // One walk of the old item's pieces per call: a call fills at most one page.
        self.view
            .pieces(self.loc, &self.hdr, self.pos, n, |mut at, mut len, _| {
                while len > 0 {
                    let k = len.min(buf.len());
                    copy_out(words, at, &mut buf[..k]);
                    f(&buf[..k]);
                    at += k;
                    len -= k;
                }
                true
            });
        self.pos += n;
    }
}

impl<A: Memory> Arena<A> {
    /// Takes memory for an item of `key` and `value`, with a deadline field holding `deadline`
    /// if there is one ([`NO_DEADLINE`] for a field that says "none"), charging the budget, and
    /// writes it. Not yet linked: only the caller knows where it is. Returns its location, and
    /// whether it is large (takes whole pages).
    pub(crate) fn write_item(
        &self,
        budget: &Budget,
        key: &[u8],
        value: &[u8],
        deadline: Option<u64>,
        wait: Wait,
    ) -> Result<(Loc, bool), Error> {
        let hdr = Header::new(key.len(), value.len(), deadline.is_some());
        let head = hdr.encode(deadline.unwrap_or(NO_DEADLINE));
        let mut stream = Parts::new([&head[..hdr.key_at], key, value]);
        self.write_stream(budget, hdr.total(), &mut stream, wait)
    }

    /// Writes a copy of the stable item at `loc` (its bucket is locked, or it is pinned) with a
    /// deadline field holding `deadline`, as [`Arena::write_item`] would write its key and value.
    pub(crate) fn copy_item(
        &self,
        budget: &Budget,
        loc: Loc,
        hdr: &Header,
        deadline: u64,
        wait: Wait,
    ) -> Result<(Loc, bool), Error> {
        let new = Header::new(hdr.klen, hdr.vlen, true);
        let head = new.encode(deadline);
        let mut stream = Copied {
            head: &head[..new.key_at],
            view: self.view(),
            loc,
            hdr: *hdr,
            pos: hdr.key_at,
        };
        self.write_stream(budget, new.total(), &mut stream, wait)
    }

    /// Takes memory for an item of `total` bytes and writes `stream` into it.
    fn write_stream(
        &self,
        budget: &Budget,
        total: usize,
        stream: &mut impl Bytes,
        wait: Wait,
    ) -> Result<(Loc, bool), Error> {
        if let Some(c) = self.classes.of(total) {
            let loc = self.alloc_chunk(budget, c, wait)?;
            self.fill(loc, total, stream);
            return Ok((loc, false));
        }
        let page = self.lay.page_bytes;
        let first = self.take_large_page(budget, Kind::Head, wait)?;
        let head_loc = self.view().page_loc(first);
        self.fill(head_loc, total.min(page), stream);
        let mut last_page = first;
        let mut left = total.saturating_sub(page);
        while left > 0 {
            let piece = if let Some(c) = self.classes.of(left) {
                self.alloc_chunk(budget, c, wait)
            } else {
                self.take_large_page(budget, Kind::Chain, wait)
                    .map(|p| self.view().page_loc(p))
            };
            let loc = match piece {
                Ok(loc) => loc,
                Err(e) => {
                    // Nothing links the item yet: free what was taken and change nothing.
                    self.free_item(budget, head_loc, Wait::Block);
                    return Err(e);
                }
            };
            self.view().meta(last_page)[LINK].store(loc + 1, Ordering::Relaxed);
            let n = left.min(page);
            self.fill(loc, n, stream);
            left -= n;
            last_page = self.view().page_of(loc);
        }
        Ok((head_loc, true))
    }

    /// The arena bytes an item of a `klen`-byte key and a `vlen`-byte value takes: its chunk,
    /// or its whole pages and the chunk of its tail, as `write_item` lays it out.
    pub(crate) fn footprint(&self, klen: usize, vlen: usize) -> usize {
        let total = Header::new(klen, vlen, false).total();
        if let Some(c) = self.classes.of(total) {
            return self.classes.size(c);
        }
        let page = self.lay.page_bytes;
        let rest = total.saturating_sub(page);
        let whole = rest / page;
        let tail = rest % page;
        let tail_bytes = match self.classes.of(tail) {
            _ if tail == 0 => 0,
            Some(c) => self.classes.size(c),
            None => page,
        };
        page * (1 + whole) + tail_bytes
    }

    fn take_large_page(&self, budget: &Budget, kind: Kind, wait: Wait) -> Result<usize, Error> {
        let p = self.take_page(budget, wait, None)?;
        let m = self.view().meta(p);
        m[LINK].store(0, Ordering::Relaxed);
        page::change(&m[STATE], |s| page::reuse(s, kind));
        Ok(p)
    }

    /// Writes the next `n` bytes of `stream` at `loc`, which the caller has just taken.
    fn fill(&self, loc: Loc, n: usize, stream: &mut impl Bytes) {
        // The chunk or page may have held an item an optimistic reader is still copying: our
        // stores must not become visible before what made it ours (see the module docs).
        fence(Ordering::Release);
        let at = loc * 8 / WORD;
        let mut w = WordWriter::new(&self.view().data()[at..at + n.div_ceil(WORD)]);
        stream.take(n, |b| w.write(b));
        w.finish();
    }
}

impl<'a> ArenaView<'a> {
    /// What an optimistic reader sees at `loc`, a small item's location read from a slot:
    /// `None` if the location is out of range or its first bytes cannot be a header that fits
    /// the page. The page's metadata is not read: whatever the page holds now, the ranges named
    /// stay inside it, and the caller validates before trusting anything.
    #[inline]
    pub(crate) fn glimpse(&self, loc: Loc) -> Option<Glimpse> {
        let at = loc.checked_mul(8)?;
        if at >= self.data_bytes() {
            return None;
        }
        let room = (at | (self.lay.page_bytes - 1)) + 1 - at;
        let words = self.data();
        let first = words[at / WORD].load(Ordering::Relaxed).to_le();
        // The header's first 32 bits, little-endian, are the word's low bytes (`at` is 8-byte
        // aligned, so on 32-bit targets the first word is exactly those bytes).
        let h = first as u32;
        let hdr = if h & (LONG | DEADLINE) == 0 {
            Header {
                klen: ((h >> 2) & 0xff) as usize,
                vlen: (h >> 10) as usize,
                key_at: 4,
                has_deadline: false,
            }
        } else {
            self.glimpse_header(at, room)?
        };
        let fits = hdr
            .key_at
            .checked_add(hdr.klen)
            .and_then(|n| n.checked_add(hdr.vlen))
            .is_some_and(|end| end <= room);
        fits.then_some(Glimpse { at, hdr })
    }

    /// The header of whatever item starts at byte `at`, with `room` bytes left in its page,
    /// read with atomic loads and decoded; `None` if it cannot be a header (untrusted).
    fn glimpse_header(&self, at: usize, room: usize) -> Option<Header> {
        let mut bytes = [0u8; MAX_HEADER];
        let readable = room.min(MAX_HEADER);
        copy_out(self.data(), at, &mut bytes[..readable]);
        Header::decode(&bytes[..readable])
    }

    /// The deadline of the glimpsed item (untrusted until validated): `None` for none.
    #[inline]
    pub(crate) fn glimpse_deadline(&self, g: &Glimpse) -> Option<u64> {
        let field = g.hdr.deadline_at()?;
        let mut bytes = [0u8; DEADLINE_BYTES];
        copy_out(self.data(), g.at + field, &mut bytes);
        deadline_of(bytes)
    }

    /// The deadline of a large item whose head page starts at `loc`, read as an optimistic
    /// reader reads a small item (untrusted until validated): `None` for none, or if the bytes
    /// there cannot be a header. Every load stays inside the page.
    pub(crate) fn peek_deadline(&self, loc: Loc) -> Option<u64> {
        let at = loc.checked_mul(8)?;
        if at >= self.data_bytes() {
            return None;
        }
        let room = (at | (self.lay.page_bytes - 1)) + 1 - at;
        let hdr = self.glimpse_header(at, room)?;
        let field = hdr.deadline_at()?;
        if field + DEADLINE_BYTES > room {
            return None;
        }
        let mut bytes = [0u8; DEADLINE_BYTES];
        copy_out(self.data(), at + field, &mut bytes);
        deadline_of(bytes)
    }

    /// The deadline of the stable item at `loc` (as for [`ArenaView::header`]): `None` for none.
    /// The field lies in the item's first piece (a chunk or page holds at least 64 bytes).
    pub(crate) fn deadline(&self, loc: Loc, hdr: &Header) -> Option<u64> {
        let field = hdr.deadline_at()?;
        let mut bytes = [0u8; DEADLINE_BYTES];
        copy_out(self.data(), loc * 8 + field, &mut bytes);
        deadline_of(bytes)
    }

    /// Stores `deadline` ([`NO_DEADLINE`] for none) in the deadline field of the item at `loc`,
    /// which has one. The caller holds the lock of the bucket linking the item and has begun a
    /// write of that bucket (see the module docs), or owns the item (not yet linked).
    pub(crate) fn set_deadline(&self, loc: Loc, hdr: &Header, deadline: u64) {
        if let Some(field) = hdr.deadline_at() {
            copy_in(self.data(), loc * 8 + field, &deadline.to_le_bytes());
        }
    }

    /// Whether the glimpsed item's key is `key` (untrusted until validated).
    #[inline]
    pub(crate) fn glimpse_key_is(&self, g: &Glimpse, key: &[u8]) -> bool {
        g.hdr.klen == key.len() && equal(self.data(), g.at + g.hdr.key_at, key)
    }

    /// Copies the glimpsed item's value into `out` (of exactly its length).
    #[inline]
    pub(crate) fn glimpse_value(&self, g: &Glimpse, out: &mut [u8]) {
        copy_out(self.data(), g.at + g.hdr.value_at(), out);
    }

    /// The header of the item at `loc`, which cannot change or be freed meanwhile: the caller
    /// holds the lock of the bucket linking it, or a pin, or owns it.
    pub(crate) fn header(&self, loc: Loc) -> Header {
        let at = loc * 8;
        let page_end = (at | (self.lay.page_bytes - 1)) + 1;
        let mut first = [0u8; MAX_HEADER];
        let readable = (page_end - at).min(MAX_HEADER);
        copy_out(self.data(), at, &mut first[..readable]);
        Header::decode(&first[..readable]).unwrap_or(Header {
            klen: 0,
            vlen: 0,
            key_at: 4,
            has_deadline: false,
        })
    }

    /// Calls `f` with each piece of the stable item at `loc` that overlaps bytes
    /// `from..from + len` of its stream: `(byte offset in the page area, length, offset of the
    /// piece's first byte within the requested range)`.
    fn pieces(
        &self,
        loc: Loc,
        hdr: &Header,
        from: usize,
        len: usize,
        mut f: impl FnMut(usize, usize, usize) -> bool,
    ) -> bool {
        let end = from + len;
        let total = hdr.total();
        let mut at = loc * 8;
        let mut start = 0;
        loop {
            let p = self.page_of(at / 8);
            let whole_page = matches!(
                page::kind(self.state(p).load(Ordering::Relaxed)),
                Kind::Head | Kind::Chain
            );
            let piece_len = if whole_page {
                self.lay.page_bytes.min(total - start)
            } else {
                total - start
            };
            let lo = from.max(start);
            let hi = end.min(start + piece_len);
            if lo < hi && !f(at + (lo - start), hi - lo, lo - from) {
                return false;
            }
            start += piece_len;
            if start >= end || !whole_page {
                return true;
            }
            let next = self.meta(p)[LINK].load(Ordering::Relaxed);
            if next == 0 {
                return true;
            }
            at = (next - 1) * 8;
        }
    }

    /// Copies bytes `from..from + out.len()` of the stable item's stream into `out`.
    pub(crate) fn read(&self, loc: Loc, hdr: &Header, from: usize, out: &mut [u8]) {
        let words = self.data();
        self.pieces(loc, hdr, from, out.len(), |at, n, o| {
            copy_out(words, at, &mut out[o..o + n]);
            true
        });
    }

    /// Whether the stable item's key is `key`.
    pub(crate) fn key_is(&self, loc: Loc, hdr: &Header, key: &[u8]) -> bool {
        let words = self.data();
        hdr.klen == key.len()
            && self.pieces(loc, hdr, hdr.key_at, hdr.klen, |at, n, o| {
                equal(words, at, &key[o..o + n])
            })
    }

    /// Feeds the stable item's key to `h`.
    pub(crate) fn hash_key(&self, loc: Loc, hdr: &Header, h: &mut SipHasher13) {
        let words = self.data();
        let mut buf = [0u8; 64];
        self.pieces(loc, hdr, hdr.key_at, hdr.klen, |mut at, mut n, _| {
            while n > 0 {
                let k = n.min(buf.len());
                copy_out(words, at, &mut buf[..k]);
                h.write(&buf[..k]);
                at += k;
                n -= k;
            }
            true
        });
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_in_both_forms_with_and_without_a_deadline() {
        for (k, v, at) in [
            (0, 0, 4),
            (16, 64, 4),
            (255, SHORT_VALUE_MAX, 4),
            (256, 0, 16),
            (1, SHORT_VALUE_MAX + 1, 16),
            (70_000, 1 << 30, 16),
        ] {
            for dl in [false, true] {
                let h = Header::new(k, v, dl);
                assert_eq!(h.key_at, at + if dl { 8 } else { 0 });
                let bytes = h.encode(0x0102_0304_0506_0708);
                assert_eq!(Header::decode(&bytes[..h.key_at]), Some(h));
                if let Some(field) = h.deadline_at() {
                    assert_eq!(field, at);
                    assert_eq!(
                        deadline_of(bytes[field..field + 8].try_into().unwrap()),
                        Some(0x0102_0304_0506_0708)
                    );
                }
            }
        }
        assert_eq!(Header::new(16, 64, false).total(), 84);
        assert_eq!(Header::new(16, 64, true).total(), 92);
        assert_eq!(Header::new(16, 64, true).deadline_at(), Some(4));
        assert_eq!(Header::new(16, 64, false).deadline_at(), None);
    }

    #[test]
    fn a_short_read_of_a_long_header_is_not_a_header() {
        let bytes = Header::new(300, 1, false).encode(NO_DEADLINE);
        assert_eq!(Header::decode(&bytes[..8]), None);
    }

    #[test]
    fn the_field_of_no_deadline_reads_as_none() {
        assert_eq!(deadline_of(NO_DEADLINE.to_le_bytes()), None);
        assert_eq!(deadline_of(0u64.to_le_bytes()), Some(0));
    }
}
