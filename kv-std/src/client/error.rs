//! What a client call can fail with: one variant per server status, and the failures of the
//! connection itself.

use kv_nostd::native::{DecodeError, EncodeError, ScanPayloadError, Status, Version};
use std::fmt;
use std::io;

/// Why a client call failed.
///
/// A missing key is not an error: [`Client::get`](super::Client::get) answers `Ok(None)` and
/// [`Client::delete`](super::Client::delete) `Ok(false)`. Every other status the server can answer
/// has its variant here, carrying the message the server sent with it (often empty).
#[derive(Debug)]
pub enum Error {
    /// No answer could be had from the server: connecting, writing or reading failed (or timed
    /// out) on every attempt the retry policy allowed.
    Unreachable {
        /// The address as given, `host:port`.
        addr: String,
        /// The last attempt's failure.
        source: io::Error,
        /// Retries made after the first attempt.
        retries: u32,
    },
    /// `NOT_FOUND` in answer to an op that does not look a key up.
    NotFound(String),
    /// `NO_SPACE`: the table is full; nothing changed.
    NoSpace(String),
    /// `KEY_TOO_LONG`: the key exceeds the server's maximum, or the client's
    /// ([`MAX_KEY`](super::MAX_KEY)), which refuses it with the same message before sending it.
    KeyTooLong(String),
    /// `VALUE_TOO_LONG`: the value exceeds the server's maximum, or the client's
    /// ([`MAX_VALUE`](super::MAX_VALUE)), which refuses it with the same message before sending it.
    ValueTooLong(String),
    /// `BAD_REQUEST`: the server did not understand the request.
    BadRequest(String),
    /// `SERVER_ERROR`: the server failed for a reason of its own.
    ServerError(String),
    /// `AUTH_REQUIRED`: the server wants `AUTH` first.
    AuthRequired(String),
    /// `AUTH_FAILED`: the credentials were refused.
    AuthFailed(String),
    /// The server sent bytes that are not a valid answer; the connection was dropped.
    Protocol(ProtocolError),
    /// An error reply over the Redis protocol (`ERR ...`, `READONLY ...`), as the server sent
    /// it without its leading `-`.
    Redis(String),
    /// The request cannot be framed at all (a key or value over the format's 4 GiB − 1 bytes);
    /// nothing was sent.
    Encode(EncodeError),
}

/// How an answer broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The response frame did not decode.
    Frame(DecodeError),
    /// A `SCAN` answer's payload did not parse.
    ScanPayload(ScanPayloadError),
    /// A `SUCCESS` carried a payload where the op takes none.
    UnexpectedPayload {
        /// The payload's length.
        len: usize,
    },
    /// A Redis protocol reply did not decode.
    Resp(kv_nostd::resp::DecodeError),
    /// A Redis protocol reply of another shape than the command answers (an integer where a
    /// value belongs, say).
    UnexpectedReply(String),
    /// A `SUCCESS` came in another protocol version than its request.
    Version {
        /// The request's version.
        sent: Version,
        /// The response's.
        answered: Version,
    },
}

impl Error {
    /// The error a non-`SUCCESS` status stands for, with the response's `payload` as its message;
    /// `None` for `SUCCESS`.
    pub fn from_status(status: Status, payload: &[u8]) -> Option<Error> {
        let message = String::from_utf8_lossy(payload).into_owned();
        Some(match status {
            Status::Success => return None,
            Status::NotFound => Error::NotFound(message),
            Status::NoSpace => Error::NoSpace(message),
            Status::KeyTooLong => Error::KeyTooLong(message),
            Status::ValueTooLong => Error::ValueTooLong(message),
            Status::BadRequest => Error::BadRequest(message),
            Status::ServerError => Error::ServerError(message),
            Status::AuthRequired => Error::AuthRequired(message),
            Status::AuthFailed => Error::AuthFailed(message),
        })
    }

    /// The server status this error stands for, if it is one.
    pub fn status(&self) -> Option<Status> {
        Some(match self {
            Error::NotFound(_) => Status::NotFound,
            Error::NoSpace(_) => Status::NoSpace,
            Error::KeyTooLong(_) => Status::KeyTooLong,
            Error::ValueTooLong(_) => Status::ValueTooLong,
            Error::BadRequest(_) => Status::BadRequest,
            Error::ServerError(_) => Status::ServerError,
            Error::AuthRequired(_) => Status::AuthRequired,
            Error::AuthFailed(_) => Status::AuthFailed,
            Error::Unreachable { .. } | Error::Protocol(_) | Error::Encode(_) | Error::Redis(_) => {
                return None
            }
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, message) = match self {
            Error::Unreachable {
                addr,
                source,
                retries,
            } => {
                let s = if *retries == 1 { "retry" } else { "retries" };
                return write!(f, "cannot reach {addr}: {source} (after {retries} {s})");
            }
            Error::Protocol(e) => return write!(f, "protocol error: {e}"),
            Error::Encode(e) => return write!(f, "request cannot be sent: {e}"),
            Error::Redis(m) => return f.write_str(m),
            Error::NotFound(m) => ("not found", m),
            Error::NoSpace(m) => ("no space: the table is full", m),
            Error::KeyTooLong(m) => ("key too long", m),
            Error::ValueTooLong(m) => ("value too long", m),
            Error::BadRequest(m) => ("bad request", m),
            Error::ServerError(m) => ("server error", m),
            Error::AuthRequired(m) => ("authentication required", m),
            Error::AuthFailed(m) => ("authentication failed", m),
        };
        if message.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{what}: {message}")
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unreachable { source, .. } => Some(source),
            Error::Protocol(ProtocolError::Frame(e)) => Some(e),
            Error::Protocol(ProtocolError::ScanPayload(e)) => Some(e),
            Error::Protocol(ProtocolError::Resp(e)) => Some(e),
            Error::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => write!(f, "bad response frame: {e}"),
            ProtocolError::ScanPayload(e) => write!(f, "bad SCAN answer: {e}"),
            ProtocolError::Resp(e) => write!(f, "bad Redis protocol reply: {e}"),
            ProtocolError::UnexpectedReply(what) => write!(f, "unexpected reply: {what}"),
            ProtocolError::UnexpectedPayload { len } => {
                write!(f, "unexpected {len}-byte payload in a SUCCESS answer")
            }
            ProtocolError::Version { sent, answered } => write!(
                f,
                "a version {} request was answered in version {}",
                *sent as u8, *answered as u8
            ),
        }
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_but_success_maps_to_a_variant_and_back() {
        for byte in 0..=u8::MAX {
            let Some(status) = Status::from_u8(byte) else {
                continue;
            };
            match Error::from_status(status, b"why") {
                None => assert_eq!(status, Status::Success),
                Some(e) => {
                    assert_eq!(e.status(), Some(status));
                    assert!(e.to_string().ends_with(": why"), "{e}");
                }
            }
        }
    }

    #[test]
    fn unreachable_names_the_address_and_the_cause() {
        let e = Error::Unreachable {
            addr: "127.0.0.1:7879".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
            retries: 5,
        };
        assert_eq!(
            e.to_string(),
            "cannot reach 127.0.0.1:7879: connection refused (after 5 retries)"
        );
    }
}
