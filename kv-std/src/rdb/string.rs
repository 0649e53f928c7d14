//! RDB strings: how a byte string is written (R70 `rdbSaveRawString`) and read back
//! (`rdbGenericLoadStringObject`).
//!
//! A string is one of:
//!
//! | first byte | then | |
//! |---|---|---|
//! | a [length](super::length) `n` | `n` bytes | the bytes as they are |
//! | `0xC0` | 1 byte | an integer, `i8` |
//! | `0xC1` | 2 bytes | an integer, `i16` little-endian |
//! | `0xC2` | 4 bytes | an integer, `i32` little-endian |
//! | `0xC3` | length `clen`, length `len`, `clen` bytes | [LZF](super::lzf)-compressed |
//!
//! The integer forms stand for the integer's decimal text: `0xC1 0x39 0x30` is `"12345"`.
//! Redis writes one when the string is the canonical decimal form of an integer that fits in
//! 32 bits (no sign but `-`, no leading zero, not `-0`), and compresses a string longer than
//! 20 bytes when that saves at least 4 bytes. This writer does the same.

use super::error::{ErrorKind, LoadError};
use super::input::Input;
use super::length::{encode_len, read_len, read_len_or_encoding, Len, ENCODED};
use super::lzf::{self, Compressor};
use std::io::{self, Read, Write};

const INT8: u8 = 0;
const INT16: u8 = 1;
const INT32: u8 = 2;
const LZF: u8 = 3;

/// Whether to LZF-compress strings, Redis's `rdbcompression`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Compress strings longer than 20 bytes when that saves at least 4 bytes (Redis's default).
    #[default]
    Lzf,
    /// Write every string as it is (or as an integer).
    Off,
}

/// The integer whose canonical decimal form `s` is, if it is one: what Redis's `string2ll`
/// accepts and `ll2string` gives back unchanged.
fn canonical_integer(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        value = value
            .checked_mul(10)?
            .checked_add(if negative { -d } else { d })?;
    }
    Some(value)
}

