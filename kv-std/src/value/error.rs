//! Every error the string commands reply with, named by its cause; each displays as Redis 7.0's
//! exact reply text.

use core::fmt;

/// A reason a string command fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// An argument or stored value is not a decimal integer in `i64` range, as Redis reads
    /// integers.
    NotAnInteger,
    /// An argument or stored value is not a number `strtold` reads in full.
    NotAFloat,
    /// `INCR`, `DECR`, `INCRBY` or `DECRBY` would leave the `i64` range.
    IncrementOverflow,
    /// `DECRBY` by the most negative `i64`, which cannot be negated.
    DecrementOverflow,
    /// `INCRBYFLOAT` would make NaN or an infinity.
    NanOrInfinity,
    /// `SETRANGE` at a negative offset.
    OffsetOutOfRange,
    /// The resulting string would be longer than `proto-max-bulk-len`.
    StringTooLong,
    /// A bit offset is not an integer, negative, or beyond `proto-max-bulk-len`.
    BitOffset,
    /// `SETBIT`'s value is not 0 or 1.
    BitValue,
    /// `BITPOS`'s bit is not 0 or 1.
    BitArgument,
    /// Options that are unknown or do not fit together.
    Syntax,
    /// `BITOP NOT` with other than one source key.
    BitopNotArity,
    /// A `BITFIELD` type other than `i1`..`i64` or `u1`..`u63`.
    BitfieldType,
    /// `BITFIELD ... OVERFLOW` with other than `WRAP`, `SAT` or `FAIL`.
    OverflowType,
    /// `BITFIELD_RO` with `SET` or `INCRBY`.
    BitfieldReadOnly,
    /// `LCS` of a key that holds another type than a string.
    LcsNotStrings,
    /// `LCS` with both `LEN` and `IDX`.
    LcsLenAndIdx,
    /// `LCS` of a string of 4 GiB or more.
    LcsStringTooLong,
    /// `LCS` whose table would be larger than `proto-max-bulk-len`.
    LcsTableTooLarge,
    /// `LCS` whose table could not be allocated.
    LcsOutOfMemory,
}

impl Error {
    /// The error reply, starting with its code.
    pub fn text(self) -> &'static str {
        match self {
            Error::NotAnInteger => "ERR value is not an integer or out of range",
            Error::NotAFloat => "ERR value is not a valid float",
            Error::IncrementOverflow => "ERR increment or decrement would overflow",
            Error::DecrementOverflow => "ERR decrement would overflow",
            Error::NanOrInfinity => "ERR increment would produce NaN or Infinity",
            Error::OffsetOutOfRange => "ERR offset is out of range",
            Error::StringTooLong => "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            Error::BitOffset => "ERR bit offset is not an integer or out of range",
            Error::BitValue => "ERR bit is not an integer or out of range",
            Error::BitArgument => "ERR The bit argument must be 1 or 0.",
            Error::Syntax => "ERR syntax error",
            Error::BitopNotArity => "ERR BITOP NOT must be called with a single source key.",
            Error::BitfieldType => {
                "ERR Invalid bitfield type. Use something like i16 u8. \
                 Note that u64 is not supported but i64 is."
            }
            Error::OverflowType => "ERR Invalid OVERFLOW type specified",
            Error::BitfieldReadOnly => "ERR BITFIELD_RO only supports the GET subcommand",
            Error::LcsNotStrings => "ERR The specified keys must contain string values",
            Error::LcsLenAndIdx => {
                "ERR If you want both the length and indexes, please just use IDX."
            }
            Error::LcsStringTooLong => "ERR String too long for LCS",
            Error::LcsTableTooLarge => {
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
            }
            Error::LcsOutOfMemory => {
                "ERR Insufficient memory, failed allocating transient memory for LCS"
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_an_err_reply_on_one_line() {
        let all = [
            Error::NotAnInteger,
            Error::NotAFloat,
            Error::IncrementOverflow,
            Error::DecrementOverflow,
            Error::NanOrInfinity,
            Error::OffsetOutOfRange,
            Error::StringTooLong,
            Error::BitOffset,
            Error::BitValue,
            Error::BitArgument,
            Error::Syntax,
            Error::BitopNotArity,
            Error::BitfieldType,
            Error::OverflowType,
            Error::BitfieldReadOnly,
            Error::LcsNotStrings,
            Error::LcsLenAndIdx,
            Error::LcsStringTooLong,
            Error::LcsTableTooLarge,
            Error::LcsOutOfMemory,
        ];
        for e in all {
            let text = e.to_string();
            assert!(text.starts_with("ERR "), "{text}");
            assert!(!text.contains(['\r', '\n']), "{text}");
            assert!(!text.contains("  "), "{text}");
        }
        assert_eq!(
            Error::BitfieldType.text(),
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
             supported but i64 is."
        );
    }
}
