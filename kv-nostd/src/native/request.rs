//! Requests: what a client sends, `magic op key_len value_len key value`, where `key_len` is a
//! u16 in version 1 and a u32 in version 2, and `value_len` a u32 in both.

use super::{
    be_u32, check_lengths, DecodeError, EncodeError, Limits, Op, Version, SCAN_CURSOR_LEN,
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
    ///
    /// With [`Request::encode_header`], this lets a client send a large value from where it lies
    /// instead of copying it behind the header.
    pub fn fields<'s>(&'s self, cursor: &'s mut [u8; SCAN_CURSOR_LEN]) -> (&'s [u8], &'s [u8]) {
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

    /// The lengths of the key and value fields.
    const fn field_lens(&self) -> (usize, usize) {
        match *self {
            Request::Ping | Request::Save => (0, 0),
            Request::Get { key } | Request::Delete { key } => (key.len(), 0),
            Request::Put { key, value } => (key.len(), value.len()),
            Request::Auth { user, password } => (user.len(), password.len()),
            Request::Scan { .. } => (0, SCAN_CURSOR_LEN),
        }
    }

    /// The encoded frame's length in bytes in `version` (saturating at `usize::MAX`, which no
    /// buffer holds).
    pub const fn encoded_len(&self, version: Version) -> usize {
        let (key, value) = self.field_lens();
        version
            .request_header_len()
            .saturating_add(key)
            .saturating_add(value)
    }

    /// Writes only the frame's header in `version` to the start of `out` and returns its length
    /// ([`Version::request_header_len`]); the key and value ([`Request::fields`]) follow it on
    /// the wire. Writes nothing on error.
    pub fn encode_header(&self, version: Version, out: &mut [u8]) -> Result<usize, EncodeError> {
        let (key_len, value_len) = self.field_lens();
        let value_len = check_lengths(version, key_len, value_len)?;
        let needed = version.request_header_len();
        let Some(header) = out.get_mut(..needed) else {
            return Err(EncodeError::BufferTooSmall {
                needed,
                len: out.len(),
            });
        };
        let (start, value_field) = header.split_at_mut(needed - 4);
        start[0] = version.magic();
        start[1] = self.op() as u8;
        version.put_key_len(key_len, &mut start[2..]);
        value_field.copy_from_slice(&value_len.to_be_bytes());
        Ok(needed)
    }

    /// Writes the whole frame in `version` to the start of `out` and returns its length; writes
    /// nothing on error.
    pub fn encode(&self, version: Version, out: &mut [u8]) -> Result<usize, EncodeError> {
        let (key_len, value_len) = self.field_lens();
        check_lengths(version, key_len, value_len)?;
        let needed = self.encoded_len(version);
        let Some(frame) = out.get_mut(..needed) else {
            return Err(EncodeError::BufferTooSmall {
                needed,
                len: out.len(),
            });
        };
        let (header, body) = frame.split_at_mut(version.request_header_len());
        self.encode_header(version, header)?;
        let mut cursor = [0u8; SCAN_CURSOR_LEN];
        let (key, value) = self.fields(&mut cursor);
        let (key_out, value_out) = body.split_at_mut(key.len());
        key_out.copy_from_slice(key);
        value_out.copy_from_slice(value);
        Ok(needed)
    }
}

/// Decodes one request, of either version, from the start of `input`.
///
/// `Ok(None)` means `input` is a valid prefix and more bytes are needed; `Ok(Some((request,
/// consumed)))` means the first `consumed` bytes hold `request`. An oversized length is rejected
/// as soon as the header (8 bytes in version 1, 10 in version 2) is present. The request's version
/// is its first byte's ([`Version::of`]); a server answers in it.
pub fn decode_request<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, DecodeError> {
    let Some(version) = Version::of(input)? else {
        return Ok(None);
    };
    let header_len = version.request_header_len();
    let Some(header) = input.get(..header_len) else {
        return Ok(None);
    };
    let key_len = version.key_len(&header[2..header_len - 4]);
    let value_len = be_u32(&header[header_len - 4..]);
    let frame_len = header_len
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
    let Some(body) = input.get(header_len..frame_len) else {
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
