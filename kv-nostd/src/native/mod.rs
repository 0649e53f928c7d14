//! kv's own binary protocol: length-prefixed requests and responses, sans-IO.
//!
//! Every frame starts with a magic byte, `0xA1` or `0xA2`, whose low nibble is the protocol
//! [`Version`]. The byte is at or above `0x80`, so a server that also speaks RESP (whose
//! requests begin with `*` or an ASCII command name) tells the two apart by the first byte of a
//! connection. Lengths are fixed-width big-endian integers in the header and are checked against
//! the caller's [`Limits`] as soon as the header is complete, before any of the body has arrived.
//! `docs/PROTOCOL.md` documents the format byte by byte.
//!
//! ```text
//! request v1: magic(0xA1) op(1)     key_len(u16) value_len(u32) key value
//! request v2: magic(0xA2) op(1)     key_len(u32) value_len(u32) key value
//! response:   magic(1)    status(1) len(u32)                    payload
//! ```
//!
//! Version 2 differs from version 1 only in the width of a key's length, in requests and in
//! `SCAN` entries, so keys can be as long as values. A response carries the version of the
//! request it answers. Decoders accept both versions; encoders take the version to write.
//!
//! Decoding borrows from the input and allocates nothing; encoding writes into a caller's buffer
//! and writes nothing when the frame does not fit.
//!
//! `SCAN` walks every entry a step at a time: its request's value is a cursor, and its
//! response's payload the next cursor followed by `(key_len, key, value_len u32, value)`
//! entries ([`decode_scan_payload`]).
//!
//! # Modules
//! - `version`: the magic byte and the field widths of each [`Version`].
//! - `request`: [`Request`], its encoder and [`decode_request`].
//! - `response`: [`Response`], its encoders and [`decode_response`].
//! - `scan`: the `SCAN` payload, [`encode_scan_entry`] and [`decode_scan_payload`].
//!
//! # Example
//! ```
//! use kv_nostd::native::{decode_request, decode_response, Limits, Request, Response, Status,
//!     Version};
//!
//! let limits = Limits::new(16, 32);
//! let mut buf = [0u8; 64];
//! let put = Request::Put { key: b"user1", value: b"John" };
//! let n = put.encode(Version::V2, &mut buf)?;
//! assert_eq!(decode_request(&buf[..n], &limits)?, Some((put, n)));
//! // A prefix is not an error: more bytes are needed.
//! assert_eq!(decode_request(&buf[..n - 1], &limits)?, None);
//! // The server answers in the version the request came in.
//! let version = Version::of(&buf[..n])?.expect("not empty");
//!
//! let n = Response::value(b"John").encode(version, &mut buf)?;
//! let (response, _) = decode_response(&buf[..n], &limits)?.expect("complete");
//! assert_eq!((response.status, response.payload), (Status::Success, &b"John"[..]));
//! assert_eq!(buf[0], 0xA2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

mod request;
mod response;
mod scan;
mod version;

pub use request::{decode_request, Request};
pub use response::{decode_response, encode_response_header, Response};
pub use scan::{
    decode_scan_payload, encode_scan_entry, encode_scan_entry_header, scan_entry_len, ScanEntries,
    ScanPayloadError, MAX_SCAN_PAYLOAD, SCAN_CURSOR_LEN,
};
pub use version::{is_native, Version};

/// Checks that a key's and a value's lengths fit `version`'s length fields (the key's is 16 bits
/// in version 1, 32 in version 2; a value's is 32 bits in both) and returns the value's.
fn check_lengths(version: Version, key_len: usize, value_len: usize) -> Result<u32, EncodeError> {
    if key_len > version.max_key_len() {
        return Err(EncodeError::KeyTooLong {
            len: key_len,
            max: version.max_key_len(),
        });
    }
    u32::try_from(value_len).map_err(|_| EncodeError::ValueTooLong {
        len: value_len,
        max: u32::MAX as usize,
    })
}

/// Bytes in a response header, in either version: magic, status, payload length (u32).
pub const RESPONSE_HEADER_LEN: usize = 6;

/// The longest message an error response may carry, in bytes.
pub const MAX_MESSAGE: usize = 256;

