//! The memory a table is built over: words the caller hands over, which the table reads and
//! writes only with atomic loads and stores.
//!
//! A table takes two regions ([`Memory`]): the arena, where items (key and value bytes) live in
//! pages, and the index, where the directory and the segments of slot words live. A
//! microcontroller passes `static` arrays of [`Word`]s; a host passes a large anonymous mapping
//! that becomes resident only as pages are touched (`kv-std`'s `storage` module). Both must be
//! all zeros when the table is built: zero is an empty table, so building one writes nothing.
//!
//! Bytes are stored in words in native byte order; the helpers here copy byte ranges in and out
//! of word arrays, one atomic access per word.

use crate::sync::{AtomicUsize, Ordering};

/// One word of table memory: an `AtomicUsize` (loom's under `--cfg kv_loom`).
pub type Word = AtomicUsize;

/// Bytes in one word: 8 on 64-bit targets, 4 on thumbv7em.
pub const WORD: usize = core::mem::size_of::<usize>();

/// A region of words a table is built over, and where it tells the owner that a run of words is
/// unused for now.
///
/// The words must be zero when the table is built, and must stay valid (mapped) as long as the
/// table lives: optimistic readers may read any word of a region at any time.
pub trait Memory {
    /// The region.
    fn words(&self) -> &[Word];

    /// The table stopped using `len` words from word `start` (a whole arena page, never index
    /// memory): the owner may give the memory back to the system, after which the words may
    /// read as zero. The table writes them again before it reads them as its own. The default
    /// does nothing; a `static` array has nothing to give back.
    fn release(&self, start: usize, len: usize) {
        let _ = (start, len);
    }
}

impl Memory for &[Word] {
    #[inline]
    fn words(&self) -> &[Word] {
        self
    }
}

impl<const N: usize> Memory for [Word; N] {
    #[inline]
    fn words(&self) -> &[Word] {
        self
    }
}

impl<M: Memory + ?Sized> Memory for &M {
    #[inline]
    fn words(&self) -> &[Word] {
        (**self).words()
    }

    #[inline]
    fn release(&self, start: usize, len: usize) {
        (**self).release(start, len);
    }
}

/// Packs up to [`WORD`] bytes into a word, zero-padded.
#[inline]
pub(crate) fn word_from(chunk: &[u8]) -> usize {
    if let Ok(whole) = <[u8; WORD]>::try_from(chunk) {
        return usize::from_ne_bytes(whole);
    }
    let mut buf = [0u8; WORD];
    buf[..chunk.len()].copy_from_slice(chunk);
    usize::from_ne_bytes(buf)
}

/// The low `n` bytes (at most 8) set.
#[inline]
fn byte_mask(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1 << (8 * n)) - 1
    }
}

/// Up to 8 bytes as a little-endian number, with fixed-size loads only (overlapping ones), so
/// no call to `memcpy` for a few bytes.
#[inline]
fn load_le(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let hi = u64::from(u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]));
        lo | hi << (8 * (n - 4))
    } else if n > 0 {
        u64::from(b[0])
            | u64::from(b[n / 2]) << (8 * (n / 2))
            | u64::from(b[n - 1]) << (8 * (n - 1))
    } else {
        0
    }
}

/// Stores the low `out.len()` (at most 8) bytes of `v`, little-endian, with fixed-size stores.
#[inline]
fn store_le(out: &mut [u8], v: u64) {
    let n = out.len();
    if n >= 4 {
        out[..4].copy_from_slice(&(v as u32).to_le_bytes());
        out[n - 4..].copy_from_slice(&((v >> (8 * (n - 4))) as u32).to_le_bytes());
    } else {
        for (k, o) in out.iter_mut().enumerate() {
            *o = (v >> (8 * k)) as u8;
        }
    }
}

/// Word `i` as a number whose low byte is the word's first byte in memory.
#[inline]
fn load_word(words: &[Word], i: usize) -> u64 {
    words[i].load(Ordering::Relaxed).to_le() as u64
}

/// Copies bytes `at..at + out.len()` of `words` into `out`, one `Relaxed` load per word. The
/// caller has checked that the range lies inside `words`.
#[inline]
pub(crate) fn copy_out(words: &[Word], at: usize, out: &mut [u8]) {
    let mut i = at / WORD;
    let skip = at % WORD;
    let mut done = 0;
    if skip != 0 && !out.is_empty() {
        let n = (WORD - skip).min(out.len());
        store_le(&mut out[..n], load_word(words, i) >> (8 * skip));
        done = n;
        i += 1;
    }
    let mut chunks = out[done..].chunks_exact_mut(WORD);
    for (chunk, w) in (&mut chunks).zip(&words[i..]) {
        chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
        i += 1;
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        store_le(tail, load_word(words, i));
    }
}

