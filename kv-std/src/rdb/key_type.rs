//! The type byte in front of each key, and the Redis type it stands for.

use std::fmt;

/// RDB type bytes, as Redis 7.0 defines them (R70 `src/rdb.h`). Several encodings of one Redis
/// type have different bytes; 8 was never used.
pub mod rdb_type {
    /// A string: one RDB string.
    pub const STRING: u8 = 0;
    /// A list as a count and that many strings (before Redis 3.2).
    pub const LIST: u8 = 1;
    /// A set as a count and that many strings.
    pub const SET: u8 = 2;
    /// A sorted set as a count and pairs of a string and a score written as text.
    pub const ZSET: u8 = 3;
    /// A hash as a count and that many field/value string pairs.
    pub const HASH: u8 = 4;
    /// A sorted set as a count and pairs of a string and an 8-byte binary score.
    pub const ZSET_2: u8 = 5;
    /// A module's value, in the first format, which only the module can parse.
    pub const MODULE: u8 = 6;
    /// A module's value in the self-describing format.
    pub const MODULE_2: u8 = 7;
    /// A hash as one string holding a zipmap.
    pub const HASH_ZIPMAP: u8 = 9;
    /// A list as one string holding a ziplist.
    pub const LIST_ZIPLIST: u8 = 10;
    /// A set of integers as one string holding an intset.
    pub const SET_INTSET: u8 = 11;
    /// A sorted set as one string holding a ziplist.
    pub const ZSET_ZIPLIST: u8 = 12;
    /// A hash as one string holding a ziplist.
    pub const HASH_ZIPLIST: u8 = 13;
    /// A list as a count and that many ziplist strings.
    pub const LIST_QUICKLIST: u8 = 14;
    /// A stream (Redis 5 to 6.2).
    pub const STREAM_LISTPACKS: u8 = 15;
    /// A hash as one string holding a listpack.
    pub const HASH_LISTPACK: u8 = 16;
    /// A sorted set as one string holding a listpack.
    pub const ZSET_LISTPACK: u8 = 17;
    /// A list as a count and that many (container kind, listpack or plain string) pairs.
    pub const LIST_QUICKLIST_2: u8 = 18;
    /// A stream (Redis 7.0).
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// The Redis type of a key, as `TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `string`: the only type kv stores.
    String,
    /// `list`.
    List,
    /// `set`.
    Set,
    /// `zset`.
    ZSet,
    /// `hash`.
    Hash,
    /// `stream`.
    Stream,
    /// A module's type.
    Module,
}

impl KeyType {
    /// Every type, in the order of [`KeyType::index`].
    pub const ALL: [KeyType; 7] = [
        KeyType::String,
        KeyType::List,
        KeyType::Set,
        KeyType::ZSet,
        KeyType::Hash,
        KeyType::Stream,
        KeyType::Module,
    ];

    /// The type an RDB type byte of Redis 7.0 (RDB version 10) encodes, if it is one.
    pub fn of(rdb_type: u8) -> Option<KeyType> {
        use rdb_type::*;
        Some(match rdb_type {
            STRING => KeyType::String,
            LIST | LIST_ZIPLIST | LIST_QUICKLIST | LIST_QUICKLIST_2 => KeyType::List,
            SET | SET_INTSET => KeyType::Set,
            ZSET | ZSET_2 | ZSET_ZIPLIST | ZSET_LISTPACK => KeyType::ZSet,
            HASH | HASH_ZIPMAP | HASH_ZIPLIST | HASH_LISTPACK => KeyType::Hash,
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 => KeyType::Stream,
            MODULE | MODULE_2 => KeyType::Module,
            _ => return None,
        })
    }

    /// The name `TYPE` answers (`module` for any module's type).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Hash => "hash",
            KeyType::Stream => "stream",
            KeyType::Module => "module",
        }
    }

    /// A dense index, `0..ALL.len()`.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_byte_of_redis_7_0_has_a_type_and_no_other_does() {
        let known: Vec<u8> = (0..=u8::MAX)
            .filter(|&b| KeyType::of(b).is_some())
            .collect();
        let expected: Vec<u8> = (0..=7).chain(9..=19).collect();
        assert_eq!(known, expected);
        for (i, t) in KeyType::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
        }
    }
}
