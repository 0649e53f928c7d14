//! `SCAN`: one step of a walk over every entry. The request's value is an 8-byte cursor; the
//! `SUCCESS` payload is the next cursor followed by `(key_len u16, key, value_len u32, value)`
//! entries.

use super::{be_u32, wire_lengths, EncodeError};
use core::fmt;

/// Bytes of a scan cursor: a `SCAN` request's whole value, and the start of its `SUCCESS` payload.
pub const SCAN_CURSOR_LEN: usize = 8;

/// Bytes before each entry's key in a `SCAN` payload: key length (u16) and value length (u32).
pub const SCAN_ENTRY_HEADER_LEN: usize = 6;

/// The longest `SUCCESS` payload a server sends in answer to `SCAN`. A client that scans decodes
/// responses with a `max_value` of at least this; every other answer stays within the table's
/// value size.
pub const MAX_SCAN_PAYLOAD: usize = 1 << 20;

/// The length of one entry in a `SCAN` payload (saturating at `usize::MAX`).
pub const fn scan_entry_len(key_len: usize, value_len: usize) -> usize {
    SCAN_ENTRY_HEADER_LEN
        .saturating_add(key_len)
        .saturating_add(value_len)
}

/// Writes one `SCAN` payload entry (`key_len` u16, key, `value_len` u32, value) to the start of
/// `out` and returns its length; writes nothing on error.
///
/// A payload is [`SCAN_CURSOR_LEN`] bytes of next cursor followed by any number of entries.
pub fn encode_scan_entry(key: &[u8], value: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    let (key_len, value_len) = wire_lengths(key, value)?;
    let needed = scan_entry_len(key.len(), value.len());
    let Some(entry) = out.get_mut(..needed) else {
        return Err(EncodeError::BufferTooSmall {
            needed,
            len: out.len(),
        });
    };
    let (key_field, rest) = entry.split_at_mut(2 + key.len());
    key_field[..2].copy_from_slice(&key_len.to_be_bytes());
    key_field[2..].copy_from_slice(key);
    rest[..4].copy_from_slice(&value_len.to_be_bytes());
    rest[4..].copy_from_slice(value);
    Ok(needed)
}

/// Splits a `SCAN` response's `SUCCESS` payload into the next cursor (0 when the scan is done)
/// and its entries. Every entry is checked here, so iterating cannot fail.
pub fn decode_scan_payload(payload: &[u8]) -> Result<(u64, ScanEntries<'_>), ScanPayloadError> {
    let Some((cursor, entries)) = payload.split_first_chunk::<SCAN_CURSOR_LEN>() else {
        return Err(ScanPayloadError::NoCursor { len: payload.len() });
    };
    let mut check = ScanEntries { rest: entries };
    while !check.rest.is_empty() {
        let offset = payload.len() - check.rest.len();
        if check.split().is_none() {
            return Err(ScanPayloadError::TruncatedEntry { offset });
        }
    }
    Ok((u64::from_be_bytes(*cursor), ScanEntries { rest: entries }))
}

/// The `(key, value)` entries of a `SCAN` payload, borrowed from it.
#[derive(Clone, Debug)]
pub struct ScanEntries<'a> {
    rest: &'a [u8],
}

impl<'a> ScanEntries<'a> {
    /// Takes the first entry off `rest`; `None` (and `rest` unchanged) if it is incomplete.
    fn split(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let (key_len, after) = self.rest.split_first_chunk::<2>()?;
        let (key, after) = after.split_at_checked(usize::from(u16::from_be_bytes(*key_len)))?;
        let (value_len, after) = after.split_first_chunk::<4>()?;
        let (value, after) = after.split_at_checked(be_u32(value_len))?;
        self.rest = after;
        Some((key, value))
    }
}

impl<'a> Iterator for ScanEntries<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.split()
    }
}

/// Why a `SCAN` payload does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanPayloadError {
    /// The payload is shorter than a cursor.
    NoCursor {
        /// The payload's length.
        len: usize,
    },
    /// An entry runs past the end of the payload.
    TruncatedEntry {
        /// Where the entry starts in the payload.
        offset: usize,
    },
}

impl fmt::Display for ScanPayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ScanPayloadError::NoCursor { len } => {
                write!(f, "scan payload of {len} bytes has no 8-byte cursor")
            }
            ScanPayloadError::TruncatedEntry { offset } => {
                write!(f, "scan entry at payload offset {offset} is truncated")
            }
        }
    }
}

impl core::error::Error for ScanPayloadError {}
