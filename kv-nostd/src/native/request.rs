//! Requests: what a client sends, `magic op key_len(u16) value_len(u32) key value`.

use super::{
    be_u32, check_magic, wire_lengths, DecodeError, EncodeError, Limits, Op, MAGIC,
    REQUEST_HEADER_LEN, SCAN_CURSOR_LEN,
};

/// A decoded request, borrowing its key and value from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Request<'a> {
    /// [`Op::Ping`].
    Ping,
    /// [`Op::Get`].
    Get {
        /// The key to read.
        key: &'a [u8],
    },
    /// [`Op::Put`].
    Put {
        /// The key to write.
        key: &'a [u8],
        /// Its new value.
        value: &'a [u8],
    },
    /// [`Op::Delete`].
    Delete {
        /// The key to remove.
        key: &'a [u8],
    },
    /// [`Op::Save`].
    Save,
    /// [`Op::Auth`].
    Auth {
        /// The user name; empty for the default user.
        user: &'a [u8],
        /// The password.
        password: &'a [u8],
    },
    /// [`Op::Scan`].
    Scan {
        /// Where the scan stands: 0 starts one; each response names the next.
        cursor: u64,
    },
}

impl<'a> Request<'a> {
    /// The request's op.
    pub const fn op(&self) -> Op {
        match self {
            Request::Ping => Op::Ping,
            Request::Get { .. } => Op::Get,
            Request::Put { .. } => Op::Put,
            Request::Delete { .. } => Op::Delete,
            Request::Save => Op::Save,
            Request::Auth { .. } => Op::Auth,
            Request::Scan { .. } => Op::Scan,
        }
    }

    /// The key field and value field as they travel on the wire (empty when the op has none).
    /// A scan's cursor is not borrowed, so its bytes are written into `cursor` and lent from there.
    fn parts<'s>(&'s self, cursor: &'s mut [u8; SCAN_CURSOR_LEN]) -> (&'s [u8], &'s [u8]) {
        match *self {
            Request::Ping | Request::Save => (&[], &[]),
            Request::Get { key } | Request::Delete { key } => (key, &[]),
            Request::Put { key, value } => (key, value),
            Request::Auth { user, password } => (user, password),
            Request::Scan { cursor: c } => {
                *cursor = c.to_be_bytes();
                (&[], cursor)
            }
        }
    }

    /// The encoded frame's length in bytes (saturating at `usize::MAX`, which no buffer holds).
    pub const fn encoded_len(&self) -> usize {
        let (key, value) = match *self {
            Request::Ping | Request::Save => (0, 0),
            Request::Get { key } | Request::Delete { key } => (key.len(), 0),
            Request::Put { key, value } => (key.len(), value.len()),
            Request::Auth { user, password } => (user.len(), password.len()),
            Request::Scan { .. } => (0, SCAN_CURSOR_LEN),
        };
        REQUEST_HEADER_LEN.saturating_add(key).saturating_add(value)
    }

    /// Writes the frame to the start of `out` and returns its length; writes nothing on error.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut cursor = [0u8; SCAN_CURSOR_LEN];
        let (key, value) = self.parts(&mut cursor);
        let (key_len, value_len) = wire_lengths(key, value)?;
        let needed = self.encoded_len();
        let Some(frame) = out.get_mut(..needed) else {
            return Err(EncodeError::BufferTooSmall {
                needed,
                len: out.len(),
            });
        };
        let (header, body) = frame.split_at_mut(REQUEST_HEADER_LEN);
        header[0] = MAGIC;
        header[1] = self.op() as u8;
        header[2..4].copy_from_slice(&key_len.to_be_bytes());
        header[4..8].copy_from_slice(&value_len.to_be_bytes());
        let (key_out, value_out) = body.split_at_mut(key.len());
        key_out.copy_from_slice(key);
        value_out.copy_from_slice(value);
        Ok(needed)
    }
}

/// Decodes one request from the start of `input`.
///
/// `Ok(None)` means `input` is a valid prefix and more bytes are needed; `Ok(Some((request,
/// consumed)))` means the first `consumed` bytes hold `request`. An oversized length is rejected
/// as soon as the 8-byte header is present.
pub fn decode_request<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, DecodeError> {
    check_magic(input)?;
    let Some(header) = input.get(..REQUEST_HEADER_LEN) else {
        return Ok(None);
    };
    let key_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let value_len = be_u32(&header[4..8]);
    let frame_len = REQUEST_HEADER_LEN
        .checked_add(key_len)
        .and_then(|n| n.checked_add(value_len));
    let Some(op) = Op::from_u8(header[1]) else {
        return Err(DecodeError::UnknownOp {
            op: header[1],
            frame_len,
        });
    };
    if (key_len > 0 && !op.has_key())
        || (value_len > 0 && !op.has_value())
        || (op == Op::Scan && value_len != SCAN_CURSOR_LEN)
    {
        return Err(DecodeError::Malformed { op, frame_len });
    }
    if key_len > limits.max_key {
        return Err(DecodeError::KeyTooLong {
            len: key_len,
            max: limits.max_key,
            frame_len,
        });
    }
    if value_len > limits.max_value {
        return Err(DecodeError::ValueTooLong {
            len: value_len,
            max: limits.max_value,
            frame_len,
        });
    }
    let Some(frame_len) = frame_len else {
        // Unreachable with limits small enough to be held in memory; a length the platform
        // cannot address is too long whatever the limits say.
        return Err(DecodeError::ValueTooLong {
            len: value_len,
            max: limits.max_value,
            frame_len: None,
        });
    };
    let Some(body) = input.get(REQUEST_HEADER_LEN..frame_len) else {
        return Ok(None);
    };
    let (key, value) = body.split_at(key_len);
    let request = match op {
        Op::Ping => Request::Ping,
        Op::Get => Request::Get { key },
        Op::Put => Request::Put { key, value },
        Op::Delete => Request::Delete { key },
        Op::Save => Request::Save,
        Op::Auth => Request::Auth {
            user: key,
            password: value,
        },
        Op::Scan => {
            let mut cursor = [0u8; SCAN_CURSOR_LEN];
            cursor.copy_from_slice(value);
            Request::Scan {
                cursor: u64::from_be_bytes(cursor),
            }
        }
    };
    Ok(Some((request, frame_len)))
}