/// The largest key and value a peer may announce; larger frames are rejected from their header.
///
/// A plain value so a server can hold different limits per connection state (for example small
/// ones before authentication).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest key, in bytes (a server sets it from its table's `MAX_KEY`).
    pub max_key: usize,
    /// The longest value, in bytes (a server sets it from its table's `MAX_VALUE`); also bounds a
    /// `SUCCESS` response's payload and an `AUTH` password.
    pub max_value: usize,
}

impl Limits {
    /// Limits of `max_key` and `max_value` bytes.
    pub const fn new(max_key: usize, max_value: usize) -> Self {
        Self { max_key, max_value }
    }
}

/// What a request asks for: the second byte of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// Liveness check; no key, no value; answered `SUCCESS` with an empty payload.
    Ping = 0x01,
    /// Read a key's value; no value.
    Get = 0x02,
    /// Insert or replace a key's value.
    Put = 0x03,
    /// Remove a key; no value.
    Delete = 0x04,
    /// Write a snapshot of the table to durable storage; no key, no value.
    Save = 0x05,
    /// Authenticate: the key is the user name (empty for the default user), the value the password.
    Auth = 0x06,
    /// One step of a scan over every entry: no key; the value is the cursor, 8 bytes big-endian.
    Scan = 0x07,
}

impl Op {
    /// The op with wire value `byte`, if any.
    pub const fn from_u8(byte: u8) -> Option<Op> {
        Some(match byte {
            0x01 => Op::Ping,
            0x02 => Op::Get,
            0x03 => Op::Put,
            0x04 => Op::Delete,
            0x05 => Op::Save,
            0x06 => Op::Auth,
            0x07 => Op::Scan,
            _ => return None,
        })
    }

    /// Whether requests of this op carry a key.
    const fn has_key(self) -> bool {
        matches!(self, Op::Get | Op::Put | Op::Delete | Op::Auth)
    }

    /// Whether requests of this op carry a value.
    const fn has_value(self) -> bool {
        matches!(self, Op::Put | Op::Auth | Op::Scan)
    }
}

/// The outcome of a request: the second byte of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// Done; a `GET` response carries the value.
    Success = 0x00,
    /// `GET` or `DELETE` found no such key.
    NotFound = 0x01,
    /// `PUT` found the table full; nothing changed.
    NoSpace = 0x02,
    /// The key exceeds the server's maximum key length.
    KeyTooLong = 0x03,
    /// The value exceeds the server's maximum value length.
    ValueTooLong = 0x04,
    /// The request was malformed (unknown op, a key or value where the op takes none, ...).
    BadRequest = 0x05,
    /// The server failed (for example a persistence error); the payload may say why.
    ServerError = 0x06,
    /// The server requires `AUTH` before this op.
    AuthRequired = 0x07,
    /// `AUTH` was refused.
    AuthFailed = 0x08,
}

impl Status {
    /// The status with wire value `byte`, if any.
    pub const fn from_u8(byte: u8) -> Option<Status> {
        Some(match byte {
            0x00 => Status::Success,
            0x01 => Status::NotFound,
            0x02 => Status::NoSpace,
            0x03 => Status::KeyTooLong,
            0x04 => Status::ValueTooLong,
            0x05 => Status::BadRequest,
            0x06 => Status::ServerError,
            0x07 => Status::AuthRequired,
            0x08 => Status::AuthFailed,
            _ => return None,
        })
    }
}

impl From<crate::Error> for Status {
    /// The status a server answers when the table refused an operation.
    fn from(error: crate::Error) -> Status {
        match error {
            crate::Error::KeyTooLong { .. } => Status::KeyTooLong,
            crate::Error::ValueTooLong { .. } => Status::ValueTooLong,
            crate::Error::NoSpace => Status::NoSpace,
            crate::Error::Busy | crate::Error::BufferTooSmall { .. } => Status::ServerError,
        }
    }
}

/// A big-endian u32 from exactly four bytes, widened; `usize` is at least 32 bits on every target
/// this crate builds for, and saturation keeps a 16-bit target safe (the length is then rejected).
fn be_u32(bytes: &[u8]) -> usize {
    let mut word = [0u8; 4];
    word.copy_from_slice(bytes);
    usize::try_from(u32::from_be_bytes(word)).unwrap_or(usize::MAX)
}

