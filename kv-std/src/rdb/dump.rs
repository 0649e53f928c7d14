//! The payload of `DUMP` and `RESTORE` for a string value (R70 `createDumpPayload`,
//! `verifyDumpPayload`, `restoreCommand`):
//!
//! ```text
//! +---------+---------------------+-----------------+--------------------------+
//! | 0x00    | RDB string          | RDB version     | CRC-64 of all before     |
//! | type    | (length/int/LZF)    | 2 bytes, LE: 10 | 8 bytes, LE              |
//! +---------+---------------------+-----------------+--------------------------+
//! ```
//!
//! `DUMP` of `"hello"` is `00 05 68 65 6c 6c 6f 0a 00` and the 8 checksum bytes.

use super::crc64::crc64;
use super::error::{ErrorKind, LoadError};
use super::input::Input;
use super::key_type::{rdb_type, KeyType};
use super::loader::DEFAULT_MAX_STRING_LEN;
use super::string::{read_string, Compression, StringEncoder};
use super::RDB_VERSION;
use std::fmt;

/// The footer: 2 bytes of version and 8 of checksum.
const FOOTER: usize = 10;

/// Makes `DUMP` payloads, keeping the LZF table between values.
#[derive(Debug, Default)]
pub struct DumpEncoder {
    strings: StringEncoder,
}

impl DumpEncoder {
    /// An encoder that compresses as `compression` says (Redis: [`Compression::Lzf`]).
    pub fn new(compression: Compression) -> Self {
        Self {
            strings: StringEncoder::new(compression),
        }
    }

    /// Appends the `DUMP` payload of the string `value` to `out`.
    pub fn encode(&mut self, value: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.push(rdb_type::STRING);
        // Writing to a Vec cannot fail.
        let _ = self.strings.write(out, value);
        out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
        let crc = crc64(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
}

/// Appends the `DUMP` payload of the string `value` to `out`, compressed as Redis would.
pub fn encode(value: &[u8], out: &mut Vec<u8>) {
    DumpEncoder::new(Compression::Lzf).encode(value, out);
}

/// Why a `RESTORE` payload was refused.
#[derive(Debug)]
pub enum RestoreError {
    /// Shorter than the 10-byte footer.
    TooShort,
    /// An RDB version above 10.
    Version(u16),
    /// The checksum does not match.
    Checksum,
    /// The body is not one well-formed value with nothing after it.
    BadData(LoadError),
    /// A well-formed value of a type kv does not store (Redis would restore it).
    UnsupportedType {
        /// Its Redis type.
        key_type: KeyType,
        /// Its RDB type byte.
        rdb_type: u8,
    },
}

impl RestoreError {
    /// The error reply for `RESTORE`, without the leading `-`: Redis 7.0's two texts. A payload
    /// kv cannot store gets Redis's text for one it cannot load.
    pub fn reply(&self) -> &'static str {
        match self {
            RestoreError::TooShort | RestoreError::Version(_) | RestoreError::Checksum => {
                "ERR DUMP payload version or checksum are wrong"
            }
            RestoreError::BadData(_) | RestoreError::UnsupportedType { .. } => {
                "ERR Bad data format"
            }
        }
    }
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::TooShort => f.write_str("DUMP payload shorter than its 10-byte footer"),
            RestoreError::Version(v) => {
                write!(f, "DUMP payload of RDB version {v}: kv reads 10 and older")
            }
            RestoreError::Checksum => f.write_str("DUMP payload checksum is wrong"),
            RestoreError::BadData(e) => write!(f, "bad DUMP payload: {}", e.kind()),
            RestoreError::UnsupportedType { key_type, rdb_type } => write!(
                f,
                "DUMP payload of a {key_type} (RDB type {rdb_type}): kv stores only strings"
            ),
        }
    }
}

impl std::error::Error for RestoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RestoreError::BadData(e) => Some(e),
            _ => None,
        }
    }
}

