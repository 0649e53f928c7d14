//! Responses: what a server answers, `magic status len(u32) payload`, in request order. The
//! layout is the same in both versions; the magic byte repeats the request's version, which says
//! how a `SCAN` payload's entries are laid out.

use super::{be_u32, DecodeError, EncodeError, Limits, Status, Version};
use super::{MAX_MESSAGE, RESPONSE_HEADER_LEN};

/// A decoded response, borrowing its payload from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Response<'a> {
    /// The outcome.
    pub status: Status,
    /// The value for a successful `GET`; an optional UTF-8 message for other statuses; else empty.
    pub payload: &'a [u8],
}

impl<'a> Response<'a> {
    /// `SUCCESS` with no payload: the answer to `PING`, `PUT`, `DELETE`, `SAVE` and `AUTH`.
    pub const fn ok() -> Self {
        Self::status(Status::Success)
    }

    /// `SUCCESS` carrying `value`: the answer to a `GET` that found its key.
    pub const fn value(value: &'a [u8]) -> Self {
        Self {
            status: Status::Success,
            payload: value,
        }
    }

    /// `status` with no payload.
    pub const fn status(status: Status) -> Self {
        Self {
            status,
            payload: &[],
        }
    }

    /// `status` with a human-readable `message`, cut to [`MAX_MESSAGE`] bytes at a character
    /// boundary so that every peer accepts it.
    pub fn error(status: Status, message: &'a str) -> Self {
        let mut end = message.len().min(MAX_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            status,
            payload: &message.as_bytes()[..end],
        }
    }

    /// The payload as a message, when the status is not `SUCCESS` and the payload is UTF-8.
    pub fn message(&self) -> Option<&'a str> {
        if self.status == Status::Success {
            return None;
        }
        core::str::from_utf8(self.payload).ok()
    }

    /// The encoded frame's length in bytes (saturating at `usize::MAX`, which no buffer holds).
    pub const fn encoded_len(&self) -> usize {
        RESPONSE_HEADER_LEN.saturating_add(self.payload.len())
    }

    /// Writes the frame in `version` (the request's) to the start of `out` and returns its
    /// length; writes nothing on error.
    pub fn encode(&self, version: Version, out: &mut [u8]) -> Result<usize, EncodeError> {
        let n = encode_response_header(version, self.status, self.payload.len(), out)?;
        let end = n + self.payload.len();
        let Some(payload_out) = out.get_mut(n..end) else {
            return Err(EncodeError::BufferTooSmall {
                needed: end,
                len: out.len(),
            });
        };
        payload_out.copy_from_slice(self.payload);
        Ok(end)
    }
}

/// Writes only a response header in `version` announcing `payload_len` bytes, so a server can
/// copy a value straight from its table into the output buffer behind it. Returns
/// [`RESPONSE_HEADER_LEN`].
///
/// Checks that the whole frame fits in `out`, so writing the payload afterwards cannot fail;
/// writes nothing on error.
pub fn encode_response_header(
    version: Version,
    status: Status,
    payload_len: usize,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let len = u32::try_from(payload_len).map_err(|_| EncodeError::ValueTooLong {
        len: payload_len,
        max: u32::MAX as usize,
    })?;
    let needed = RESPONSE_HEADER_LEN.saturating_add(payload_len);
    if out.len() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            len: out.len(),
        });
    }
    out[0] = version.magic();
    out[1] = status as u8;
    out[2..6].copy_from_slice(&len.to_be_bytes());
    Ok(RESPONSE_HEADER_LEN)
}

/// Decodes one response, of either version, from the start of `input`.
///
/// A `SUCCESS` payload may be up to `limits.max_value` bytes, any other status's up to
/// [`MAX_MESSAGE`]; a longer announced payload is rejected as soon as the 6-byte header is present.
/// The response's version is its first byte's ([`Version::of`]).
pub fn decode_response<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Response<'a>, usize)>, DecodeError> {
    Version::of(input)?;
    let Some(header) = input.get(..RESPONSE_HEADER_LEN) else {
        return Ok(None);
    };
    let len = be_u32(&header[2..6]);
    let frame_len = RESPONSE_HEADER_LEN.checked_add(len);
    let Some(status) = Status::from_u8(header[1]) else {
        return Err(DecodeError::UnknownStatus {
            status: header[1],
            frame_len,
        });
    };
    let max = if status == Status::Success {
        limits.max_value
    } else {
        MAX_MESSAGE
    };
    let frame_len = match frame_len {
        Some(n) if len <= max => n,
        _ => {
            return Err(DecodeError::ValueTooLong {
                len,
                max,
                frame_len,
            })
        }
    };
    let Some(payload) = input.get(RESPONSE_HEADER_LEN..frame_len) else {
        return Ok(None);
    };
    Ok(Some((Response { status, payload }, frame_len)))
}
