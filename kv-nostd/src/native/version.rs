//! Protocol versions: what a frame's first byte says, and the field widths that follow from it.
//!
//! Version 1 carries a key's length in 16 bits, which caps keys at 65,535 bytes; version 2 widens
//! that field to 32 bits, so keys can be as long as values. Everything else (ops, statuses, the
//! response header) is the same in both. Each frame names its own version, and a server answers
//! a request in the version it was sent in, so an old client keeps working against a new server.

use super::DecodeError;

/// A version of the native protocol: the low nibble of every frame's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Version {
    /// Keys up to 65,535 bytes: `magic op key_len(u16) value_len(u32)`.
    V1 = 1,
    /// Keys and values up to 4 GiB − 1 bytes: `magic op key_len(u32) value_len(u32)`.
    V2 = 2,
}

/// The high nibble every magic byte shares: what tells a native frame from RESP.
const FAMILY: u8 = 0xA0;

impl Version {
    /// The newest version, the one a client should speak.
    pub const LATEST: Version = Version::V2;

    /// The first byte of this version's frames: `0xA1` or `0xA2`.
    pub const fn magic(self) -> u8 {
        FAMILY | self as u8
    }

    /// The version whose magic byte is `byte`. A byte of the native family (`0xA0`–`0xAF`) that
    /// names no version this end speaks is [`DecodeError::UnsupportedVersion`]; any other byte is
    /// [`DecodeError::BadMagic`].
    pub const fn from_magic(byte: u8) -> Result<Version, DecodeError> {
        match byte {
            0xA1 => Ok(Version::V1),
            0xA2 => Ok(Version::V2),
            _ if is_native(byte) => Err(DecodeError::UnsupportedVersion {
                version: byte & 0x0F,
            }),
            _ => Err(DecodeError::BadMagic { byte }),
        }
    }

    /// The version of the frame at the start of `input`, from its first byte; `Ok(None)` while
    /// `input` is empty.
    pub const fn of(input: &[u8]) -> Result<Option<Version>, DecodeError> {
        match input.first() {
            None => Ok(None),
            Some(&byte) => match Version::from_magic(byte) {
                Ok(version) => Ok(Some(version)),
                Err(e) => Err(e),
            },
        }
    }

    /// Bytes in this version's request header: 8 in version 1, 10 in version 2.
    pub const fn request_header_len(self) -> usize {
        match self {
            Version::V1 => 8,
            Version::V2 => 10,
        }
    }

    /// The longest key this version's length field can announce.
    pub const fn max_key_len(self) -> usize {
        match self {
            Version::V1 => u16::MAX as usize,
            // `usize` is at least 32 bits on every target this crate builds for.
            Version::V2 => u32::MAX as usize,
        }
    }

    /// Bytes of a key's length field: 2 in version 1, 4 in version 2.
    pub(super) const fn key_len_width(self) -> usize {
        match self {
            Version::V1 => 2,
            Version::V2 => 4,
        }
    }

    /// Writes `len` as this version's key length field into `out`, exactly
    /// [`key_len_width`](Self::key_len_width) bytes; the caller has checked that it fits.
    pub(super) fn put_key_len(self, len: usize, out: &mut [u8]) {
        match self {
            Version::V1 => out.copy_from_slice(&(len as u16).to_be_bytes()),
            Version::V2 => out.copy_from_slice(&(len as u32).to_be_bytes()),
        }
    }

    /// Reads this version's key length field from exactly
    /// [`key_len_width`](Self::key_len_width) bytes.
    pub(super) fn key_len(self, field: &[u8]) -> usize {
        match self {
            Version::V1 => usize::from(u16::from_be_bytes([field[0], field[1]])),
            Version::V2 => super::be_u32(field),
        }
    }
}

/// Whether `byte`, the first a client sends, selects the native protocol: any byte `0xA0`–`0xAF`,
/// including versions this end does not speak (which are then refused with a clear answer rather
/// than taken for a RESP command).
pub const fn is_native(byte: u8) -> bool {
    byte & 0xF0 == FAMILY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_their_version() {
        for version in [Version::V1, Version::V2] {
            assert_eq!(Version::from_magic(version.magic()), Ok(version));
            assert_eq!(Version::of(&[version.magic(), 0xFF]), Ok(Some(version)));
            assert!(is_native(version.magic()));
        }
        assert_eq!((Version::V1.magic(), Version::V2.magic()), (0xA1, 0xA2));
        assert_eq!(Version::of(&[]), Ok(None));
        for byte in [0xA0, 0xA3, 0xAF] {
            assert_eq!(
                Version::from_magic(byte),
                Err(DecodeError::UnsupportedVersion {
                    version: byte & 0x0F
                })
            );
        }
        for byte in [b'*', b'P', 0x00, 0x9F, 0xB0, 0xFF] {
            assert!(!is_native(byte));
            assert_eq!(
                Version::from_magic(byte),
                Err(DecodeError::BadMagic { byte })
            );
        }
    }

    #[test]
    fn key_length_fields_round_trip_at_their_widths() {
        for (version, len) in [(Version::V1, 0xBEEF), (Version::V2, 0xDEAD_BEEF)] {
            let mut field = [0u8; 4];
            let field = &mut field[..version.key_len_width()];
            version.put_key_len(len, field);
            assert_eq!(version.key_len(field), len);
        }
        assert_eq!(Version::V1.max_key_len(), 65_535);
        assert_eq!(Version::V2.max_key_len(), 4_294_967_295);
    }
}
