//! Redis Cluster's key slots: which of the 16384 slots a key belongs to, so that a server and a
//! client that partition keys the Redis way agree on every key (R70 `cluster.c`
//! `keyHashSlot`, `crc16.c`).
//!
//! The slot is CRC16 of the key modulo 16384, where CRC16 is the XMODEM variant (polynomial
//! 0x1021, initial value 0, no reflection, no final XOR). A key with a **hash tag** hashes only
//! the tag: the bytes between its first `{` and the first `}` after it, when there is at least
//! one byte between them. So `{user1000}.following` and `{user1000}.followers` share a slot,
//! while `foo{}{bar}` hashes whole (its first braces are empty) and `foo{{bar}}` hashes `{bar`.
//!
//! ```
//! use kv_nostd::keyslot::{key_slot, SLOTS};
//! assert_eq!(key_slot(b"foo"), 12182);
//! assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
//! assert!(key_slot(b"anything") < SLOTS);
//! ```

/// How many slots there are.
pub const SLOTS: u16 = 16384;

/// CRC16-XMODEM of `bytes`, bit by bit over each byte (a table of 512 bytes would be faster;
/// a key is hashed once per command, and a microcontroller's flash is small).
pub const fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    let mut i = 0;
    while i < bytes.len() {
        crc ^= (bytes[i] as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        i += 1;
    }
    crc
}

/// The part of `key` its slot is computed from: its hash tag if it has one, else all of it.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(len) if len > 0 => &key[open + 1..open + 1 + len],
        _ => key,
    }
}

/// The slot `key` belongs to, in `0..SLOTS`.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CLUSTER KEYSLOT` of redis-server 7.0.15 for each key.
    const REDIS: &[(&[u8], u16)] = &[
        (b"foo", 12182),
        (b"somekey", 11058),
        (b"{user1000}.following", 3443),
        (b"{user1000}.followers", 3443),
        (b"foo{}{bar}", 8363),
        (b"foo{{bar}}zap", 4015),
        (b"foo{bar}{zap}", 5061),
        (b"{}", 15257),
        (b"{", 4092),
        (b"}", 12090),
        (b"a{b", 13340),
        (b"", 0),
        (b"123456789", 12739),
        (b"{a}", 15495),
        (b"x{a}y", 15495),
        (b"a{}b", 13694),
    ];

    #[test]
    fn slots_are_redis_s() {
        for &(key, slot) in REDIS {
            assert_eq!(key_slot(key), slot, "{:?}", core::str::from_utf8(key));
        }
    }

    #[test]
    fn crc16_is_xmodem() {
        // The check value of CRC-16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"a{b"), b"a{b");
    }
}