/// Whether bytes `at..at + want.len()` of `words` equal `want`, one `Relaxed` load per word.
/// The caller has checked that the range lies inside `words`.
#[inline]
pub(crate) fn equal(words: &[Word], at: usize, want: &[u8]) -> bool {
    let mut i = at / WORD;
    let skip = at % WORD;
    let mut rest = want;
    if skip != 0 && !rest.is_empty() {
        let n = (WORD - skip).min(rest.len());
        if (load_word(words, i) >> (8 * skip)) & byte_mask(n) != load_le(&rest[..n]) {
            return false;
        }
        rest = &rest[n..];
        i += 1;
    }
    let mut chunks = rest.chunks_exact(WORD);
    for chunk in &mut chunks {
        if words[i].load(Ordering::Relaxed) != word_from(chunk) {
            return false;
        }
        i += 1;
    }
    let tail = chunks.remainder();
    tail.is_empty() || load_word(words, i) & byte_mask(tail.len()) == load_le(tail)
}

/// Stores `bytes` at bytes `at..at + bytes.len()` of `words`, one `Relaxed` store per word; a
/// word the range covers only in part is loaded and stored back with its other bytes unchanged.
/// The caller has checked that the range lies inside `words`, and is the only writer of the
/// words it touches (so the load and store of a partial word need not be one atomic step).
#[inline]
pub(crate) fn copy_in(words: &[Word], at: usize, bytes: &[u8]) {
    let mut i = at / WORD;
    let mut skip = at % WORD;
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (WORD - skip).min(rest.len());
        let w = if skip == 0 && n == WORD {
            word_from(&rest[..WORD])
        } else {
            let mut b = words[i].load(Ordering::Relaxed).to_ne_bytes();
            b[skip..skip + n].copy_from_slice(&rest[..n]);
            usize::from_ne_bytes(b)
        };
        words[i].store(w, Ordering::Relaxed);
        rest = &rest[n..];
        skip = 0;
        i += 1;
    }
}

/// Writes a byte stream into consecutive words from a word boundary, one `Relaxed` store per
/// word; the last word is zero-padded by [`WordWriter::finish`].
pub(crate) struct WordWriter<'a> {
    words: &'a [Word],
    next: usize,
    buf: [u8; WORD],
    fill: usize,
}

impl<'a> WordWriter<'a> {
    /// A writer that starts at `words[0]`.
    #[inline]
    pub(crate) fn new(words: &'a [Word]) -> Self {
        Self {
            words,
            next: 0,
            buf: [0; WORD],
            fill: 0,
        }
    }

    /// Appends `bytes`; the caller has checked that they fit.
    #[inline]
    pub(crate) fn write(&mut self, mut bytes: &[u8]) {
        if self.fill != 0 {
            let n = (WORD - self.fill).min(bytes.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&bytes[..n]);
            self.fill += n;
            bytes = &bytes[n..];
            if self.fill < WORD {
                return;
            }
            self.store(usize::from_ne_bytes(self.buf));
            self.fill = 0;
        }
        let mut chunks = bytes.chunks_exact(WORD);
        for chunk in &mut chunks {
            self.store(word_from(chunk));
        }
        let tail = chunks.remainder();
        self.buf[..tail.len()].copy_from_slice(tail);
        self.fill = tail.len();
    }

    /// Stores the last, partial word (zero-padded), if any.
    #[inline]
    pub(crate) fn finish(mut self) {
        if self.fill != 0 {
            self.buf[self.fill..].fill(0);
            self.store(usize::from_ne_bytes(self.buf));
        }
    }

    #[inline]
    fn store(&mut self, w: usize) {
        self.words[self.next].store(w, Ordering::Relaxed);
        self.next += 1;
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    use super::*;

    fn region(n: usize) -> [Word; 8] {
        let _ = n;
        core::array::from_fn(|_| Word::new(0))
    }

    #[test]
    fn bytes_round_trip_at_every_offset_and_length() {
        let src: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for start in 0..WORD {
            for len in 0..(40 - start).min(8 * WORD - start) {
                let words = region(8);
                let mut w = WordWriter::new(&words);
                w.write(&[0xee; WORD][..start]);
                w.write(&src[..len / 2]);
                w.write(&src[len / 2..len]);
                w.finish();
                let mut out = [0u8; 40];
                copy_out(&words, start, &mut out[..len]);
                assert_eq!(&out[..len], &src[..len], "start {start} len {len}");
                assert!(equal(&words, start, &src[..len]));
                if len > 0 {
                    let mut other = src;
                    other[len - 1] ^= 1;
                    assert!(!equal(&words, start, &other[..len]));
                }
                // Overwriting the range in place keeps every byte outside it.
                words[7].store(usize::MAX, Ordering::Relaxed);
                let mut was = [0u8; 8 * WORD];
                copy_out(&words, 0, &mut was);
                let again: [u8; 40] = core::array::from_fn(|i| 0x80 | i as u8);
                copy_in(&words, start, &again[..len]);
                let mut now = [0u8; 8 * WORD];
                copy_out(&words, 0, &mut now);
                assert_eq!(
                    &now[start..start + len],
                    &again[..len],
                    "copy_in at {start}"
                );
                assert_eq!(now[..start], was[..start], "bytes before kept");
                assert_eq!(now[start + len..], was[start + len..], "bytes after kept");
            }
        }
    }
}
