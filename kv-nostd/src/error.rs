//! The table's error types.

use core::fmt;

/// Why a table operation did nothing.
///
/// Every error leaves the table's contents exactly as they were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The key is longer than the table's maximum key length.
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The table's maximum key length in bytes.
        max: usize,
    },
    /// The value is longer than the table's maximum value length.
    ValueTooLong {
        /// The value's length in bytes.
        len: usize,
        /// The table's maximum value length in bytes.
        max: usize,
    },
    /// The write needs memory the table may not take: its memory is used up, or the byte
    /// limit (`maxmemory`) would be exceeded. Redis answers `OOM` here; the original design's
    /// `KV_ERROR_NO_SPACE`.
    NoSpace,
    /// A `try_` call found a lock held or a write in progress, and returned instead of waiting.
    Busy,
    /// The caller's buffer cannot hold the stored value.
    BufferTooSmall {
        /// The stored value's length in bytes.
        needed: usize,
        /// The buffer's length in bytes.
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::KeyTooLong { len, max } => {
                write!(f, "key of {len} bytes exceeds the maximum of {max} bytes")
            }
            Error::ValueTooLong { len, max } => {
                write!(f, "value of {len} bytes exceeds the maximum of {max} bytes")
            }
            Error::NoSpace => f.write_str("no space: the table's memory is used up"),
            Error::Busy => f.write_str("busy: another writer holds what this call needs"),
            Error::BufferTooSmall { needed, len } => {
                write!(
                    f,
                    "value of {needed} bytes does not fit a {len}-byte buffer"
                )
            }
        }
    }
}

impl core::error::Error for Error {}

/// Why a table could not be built over the given memory and configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The page size is not a power of two from 64 bytes to 4 MiB.
    PageSize(usize),
    /// The segment's bucket count is not a power of two from 2 to 65,536.
    SegmentBuckets(usize),
    /// The arena memory does not hold the metadata and one page.
    ArenaTooSmall {
        /// Bytes given.
        bytes: usize,
        /// The fewest bytes that would do.
        needed: usize,
    },
    /// The arena memory is larger than slot words can address (8 TiB of pages).
    ArenaTooLarge(usize),
    /// The index memory does not hold a directory and one segment.
    IndexTooSmall {
        /// Bytes given.
        bytes: usize,
        /// The fewest bytes that would do.
        needed: usize,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayoutError::PageSize(n) => {
                write!(f, "page size {n} is not a power of two from 64 to 4194304")
            }
            LayoutError::SegmentBuckets(n) => {
                write!(
                    f,
                    "segment bucket count {n} is not a power of two from 2 to 65536"
                )
            }
            LayoutError::ArenaTooSmall { bytes, needed } => {
                write!(
                    f,
                    "arena of {bytes} bytes is smaller than the {needed} it needs"
                )
            }
            LayoutError::ArenaTooLarge(bytes) => {
                write!(f, "arena of {bytes} bytes is larger than slots can address")
            }
            LayoutError::IndexTooSmall { bytes, needed } => {
                write!(
                    f,
                    "index of {bytes} bytes is smaller than the {needed} it needs"
                )
            }
        }
    }
}

impl core::error::Error for LayoutError {}
