//! Reading past the value of a key kv does not store, for every type Redis 7.0 writes or
//! loads (R70 `rdbLoadObject`), without keeping or decompressing any of it.
//!
//! | RDB type | payload |
//! |---|---|
//! | list (1), set (2), list quicklist (14) | length `n`, `n` strings |
//! | hash (4) | length `n`, `n` × (field string, value string) |
//! | zset (3) | length `n`, `n` × (member string, score as a 1-byte length and text; 253 = NaN, 254 = +inf, 255 = −inf) |
//! | zset 2 (5) | length `n`, `n` × (member string, 8-byte binary score) |
//! | zipmap, ziplist, intset, listpack (9–13, 16, 17) | one string |
//! | list quicklist 2 (18) | length `n`, `n` × (container length: 1 plain or 2 packed, string) |
//! | stream (15, 19) | see [`skip_stream`] |
//! | module 2 (7) | module id (length), then self-describing opcodes until EOF |
//! | module (6) | only the module can parse it: an error |

use super::error::{ErrorKind, LoadError};
use super::input::Input;
use super::key_type::rdb_type::*;
use super::length::read_len;
use super::string::skip_string;
use std::io::Read;

/// The opcodes of a module value in the self-describing format (R70 `RDB_MODULE_OPCODE_*`).
mod module_opcode {
    pub const EOF: u64 = 0;
    pub const SINT: u64 = 1;
    pub const UINT: u64 = 2;
    pub const FLOAT: u64 = 3;
    pub const DOUBLE: u64 = 4;
    pub const STRING: u64 = 5;
}

/// Skips the value of a key of `rdb_type`, a type byte of another type than string (a
/// string's, or an unknown one, is an [`ErrorKind::UnknownType`]). `key` names the key in
/// errors.
pub(crate) fn skip_value<R: Read>(
    input: &mut Input<R>,
    rdb_type: u8,
    key: &[u8],
) -> Result<(), LoadError> {
    match rdb_type {
        LIST | SET | LIST_QUICKLIST => {
            for _ in 0..read_len(input)? {
                skip_string(input)?;
            }
        }
        HASH => {
            for _ in 0..read_len(input)? {
                skip_string(input)?;
                skip_string(input)?;
            }
        }
        ZSET => {
            for _ in 0..read_len(input)? {
                skip_string(input)?;
                skip_text_score(input)?;
            }
        }
        ZSET_2 => {
            for _ in 0..read_len(input)? {
                skip_string(input)?;
                input.skip(8)?;
            }
        }
        HASH_ZIPMAP | LIST_ZIPLIST | SET_INTSET | ZSET_ZIPLIST | HASH_ZIPLIST | HASH_LISTPACK
        | ZSET_LISTPACK => skip_string(input)?,
        LIST_QUICKLIST_2 => {
            for _ in 0..read_len(input)? {
                let at = input.offset();
                let container = read_len(input)?;
                if !(1..=2).contains(&container) {
                    return input.error(at, ErrorKind::Malformed("quicklist node container"));
                }
                skip_string(input)?;
            }
        }
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 => skip_stream(input, rdb_type)?,
        MODULE_2 => skip_module_value(input)?,
        MODULE => {
            // Its format is known only to the module that wrote it.
            let at = input.offset();
            let id = read_len(input)?;
            return input.error(
                at,
                ErrorKind::ModuleData {
                    module: module_name(id),
                    key: Some(key.to_vec()),
                },
            );
        }
        _ => {
            let at = input.offset();
            return input.error(at, ErrorKind::UnknownType(rdb_type));
        }
    }
    Ok(())
}

/// A sorted-set score of the first format: a 1-byte length and the text, or a special byte.
fn skip_text_score<R: Read>(input: &mut Input<R>) -> Result<(), LoadError> {
    match input.u8()? {
        253..=255 => Ok(()),
        len => input.skip(u64::from(len)),
    }
}

