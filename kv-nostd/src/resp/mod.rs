//! The Redis protocol, RESP2 and RESP3, sans-IO: what redis-cli, redis-benchmark and every Redis
//! client library speak.
//!
//! - [`request`]: decoding commands, both arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
//!   and inline commands (`GET k\r\n`), into a [`Request`] that borrows the input; and encoding a
//!   command the way clients send it.
//! - [`reply`]: encoding replies of both protocol versions (RESP2's simple string, error,
//!   integer, bulk string, array and nulls; RESP3's null, boolean, double, big number, blob
//!   error, verbatim string, map, set, push and attribute) into a caller's buffer, and decoding
//!   them into a [`Reply`] for clients and tests.
//! - [`double`]: doubles as Redis 7.0 prints them, and the RESP3 double grammar.
//!
//! Decoding allocates nothing and is incremental: `Ok(None)` means the input is a valid prefix and
//! more bytes are needed. Every length is checked against the caller's [`Limits`] as soon as its
//! digits are read, with checked arithmetic, and a number that can no longer become valid is
//! rejected before its line ends. Errors display as Redis's exact reply texts.
//!
//! # Example
//! ```
//! use kv_nostd::resp::{decode_request, Limits, Reply};
//!
//! let input = b"*2\r\n$3\r\nget\r\n$5\r\nuser1\r\nPING\r\n";
//! let (request, n) = decode_request(input, &Limits::REDIS)?.expect("complete");
//! assert!(request.is_command(b"GET"));
//! assert_eq!(request.arg(1), Some(&b"user1"[..]));
//!
//! // Pipelined: the next request starts where the first ended.
//! let (ping, _) = decode_request(&input[n..], &Limits::REDIS)?.expect("complete");
//! assert!(ping.is_command(b"ping") && ping.argc() == 1);
//!
//! let mut out = [0u8; 16];
//! let n = Reply::Bulk(b"John").encode(&mut out)?;
//! assert_eq!(&out[..n], b"$4\r\nJohn\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

pub mod double;
pub mod reply;
pub mod request;

pub use double::{format_double, DOUBLE_TEXT_MAX};
pub use reply::{
    decode_reply, encode_aggregate_header, encode_array_header, encode_bulk_header, Aggregate,
    Elements, Kind, Reply,
};
pub use request::{decode_request, encode_request, encoded_request_len, Args, Discard, Request};

/// The largest inputs a peer may send; the defaults are Redis's.
///
/// A plain value so a server can hold different limits per connection state, such as
/// [`Limits::UNAUTHENTICATED`] before `AUTH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest inline command line, without its line ending (Redis: 64 KiB); also bounds a
    /// simple string or error reply.
    pub max_inline: usize,
    /// The most arguments one command may have (Redis: 1024 * 1024); also bounds an array reply.
    pub max_args: usize,
    /// The longest bulk string (Redis: 512 MiB; a kv server sets it from its table's value size).
    pub max_bulk: usize,
    /// Whether the peer has not authenticated yet: a length over the limits is then reported as
    /// Redis does before `AUTH` ([`DecodeError::UnauthenticatedMultibulkLength`],
    /// [`DecodeError::UnauthenticatedBulkLength`]).
    pub unauthenticated: bool,
}

impl Limits {
    /// Redis's defaults: 64 KiB inline lines, 1024 * 1024 arguments, 512 MiB bulk strings.
    pub const REDIS: Limits = Limits::new(64 * 1024, 1024 * 1024, 512 * 1024 * 1024);

    /// Redis's limits for a client that has not authenticated (since CVE-2021-32675):
    /// 10 arguments, 16 KiB bulk strings.
    pub const UNAUTHENTICATED: Limits = Limits {
        max_inline: 64 * 1024,
        max_args: 10,
        max_bulk: 16 * 1024,
        unauthenticated: true,
    };

    /// Limits for an authenticated peer.
    pub const fn new(max_inline: usize, max_args: usize, max_bulk: usize) -> Self {
        Self {
            max_inline,
            max_args,
            max_bulk,
            unauthenticated: false,
        }
    }

