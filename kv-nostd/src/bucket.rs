//! One bucket of the table: a version counter, a lock and `W` slots of inline key and value.
//!
//! Every byte a reader may see while a writer writes it is an atomic word: readers copy with
//! `Relaxed` loads and trust nothing they copied until the bucket's version, read before and
//! after, shows no writer was active. Lengths read that way are clamped before use.
//!
//! Layout: the version, the lock and the `W` 32-bit metadata words come first, within one
//! 64-byte cache line when `W <= 11`, and on 64-bit targets buckets start on a cache-line
//! boundary. A probe that misses touches that one line; a hit adds the lines of its slot's
//! payload, which follow.

use crate::sync::{AtomicMeta, AtomicUsize, AtomicVersion, Lock, Ordering, Version};

/// Bytes in one storage word (`usize`): 8 on 64-bit targets, 4 on thumbv7em.
pub const WORD: usize = core::mem::size_of::<usize>();

/// The number of words needed to hold `bytes` bytes, for naming a table's sizes in bytes:
/// `Table<S, { words(16) }, { words(64) }>`.
pub const fn words(bytes: usize) -> usize {
    bytes.div_ceil(WORD)
}

/// A slot's metadata word: occupied bit, tag and key length, 32 bits on every target.
pub(crate) type Meta = u32;

/// Bit 0 of a metadata word: the slot holds an entry.
const OCCUPIED: Meta = 1;
/// Bits 1..=16: the entry's 16-bit tag, a fragment of its hash.
const TAG_SHIFT: u32 = 1;
/// Bits 17..: the key's length in bytes.
const KLEN_SHIFT: u32 = 17;
/// The longest key a metadata word can describe.
pub(crate) const MAX_META_KEY: usize = (Meta::MAX >> KLEN_SHIFT) as usize;

/// The metadata word of an occupied slot.
#[inline]
pub(crate) fn meta(tag: u16, klen: usize) -> Meta {
    // `klen <= MAX_META_KEY`, checked for every bucket type by `Bucket::VALID`.
    OCCUPIED | (Meta::from(tag) << TAG_SHIFT) | ((klen as Meta) << KLEN_SHIFT)
}

#[inline]
pub(crate) fn is_occupied(meta: Meta) -> bool {
    meta & OCCUPIED != 0
}

#[inline]
pub(crate) fn tag_of(meta: Meta) -> u16 {
    // Truncation keeps exactly the 16 tag bits.
    (meta >> TAG_SHIFT) as u16
}

#[inline]
pub(crate) fn klen_of(meta: Meta) -> usize {
    (meta >> KLEN_SHIFT) as usize
}

/// The inline storage of one entry: `KW` words of key and `VW` words of value, in that order, so
/// a hit reads one contiguous run of memory.
#[repr(C)]
pub(crate) struct Payload<const KW: usize, const VW: usize> {
    pub(crate) vlen: AtomicUsize,
    pub(crate) key: [AtomicUsize; KW],
    pub(crate) value: [AtomicUsize; VW],
}

impl<const KW: usize, const VW: usize> Payload<KW, VW> {
    /// The value's length, clamped to the slot: a read no lock protects may be torn.
    #[inline]
    pub(crate) fn value_len(&self) -> usize {
        self.vlen.load(Ordering::Relaxed).min(VW * WORD)
    }

    /// Copies the value into the front of `out` if it fits, and returns its length either way.
    #[inline]
    pub(crate) fn read_value_into(&self, out: &mut [u8]) -> usize {
        let len = self.value_len();
        if let Some(out) = out.get_mut(..len) {
            // Whole words first, as single stores; then the bytes of a last, partial word.
            let mut chunks = out.chunks_exact_mut(WORD);
            for (chunk, w) in (&mut chunks).zip(&self.value) {
                chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
            }
            let tail = chunks.into_remainder();
            if let Some(w) = self.value.get(len / WORD).filter(|_| !tail.is_empty()) {
                tail.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes()[..tail.len()]);
            }
        }
        len
    }

    /// Copies the value's words into `out` and returns its length.
    #[inline]
    pub(crate) fn read_value_words(&self, out: &mut [usize; VW]) -> usize {
        let len = self.value_len();
        for (o, w) in out.iter_mut().zip(&self.value).take(len.div_ceil(WORD)) {
            *o = w.load(Ordering::Relaxed);
        }
        len
    }
}