/// Why bytes are not a valid native frame.
///
/// Errors detected from a complete header carry `frame_len`, the whole frame's length (`None` if
/// it overflows `usize`): a server may skip that many bytes and answer with [`DecodeError::status`]
/// instead of closing the connection. [`BadMagic`](DecodeError::BadMagic) and
/// [`UnsupportedVersion`](DecodeError::UnsupportedVersion) leave the stream without framing: a
/// server closes the connection, after answering `BAD_REQUEST` to an unsupported version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The first byte is not a native protocol magic byte.
    BadMagic {
        /// The byte found.
        byte: u8,
    },
    /// The first byte is a magic byte of another protocol version.
    UnsupportedVersion {
        /// The version the peer speaks.
        version: u8,
    },
    /// The request's op byte names no op.
    UnknownOp {
        /// The byte found.
        op: u8,
        /// The whole frame's length.
        frame_len: Option<usize>,
    },
    /// The response's status byte names no status.
    UnknownStatus {
        /// The byte found.
        status: u8,
        /// The whole frame's length.
        frame_len: Option<usize>,
    },
    /// The request carries a key or a value its op does not take.
    Malformed {
        /// The request's op.
        op: Op,
        /// The whole frame's length.
        frame_len: Option<usize>,
    },
    /// The announced key length exceeds the limit.
    KeyTooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
        /// The whole frame's length.
        frame_len: Option<usize>,
    },
    /// The announced value (or response payload) length exceeds the limit.
    ValueTooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
        /// The whole frame's length.
        frame_len: Option<usize>,
    },
}

impl DecodeError {
    /// The whole offending frame's length, when the header was complete and the length fits
    /// `usize`; a server that wants to answer and go on skips this many bytes.
    pub const fn frame_len(&self) -> Option<usize> {
        match *self {
            DecodeError::BadMagic { .. } | DecodeError::UnsupportedVersion { .. } => None,
            DecodeError::UnknownOp { frame_len, .. }
            | DecodeError::UnknownStatus { frame_len, .. }
            | DecodeError::Malformed { frame_len, .. }
            | DecodeError::KeyTooLong { frame_len, .. }
            | DecodeError::ValueTooLong { frame_len, .. } => frame_len,
        }
    }