    /// These limits with the longest bulk string set to `max_bulk`.
    pub const fn with_max_bulk(self, max_bulk: usize) -> Self {
        Self { max_bulk, ..self }
    }

    fn multibulk_error(&self) -> DecodeError {
        if self.unauthenticated {
            DecodeError::UnauthenticatedMultibulkLength
        } else {
            DecodeError::InvalidMultibulkLength
        }
    }

    fn bulk_error(&self) -> DecodeError {
        if self.unauthenticated {
            DecodeError::UnauthenticatedBulkLength
        } else {
            DecodeError::InvalidBulkLength
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::REDIS
    }
}

/// Why bytes are not valid RESP.
///
/// [`Display`](fmt::Display) writes Redis's exact error reply text without the leading `-` and
/// the trailing CRLF, so a server answers `-{error}\r\n` and closes the connection, as Redis does.
/// The variants that Redis lacks are marked; their texts follow Redis's style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// An array's element count is not a number, is out of `i64` range, exceeds
    /// [`Limits::max_args`], or (in a reply) is negative but not `-1`.
    InvalidMultibulkLength,
    /// A bulk string's length is not a number, is negative (in a reply: other than `-1`), or
    /// exceeds [`Limits::max_bulk`].
    InvalidBulkLength,
    /// Like [`InvalidMultibulkLength`](Self::InvalidMultibulkLength), for a peer under
    /// [`Limits::UNAUTHENTICATED`]-style limits.
    UnauthenticatedMultibulkLength,
    /// Like [`InvalidBulkLength`](Self::InvalidBulkLength), for a peer under
    /// [`Limits::UNAUTHENTICATED`]-style limits.
    UnauthenticatedBulkLength,
    /// An inline command line is longer than [`Limits::max_inline`].
    TooBigInlineRequest,
    /// An array element of a request does not start with `$`.
    ExpectedBulk {
        /// The byte found instead.
        got: u8,
    },
    /// Not in Redis, which does not check: a bulk string's payload is not followed by CRLF.
    BulkNotTerminated,
    /// Not in Redis, whose inline commands have no argument limit: an inline command has more
    /// than [`Limits::max_args`] arguments.
    TooManyInlineArguments,
    /// A reply starts with a byte that is no RESP2 or RESP3 type.
    UnknownReplyType {
        /// The byte found.
        got: u8,
    },
    /// An integer reply is not a number in `i64` range.
    InvalidInteger,
    /// A line-type reply (simple string, error, double, big number, boolean, null) holds a bare
    /// CR or LF, or is longer than [`Limits::max_inline`].
    InvalidLine,
    /// A RESP3 null is not exactly `_\r\n`.
    InvalidNull,
    /// A RESP3 boolean is neither `#t` nor `#f`.
    InvalidBoolean,
    /// A RESP3 double does not follow the grammar (`1.5`, `-2e+10`, `inf`, `nan`).
    InvalidDouble,
    /// A RESP3 big number is not an optional sign followed by digits.
    InvalidBigNumber,
    /// A RESP3 verbatim string is shorter than its format, or has no `:` after it.
    InvalidVerbatim,
    /// Not in Redis, which closes the connection with
    /// [`InvalidBulkLength`](Self::InvalidBulkLength): a request of an authenticated peer holds a
    /// bulk string longer than [`Limits::max_bulk`]. The framing is intact: feed the input to the
    /// [`Discard`] until it is done, answer this error, and go on.
    Oversized(request::Discard),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let DecodeError::Oversized(_) = self {
            // Redis's text for a string over the size limit (`APPEND`, `SETRANGE`).
            return f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        }
        f.write_str("ERR Protocol error: ")?;
        match *self {
            DecodeError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            DecodeError::InvalidBulkLength => f.write_str("invalid bulk length"),
            DecodeError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            DecodeError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
            DecodeError::TooBigInlineRequest => f.write_str("too big inline request"),
            DecodeError::ExpectedBulk { got } => {
                write!(f, "expected '$', got '{}'", Printable(got))
            }
            DecodeError::BulkNotTerminated => f.write_str("expected '\\r\\n' after bulk string"),
            DecodeError::TooManyInlineArguments => {
                f.write_str("too many arguments in inline request")
            }
            DecodeError::UnknownReplyType { got } => {
                write!(f, "unknown reply type '{}'", Printable(got))
            }
            DecodeError::InvalidInteger => f.write_str("invalid integer"),
            DecodeError::InvalidLine => f.write_str("invalid line"),
            DecodeError::InvalidNull => f.write_str("invalid null"),
            DecodeError::InvalidBoolean => f.write_str("invalid boolean"),
            DecodeError::InvalidDouble => f.write_str("invalid double"),
            DecodeError::InvalidBigNumber => f.write_str("invalid big number"),
            DecodeError::InvalidVerbatim => f.write_str("invalid verbatim string"),
            DecodeError::Oversized(_) => Ok(()),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A byte shown the way Redis shows it in an error reply: CR and LF become spaces so the reply
/// stays one line. A byte above ASCII, which Redis writes raw, is shown as the Unicode character
/// of the same number, since a `str` cannot hold it raw.
struct Printable(u8);

impl fmt::Display for Printable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use core::fmt::Write;
        match self.0 {
            b'\r' | b'\n' => f.write_char(' '),
            byte => f.write_char(char::from(byte)),
        }
    }
}