/// A bucket of `W` slots, each holding a key of up to `KW` words and a value of up to `VW` words.
///
/// Buckets are the table's storage: build them with [`Bucket::new`] (a `const fn`, so an array of
/// them can be a `static`) and hand them to [`Table`](crate::Table).
///
/// On 64-bit targets a bucket starts on a 64-byte boundary, a cache line on the processors those
/// targets run on. Elsewhere it is not padded: a microcontroller has no cache to align to, and
/// every byte of RAM counts.
#[cfg_attr(target_pointer_width = "64", repr(C, align(64)))]
#[cfg_attr(not(target_pointer_width = "64"), repr(C))]
pub struct Bucket<const KW: usize, const VW: usize, const W: usize = 8> {
    /// Even while no writer is inside; bumped to odd before a write and back to even after.
    pub(crate) version: AtomicVersion,
    pub(crate) lock: Lock,
    pub(crate) meta: [AtomicMeta; W],
    pub(crate) slots: [Payload<KW, VW>; W],
}

impl<const KW: usize, const VW: usize, const W: usize> Bucket<KW, VW, W> {
    const VALID: () = {
        assert!(W > 0, "a bucket needs at least one slot");
        assert!(W <= 64, "at most 64 slots per bucket");
        assert!(
            KW * WORD <= MAX_META_KEY,
            "key too long for the metadata word"
        );
    };

    /// An empty bucket.
    #[cfg(not(kv_loom))]
    pub const fn new() -> Self {
        let () = Self::VALID;
        Self {
            version: AtomicVersion::new(0),
            lock: Lock::new(),
            meta: [const { AtomicMeta::new(0) }; W],
            slots: [const {
                Payload {
                    vlen: AtomicUsize::new(0),
                    key: [const { AtomicUsize::new(0) }; KW],
                    value: [const { AtomicUsize::new(0) }; VW],
                }
            }; W],
        }
    }

    /// An empty bucket.
    #[cfg(kv_loom)]
    pub fn new() -> Self {
        let () = Self::VALID;
        Self {
            version: AtomicVersion::new(0),
            lock: Lock::new(),
            meta: core::array::from_fn(|_| AtomicMeta::new(0)),
            slots: core::array::from_fn(|_| Payload {
                vlen: AtomicUsize::new(0),
                key: core::array::from_fn(|_| AtomicUsize::new(0)),
                value: core::array::from_fn(|_| AtomicUsize::new(0)),
            }),
        }
    }

    /// Marks the start of a write; the caller holds this bucket's lock.
    ///
    /// The `AcqRel` read-modify-write (rather than a plain store) also orders this write after a
    /// visitor's cursor update, see `Table::visit`.
    #[inline]
    pub(crate) fn begin_write(&self) -> Version {
        let before = self.version.fetch_add(1, Ordering::AcqRel);
        // Payload stores below may not become visible before the odd version does.
        crate::sync::fence(Ordering::Release);
        before
    }

    /// Marks the end of a write begun by [`Bucket::begin_write`].
    #[inline]
    pub(crate) fn end_write(&self, before: Version) {
        self.version
            .store(before.wrapping_add(2), Ordering::Release);
    }

    /// Copies slot `i`'s payload into `dst` (the caller holds both buckets' locks and has begun
    /// a write on `dst`'s bucket).
    pub(crate) fn copy_payload(&self, i: usize, dst: &Payload<KW, VW>) {
        let src = &self.slots[i];
        dst.vlen
            .store(src.vlen.load(Ordering::Relaxed), Ordering::Relaxed);
        for (d, s) in dst.key.iter().zip(&src.key) {
            d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        for (d, s) in dst.value.iter().zip(&src.value) {
            d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

impl<const KW: usize, const VW: usize, const W: usize> Default for Bucket<KW, VW, W> {
    fn default() -> Self {
        Self::new()
    }
}

/// Stores `bytes` into the first words of `words`, zero-padding the last one. Words past the end
/// are left as they are: readers use only the words the stored length covers.
#[inline]
pub(crate) fn store_bytes(words: &[AtomicUsize], bytes: &[u8]) {
    for (w, chunk) in words.iter().zip(bytes.chunks(WORD)) {
        w.store(word_from(chunk), Ordering::Relaxed);
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

/// Packs `bytes` into `out`, zero-padded; `bytes` must fit.
#[inline]
pub(crate) fn pack<const N: usize>(bytes: &[u8]) -> [usize; N] {
    // Word by word, as values: building the array in memory through a loop of stores made the
    // copy that followed wait for them (a load wider than the stores cannot be forwarded).
    core::array::from_fn(|i| {
        let rest = bytes.get(i * WORD..).unwrap_or(&[]);
        word_from(&rest[..rest.len().min(WORD)])
    })
}

/// The bytes of a word array, for handing a copied value to a caller without another copy.
#[inline]
pub(crate) fn as_bytes(words: &[usize]) -> &[u8] {
    // SAFETY: `words` is a live, initialised allocation of `size_of_val(words)` bytes; `u8` has
    // alignment 1 and every bit pattern is a valid `u8`; the returned slice borrows `words`, so
    // it cannot outlive it or alias a mutable borrow of it.
    unsafe {
        core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), core::mem::size_of_val(words))
    }
}
