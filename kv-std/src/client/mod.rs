//! A blocking client over kv's native protocol: put, get, delete, ping, pipelined batches and
//! scans, reconnecting and retrying by itself where repeating a request is safe.
//!
//! The client speaks version 2 of the protocol, so keys may be as long as values. Keys and values
//! longer than [`MAX_KEY`] and [`MAX_VALUE`] (a server's defaults) are refused before anything
//! is sent; the server may refuse shorter ones if it is configured so.
//!
//! - [`Client`]: one connection, opened lazily and reopened after a failure.
//! - [`ClientConfig`]: where to connect and how long to wait.
//! - [`RetryPolicy`]: bounded exponential backoff; its module says which operations are retried
//!   and why that is safe.
//! - [`Batch`] and [`Reply`]: many requests sent together, answered in order.
//! - [`Error`]: one variant per server status, plus the connection's own failures.
//! - [`Routed`]: a primary and its replicas over the Redis protocol, reads sent where
//!   [`ReadFrom`] says and a change of primary followed; [`resp`]: one such connection.
//! - [`Partition`]: which of several independent servers holds a key, by hash or by key range.
//! - [`Cluster`]: a Redis Cluster, each command sent to its key's slot owner and the cluster's
//!   `MOVED`/`ASK` redirections followed.
//!
//! # Example
//! ```no_run
//! use kv_std::client::{Batch, Client, ClientConfig, Reply};
//!
//! let mut client = Client::connect(ClientConfig::new("127.0.0.1", 7878))?;
//! client.put(b"user1", b"John Doe")?;
//! assert_eq!(client.get(b"user1")?.as_deref(), Some(&b"John Doe"[..]));
//! assert_eq!(client.get(b"nobody")?, None);
//!
//! let mut batch = Batch::new();
//! for i in 0..1000 {
//!     batch.put(format!("key{i}").as_bytes(), b"value")?;
//! }
//! let replies = client.execute(&batch)?;
//! assert!(replies.iter().all(|r| matches!(r, Reply::Done)));
//! # Ok::<(), kv_std::client::Error>(())
//! ```

mod batch;
pub mod cluster;
mod error;
pub mod partition;
pub mod resp;
mod retry;
pub mod routed;

pub use batch::{Batch, Reply};
pub use cluster::Cluster;
pub use error::{Error, ProtocolError};
pub use partition::{Partition, PartitionError};
pub use retry::RetryPolicy;
pub use routed::{ReadFrom, Routed};

use batch::Kind;
use kv_nostd::native::{self, Limits, Request, Response, Status, Version};
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Requests written before their answers are read, at most twice over: small enough that the
/// answers in flight (up to 2 × 1024 GET values) stay under the server's output cap, so the
/// server never stops reading while the client is still writing.
const WINDOW: usize = 1024;

/// The protocol version the client speaks: the one whose keys may be as long as values.
const VERSION: Version = Version::LATEST;

/// The longest key the client sends: a server's default `proto-max-bulk-len`.
pub const MAX_KEY: usize = crate::config::PROTO_MAX_BULK_LEN;

/// The longest value (or password) the client sends: a server's default `proto-max-bulk-len`.
pub const MAX_VALUE: usize = crate::config::PROTO_MAX_BULK_LEN;

/// Responses are accepted up to the longest payload a frame can announce: a value is as long as
/// the server let it be stored, and a SCAN step holds at least one whole segment of entries. A
/// payload is read only as its bytes arrive, so a long announcement alone costs nothing.
const LIMITS: Limits = Limits::new(u32::MAX as usize, u32::MAX as usize);

/// Requests up to this long are copied into one frame and written in one call; longer ones are
/// written from where their key and value lie, behind a header of their own.
const COPY_UP_TO: usize = 64 * 1024;

/// Checks `request`'s key and value against [`MAX_KEY`] and [`MAX_VALUE`], with the error and
/// message a server with default settings would answer.
fn check_limits(request: &Request<'_>) -> Result<(), Error> {
    let mut cursor = [0u8; native::SCAN_CURSOR_LEN];
    let (key, value) = request.fields(&mut cursor);
    if key.len() > MAX_KEY {
        return Err(Error::KeyTooLong(format!(
            "key of {} bytes exceeds the maximum of {MAX_KEY} bytes",
            key.len()
        )));
    }
    if value.len() > MAX_VALUE {
        return Err(Error::ValueTooLong(format!(
            "value of {} bytes exceeds the maximum of {MAX_VALUE} bytes",
            value.len()
        )));
    }
    Ok(())
}

