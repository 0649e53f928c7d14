//! CRC-64 as Redis computes it for RDB files and DUMP payloads.
//!
//! The "Jones" polynomial `0xad93d23594c935a9`, reflected in and out (so the table uses the
//! bit-reversed `0x95ac9329ac4bc9b5`), starting from 0 and with no final xor. Redis's `crc64.c`
//! header says the initial value is all ones, but every caller passes 0, and 0 is what matches
//! real files.
//!
//! Eight bytes are folded per step with eight tables ("slicing by 8"), as Redis's `crcspeed`
//! does, so checksumming a 512 MB value costs about as much as copying it.

/// The reflected polynomial.
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

/// `TABLES[0]` is the byte-at-a-time table; `TABLES[k][b]` is the CRC of byte `b` followed by
/// `k` zero bytes.
static TABLES: [[u64; 256]; 8] = tables();

const fn tables() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// A running CRC-64 (Redis's variant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Crc64(u64);

impl Crc64 {
    /// The CRC of no bytes.
    pub const fn new() -> Self {
        Self(0)
    }

    /// Adds `bytes` to the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        let t = &TABLES;
        let mut crc = self.0;
        let (words, rest) = bytes.as_chunks::<8>();
        for word in words {
            let x = crc ^ u64::from_le_bytes(*word);
            let byte = |n: u32| usize::from((x >> (8 * n)) as u8);
            crc = t[7][byte(0)]
                ^ t[6][byte(1)]
                ^ t[5][byte(2)]
                ^ t[4][byte(3)]
                ^ t[3][byte(4)]
                ^ t[2][byte(5)]
                ^ t[1][byte(6)]
                ^ t[0][byte(7)];
        }
        for &b in rest {
            crc = t[0][usize::from(crc as u8 ^ b)] ^ (crc >> 8);
        }
        self.0 = crc;
    }

    /// The checksum of everything added so far.
    pub const fn value(&self) -> u64 {
        self.0
    }
}

/// The CRC-64 of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut crc = Crc64::new();
    crc.update(bytes);
    crc.value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bit by bit, straight from the definition: the reference the tables are checked against.
    fn bitwise(bytes: &[u8]) -> u64 {
        let mut crc = 0u64;
        for &b in bytes {
            crc ^= u64::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn redis_test_vector() {
        // Redis's crc64.c self-test: crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca.
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(bitwise(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn checksum_of_a_file_written_by_redis() {
        // The 32-byte file of research/replication.md §2.6, written and checked by Redis
        // 7.0.15: "REDIS0009", SELECTDB 0, RESIZEDB 1 0, foo=bar, EOF, then the CRC.
        let file: &[u8] = &[
            0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x30, 0x39, 0xfe, 0x00, 0xfb, 0x01, 0x00,
            0x00, 0x03, 0x66, 0x6f, 0x6f, 0x03, 0x62, 0x61, 0x72, 0xff, 0xcc, 0x3e, 0x5c, 0x81,
            0x68, 0x68, 0x18, 0x31,
        ];
        let (body, stored) = file.split_at(file.len() - 8);
        assert_eq!(crc64(body), u64::from_le_bytes(stored.try_into().unwrap()));
    }

    proptest! {
        #[test]
        fn tables_agree_with_the_definition(bytes in proptest::collection::vec(any::<u8>(), 0..100), split in 0usize..100) {
            prop_assert_eq!(crc64(&bytes), bitwise(&bytes));
            let split = split.min(bytes.len());
            let mut crc = Crc64::new();
            crc.update(&bytes[..split]);
            crc.update(&bytes[split..]);
            prop_assert_eq!(crc.value(), bitwise(&bytes));
        }
    }
}