/// The frame did not fit the caller's buffer; nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// The frame's length in bytes.
    pub needed: usize,
    /// The buffer's length in bytes.
    pub len: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame of {} bytes does not fit a {}-byte buffer",
            self.needed, self.len
        )
    }
}

impl core::error::Error for BufferTooSmall {}

/// How far a decimal line at the start of some bytes got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Number {
    /// A valid number and its CRLF: the value and the bytes it took, CRLF included.
    Done(i64, usize),
    /// A valid prefix of a number line; the value of the digits so far.
    Partial(i64),
    /// No continuation can make this a valid number line.
    Invalid,
}

/// Scans a decimal number ended by CRLF, as Redis's `string2ll` accepts it: an optional `-`, then
/// `0` alone or digits not starting with `0`, within `i64` (`-0` is rejected). Stricter than Redis,
/// the `\r` must be followed by `\n`.
///
/// Stops at the first byte that rules the line out, so a peer cannot make a decoder wait for a
/// number that can never be valid.
fn scan_number(bytes: &[u8]) -> Number {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    // Accumulate negatively so that i64::MIN, whose magnitude i64 cannot hold, is reachable.
    let mut value: i64 = 0;
    for (i, &byte) in digits.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                if i > 0 && value == 0 || (negative && byte == b'0' && i == 0) {
                    return Number::Invalid;
                }
                let Some(next) = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_sub(i64::from(byte - b'0')))
                else {
                    return Number::Invalid;
                };
                value = next;
            }
            b'\r' if i > 0 => {
                let Some(value) = signed(value, negative) else {
                    return Number::Invalid;
                };
                return match digits.get(i + 1) {
                    None => Number::Partial(value),
                    Some(b'\n') => Number::Done(value, usize::from(negative) + i + 2),
                    Some(_) => Number::Invalid,
                };
            }
            _ => return Number::Invalid,
        }
    }
    match signed(value, negative) {
        Some(value) => Number::Partial(value),
        None => Number::Invalid,
    }
}

/// The value accumulated negatively by [`scan_number`], with its sign.
fn signed(negated: i64, negative: bool) -> Option<i64> {
    if negative {
        Some(negated)
    } else {
        negated.checked_neg()
    }
}