/// Where a client connects and how long it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The longest wait for a connection to open.
    pub connect_timeout: Duration,
    /// The longest wait for one write, or for an answer's next bytes.
    pub io_timeout: Duration,
    /// When to retry after the connection fails.
    pub retry: RetryPolicy,
    /// The server's password, sent with `AUTH` on every new connection.
    pub password: Option<Vec<u8>>,
}

impl ClientConfig {
    /// `host:port` with 2-second timeouts and [`RetryPolicy::DEFAULT`].
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(2),
            retry: RetryPolicy::DEFAULT,
            password: None,
        }
    }

    /// The address as given, for messages: `host:port` (`[host]:port` for an IPv6 literal).
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A client of one kv server. Not shared between threads: open one per thread.
pub struct Client {
    config: ClientConfig,
    conn: Option<Conn>,
}

/// How one attempt failed: the connection (retry), or something retrying cannot mend.
enum Failure {
    Connection(io::Error),
    Final(Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Connection(e)
    }
}

impl Client {
    /// A client that connects on its first call.
    pub fn new(config: ClientConfig) -> Self {
        Self { config, conn: None }
    }

    /// A client connected now, retrying per the configuration's policy.
    pub fn connect(config: ClientConfig) -> Result<Self, Error> {
        let mut client = Self::new(config);
        client.call(|_| Ok(()))?;
        Ok(client)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Runs `attempt` on a live connection, reconnecting and retrying after connection failures.
    /// `progress` reports whether a failed attempt got anywhere, which resets the failure count.
    fn call_with<T>(
        &mut self,
        mut attempt: impl FnMut(&mut Conn) -> Result<T, Failure>,
        mut progress: impl FnMut() -> bool,
    ) -> Result<T, Error> {
        let mut failures = 0u32;
        loop {
            let result = match self.conn.as_mut() {
                Some(conn) => attempt(conn),
                None => match Conn::open(&self.config) {
                    Ok(mut conn) => match conn.authenticate(self.config.password.as_deref()) {
                        Ok(()) => attempt(self.conn.insert(conn)),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(Failure::Connection(e)),
                },
            };
            match result {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => {
                    if matches!(e, Error::Protocol(_)) {
                        self.conn = None;
                    }
                    return Err(e);
                }
                Err(Failure::Connection(source)) => {
                    // Answers still on their way would be read as the next requests' answers.
                    self.conn = None;
                    if progress() {
                        failures = 0;
                    }
                    if failures >= self.config.retry.retries {
                        return Err(Error::Unreachable {
                            addr: self.config.addr(),
                            source,
                            retries: failures,
                        });
                    }
                    std::thread::sleep(self.config.retry.backoff(failures));
                    failures += 1;
                }
            }
        }
    }

    fn call<T>(
        &mut self,
        attempt: impl FnMut(&mut Conn) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        self.call_with(attempt, || false)
    }

    /// Sends one request and hands its answer to `answer`.
    fn request<T>(
        &mut self,
        request: Request<'_>,
        mut answer: impl FnMut(Response<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        check_limits(&request)?;
        self.call(|conn| {
            conn.send_request(&request)?;
            let response = conn.receive()?;
            answer(response).map_err(Failure::Final)
        })
    }

    /// Sets `key` to `value`. Retried on connection failures: see [`RetryPolicy`].
    ///
    /// A large value is written to the socket from `value` itself, never copied.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.request(Request::Put { key, value }, expect_empty)
    }

    /// The value of `key`; `Ok(None)` if there is none.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.get_with(key, |value| value.to_vec())
    }

    /// Hands the value of `key` to `f`, borrowed from the connection's buffer, and returns what
    /// `f` made of it; `Ok(None)` if there is no such key. For a large value this saves the copy
    /// [`Client::get`] makes.
    pub fn get_with<T>(
        &mut self,
        key: &[u8],
        mut f: impl FnMut(&[u8]) -> T,
    ) -> Result<Option<T>, Error> {
        self.request(Request::Get { key }, |r| match r.status {
            Status::Success => Ok(Some(f(r.payload))),
            Status::NotFound => Ok(None),
            s => Err(refusal(s, r.payload)),
        })
    }

    /// Removes `key`; `Ok(false)` if it was absent (or, after a retry, already removed by the
    /// attempt whose answer was lost).
    pub fn delete(&mut self, key: &[u8]) -> Result<bool, Error> {
        self.request(Request::Delete { key }, |r| match r.status {
            Status::Success => Ok(true),
            Status::NotFound => Ok(false),
            s => Err(refusal(s, r.payload)),
        })
    }

    /// Checks that the server answers.
    pub fn ping(&mut self) -> Result<(), Error> {
        self.request(Request::Ping, expect_empty)
    }

    /// One step of a scan from `cursor` (0 to start): the next cursor (0 when done) and the
    /// entries of this step. Keys may repeat across steps; see `docs/PROTOCOL.md`.
    #[allow(clippy::type_complexity)]
    pub fn scan_step(&mut self, cursor: u64) -> Result<(u64, Vec<(Vec<u8>, Vec<u8>)>), Error> {
        let mut entries = Vec::new();
        let next = self.scan_step_with(cursor, |k, v| entries.push((k.to_vec(), v.to_vec())))?;
        Ok((next, entries))
    }

    /// One step of a scan from `cursor` (0 to start), handing each entry to `f` borrowed from the
    /// connection's buffer; returns the next cursor (0 when done). `f` sees the step's entries
    /// once, after the whole answer arrived and was checked.
    pub fn scan_step_with(
        &mut self,
        cursor: u64,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<u64, Error> {
        self.request(Request::Scan { cursor }, |r| match r.status {
            Status::Success => {
                let (next, entries) = native::decode_scan_payload(VERSION, r.payload)
                    .map_err(|e| Error::Protocol(ProtocolError::ScanPayload(e)))?;
                for (k, v) in entries {
                    f(k, v);
                }
                Ok(next)
            }
            s => Err(refusal(s, r.payload)),
        })
    }

    /// Calls `f` for every entry, scanning step by step until the server says the scan is done.
    /// A key present throughout is passed at least once; some may be passed more than once.
    pub fn scan(&mut self, mut f: impl FnMut(&[u8], &[u8])) -> Result<(), Error> {
        let mut cursor = 0;
        loop {
            let next = self.scan_step_with(cursor, &mut f)?;
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Sends every request of `batch`, pipelined, and returns their answers in order.
    pub fn execute(&mut self, batch: &Batch) -> Result<Vec<Reply>, Error> {
        let mut replies = Vec::with_capacity(batch.len());
        self.execute_with(batch, |_, reply| replies.push(reply))?;
        Ok(replies)
    }

    /// Sends every request of `batch`, pipelined, and calls `f(index, reply)` for each answer in
    /// order, without collecting them.
    ///
    /// After a connection failure the batch resumes from its first unanswered request (see
    /// [`RetryPolicy`]): `f` sees each index exactly once.
    pub fn execute_with(
        &mut self,
        batch: &Batch,
        mut f: impl FnMut(usize, Reply),
    ) -> Result<(), Error> {
        let n = batch.len();
        // Answers read so far, kept across attempts; and its value at the last failure.
        let answered = std::cell::Cell::new(0usize);
        let mut at_last_failure = 0usize;
        self.call_with(
            |conn| {
                let mut sent = answered.get();
                while answered.get() < n {
                    // Keep at most two windows unanswered: write one while the server answers
                    // the other.
                    while sent < n && sent - answered.get() < 2 * WINDOW {
                        let to = (sent + WINDOW).min(n);
                        conn.send(batch.frames(sent, to))?;
                        sent = to;
                    }
                    let until = if sent == n { n } else { sent - WINDOW };
                    while answered.get() < until {
                        let i = answered.get();
                        let response = conn.receive()?;
                        let reply = read_reply(batch.kinds[i], response).map_err(Failure::Final)?;
                        answered.set(i + 1);
                        f(i, reply);
                    }
                }
                Ok(())
            },
            || {
                let moved = answered.get() > at_last_failure;
                at_last_failure = answered.get();
                moved
            },
        )
    }
}

/// The answer to one batch request of `kind`.
fn read_reply(kind: Kind, r: Response<'_>) -> Result<Reply, Error> {
    Ok(match (r.status, kind) {
        (Status::Success, Kind::Get) => Reply::Value(r.payload.to_vec()),
        (Status::Success, _) => {
            expect_empty(r)?;
            Reply::Done
        }
        (Status::NotFound, Kind::Get | Kind::Delete) => Reply::NotFound,
        (s, _) => Reply::Refused(refusal(s, r.payload)),
    })
}

fn expect_empty(r: Response<'_>) -> Result<(), Error> {
    match r.status {
        Status::Success if r.payload.is_empty() => Ok(()),
        Status::Success => Err(Error::Protocol(ProtocolError::UnexpectedPayload {
            len: r.payload.len(),
        })),
        s => Err(refusal(s, r.payload)),
    }
}

/// The error for a non-`SUCCESS` status.
fn refusal(status: Status, payload: &[u8]) -> Error {
    Error::from_status(status, payload)
        .unwrap_or_else(|| Error::ServerError("SUCCESS taken for an error".into()))
}

/// One open connection and the bytes read from it but not yet decoded.
struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    /// Where the undecoded bytes begin in `input`.
    start: usize,
    /// Where a small request is encoded before it is written.
    frame: Vec<u8>,
}

/// Bytes the input buffer keeps between answers; a larger answer's memory is given back.
const INPUT_KEEP: usize = 1024 * 1024;

impl Conn {
    fn open(config: &ClientConfig) -> io::Result<Conn> {
        let mut last = None;
        for addr in (config.host.as_str(), config.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, config.connect_timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(config.io_timeout))?;
                    stream.set_write_timeout(Some(config.io_timeout))?;
                    return Ok(Conn {
                        stream,
                        input: Vec::with_capacity(64 * 1024),
                        start: 0,
                        frame: Vec::new(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "the host name resolves to no address",
            )
        }))
    }

    /// Sends `AUTH` with `password`, if there is one, before anything else.
    fn authenticate(&mut self, password: Option<&[u8]>) -> Result<(), Failure> {
        let Some(password) = password else {
            return Ok(());
        };
        let request = Request::Auth {
            user: b"",
            password,
        };
        check_limits(&request).map_err(Failure::Final)?;
        self.send_request(&request)?;
        let response = self.receive()?;
        expect_empty(response).map_err(Failure::Final)
    }

    /// Writes already encoded frames.
    fn send(&mut self, frames: &[u8]) -> io::Result<()> {
        self.stream.write_all(frames)
    }

    /// Writes one request: copied into one frame when it is small, else its header and then
    /// its key and value from where they lie, in as few system calls as the socket allows.
    fn send_request(&mut self, request: &Request<'_>) -> Result<(), Failure> {
        let encoding = |e| Failure::Final(Error::Encode(e));
        let len = request.encoded_len(VERSION);
        if len <= COPY_UP_TO {
            self.frame.resize(len, 0);
            request.encode(VERSION, &mut self.frame).map_err(encoding)?;
            return Ok(self.stream.write_all(&self.frame)?);
        }
        let mut header = [0u8; VERSION.request_header_len()];
        let n = request
            .encode_header(VERSION, &mut header)
            .map_err(encoding)?;
        let mut cursor = [0u8; native::SCAN_CURSOR_LEN];
        let (key, value) = request.fields(&mut cursor);
        let mut parts = [
            IoSlice::new(&header[..n]),
            IoSlice::new(key),
            IoSlice::new(value),
        ];
        Ok(write_all_vectored(&mut self.stream, &mut parts)?)
    }

    /// The next response, read from the socket as needed.
    ///
    /// The server answers in the request's version. A `SUCCESS` in another version is a protocol
    /// error (its payload could be misread); any other status is taken as it is, so that a
    /// server too old for version 2 is heard saying so.
    fn receive(&mut self) -> Result<Response<'_>, Failure> {
        let used = loop {
            match native::decode_response(&self.input[self.start..], &LIMITS) {
                Ok(Some((_, used))) => break used,
                Ok(None) => self.fill()?,
                Err(e) => return Err(Failure::Final(Error::Protocol(ProtocolError::Frame(e)))),
            }
        };
        let frame = &self.input[self.start..self.start + used];
        self.start += used;
        match native::decode_response(frame, &LIMITS) {
            Ok(Some((response, _))) => match Version::of(frame) {
                Ok(Some(version)) if version != VERSION && response.status == Status::Success => {
                    Err(Failure::Final(Error::Protocol(ProtocolError::Version {
                        sent: VERSION,
                        answered: version,
                    })))
                }
                _ => Ok(response),
            },
            // The same bytes decoded a moment ago.
            _ => Err(Failure::Final(Error::Protocol(
                ProtocolError::UnexpectedPayload { len: used },
            ))),
        }
    }

    /// Reads more bytes into `input`, first dropping those already decoded.
    fn fill(&mut self) -> Result<(), Failure> {
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        if self.input.is_empty() && self.input.capacity() > INPUT_KEEP {
            // A large answer was read and handed out: give its memory back.
            self.input = Vec::with_capacity(64 * 1024);
        }
        read_more(&mut self.stream, &mut self.input).map_err(Failure::Connection)
    }
}

/// Appends what one read of `stream` gives (up to 64 KiB) to `input`: an error if the server
/// closed the connection, or the read failed (a timeout named as one).
fn read_more(stream: &mut impl Read, input: &mut Vec<u8>) -> io::Result<()> {
    let len = input.len();
    input.resize(len + 64 * 1024, 0);
    loop {
        match stream.read(&mut input[len..]) {
            Ok(0) => {
                input.truncate(len);
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            Ok(n) => {
                input.truncate(len + n);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                input.truncate(len);
                return Err(timeout_named(e));
            }
        }
    }
}

/// Writes every byte of `parts`, in order, with vectored writes.
fn write_all_vectored(stream: &mut TcpStream, mut parts: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        match stream.write_vectored(parts) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A read timeout surfaces as `WouldBlock` on Unix; say what it means.
fn timeout_named(e: io::Error) -> io::Error {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        io::Error::new(io::ErrorKind::TimedOut, "no answer within the timeout")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection server that reads one request and answers `reply(request bytes)`.
    fn fake_server(reply: fn(&[u8]) -> Vec<u8>) -> (ClientConfig, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut input = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let limits = Limits::new(usize::MAX, usize::MAX);
            let used = loop {
                match native::decode_request(&input, &limits) {
                    Ok(Some((_, used))) => break used,
                    Ok(None) => {}
                    Err(e) => panic!("{e}"),
                }
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "the client closed");
                input.extend_from_slice(&chunk[..n]);
            };
            stream.write_all(&reply(&input[..used])).unwrap();
        });
        let config = ClientConfig {
            retry: RetryPolicy::NEVER,
            ..ClientConfig::new("127.0.0.1", port)
        };
        (config, thread)
    }