    /// The status a server answers a request that failed to decode with.
    pub const fn status(&self) -> Status {
        match self {
            DecodeError::KeyTooLong { .. } => Status::KeyTooLong,
            DecodeError::ValueTooLong { .. } => Status::ValueTooLong,
            _ => Status::BadRequest,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::BadMagic { byte } => {
                write!(f, "bad magic byte {byte:#04x}: not a kv native frame")
            }
            DecodeError::UnsupportedVersion { version } => {
                write!(
                    f,
                    "unsupported protocol version {version} (this end speaks 1 and 2)"
                )
            }
            DecodeError::UnknownOp { op, .. } => write!(f, "unknown op {op:#04x}"),
            DecodeError::UnknownStatus { status, .. } => write!(f, "unknown status {status:#04x}"),
            DecodeError::Malformed { op, .. } => {
                write!(f, "{op:?} request carries a key or value it does not take")
            }
            DecodeError::KeyTooLong { len, max, .. } => {
                write!(f, "key of {len} bytes exceeds the maximum of {max} bytes")
            }
            DecodeError::ValueTooLong { len, max, .. } => {
                write!(f, "value of {len} bytes exceeds the maximum of {max} bytes")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a frame was not encoded; nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The buffer is shorter than the frame.
    BufferTooSmall {
        /// The frame's length in bytes.
        needed: usize,
        /// The buffer's length in bytes.
        len: usize,
    },
    /// The key is longer than the version's key length field carries (65,535 bytes in version 1,
    /// 4 GiB − 1 in version 2).
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The longest key the format can carry.
        max: usize,
    },
    /// The value or payload is longer than the format's 32-bit length field.
    ValueTooLong {
        /// The value's length in bytes.
        len: usize,
        /// The longest value the format can carry.
        max: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::BufferTooSmall { needed, len } => {
                write!(
                    f,
                    "frame of {needed} bytes does not fit a {len}-byte buffer"
                )
            }
            EncodeError::KeyTooLong { len, max } => {
                write!(f, "key of {len} bytes exceeds the format's {max}")
            }
            EncodeError::ValueTooLong { len, max } => {
                write!(f, "value of {len} bytes exceeds the format's {max}")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

    const LIMITS: Limits = Limits::new(64, 1024);
    const VERSIONS: [Version; 2] = [Version::V1, Version::V2];

    fn encode_request(version: Version, request: &Request<'_>) -> Vec<u8> {
        let mut buf = std::vec![0u8; request.encoded_len(version)];
        let n = request.encode(version, &mut buf).expect("fits");
        assert_eq!(n, buf.len());
        buf
    }

    fn encode_response(version: Version, response: &Response<'_>) -> Vec<u8> {
        let mut buf = std::vec![0u8; response.encoded_len()];
        let n = response.encode(version, &mut buf).expect("fits");
        assert_eq!(n, buf.len());
        buf
    }

    /// Every proper prefix needs more bytes, and the whole decodes to `expected` whatever the
    /// trailing bytes.
    fn assert_incremental_request(bytes: &[u8], expected: &Request<'_>, limits: &Limits) {
        for end in 0..bytes.len() {
            assert_eq!(
                decode_request(&bytes[..end], limits),
                Ok(None),
                "prefix {end}"
            );
        }
        let mut more = bytes.to_vec();
        more.extend_from_slice(&[Version::V1.magic(), 0x01, 0, 0]);
        for input in [bytes, &more[..]] {
            assert_eq!(
                decode_request(input, limits),
                Ok(Some((*expected, bytes.len())))
            );
        }
    }

    fn assert_incremental_response(bytes: &[u8], expected: &Response<'_>) {
        for end in 0..bytes.len() {
            assert_eq!(
                decode_response(&bytes[..end], &LIMITS),
                Ok(None),
                "prefix {end}"
            );
        }
        assert_eq!(
            decode_response(bytes, &LIMITS),
            Ok(Some((*expected, bytes.len())))
        );
    }

    fn request_parts() -> impl Strategy<Value = (Version, u8, Vec<u8>, Vec<u8>)> {
        (
            proptest::sample::select(&VERSIONS[..]),
            1u8..=7,
            proptest::collection::vec(any::<u8>(), 0..=64),
            proptest::collection::vec(any::<u8>(), 0..=300),
        )
    }

    fn build<'a>(op: u8, key: &'a [u8], value: &'a [u8]) -> Request<'a> {
        match Op::from_u8(op).expect("valid op") {
            Op::Ping => Request::Ping,
            Op::Get => Request::Get { key },
            Op::Put => Request::Put { key, value },
            Op::Delete => Request::Delete { key },
            Op::Save => Request::Save,
            Op::Auth => Request::Auth {
                user: key,
                password: value,
            },
            Op::Scan => Request::Scan {
                cursor: value
                    .iter()
                    .fold(0u64, |c, &b| c.rotate_left(8) ^ u64::from(b)),
            },
        }
    }

    proptest! {
        #[test]
        fn request_round_trips_at_every_split((version, op, key, value) in request_parts()) {
            let request = build(op, &key, &value);
            let bytes = encode_request(version, &request);
            prop_assert_eq!(bytes[0], version.magic());
            prop_assert_eq!(Version::of(&bytes), Ok(Some(version)));
            assert_incremental_request(&bytes, &request, &LIMITS);
            // The header alone is the frame's first bytes.
            let mut header = [0u8; 10];
            let n = request.encode_header(version, &mut header).expect("fits");
            prop_assert_eq!(&header[..n], &bytes[..n]);
        }

        #[test]
        fn response_round_trips_at_every_split(
            version in proptest::sample::select(&VERSIONS[..]),
            status in 0u8..=8,
            payload in proptest::collection::vec(any::<u8>(), 0..=MAX_MESSAGE),
        ) {
            let response = Response { status: Status::from_u8(status).expect("valid"), payload: &payload };
            let bytes = encode_response(version, &response);
            prop_assert_eq!(Version::of(&bytes), Ok(Some(version)));
            assert_incremental_response(&bytes, &response);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_overreads(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(Some((request, n))) = decode_request(&input, &LIMITS) {
                prop_assert!(n <= input.len());
                let version = Version::of(&input).unwrap().unwrap();
                prop_assert_eq!(encode_request(version, &request), &input[..n]);
            }
            if let Ok(Some((response, n))) = decode_response(&input, &LIMITS) {
                prop_assert!(n <= input.len());
                let version = Version::of(&input).unwrap().unwrap();
                prop_assert_eq!(encode_response(version, &response), &input[..n]);
            }
        }
    }

    #[test]
    fn golden_request_bytes() {
        type Case<'a> = (Request<'a>, &'a [u8], &'a [u8]);
        let cases: [Case<'_>; 6] = [
            (
                Request::Ping,
                b"\xA1\x01\x00\x00\x00\x00\x00\x00",
                b"\xA2\x01\x00\x00\x00\x00\x00\x00\x00\x00",
            ),
            (
                Request::Get { key: b"k" },
                b"\xA1\x02\x00\x01\x00\x00\x00\x00k",
                b"\xA2\x02\x00\x00\x00\x01\x00\x00\x00\x00k",
            ),
            (
                Request::Put {
                    key: b"k",
                    value: b"vv",
                },
                b"\xA1\x03\x00\x01\x00\x00\x00\x02kvv",
                b"\xA2\x03\x00\x00\x00\x01\x00\x00\x00\x02kvv",
            ),
            (
                Request::Delete { key: b"ab" },
                b"\xA1\x04\x00\x02\x00\x00\x00\x00ab",
                b"\xA2\x04\x00\x00\x00\x02\x00\x00\x00\x00ab",
            ),
            (
                Request::Save,
                b"\xA1\x05\x00\x00\x00\x00\x00\x00",
                b"\xA2\x05\x00\x00\x00\x00\x00\x00\x00\x00",
            ),
            (
                Request::Auth {
                    user: b"",
                    password: b"pw",
                },
                b"\xA1\x06\x00\x00\x00\x00\x00\x02pw",
                b"\xA2\x06\x00\x00\x00\x00\x00\x00\x00\x02pw",
            ),
        ];
        for (request, v1, v2) in cases {
            for (version, bytes) in [(Version::V1, v1), (Version::V2, v2)] {
                assert_eq!(encode_request(version, &request), bytes, "{request:?}");
                assert_incremental_request(bytes, &request, &LIMITS);
            }
        }
    }

    #[test]
    fn golden_response_bytes() {
        for version in VERSIONS {
            let m = version.magic();
            assert_eq!(
                encode_response(version, &Response::ok()),
                [m, 0, 0, 0, 0, 0]
            );
            assert_eq!(
                encode_response(version, &Response::value(b"v")),
                [m, 0, 0, 0, 0, 1, b'v']
            );
            assert_eq!(
                encode_response(version, &Response::status(Status::NotFound)),
                [m, 1, 0, 0, 0, 0]
            );
            assert_eq!(
                encode_response(version, &Response::error(Status::ServerError, "disk")),
                [m, 6, 0, 0, 0, 4, b'd', b'i', b's', b'k']
            );
        }
    }

    #[test]
    fn invalid_requests_fail_with_their_cause() {
        let cases: [(&[u8], DecodeError); 15] = [
            (b"*1\r\n", DecodeError::BadMagic { byte: b'*' }),
            (b"PING", DecodeError::BadMagic { byte: b'P' }),
            (b"\xA3", DecodeError::UnsupportedVersion { version: 3 }),
            (b"\xA0\x01", DecodeError::UnsupportedVersion { version: 0 }),
            (
                b"\xA1\x00\x00\x00\x00\x00\x00\x00",
                DecodeError::UnknownOp {
                    op: 0,
                    frame_len: Some(8),
                },
            ),
            (
                b"\xA1\x08\x00\x01\x00\x00\x00\x01",
                DecodeError::UnknownOp {
                    op: 8,
                    frame_len: Some(10),
                },
            ),
            (
                b"\xA2\x08\x00\x00\x00\x01\x00\x00\x00\x01",
                DecodeError::UnknownOp {
                    op: 8,
                    frame_len: Some(12),
                },
            ),
            (
                b"\xA1\x01\x00\x01\x00\x00\x00\x00",
                DecodeError::Malformed {
                    op: Op::Ping,
                    frame_len: Some(9),
                },
            ),
            (
                b"\xA1\x02\x00\x01\x00\x00\x00\x01",
                DecodeError::Malformed {
                    op: Op::Get,
                    frame_len: Some(10),
                },
            ),
            (
                b"\xA2\x02\x00\x00\x00\x01\x00\x00\x00\x01",
                DecodeError::Malformed {
                    op: Op::Get,
                    frame_len: Some(12),
                },
            ),
            (
                b"\xA1\x03\x00\x41\x00\x00\x00\x00",
                DecodeError::KeyTooLong {
                    len: 65,
                    max: 64,
                    frame_len: Some(73),
                },
            ),
            (
                b"\xA2\x03\x00\x00\x00\x41\x00\x00\x00\x00",
                DecodeError::KeyTooLong {
                    len: 65,
                    max: 64,
                    frame_len: Some(75),
                },
            ),
            // The high half of a version-2 key length is read too: not a key of 0x41 bytes.
            (
                b"\xA2\x02\x01\x00\x00\x41\x00\x00\x00\x00",
                DecodeError::KeyTooLong {
                    len: 0x0100_0041,
                    max: 64,
                    frame_len: Some(10 + 0x0100_0041),
                },
            ),
            (
                b"\xA1\x03\x00\x01\xFF\xFF\xFF\xFF",
                DecodeError::ValueTooLong {
                    len: 0xFFFF_FFFF,
                    max: 1024,
                    frame_len: 9usize.checked_add(0xFFFF_FFFF),
                },
            ),
            (
                b"\xA2\x03\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
                DecodeError::KeyTooLong {
                    len: 0xFFFF_FFFF,
                    max: 64,
                    frame_len: 10usize
                        .checked_add(0xFFFF_FFFF)
                        .and_then(|n| n.checked_add(0xFFFF_FFFF)),
                },
            ),
        ];
        for (input, error) in cases {
            assert_eq!(decode_request(input, &LIMITS), Err(error), "{input:?}");
        }
        assert_eq!(
            DecodeError::KeyTooLong {
                len: 65,
                max: 64,
                frame_len: Some(73)
            }
            .status(),
            Status::KeyTooLong
        );
        assert_eq!(
            DecodeError::UnsupportedVersion { version: 3 }.to_string(),
            "unsupported protocol version 3 (this end speaks 1 and 2)"
        );
    }

    #[test]
    fn a_partial_header_asks_for_its_version_s_length() {
        // Eight bytes are a whole version-1 header but only most of a version-2 one.
        let v2 = encode_request(Version::V2, &Request::Get { key: b"k" });
        assert_eq!(decode_request(&v2[..8], &LIMITS), Ok(None));
        assert_eq!(decode_request(&v2[..9], &LIMITS), Ok(None));
        assert_eq!(
            decode_request(&v2, &LIMITS),
            Ok(Some((Request::Get { key: b"k" }, 11)))
        );
    }

    #[test]
    fn version_2_carries_keys_longer_than_version_1_can() {
        let key = std::vec![0x5Au8; 70_000];
        let limits = Limits::new(100_000, 16);
        let request = Request::Put {
            key: &key,
            value: b"v",
        };
        let bytes = encode_request(Version::V2, &request);
        assert_eq!(&bytes[..10], b"\xA2\x03\x00\x01\x11\x70\x00\x00\x00\x01");
        assert_eq!(decode_request(&bytes, &limits), Ok(Some((request, 70_011))));
        assert_eq!(
            decode_request(&bytes[..70_010], &limits),
            Ok(None),
            "the value's byte is still to come"
        );
        assert_eq!(
            request.encode(Version::V1, &mut std::vec![0u8; 80_000]),
            Err(EncodeError::KeyTooLong {
                len: 70_000,
                max: 65_535
            })
        );
        assert_eq!(
            request.encode_header(Version::V1, &mut [0u8; 10]),
            Err(EncodeError::KeyTooLong {
                len: 70_000,
                max: 65_535
            })
        );
    }

    #[test]
    fn invalid_responses_fail_with_their_cause() {
        let cases: [(&[u8], DecodeError); 6] = [
            (b"+OK\r\n", DecodeError::BadMagic { byte: b'+' }),
            (b"\xA5\x00", DecodeError::UnsupportedVersion { version: 5 }),
            (
                b"\xA1\x09\x00\x00\x00\x00",
                DecodeError::UnknownStatus {
                    status: 9,
                    frame_len: Some(6),
                },
            ),
            (
                b"\xA2\x00\x00\x00\x04\x01",
                DecodeError::ValueTooLong {
                    len: 1025,
                    max: 1024,
                    frame_len: Some(1031),
                },
            ),
            (
                b"\xA1\x00\x00\x00\x04\x01",
                DecodeError::ValueTooLong {
                    len: 1025,
                    max: 1024,
                    frame_len: Some(1031),
                },
            ),
            (
                b"\xA1\x06\x00\x00\x01\x01",
                DecodeError::ValueTooLong {
                    len: 257,
                    max: MAX_MESSAGE,
                    frame_len: Some(263),
                },
            ),
        ];
        for (input, error) in cases {
            assert_eq!(decode_response(input, &LIMITS), Err(error), "{input:?}");
        }
    }

    #[test]
    fn encoders_write_nothing_when_the_frame_does_not_fit() {
        let request = Request::Put {
            key: b"key",
            value: b"value",
        };
        for (version, needed) in [(Version::V1, 16), (Version::V2, 18)] {
            let mut buf = std::vec![0xEEu8; needed - 1];
            assert_eq!(
                request.encode(version, &mut buf),
                Err(EncodeError::BufferTooSmall {
                    needed,
                    len: needed - 1
                })
            );
            assert!(buf.iter().all(|&b| b == 0xEE));
            let header = version.request_header_len();
            let mut buf = std::vec![0xEEu8; header - 1];
            assert_eq!(
                request.encode_header(version, &mut buf),
                Err(EncodeError::BufferTooSmall {
                    needed: header,
                    len: header - 1
                })
            );
            assert!(buf.iter().all(|&b| b == 0xEE));
            let mut buf = [0xEEu8; 6];
            assert_eq!(
                Response::value(b"v").encode(version, &mut buf),
                Err(EncodeError::BufferTooSmall { needed: 7, len: 6 })
            );
            assert_eq!(buf, [0xEE; 6]);
        }
        let long = [0u8; 65536];
        assert_eq!(
            Request::Get { key: &long }.encode(Version::V1, &mut []),
            Err(EncodeError::KeyTooLong {
                len: 65536,
                max: 65535
            })
        );
        assert_eq!(
            Request::Get { key: &long }.encode(Version::V2, &mut []),
            Err(EncodeError::BufferTooSmall {
                needed: 65546,
                len: 0
            })
        );
    }

    #[test]
    fn error_messages_are_cut_at_a_character_boundary() {
        let long = "é".repeat(200);
        let response = Response::error(Status::ServerError, &long);
        assert_eq!(response.payload.len(), MAX_MESSAGE);
        assert_eq!(response.message(), Some(&long[..MAX_MESSAGE]));
    }

    #[test]
    fn scan_requests_carry_exactly_an_eight_byte_cursor() {
        let request = Request::Scan {
            cursor: 0x0102_0304_0506_0708,
        };
        let v1 = b"\xA1\x07\x00\x00\x00\x00\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08";
        let v2 = b"\xA2\x07\x00\x00\x00\x00\x00\x00\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08";
        for (version, bytes) in [(Version::V1, &v1[..]), (Version::V2, &v2[..])] {
            assert_eq!(request.encoded_len(version), bytes.len());
            assert_eq!(encode_request(version, &request), bytes);
            assert_incremental_request(bytes, &request, &LIMITS);
        }
        for (input, frame_len) in [
            (&b"\xA1\x07\x00\x00\x00\x00\x00\x00"[..], 8),
            (b"\xA1\x07\x00\x00\x00\x00\x00\x07", 15),
            (b"\xA1\x07\x00\x01\x00\x00\x00\x08", 17),
            (b"\xA2\x07\x00\x00\x00\x00\x00\x00\x00\x09", 19),
            (b"\xA2\x07\x00\x00\x00\x01\x00\x00\x00\x08", 19),
        ] {
            assert_eq!(
                decode_request(input, &LIMITS),
                Err(DecodeError::Malformed {
                    op: Op::Scan,
                    frame_len: Some(frame_len)
                })
            );
        }
    }

    /// A payload of cursor 42 and `entries`, encoded in `version`.
    fn scan_payload(version: Version, entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut payload = 42u64.to_be_bytes().to_vec();
        for &(key, value) in entries {
            let start = payload.len();
            payload.resize(start + scan_entry_len(version, key.len(), value.len()), 0);
            let n = encode_scan_entry(version, key, value, &mut payload[start..]).expect("fits");
            assert_eq!(start + n, payload.len());
        }
        payload
    }

    #[test]
    fn scan_payloads_round_trip() {
        let entries: [(&[u8], &[u8]); 3] = [(b"k", b"vv"), (b"", b""), (b"key", "é,\n".as_bytes())];
        for (version, first_entry) in [
            (Version::V1, &b"\x00\x01k\x00\x00\x00\x02vv"[..]),
            (Version::V2, b"\x00\x00\x00\x01k\x00\x00\x00\x02vv"),
        ] {
            let payload = scan_payload(version, &entries);
            assert_eq!(
                &payload[8..8 + first_entry.len()],
                first_entry,
                "key_len, key, value_len u32, value"
            );
            let (cursor, decoded) = decode_scan_payload(version, &payload).expect("valid");
            assert_eq!(cursor, 42);
            assert!(decoded.eq(entries));
            for end in 9..payload.len() {
                if let Ok((_, mut it)) = decode_scan_payload(version, &payload[..end]) {
                    // A cut that falls between entries is a shorter valid payload.
                    assert!(it.all(|e| entries.contains(&e)));
                }
            }
            assert_eq!(
                decode_scan_payload(version, &payload[..12]).err(),
                Some(ScanPayloadError::TruncatedEntry { offset: 8 })
            );
            assert_eq!(
                decode_scan_payload(version, &payload[..7]).err(),
                Some(ScanPayloadError::NoCursor { len: 7 })
            );
            let needed = scan_entry_len(version, 1, 2);
            let mut small = std::vec![0xEEu8; needed - 1];
            assert_eq!(
                encode_scan_entry(version, b"k", b"vv", &mut small),
                Err(EncodeError::BufferTooSmall {
                    needed,
                    len: needed - 1
                })
            );
            assert!(small.iter().all(|&b| b == 0xEE));
        }
    }

    #[test]
    fn version_2_scan_entries_carry_long_keys() {
        let key = std::vec![b'k'; 70_000];
        let entries: [(&[u8], &[u8]); 2] = [(&key, b"v"), (b"short", b"")];
        let payload = scan_payload(Version::V2, &entries);
        assert_eq!(&payload[8..12], &70_000u32.to_be_bytes());
        let (_, decoded) = decode_scan_payload(Version::V2, &payload).expect("valid");
        assert!(decoded.eq(entries));
        // Read as version 1, the same bytes do not parse: the response's version matters.
        assert!(decode_scan_payload(Version::V1, &payload).is_err());
        assert_eq!(
            encode_scan_entry(Version::V1, &key, b"v", &mut std::vec![0u8; 80_000]),
            Err(EncodeError::KeyTooLong {
                len: 70_000,
                max: 65_535
            })
        );
    }

    #[test]
    fn scan_entry_headers_lend_the_fields_to_fill() {
        for version in VERSIONS {
            let mut out = std::vec![0u8; scan_entry_len(version, 3, 2)];
            let (key, value) = encode_scan_entry_header(version, 3, 2, &mut out).expect("fits");
            key.copy_from_slice(b"abc");
            value.copy_from_slice(b"xy");
            let mut expected = std::vec![0u8; out.len()];
            encode_scan_entry(version, b"abc", b"xy", &mut expected).expect("fits");
            assert_eq!(out, expected);
        }
    }
}
