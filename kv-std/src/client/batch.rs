//! Pipelined batches: many requests encoded back to back, sent together, answered in order.

use super::{check_limits, Error, VERSION};
use kv_nostd::native::Request;

/// What a request in a batch asks for, to read its answer by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Ping,
    Get,
    Put,
    Delete,
}

/// Requests to send in one go with [`Client::execute`](super::Client::execute).
///
/// The requests are encoded as they are added, so a batch of a million PUTs is one buffer of
/// frames and an index of where each ends; it can be cleared and refilled without reallocating.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub(super) frames: Vec<u8>,
    /// `ends[i]` is where request `i`'s frame ends in `frames`.
    pub(super) ends: Vec<usize>,
    pub(super) kinds: Vec<Kind>,
}

/// The answer to one request of a batch.
#[derive(Debug)]
pub enum Reply {
    /// `SUCCESS` to a PUT, DELETE or PING.
    Done,
    /// `SUCCESS` to a GET: the value.
    Value(Vec<u8>),
    /// `NOT_FOUND` to a GET or DELETE.
    NotFound,
    /// Any other status: the server refused this request (the others are unaffected).
    Refused(Error),
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests in the batch.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether the batch holds no request.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Bytes of encoded requests.
    pub fn encoded_len(&self) -> usize {
        self.frames.len()
    }

    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.frames.clear();
        self.ends.clear();
        self.kinds.clear();
    }

    fn push(&mut self, request: Request<'_>, kind: Kind) -> Result<(), Error> {
        check_limits(&request)?;
        let start = self.frames.len();
        self.frames.resize(start + request.encoded_len(VERSION), 0);
        match request.encode(VERSION, &mut self.frames[start..]) {
            Ok(n) => {
                self.frames.truncate(start + n);
                self.ends.push(start + n);
                self.kinds.push(kind);
                Ok(())
            }
            Err(e) => {
                self.frames.truncate(start);
                Err(Error::Encode(e))
            }
        }
    }

    /// Adds a PUT (copying the key and value into the batch); fails, adding nothing, if the key
    /// or value exceeds the client's limits ([`MAX_KEY`](super::MAX_KEY),
    /// [`MAX_VALUE`](super::MAX_VALUE)).
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.push(Request::Put { key, value }, Kind::Put)
    }

    /// Adds a GET; fails, adding nothing, if the key exceeds [`MAX_KEY`](super::MAX_KEY).
    pub fn get(&mut self, key: &[u8]) -> Result<(), Error> {
        self.push(Request::Get { key }, Kind::Get)
    }

    /// Adds a DELETE; fails, adding nothing, if the key exceeds [`MAX_KEY`](super::MAX_KEY).
    pub fn delete(&mut self, key: &[u8]) -> Result<(), Error> {
        self.push(Request::Delete { key }, Kind::Delete)
    }

    /// Adds a PING.
    pub fn ping(&mut self) {
        // A PING has no key or value: it always encodes.
        let _ = self.push(Request::Ping, Kind::Ping);
    }

    /// The frames of requests `from..to`.
    pub(super) fn frames(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        let end = if to == 0 { 0 } else { self.ends[to - 1] };
        &self.frames[start..end]
    }
}