/// Checks a `RESTORE` payload as Redis 7.0 does (length, version at most 10, checksum) and
/// returns the string value it holds.
///
/// kv is stricter than Redis about the body: it must be exactly one value. Redis 7.0 reads the
/// value from the whole payload, so a value cut short runs on into the footer, and it ignores
/// bytes between the value and the footer.
pub fn decode(payload: &[u8]) -> Result<Vec<u8>, RestoreError> {
    let Some(body_len) = payload.len().checked_sub(FOOTER) else {
        return Err(RestoreError::TooShort);
    };
    let (checked, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    if u32::from(version) > RDB_VERSION {
        return Err(RestoreError::Version(version));
    }
    if crc64(checked).to_le_bytes() != crc {
        return Err(RestoreError::Checksum);
    }
    let body = &payload[..body_len];
    let mut input = Input::new(body);
    let rdb_type = input.u8().map_err(RestoreError::BadData)?;
    match KeyType::of(rdb_type) {
        Some(KeyType::String) => {}
        Some(key_type) => return Err(RestoreError::UnsupportedType { key_type, rdb_type }),
        None => {
            let e = LoadError::new(0, ErrorKind::UnknownType(rdb_type));
            return Err(RestoreError::BadData(e));
        }
    }
    let value = read_string(&mut input, DEFAULT_MAX_STRING_LEN).map_err(RestoreError::BadData)?;
    if input.offset() != body.len() as u64 {
        let e = LoadError::new(
            input.offset(),
            ErrorKind::Malformed("bytes after the value"),
        );
        return Err(RestoreError::BadData(e));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumped(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, &mut out);
        out
    }

    /// `body` with a version-10 footer and a right checksum.
    fn sealed(body: &[u8]) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&[10, 0]);
        let crc = crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    #[test]
    fn the_payload_redis_dumps_for_hello() {
        // redis-server 7.0.15: SET a hello; DUMP a.
        let redis = b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";
        assert_eq!(dumped(b"hello"), redis);
        assert_eq!(decode(redis).unwrap(), b"hello");
    }

    #[test]
    fn round_trips_integers_empty_and_compressed_values() {
        for value in [
            &b""[..],
            b"12345",
            b"-7",
            &[b'z'; 1000],
            b"\x00\xff binary \r\n",
        ] {
            assert_eq!(decode(&dumped(value)).unwrap(), value);
        }
        assert_eq!(dumped(b"12345")[..4], [0x00, 0xC1, 0x39, 0x30]);
        assert_eq!(dumped(&[b'z'; 1000])[1], 0xC3);
    }

    #[test]
    fn footer_problems_get_redis_s_first_text() {
        let good = dumped(b"hello");
        let mut flipped = good.clone();
        flipped[2] ^= 0x40;
        let mut v11 = sealed(b"\x00\x05hello");
        v11[7] = 11;
        let crc = crc64(&v11[..v11.len() - 8]);
        let n = v11.len();
        v11[n - 8..].copy_from_slice(&crc.to_le_bytes());
        let mut zero_crc = good.clone();
        zero_crc[n - 8..].fill(0);
        for (payload, cause) in [
            (&b"123456789"[..], "too short"),
            (&flipped, "checksum"),
            (&v11, "version"),
            (&zero_crc, "stored 0 is not 'unchecked' here"),
        ] {
            let e = decode(payload).unwrap_err();
            assert_eq!(
                e.reply(),
                "ERR DUMP payload version or checksum are wrong",
                "{cause}"
            );
        }
        let mut v0 = sealed(b"\x00\x05hello");
        v0[7] = 0;
        let crc = crc64(&v0[..v0.len() - 8]);
        v0[n - 8..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&v0).unwrap(), b"hello");
    }

    #[test]
    fn body_problems_get_redis_s_second_text() {
        for body in [
            &b""[..],
            b"\x63\x01a",
            b"\x00\x05hell",
            b"\x00\x05hello!",
            b"\x00\xc4\x05",
            b"\x00\xc3\x02\x00\x00a",
        ] {
            let e = decode(&sealed(body)).unwrap_err();
            assert!(matches!(e, RestoreError::BadData(_)), "{body:?}: {e}");
            assert_eq!(e.reply(), "ERR Bad data format");
        }
        let e = decode(&sealed(b"\x01\x01\x01a")).unwrap_err();
        assert!(matches!(
            e,
            RestoreError::UnsupportedType {
                key_type: KeyType::List,
                rdb_type: 1
            }
        ));
        assert_eq!(e.reply(), "ERR Bad data format");
    }
}