    #[test]
    fn a_large_value_is_sent_whole_from_where_it_lies() {
        let (config, server) = fake_server(|frame| {
            let limits = Limits::new(usize::MAX, usize::MAX);
            let (request, _) = native::decode_request(frame, &limits).unwrap().unwrap();
            let Request::Put { key, value } = request else {
                panic!("{request:?}");
            };
            assert_eq!(key.len(), 70_000);
            assert!(value.iter().enumerate().all(|(i, &b)| b == i as u8));
            // SUCCESS, answered in version 2.
            vec![0xA2, 0, 0, 0, 0, 0]
        });
        let key = vec![b'k'; 70_000];
        let value: Vec<u8> = (0..3 * COPY_UP_TO).map(|i| i as u8).collect();
        Client::new(config).put(&key, &value).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn a_server_that_speaks_only_version_1_says_so() {
        let (config, server) = fake_server(|_| {
            let message = b"unsupported protocol version 2 (this end speaks 1)";
            let mut reply = vec![0xA1, 0x05, 0, 0, 0, message.len() as u8];
            reply.extend_from_slice(message);
            reply
        });
        let e = Client::new(config).ping().unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad request: unsupported protocol version 2 (this end speaks 1)"
        );
        server.join().unwrap();
    }

    #[test]
    fn a_success_in_another_version_is_a_protocol_error() {
        let (config, server) = fake_server(|_| vec![0xA1, 0, 0, 0, 0, 0]);
        let e = Client::new(config).ping().unwrap_err();
        assert_eq!(
            e.to_string(),
            "protocol error: a version 2 request was answered in version 1"
        );
        server.join().unwrap();
    }
}
