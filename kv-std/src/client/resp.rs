//! One connection speaking the Redis protocol (RESP2): what the client uses where the native
//! protocol has no word for it (`ROLE`, expiry times, a replica's `READONLY` refusal), so that
//! the same calls work against a kv server and a redis-server.

use super::{ClientConfig, Error, ProtocolError};
use kv_nostd::resp::{self, Limits, Reply};
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};

/// A reply, owned: what the client keeps of RESP2's types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `+OK`, `+QUEUED`, ...
    Simple(Vec<u8>),
    /// `-ERR ...`, `-READONLY ...`, without the `-`.
    Error(Vec<u8>),
    /// `:<n>`.
    Int(i64),
    /// `$<len>` and its bytes.
    Bulk(Vec<u8>),
    /// `$-1`, `*-1`, or RESP3's `_`.
    Null,
    /// `*<n>` and its elements.
    Array(Vec<Value>),
}

impl Value {
    fn of(reply: Reply<'_>) -> Result<Value, ProtocolError> {
        Ok(match reply {
            Reply::Simple(s) => Value::Simple(s.to_vec()),
            Reply::Error(e) | Reply::BlobError(e) => Value::Error(e.to_vec()),
            Reply::Integer(n) => Value::Int(n),
            Reply::Bulk(b) => Value::Bulk(b.to_vec()),
            Reply::NullBulk | Reply::NullArray | Reply::Null => Value::Null,
            Reply::Array(a) | Reply::Set(a) => {
                Value::Array(a.iter().map(Value::of).collect::<Result<_, _>>()?)
            }
            other => {
                return Err(ProtocolError::UnexpectedReply(format!(
                    "{other:?} (RESP3 types are not asked for)"
                )))
            }
        })
    }

    /// The value as an error if it is an error reply.
    pub fn into_result(self) -> Result<Value, Error> {
        match self {
            Value::Error(e) => Err(Error::Redis(String::from_utf8_lossy(&e).into_owned())),
            v => Ok(v),
        }
    }

    /// A reply of an unexpected shape, as a protocol error naming what `command` answered.
    pub fn unexpected(&self, command: &str) -> Error {
        Error::Protocol(ProtocolError::UnexpectedReply(format!(
            "{command} answered {self:?}"
        )))
    }
}

/// Why a call on a [`RespConn`] failed: the connection (a retry may mend it), or the reply.
#[derive(Debug)]
pub enum CallError {
    /// Connecting, writing or reading failed or timed out.
    Connection(io::Error),
    /// The reply does not decode: the connection is unusable.
    Protocol(ProtocolError),
    /// The server refused for its role or state (`READONLY`, `MASTERDOWN`, `LOADING`): another
    /// server, or this one later, may serve the command.
    Unavailable(String),
}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        CallError::Connection(e)
    }
}

/// The longest reply accepted: a value as long as a server stores, in a reply of many.
const LIMITS: Limits = Limits::new(64 * 1024, usize::MAX, usize::MAX);

/// One Redis protocol connection: commands written, replies read in order.
#[derive(Debug)]
pub struct RespConn {
    stream: TcpStream,
    input: Vec<u8>,
    start: usize,
    frame: Vec<u8>,
}

impl RespConn {
    /// Connects to `host:port` with `config`'s timeouts, and sends `AUTH` with its password if
    /// it has one.
    pub fn open(host: &str, port: u16, config: &ClientConfig) -> Result<Self, CallError> {
        let mut last = None;
        for addr in (host, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, config.connect_timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(config.io_timeout))?;
                    stream.set_write_timeout(Some(config.io_timeout))?;
                    let mut conn = Self {
                        stream,
                        input: Vec::with_capacity(16 * 1024),
                        start: 0,
                        frame: Vec::new(),
                    };
                    if let Some(password) = &config.password {
                        if let Value::Error(e) = conn.call(&[b"AUTH", password])? {
                            return Err(CallError::Protocol(ProtocolError::UnexpectedReply(
                                format!("AUTH answered -{}", e.escape_ascii()),
                            )));
                        }
                    }
                    return Ok(conn);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(CallError::Connection(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "the host name resolves to no address",
            )
        })))
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Value, CallError> {
        self.send(args)?;
        self.receive()
    }

    /// Writes one command without reading its reply: several are sent before
    /// [`RespConn::receive`] reads their replies in order.
    pub fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let len = resp::encoded_request_len(args);
        self.frame.resize(len, 0);
        // The buffer has just been sized to the request.
        let n = resp::encode_request(args, &mut self.frame)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.stream.write_all(&self.frame[..n])
    }

    /// The next reply.
    pub fn receive(&mut self) -> Result<Value, CallError> {
        loop {
            match resp::decode_reply(&self.input[self.start..], &LIMITS) {
                Ok(Some((reply, used))) => {
                    let value = Value::of(reply).map_err(CallError::Protocol)?;
                    self.start += used;
                    return Ok(value);
                }
                Ok(None) => self.fill()?,
                Err(e) => return Err(CallError::Protocol(ProtocolError::Resp(e))),
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        super::read_more(&mut self.stream, &mut self.input)
    }
}
