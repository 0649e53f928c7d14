//! Keyed hashing: SipHash-1-3 with a 128-bit secret key.
//!
//! The table is reachable from the network, so a client must not be able to choose keys that all
//! land in one bucket pair (hash flooding). SipHash is a keyed pseudo-random function designed for
//! exactly this; with a key the client does not know, colliding keys cannot be computed offline.
//! FNV and the `h * 31 + c` of the original design have no key at all, and foldhash (hashbrown's
//! default) is fast but does not claim resistance to flooding. SipHash-1-3 is the variant Rust's
//! standard `HashMap` uses.

/// The 128-bit secret that keys the hash. A server fills it from the OS random source.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashKey(pub [u8; 16]);

impl core::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The key is a secret: never print it.
        f.write_str("HashKey(..)")
    }
}

/// SipHash state, generic over the number of compression (`C`) and finalisation (`D`) rounds.
#[derive(Clone, Copy, Debug)]
pub struct SipHasher<const C: usize, const D: usize> {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    length: usize,
}

/// SipHash-1-3, the table's hash.
pub type SipHasher13 = SipHasher<1, 3>;
/// SipHash-2-4, the variant of the original paper.
pub type SipHasher24 = SipHasher<2, 4>;

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

impl<const C: usize, const D: usize> SipHasher<C, D> {
    /// A hasher keyed with `key`.
    pub const fn new(key: &HashKey) -> Self {
        let k = &key.0;
        let k0 = u64::from_le_bytes([k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]]);
        let k1 = u64::from_le_bytes([k[8], k[9], k[10], k[11], k[12], k[13], k[14], k[15]]);
        Self {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..C {
            round(&mut self.v);
        }
        self.v[0] ^= m;
    }

    /// Feeds `bytes` into the hash.
    #[inline]
    pub fn write(&mut self, mut bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len());
        if self.ntail != 0 {
            while self.ntail < 8 {
                let Some((&b, rest)) = bytes.split_first() else {
                    return;
                };
                self.tail |= u64::from(b) << (8 * self.ntail);
                self.ntail += 1;
                bytes = rest;
            }
            let m = self.tail;
            self.compress(m);
            self.tail = 0;
            self.ntail = 0;
        }
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.compress(u64::from_le_bytes(word));
        }
        for (i, &b) in chunks.remainder().iter().enumerate() {
            self.tail |= u64::from(b) << (8 * i);
        }
        self.ntail = chunks.remainder().len();
    }

    /// The 64-bit hash of everything written so far.
    #[inline]
    pub fn finish(&self) -> u64 {
        let mut v = self.v;
        let b = ((self.length as u64 & 0xff) << 56) | self.tail;
        v[3] ^= b;
        for _ in 0..C {
            round(&mut v);
        }
        v[0] ^= b;
        v[2] ^= 0xff;
        for _ in 0..D {
            round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

impl<const C: usize, const D: usize> core::hash::Hasher for SipHasher<C, D> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        SipHasher::write(self, bytes);
    }

    #[inline]
    fn finish(&self) -> u64 {
        SipHasher::finish(self)
    }
}

/// Builds [`SipHasher13`]s with one key, so other maps can hash exactly as the table does.
#[derive(Clone, Copy, Debug)]
pub struct BuildSipHasher13(pub HashKey);

impl core::hash::BuildHasher for BuildSipHasher13 {
    type Hasher = SipHasher13;

    #[inline]
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new(&self.0)
    }
}

/// SipHash-1-3 of `bytes` under `key`, in one call.
#[inline]
pub fn sip13(key: &HashKey, bytes: &[u8]) -> u64 {
    let mut h = SipHasher13::new(key);
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_key() -> HashKey {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        HashKey(k)
    }

    #[test]
    fn siphash24_matches_the_paper_vector() {
        // Appendix A of "SipHash: a fast short-input PRF": key 00..0f, message 00..0e.
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        let mut h = SipHasher24::new(&reference_key());
        h.write(&msg);
        assert_eq!(h.finish(), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn siphash24_matches_core_for_every_length() {
        extern crate std;
        #[allow(deprecated)]
        use core::hash::{Hasher, SipHasher as CoreSip};
        let key = reference_key();
        let k0 = u64::from_le_bytes(key.0[..8].try_into().unwrap());
        let k1 = u64::from_le_bytes(key.0[8..].try_into().unwrap());
        let msg: [u8; 64] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for len in 0..msg.len() {
            #[allow(deprecated)]
            let mut reference = CoreSip::new_with_keys(k0, k1);
            reference.write(&msg[..len]);
            let mut ours = SipHasher24::new(&key);
            ours.write(&msg[..len]);
            assert_eq!(ours.finish(), reference.finish(), "length {len}");
        }
    }

    #[test]
    fn siphash13_matches_std_default_hasher() {
        extern crate std;
        use core::hash::Hasher;
        // std's DefaultHasher is SipHash-1-3 with a zero key.
        let msg: [u8; 40] = core::array::from_fn(|i| (i * 13 + 1) as u8);
        for len in 0..msg.len() {
            let mut reference = std::collections::hash_map::DefaultHasher::new();
            reference.write(&msg[..len]);
            assert_eq!(
                sip13(&HashKey([0; 16]), &msg[..len]),
                reference.finish(),
                "length {len}"
            );
        }
    }

    #[test]
    fn split_writes_hash_like_one_write() {
        let key = reference_key();
        let msg: [u8; 30] = core::array::from_fn(|i| (i * 5) as u8);
        for cut in 0..msg.len() {
            let mut h = SipHasher13::new(&key);
            h.write(&msg[..cut]);
            h.write(&msg[cut..]);
            assert_eq!(h.finish(), sip13(&key, &msg), "cut at {cut}");
        }
    }

    #[test]
    fn the_key_changes_the_hash() {
        let a = sip13(&HashKey([1; 16]), b"user1");
        let b = sip13(&HashKey([2; 16]), b"user1");
        assert_ne!(a, b);
    }

    #[test]
    fn debug_hides_the_key() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{:?}", HashKey([7; 16])), "HashKey(..)");
    }
}