/// A stream:
///
/// ```text
/// length n, n × (master id: 16-byte string, listpack string)
/// length (entries), length + length (last id)
/// [type 19: length + length (first id), length + length (max deleted id), length (entries added)]
/// length g, g × (
///     group name string, length + length (last delivered id), [type 19: length (entries read)]
///     length p, p × (16 raw bytes (id), 8 raw bytes (delivery time), length (delivery count))
///     length c, c × (consumer name string, 8 raw bytes (seen time), length q, q × 16 raw bytes)
/// )
/// ```
fn skip_stream<R: Read>(input: &mut Input<R>, rdb_type: u8) -> Result<(), LoadError> {
    let v2 = rdb_type == STREAM_LISTPACKS_2;
    for _ in 0..read_len(input)? {
        skip_string(input)?;
        skip_string(input)?;
    }
    let ids_and_counts = if v2 { 3 + 2 + 2 + 1 } else { 3 };
    for _ in 0..ids_and_counts {
        read_len(input)?;
    }
    for _ in 0..read_len(input)? {
        skip_string(input)?;
        for _ in 0..if v2 { 3 } else { 2 } {
            read_len(input)?;
        }
        for _ in 0..read_len(input)? {
            input.skip(16 + 8)?;
            read_len(input)?;
        }
        for _ in 0..read_len(input)? {
            skip_string(input)?;
            input.skip(8)?;
            let pending = read_len(input)?;
            input.skip(pending.saturating_mul(16))?;
        }
    }
    Ok(())
}

/// A module value in the self-describing format (R70 `rdbLoadCheckModuleValue`).
fn skip_module_value<R: Read>(input: &mut Input<R>) -> Result<(), LoadError> {
    read_len(input)?;
    loop {
        let at = input.offset();
        match read_len(input)? {
            module_opcode::EOF => return Ok(()),
            module_opcode::SINT | module_opcode::UINT => {
                read_len(input)?;
            }
            module_opcode::FLOAT => input.skip(4)?,
            module_opcode::DOUBLE => input.skip(8)?,
            module_opcode::STRING => skip_string(input)?,
            _ => return input.error(at, ErrorKind::Malformed("unknown module value opcode")),
        }
    }
}

