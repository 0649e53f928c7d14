//! The bytes that introduce something other than a key in an RDB file (R70 `src/rdb.h`).
//! Any other byte is the type of a key's value.

/// Function libraries in the format of Redis 7.0's release candidates, which 7.0 refuses.
pub const FUNCTION_PRE_GA: u8 = 0xF6;
/// A function library: one RDB string holding its code.
pub const FUNCTION2: u8 = 0xF5;
/// Data a module saves outside any key.
pub const MODULE_AUX: u8 = 0xF7;
/// The next key's LRU idle time in seconds, a length.
pub const IDLE: u8 = 0xF8;
/// The next key's LFU frequency, one byte.
pub const FREQ: u8 = 0xF9;
/// A named field, two RDB strings.
pub const AUX: u8 = 0xFA;
/// Hints of a database's size: two lengths, keys and keys with an expiry.
pub const RESIZEDB: u8 = 0xFB;
/// The next key's expiry: 8 bytes, little-endian, unix time in milliseconds.
pub const EXPIRETIME_MS: u8 = 0xFC;
/// The next key's expiry in old files: 4 bytes, little-endian, unix time in seconds.
pub const EXPIRETIME: u8 = 0xFD;
/// The database of the keys that follow, a length.
pub const SELECTDB: u8 = 0xFE;
/// The end of the data; the checksum follows (version 5 and later).
pub const EOF: u8 = 0xFF;
