//! `SCAN`: one step of a walk over every entry. The request's value is an 8-byte cursor; the
//! `SUCCESS` payload is the next cursor followed by `(key_len, key, value_len u32, value)`
//! entries, `key_len` being a u16 in version 1 and a u32 in version 2 (the version of the
//! response, which is the request's).

use super::{be_u32, check_lengths, EncodeError, Version};
use core::fmt;

/// Bytes of a scan cursor: a `SCAN` request's whole value, and the start of its `SUCCESS` payload.
pub const SCAN_CURSOR_LEN: usize = 8;

/// The payload size past which a server stops adding entries to a `SCAN` step. A step reads
/// whole segments of the table, so one segment's entries can take it further (a value larger
/// than this, for one); a client that scans accepts `SUCCESS` payloads as long as the entries it
/// stores.
pub const MAX_SCAN_PAYLOAD: usize = 1 << 20;

/// The length of one entry in a `SCAN` payload of `version` (saturating at `usize::MAX`).
pub const fn scan_entry_len(version: Version, key_len: usize, value_len: usize) -> usize {
    (version.key_len_width() + 4)
        .saturating_add(key_len)
        .saturating_add(value_len)
}

/// Writes one `SCAN` payload entry (`key_len`, key, `value_len` u32, value) in `version` to the
/// start of `out` and returns its length; writes nothing on error.
///
/// A payload is [`SCAN_CURSOR_LEN`] bytes of next cursor followed by any number of entries.
pub fn encode_scan_entry(
    version: Version,
    key: &[u8],
    value: &[u8],
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let (key_out, value_out) = encode_scan_entry_header(version, key.len(), value.len(), out)?;
    key_out.copy_from_slice(key);
    value_out.copy_from_slice(value);
    Ok(scan_entry_len(version, key.len(), value.len()))
}

/// Writes the length fields of a `SCAN` payload entry of a `key_len`-byte key and a
/// `value_len`-byte value at the start of `out`, and lends out the key and value fields for the
/// caller to fill: a server copies both straight from its table. The entry takes
/// [`scan_entry_len`] bytes. Writes nothing on error.
pub fn encode_scan_entry_header(
    version: Version,
    key_len: usize,
    value_len: usize,
    out: &mut [u8],
) -> Result<(&mut [u8], &mut [u8]), EncodeError> {
    let value_field_len = check_lengths(version, key_len, value_len)?;
    let needed = scan_entry_len(version, key_len, value_len);
    if out.len() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            len: out.len(),
        });
    }
    let entry = &mut out[..needed];
    let width = version.key_len_width();
    let (key_len_field, rest) = entry.split_at_mut(width);
    version.put_key_len(key_len, key_len_field);
    let (key, rest) = rest.split_at_mut(key_len);
    let (value_len_field, value) = rest.split_at_mut(4);
    value_len_field.copy_from_slice(&value_field_len.to_be_bytes());
    Ok((key, value))
}

/// Splits a `SCAN` response's `SUCCESS` payload, sent in `version`, into the next cursor (0 when
/// the scan is done) and its entries. Every entry is checked here, so iterating cannot fail.
pub fn decode_scan_payload(
    version: Version,
    payload: &[u8],
) -> Result<(u64, ScanEntries<'_>), ScanPayloadError> {
    let Some((cursor, entries)) = payload.split_first_chunk::<SCAN_CURSOR_LEN>() else {
        return Err(ScanPayloadError::NoCursor { len: payload.len() });
    };
    let mut check = ScanEntries {
        version,
        rest: entries,
    };
    while !check.rest.is_empty() {
        let offset = payload.len() - check.rest.len();
        if check.split().is_none() {
            return Err(ScanPayloadError::TruncatedEntry { offset });
        }
    }
    Ok((
        u64::from_be_bytes(*cursor),
        ScanEntries {
            version,
            rest: entries,
        },
    ))
}

/// The `(key, value)` entries of a `SCAN` payload, borrowed from it.
#[derive(Clone, Debug)]
pub struct ScanEntries<'a> {
    version: Version,
    rest: &'a [u8],
}

impl<'a> ScanEntries<'a> {
    /// Takes the first entry off `rest`; `None` (and `rest` unchanged) if it is incomplete.
    fn split(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let (key_len, after) = self.rest.split_at_checked(self.version.key_len_width())?;
        let (key, after) = after.split_at_checked(self.version.key_len(key_len))?;
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