/// The name of a module type from its 64-bit id: nine characters of 6 bits each above a 10-bit
/// encoding version (R70 `moduleTypeNameByID`).
pub(crate) fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..9)
        .rev()
        .map(|i| char::from(CHARSET[((id >> (10 + 6 * i)) & 63) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::length::encode_len;
    use crate::rdb::string::{Compression, StringEncoder};

    /// Builds payloads: lengths, strings and raw bytes.
    #[derive(Default)]
    struct Payload(Vec<u8>);

    impl Payload {
        fn len(mut self, n: u64) -> Self {
            encode_len(n, &mut self.0);
            self
        }
        fn string(mut self, s: &[u8]) -> Self {
            StringEncoder::new(Compression::Lzf)
                .write(&mut self.0, s)
                .unwrap();
            self
        }
        fn raw(mut self, bytes: &[u8]) -> Self {
            self.0.extend_from_slice(bytes);
            self
        }
    }

    /// Skips `payload` followed by a marker byte, and checks the skip stopped at the marker;
    /// then checks that every shorter prefix is an error, not a panic or a success.
    fn skips_exactly(rdb_type: u8, payload: Payload) {
        let mut bytes = payload.0;
        let end = bytes.len() as u64;
        bytes.push(0xEE);
        let mut input = Input::new(&bytes[..]);
        skip_value(&mut input, rdb_type, b"k").unwrap();
        assert_eq!(input.offset(), end, "type {rdb_type}");
        for cut in 0..end as usize {
            let mut input = Input::new(&bytes[..cut]);
            assert!(
                skip_value(&mut input, rdb_type, b"k").is_err(),
                "type {rdb_type} cut at {cut}"
            );
        }
    }

    #[test]
    fn skips_each_generic_type() {
        let big = b"x".repeat(100);
        skips_exactly(
            LIST,
            Payload::default()
                .len(3)
                .string(b"a")
                .string(b"12")
                .string(&big),
        );
        skips_exactly(SET, Payload::default().len(2).string(b"a").string(b"-5"));
        skips_exactly(LIST_QUICKLIST, Payload::default().len(1).string(&big));
        skips_exactly(
            HASH,
            Payload::default()
                .len(2)
                .string(b"f")
                .string(b"v")
                .string(b"g")
                .string(&big),
        );
        skips_exactly(
            ZSET,
            Payload::default()
                .len(4)
                .string(b"a")
                .raw(b"\x031.5")
                .string(b"b")
                .raw(&[253])
                .string(b"c")
                .raw(&[254])
                .string(b"d")
                .raw(&[255]),
        );
        skips_exactly(
            ZSET_2,
            Payload::default()
                .len(2)
                .string(b"a")
                .raw(&1.5f64.to_le_bytes())
                .string(b"b")
                .raw(&[0; 8]),
        );
    }

    #[test]
    fn a_string_or_unknown_type_byte_is_not_skipped() {
        for t in [STRING, 8, 20, 0xF0] {
            let e = skip_value(&mut Input::new(&b"\x01a"[..]), t, b"k").unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::UnknownType(b) if *b == t));
        }
    }

    #[test]
    fn skips_each_single_string_encoding() {
        for t in [
            HASH_ZIPMAP,
            LIST_ZIPLIST,
            SET_INTSET,
            ZSET_ZIPLIST,
            HASH_ZIPLIST,
            HASH_LISTPACK,
            ZSET_LISTPACK,
        ] {
            skips_exactly(t, Payload::default().string(&[7u8; 40]));
        }
    }

    #[test]
    fn skips_quicklist_2_and_refuses_an_unknown_container() {
        skips_exactly(
            LIST_QUICKLIST_2,
            Payload::default()
                .len(2)
                .len(2)
                .string(&[1u8; 30])
                .len(1)
                .string(b"plain"),
        );
        let bytes = Payload::default().len(1).len(3).string(b"x").0;
        let e = skip_value(&mut Input::new(&bytes[..]), LIST_QUICKLIST_2, b"k").unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Malformed(_)));
    }

    fn stream(v2: bool) -> Payload {
        let mut p = Payload::default()
            .len(1)
            .string(&[0u8; 16])
            .string(&[9u8; 50])
            .len(5)
            .len(1700000000000)
            .len(3);
        if v2 {
            p = p.len(1).len(0).len(0).len(0).len(5);
        }
        p = p.len(1).string(b"group").len(1700000000000).len(1);
        if v2 {
            p = p.len(5);
        }
        p.len(2)
            .raw(&[1; 16])
            .raw(&[2; 8])
            .len(1)
            .raw(&[3; 16])
            .raw(&[4; 8])
            .len(2)
            .len(1)
            .string(b"alice")
            .raw(&[5; 8])
            .len(2)
            .raw(&[1; 16])
            .raw(&[3; 16])
    }

    #[test]
    fn skips_streams_with_groups_pending_entries_and_consumers() {
        skips_exactly(STREAM_LISTPACKS, stream(false));
        skips_exactly(STREAM_LISTPACKS_2, stream(true));
    }

    #[test]
    fn skips_self_describing_module_values_but_not_the_first_format() {
        let id = 0x1234_5678_9abc_def0;
        skips_exactly(
            MODULE_2,
            Payload::default()
                .len(id)
                .len(module_opcode::SINT)
                .len(5)
                .len(module_opcode::UINT)
                .len(1 << 40)
                .len(module_opcode::FLOAT)
                .raw(&[0; 4])
                .len(module_opcode::DOUBLE)
                .raw(&[0; 8])
                .len(module_opcode::STRING)
                .string(b"state")
                .len(module_opcode::EOF),
        );
        let bytes = Payload::default().len(id).len(9).0;
        let e = skip_value(&mut Input::new(&bytes[..]), MODULE_2, b"k").unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Malformed(_)));

        let bytes = Payload::default().len(id).raw(b"opaque").0;
        let e = skip_value(&mut Input::new(&bytes[..]), MODULE, b"k").unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::ModuleData { module, key: Some(k) } if *module == module_name(id) && k == b"k")
        );
    }

    #[test]
    fn module_names_come_from_the_id() {
        // Each character is 6 bits: encode "ReJSON-RL" (RedisJSON's type name), version 3.
        let charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let id = b"ReJSON-RL".iter().fold(0u64, |id, c| {
            id << 6 | charset.iter().position(|x| x == c).unwrap() as u64
        });
        assert_eq!(module_name(id << 10 | 3), "ReJSON-RL");
    }
}