/// Appends the integer form of `s` to `out` and returns true, if `s` has one.
fn encode_integer(s: &[u8], out: &mut Vec<u8>) -> bool {
    // "-2147483648" is the longest string an integer form can stand for.
    if s.len() > 11 {
        return false;
    }
    let Some(v) = canonical_integer(s) else {
        return false;
    };
    if let Ok(v) = i8::try_from(v) {
        out.extend_from_slice(&[ENCODED | INT8, v as u8]);
    } else if let Ok(v) = i16::try_from(v) {
        out.push(ENCODED | INT16);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(v) {
        out.push(ENCODED | INT32);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Writes strings as Redis does, keeping the LZF table and a buffer between strings.
#[derive(Debug, Default)]
pub(crate) struct StringEncoder {
    compression: Compression,
    lzf: Compressor,
    /// The head of each string, and a compressed body.
    scratch: Vec<u8>,
}

/// A compressed body above this size is not kept in the scratch buffer after use.
const SCRATCH_KEPT: usize = 1 << 20;

impl StringEncoder {
    pub(crate) fn new(compression: Compression) -> Self {
        Self {
            compression,
            lzf: Compressor::new(),
            scratch: Vec::new(),
        }
    }

    /// Frees the scratch buffer after a large value, so one 512 MB value does not keep
    /// 512 MB allocated for the rest of the file.
    fn release_large_scratch(&mut self) {
        if self.scratch.capacity() > SCRATCH_KEPT {
            self.scratch = Vec::new();
        }
    }

    /// Writes `s` as an RDB string. A body written as it is goes straight from `s` to `out`.
    pub(crate) fn write(&mut self, out: &mut impl Write, s: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        if encode_integer(s, &mut self.scratch) {
            return out.write_all(&self.scratch);
        }
        if self.compression == Compression::Lzf && s.len() > 20 {
            // Room for the head: the marker and two lengths of at most 9 bytes each.
            const HEAD: usize = 19;
            self.scratch.resize(HEAD, 0);
            if self.lzf.compress(s, s.len() - 4, &mut self.scratch) {
                let body_len = self.scratch.len() - HEAD;
                let mut head = Vec::with_capacity(HEAD);
                head.push(ENCODED | LZF);
                encode_len(body_len as u64, &mut head);
                encode_len(s.len() as u64, &mut head);
                let first = HEAD - head.len();
                self.scratch[first..HEAD].copy_from_slice(&head);
                let result = out.write_all(&self.scratch[first..]);
                self.release_large_scratch();
                return result;
            }
            self.release_large_scratch();
            self.scratch.clear();
        }
        encode_len(s.len() as u64, &mut self.scratch);
        out.write_all(&self.scratch)?;
        out.write_all(s)
    }
}

/// Reads an RDB string of at most `max_len` bytes (decoded). LZF strings are read compressed
/// first, and their stated length is checked against what the compressed bytes can expand to
/// before any room is made for it.
pub(crate) fn read_string<R: Read>(
    input: &mut Input<R>,
    max_len: u64,
) -> Result<Vec<u8>, LoadError> {
    let at = input.offset();
    let too_long = |len: u64| ErrorKind::StringTooLong { len, max: max_len };
    match read_len_or_encoding(input)? {
        Len::Plain(len) => {
            if len > max_len {
                return input.error(at, too_long(len));
            }
            let mut s = Vec::new();
            input.read_vec(len, &mut s)?;
            Ok(s)
        }
        Len::Encoded(INT8) => Ok(i8::from_le_bytes(input.array()?).to_string().into_bytes()),
        Len::Encoded(INT16) => Ok(i16::from_le_bytes(input.array()?).to_string().into_bytes()),
        Len::Encoded(INT32) => Ok(i32::from_le_bytes(input.array()?).to_string().into_bytes()),
        Len::Encoded(LZF) => {
            let compressed_len = read_len(input)?;
            let len = read_len(input)?;
            if len > max_len {
                return input.error(at, too_long(len));
            }
            if compressed_len > max_len {
                return input.error(at, too_long(compressed_len));
            }
            if compressed_len == 0 || len == 0 {
                // Redis never compresses an empty string, and liblzf cannot.
                return input.error(at, ErrorKind::Lzf(lzf::LzfError::TooShort));
            }
            let mut compressed = Vec::new();
            input.read_vec(compressed_len, &mut compressed)?;
            let mut s = Vec::new();
            // `len <= max_len` fits in memory's address space on any target kv runs on.
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            match lzf::decompress(&compressed, len, &mut s) {
                Ok(()) => Ok(s),
                Err(e) => input.error(at, ErrorKind::Lzf(e)),
            }
        }
        Len::Encoded(other) => input.error(at, ErrorKind::BadStringEncoding(ENCODED | other)),
    }
}

/// Reads past an RDB string without keeping it (or decompressing it).
pub(crate) fn skip_string<R: Read>(input: &mut Input<R>) -> Result<(), LoadError> {
    let at = input.offset();
    match read_len_or_encoding(input)? {
        Len::Plain(len) => input.skip(len),
        Len::Encoded(INT8) => input.skip(1),
        Len::Encoded(INT16) => input.skip(2),
        Len::Encoded(INT32) => input.skip(4),
        Len::Encoded(LZF) => {
            let compressed_len = read_len(input)?;
            read_len(input)?;
            input.skip(compressed_len)
        }
        Len::Encoded(other) => input.error(at, ErrorKind::BadStringEncoding(ENCODED | other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encoded(s: &[u8], compression: Compression) -> Vec<u8> {
        let mut out = Vec::new();
        StringEncoder::new(compression).write(&mut out, s).unwrap();
        out
    }

    fn decoded(bytes: &[u8]) -> Result<Vec<u8>, LoadError> {
        let mut input = Input::new(bytes);
        let s = read_string(&mut input, 1 << 20)?;
        assert_eq!(input.offset(), bytes.len() as u64, "read all of {bytes:?}");
        Ok(s)
    }

    #[test]
    fn integers_take_the_smallest_form_at_every_boundary() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"0", &[0xC0, 0x00]),
            (b"-1", &[0xC0, 0xFF]),
            (b"127", &[0xC0, 0x7F]),
            (b"-128", &[0xC0, 0x80]),
            (b"128", &[0xC1, 0x80, 0x00]),
            (b"-129", &[0xC1, 0x7F, 0xFF]),
            (b"12345", &[0xC1, 0x39, 0x30]),
            (b"32767", &[0xC1, 0xFF, 0x7F]),
            (b"-32768", &[0xC1, 0x00, 0x80]),
            (b"32768", &[0xC2, 0x00, 0x80, 0x00, 0x00]),
            (b"-32769", &[0xC2, 0xFF, 0x7F, 0xFF, 0xFF]),
            (b"2147483647", &[0xC2, 0xFF, 0xFF, 0xFF, 0x7F]),
            (b"-2147483648", &[0xC2, 0x00, 0x00, 0x00, 0x80]),
        ];
        for &(s, bytes) in cases {
            assert_eq!(encoded(s, Compression::Lzf), bytes, "{}", s.escape_ascii());
            assert_eq!(decoded(bytes).unwrap(), s);
        }
    }

    #[test]
    fn non_canonical_or_wide_integers_stay_text() {
        for s in [
            &b"2147483648"[..],
            b"-2147483649",
            b"99999999999",
            b"007",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"-",
            b"",
            b"1e3",
            b"9223372036854775808",
        ] {
            let mut expected = vec![s.len() as u8];
            expected.extend_from_slice(s);
            assert_eq!(
                encoded(s, Compression::Lzf),
                expected,
                "{}",
                s.escape_ascii()
            );
            assert_eq!(decoded(&expected).unwrap(), s);
        }
    }

    #[test]
    fn compression_only_past_20_bytes_and_only_when_it_saves_4() {
        // 20 bytes: never compressed.
        assert_eq!(encoded(&[b'a'; 20], Compression::Lzf)[0], 20);
        // 21 bytes of one letter: compressed.
        let c = encoded(&[b'a'; 21], Compression::Lzf);
        assert_eq!(c[0], 0xC3);
        assert_eq!(decoded(&c).unwrap(), [b'a'; 21]);
        // Off: as it is.
        assert_eq!(encoded(&[b'a'; 21], Compression::Off)[0], 21);
        // 21 distinct bytes: no gain, as it is.
        let distinct: Vec<u8> = (0..21).collect();
        assert_eq!(encoded(&distinct, Compression::Lzf)[0], 21);
    }

    #[test]
    fn the_example_redis_wrote() {
        // From a SYNC payload of redis-server 7.0.15 (research/replication.md §2.6): a 52-byte
        // value, 9 bytes compressed.
        let bytes = b"\xc3\x09\x34\x01\x61\x61\xe0\x27\x00\x01\x61\x61";
        assert_eq!(decoded(bytes).unwrap(), vec![b'a'; 52]);
        assert_eq!(encoded(&[b'a'; 52], Compression::Lzf), bytes);
    }

    #[test]
    fn bad_strings_are_errors_naming_their_cause() {
        let kind = |bytes: &[u8]| decoded(bytes).unwrap_err().into_kind();
        assert!(matches!(kind(&[0xC4]), ErrorKind::BadStringEncoding(0xC4)));
        assert!(matches!(kind(&[0xC3, 0, 0]), ErrorKind::Lzf(_)));
        assert!(matches!(kind(&[0xC3, 2, 0, 0, b'a']), ErrorKind::Lzf(_)));
        assert!(matches!(kind(&[0xC3, 2, 3, 0, b'a']), ErrorKind::Lzf(_)));
        assert!(matches!(kind(&[0xC3, 1, 0x7F, 0xFF, 0]), ErrorKind::Lzf(_)));
        assert!(matches!(kind(&[5, b'a']), ErrorKind::Truncated));
        assert!(matches!(kind(&[0xC2, 1, 2]), ErrorKind::Truncated));
        let mut input = Input::new(&[0x80, 0x10, 0, 0, 0][..]);
        let e = read_string(&mut input, 1000).unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::StringTooLong {
                len: 0x1000_0000,
                max: 1000
            }
        ));
    }

    proptest! {
        #[test]
        fn round_trips_and_skips(s in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(prop::sample::select(b"ab-0123456789".to_vec()), 0..40),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        ], compression in prop_oneof![Just(Compression::Lzf), Just(Compression::Off)]) {
            let bytes = encoded(&s, compression);
            prop_assert_eq!(decoded(&bytes).unwrap(), s);
            let mut input = Input::new(&bytes[..]);
            skip_string(&mut input).unwrap();
            prop_assert_eq!(input.offset(), bytes.len() as u64);
        }
    }
}