/// The decimal digits of `value`, right-aligned in `buf`; returns where they start.
fn format_int(value: i64, buf: &mut [u8; 20]) -> usize {
    let mut magnitude = value.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        // A digit is below 10, so the cast keeps it whole.
        buf[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    start
}

/// The length of `value` in decimal, sign included.
fn int_len(value: i64) -> usize {
    let mut buf = [0u8; 20];
    buf.len() - format_int(value, &mut buf)
}

/// Writes `prefix`, the decimal `value` and CRLF to the start of `out`; returns the byte count.
/// Writes nothing when it does not fit.
fn write_header(prefix: u8, value: i64, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut digits = [0u8; 20];
    let start = format_int(value, &mut digits);
    let digits = &digits[start..];
    let needed = digits.len() + 3;
    let Some(out) = out.get_mut(..needed) else {
        return Err(BufferTooSmall {
            needed,
            len: out.len(),
        });
    };
    out[0] = prefix;
    out[1..needed - 2].copy_from_slice(digits);
    out[needed - 2..].copy_from_slice(b"\r\n");
    Ok(needed)
}

/// A length as the `i64` the wire carries; lengths of real buffers always fit, and saturating
/// keeps the arithmetic total.
fn wire_len(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// Whether `bytes[at..]` starts like CRLF so far: `Some(true)` when both bytes are present and
/// right, `None` when more bytes are needed, `Some(false)` when a present byte is wrong.
fn crlf_at(bytes: &[u8], at: usize) -> Option<bool> {
    match (bytes.get(at), bytes.get(at.checked_add(1)?)) {
        (Some(b'\r'), Some(b'\n')) => Some(true),
        (Some(b'\r'), None) | (None, _) => None,
        _ => Some(false),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;

    #[test]
    fn numbers_scan_as_string2ll_reads_them() {
        let cases: [(&[u8], Number); 19] = [
            (b"0\r\n", Number::Done(0, 3)),
            (b"12\r\nxx", Number::Done(12, 4)),
            (b"-1\r\n", Number::Done(-1, 4)),
            (b"9223372036854775807\r\n", Number::Done(i64::MAX, 21)),
            (b"-9223372036854775808\r\n", Number::Done(i64::MIN, 22)),
            (b"9223372036854775808", Number::Invalid),
            (b"-9223372036854775809", Number::Invalid),
            (b"", Number::Partial(0)),
            (b"-", Number::Partial(0)),
            (b"12", Number::Partial(12)),
            (b"12\r", Number::Partial(12)),
            (b"-0", Number::Invalid),
            (b"01", Number::Invalid),
            (b"\r\n", Number::Invalid),
            (b"-\r\n", Number::Invalid),
            (b"+1\r\n", Number::Invalid),
            (b"1 \r\n", Number::Invalid),
            (b"1\rx", Number::Invalid),
            (b"1\n", Number::Invalid),
        ];
        for (bytes, expected) in cases {
            assert_eq!(scan_number(bytes), expected, "{:?}", bytes);
        }
    }

    #[test]
    fn integers_format_in_decimal() {
        let mut buf = [0u8; 20];
        for value in [0, 1, -1, 10, i64::MAX, i64::MIN] {
            let start = format_int(value, &mut buf);
            assert_eq!(&buf[start..], value.to_string().as_bytes());
            assert_eq!(int_len(value), value.to_string().len());
        }
    }

    #[test]
    fn errors_display_as_redis_texts() {
        let cases = [
            (
                DecodeError::InvalidMultibulkLength,
                "ERR Protocol error: invalid multibulk length",
            ),
            (
                DecodeError::InvalidBulkLength,
                "ERR Protocol error: invalid bulk length",
            ),
            (
                DecodeError::UnauthenticatedMultibulkLength,
                "ERR Protocol error: unauthenticated multibulk length",
            ),
            (
                DecodeError::UnauthenticatedBulkLength,
                "ERR Protocol error: unauthenticated bulk length",
            ),
            (
                DecodeError::TooBigInlineRequest,
                "ERR Protocol error: too big inline request",
            ),
            (
                DecodeError::ExpectedBulk { got: b'x' },
                "ERR Protocol error: expected '$', got 'x'",
            ),
            (
                DecodeError::ExpectedBulk { got: b'\r' },
                "ERR Protocol error: expected '$', got ' '",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
