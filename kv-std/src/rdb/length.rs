//! RDB's variable-length unsigned integers ("lengths"), R70 `rdbSaveLen` / `rdbLoadLenByRef`.
//!
//! The top two bits of the first byte choose the form:
//!
//! | first byte | bytes | value |
//! |---|---|---|
//! | `00xxxxxx` | 1 | the low 6 bits (0..=63) |
//! | `01xxxxxx yyyyyyyy` | 2 | 14 bits, big-endian (64..=16383) |
//! | `0x80` + 4 bytes | 5 | 32 bits, big-endian |
//! | `0x81` + 8 bytes | 9 | 64 bits, big-endian |
//! | `11xxxxxx` | 1 | not a length: a string in a special encoding follows ([`super::string`]) |
//!
//! Any other `10xxxxxx` byte is invalid.

use super::error::{ErrorKind, LoadError};
use super::input::Input;
use std::io::Read;

/// The top two bits of a first byte that announces a special string encoding.
pub(crate) const ENCODED: u8 = 0xC0;

/// Appends `len` in its shortest form to `out`, as Redis writes it.
pub(crate) fn encode_len(len: u64, out: &mut Vec<u8>) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if let Ok(len) = u32::try_from(len) {
        out.push(0x80);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// What a length's first byte leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Len {
    /// A length.
    Plain(u64),
    /// A string in a special encoding, numbered by the first byte's low 6 bits.
    Encoded(u8),
}

/// Reads a length, or the marker of a specially encoded string.
pub(crate) fn read_len_or_encoding<R: Read>(input: &mut Input<R>) -> Result<Len, LoadError> {
    let at = input.offset();
    let first = input.u8()?;
    Ok(match first >> 6 {
        0 => Len::Plain(u64::from(first & 0x3F)),
        1 => Len::Plain(u64::from(first & 0x3F) << 8 | u64::from(input.u8()?)),
        3 => Len::Encoded(first & 0x3F),
        _ => match first {
            0x80 => Len::Plain(u64::from(u32::from_be_bytes(input.array()?))),
            0x81 => Len::Plain(u64::from_be_bytes(input.array()?)),
            _ => return input.error(at, ErrorKind::BadLength(first)),
        },
    })
}

/// Reads a length. A special-encoding marker here is an error (Redis would read its low 6 bits
/// as the length; no writer puts one there).
pub(crate) fn read_len<R: Read>(input: &mut Input<R>) -> Result<u64, LoadError> {
    let at = input.offset();
    match read_len_or_encoding(input)? {
        Len::Plain(len) => Ok(len),
        Len::Encoded(low) => input.error(at, ErrorKind::BadLength(ENCODED | low)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_len(len, &mut out);
        out
    }

    fn decoded(bytes: &[u8]) -> Result<(u64, u64), LoadError> {
        let mut input = Input::new(bytes);
        let len = read_len(&mut input)?;
        Ok((len, input.offset()))
    }

    #[test]
    fn every_boundary_uses_the_shortest_form_and_round_trips() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (63, &[0x3F]),
            (64, &[0x40, 0x40]),
            (16383, &[0x7F, 0xFF]),
            (16384, &[0x80, 0x00, 0x00, 0x40, 0x00]),
            (u64::from(u32::MAX), &[0x80, 0xFF, 0xFF, 0xFF, 0xFF]),
            (
                1 << 32,
                &[0x81, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
            ),
            (
                u64::MAX,
                &[0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
        ];
        for &(len, bytes) in cases {
            assert_eq!(encoded(len), bytes, "encoding {len}");
            assert_eq!(decoded(bytes).unwrap(), (len, bytes.len() as u64));
        }
    }

    #[test]
    fn longer_forms_than_needed_are_read_too() {
        assert_eq!(decoded(&[0x40, 0x05]).unwrap().0, 5);
        assert_eq!(decoded(&[0x80, 0, 0, 0, 5]).unwrap().0, 5);
        assert_eq!(decoded(&[0x81, 0, 0, 0, 0, 0, 0, 0, 5]).unwrap().0, 5);
    }

    #[test]
    fn bad_first_bytes_and_short_input_are_errors() {
        for first in [0x82u8, 0xA0, 0xBF] {
            let e = decoded(&[first, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::BadLength(b) if *b == first));
        }
        let e = decoded(&[0xC0]).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::BadLength(0xC0)));
        for short in [
            &[][..],
            &[0x40],
            &[0x80, 0, 0, 0],
            &[0x81, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let e = decoded(short).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Truncated), "{short:?}");
        }
        assert_eq!(
            read_len_or_encoding(&mut Input::new(&[0xC3][..])).unwrap(),
            Len::Encoded(3)
        );
    }
}
