//! The table's error types.

use core::fmt;

/// Why a table operation did nothing.
///
/// Every error leaves the table exactly as it was.
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
    /// Both candidate buckets are full and no cuckoo path frees a slot: the table is full
    /// (the original design's `KV_ERROR_NO_SPACE`).
    NoSpace,
    /// A `try_` call found a bucket locked or being written, and returned instead of waiting.
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
            Error::NoSpace => f.write_str("no space: the table is full"),
            Error::Busy => f.write_str("bucket busy: another writer holds it"),
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

/// Why a table could not be built over the given buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The bucket count is zero or not a power of two.
    BucketCount(usize),
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayoutError::BucketCount(n) => {
                write!(f, "bucket count {n} is not a non-zero power of two")
            }
        }
    }
}

impl core::error::Error for LayoutError {}
