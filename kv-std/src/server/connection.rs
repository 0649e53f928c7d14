//! One client connection: its socket, its input and output buffers, and the loop that turns
//! complete frames into replies.
//!
//! The first byte a client sends picks the protocol for the life of the connection: a kv native
//! magic byte (`0xA0`–`0xAF`), or anything else for RESP (`*` for arrays, a letter for inline commands). Every
//! complete frame in the input is answered in order into one output buffer, which is written
//! with as few system calls as the socket allows.
//!
//! Under the epoll loop a connection reads and writes its socket itself. Under the io_uring
//! loop the worker's ring does: received bytes go into the input buffer, or wait in the
//! connection's inbox while it has no room, and the output goes to the kernel whole, one send
//! at a time, while new replies gather behind it ([`RingIo`]).

use super::clients::Handle;
use crate::cmd::{self, Client, Flow};
use crate::db::Db;
use crate::native_cmd;
use crate::persist::aof::Durability;
use crate::pubsub::Space;
use crate::reply::Out;
use kv_nostd::{native, resp};
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Input buffer size a connection starts with; it doubles as a frame needs, up to the
/// `client-query-buffer-limit`, and shrinks back once a large frame is answered.
const INPUT_START: usize = 4 * 1024;
/// Pending output past which no more requests are answered or read until the client drains it,
/// so a client that pipelines without reading cannot make the server buffer without bound:
/// pending output stays under this plus one reply.
pub const OUTPUT_SOFT_CAP: usize = 1024 * 1024;
/// Frames answered per turn before other connections on the worker get theirs.
const FRAMES_PER_TURN: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// No byte received yet.
    Unknown,
    Resp,
    Native,
}

/// What the worker should do with a connection after serving it.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Keep it; wait for the socket.
    Wait,
    /// Keep it; it has more buffered work, serve it again this turn round.
    Again,
    /// Close it.
    Close,
    /// Keep it; its replies wait for the log to be durable, or for replicas' acknowledgements.
    /// Serve it again when the log moves or acknowledgements come.
    Held,
    /// It is a replica's connection now (`PSYNC`): hand it to replication
    /// ([`Connection::into_replica`]).
    Replica,
}

/// What the io_uring loop keeps for a connection: bytes received and not yet read, and the
/// output in the kernel's hands.
#[derive(Default)]
pub struct RingIo {
    /// Received bytes; `inbox[taken..]` are not yet read into the input buffer.
    inbox: Vec<u8>,
    taken: usize,
    /// The peer ended its stream.
    eof: bool,
    /// The receive failed.
    failed: Option<io::ErrorKind>,
    /// Output handed to the kernel; `sent` bytes of it are written. Not touched while a send
    /// is in flight: the kernel reads it.
    sending: Vec<u8>,
    sent: usize,
    /// `sending` has bytes the loop has not yet asked the kernel to send.
    send_due: bool,
    /// A send of `sending` is in flight.
    pub send_armed: bool,
    /// A multishot receive is in flight.
    pub recv_armed: bool,
    /// A cancellation of the receive is on its way.
    pub cancelling: bool,
}

/// Received bytes held past this stop the connection's receives until it reads them: a client
/// that is not being answered (its replies unread, or waiting on the log) is not read without
/// bound.
const INBOX_CAP: usize = 64 * 1024;
/// An inbox emptied with more capacity than this gives it back.
const INBOX_KEPT: usize = 16 * 1024;

impl RingIo {
    /// Keeps received bytes the input buffer had no room for.
    fn keep(&mut self, bytes: &[u8]) {
        // What was read goes first, so the inbox holds only what waits.
        self.inbox.drain(..self.taken);
        self.taken = 0;
        self.inbox.extend_from_slice(bytes);
    }

    /// The receive ended: end of stream (`None`) or an error. Either is final: an error a
    /// receive could be retried after is not reported here.
    pub fn ended(&mut self, error: Option<io::ErrorKind>) {
        match error {
            None => self.eof = true,
            Some(kind) => self.failed = Some(kind),
        }
    }

    /// Whether the loop should start a receive: none in flight, the stream open, and the
    /// inbox under half its cap (so a connection read slowly is not stopped and started again
    /// for every few bytes).
    pub fn wants_recv(&self) -> bool {
        !self.recv_armed && !self.eof && self.failed.is_none() && self.unread() < INBOX_CAP / 2
    }

    /// Whether the receive in flight should be cancelled: the inbox is over its cap and no
    /// cancellation is on its way.
    pub fn wants_pause(&self) -> bool {
        self.recv_armed && !self.cancelling && self.unread() >= INBOX_CAP
    }

    /// Bytes received and not yet read, and the memory held for them and for output in the
    /// kernel's hands.
    fn held_bytes(&self) -> (usize, usize) {
        (
            self.unread(),
            self.inbox.capacity() + self.sending.capacity(),
        )
    }

    /// Bytes in the inbox not yet read.
    fn unread(&self) -> usize {
        self.inbox.len() - self.taken
    }

    /// The bytes to send, if a send should start now; the loop sends them and reports back
    /// with [`RingIo::sent`]. The slice stays valid, unmoved, until then.
    pub fn send_due(&mut self) -> Option<&[u8]> {
        if !self.send_due || self.send_armed {
            return None;
        }
        self.send_due = false;
        self.send_armed = true;
        Some(&self.sending[self.sent..])
    }

    /// A send completed with `result` (bytes written or the error).
    pub fn sent(&mut self, result: io::Result<usize>) -> io::Result<()> {
        self.send_armed = false;
        let n = result?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.sent += n;
        // The rest, if any, goes next turn round.
        self.send_due = self.sent < self.sending.len();
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let waiting = &self.inbox[self.taken..];
        if waiting.is_empty() {
            return match (self.failed, self.eof) {
                (Some(kind), _) => Err(kind.into()),
                (None, true) => Ok(0),
                (None, false) => Err(io::ErrorKind::WouldBlock.into()),
            };
        }
        let n = waiting.len().min(buf.len());
        buf[..n].copy_from_slice(&waiting[..n]);
        self.taken += n;
        if self.taken == self.inbox.len() && self.inbox.capacity() > INBOX_KEPT {
            // Only a large request or a burst passes through the inbox: free it after.
            self.inbox = Vec::new();
            self.taken = 0;
        }
        Ok(n)
    }

    fn unsent(&self) -> usize {
        self.sending.len() - self.sent
    }
}

/// How a connection's bytes move.
enum Io {
    /// It reads and writes its socket when the epoll loop says the socket is ready.
    Ready,
    /// The io_uring loop moves them.
    Ring(RingIo),
}

/// A client connection.
pub struct Connection {
    stream: TcpStream,
    io: Io,
    peer: SocketAddr,
    protocol: Protocol,
    /// Bytes read; `input[start..filled]` is not yet consumed.
    input: Vec<u8>,
    start: usize,
    filled: usize,
    /// Native frames whose body is being skipped after a length error.
    skip: usize,
    /// A RESP command with an oversized argument, being dropped as it arrives.
    discard: Option<resp::Discard>,
    /// Replies not yet written; `written` bytes of them are.
    out: Out,
    written: usize,
    /// Close once the output is written (QUIT, a protocol error).
    closing: bool,
    /// The peer closed its side: answer what was read, then close.
    eof: bool,
    client: Client,
    /// When the client last sent anything.
    last_active: std::time::Instant,
    /// It sent `PSYNC` or `SYNC`: once its earlier replies are out, replication takes it.
    replicate: bool,
    /// The stream offset its latest write replies wait for replicas to acknowledge
    /// (`--sync-replicas`), and since when; 0 for none.
    repl_wait: u64,
    repl_wait_since: std::time::Instant,
}

impl Connection {
    /// A connection over an accepted, non-blocking stream, seen by other threads through
    /// `handle`; `ring`: its bytes move through the io_uring loop's ring.
    pub fn new(stream: TcpStream, handle: Arc<Handle>, authenticated: bool, ring: bool) -> Self {
        let peer = handle.addr;
        Self {
            stream,
            io: if ring {
                Io::Ring(RingIo::default())
            } else {
                Io::Ready
            },
            peer,
            protocol: Protocol::Unknown,
            input: Vec::new(),
            start: 0,
            filled: 0,
            skip: 0,
            discard: None,
            out: Out::default(),
            written: 0,
            closing: false,
            eof: false,
            client: Client::new(handle, authenticated),
            last_active: std::time::Instant::now(),
            replicate: false,
            repl_wait: 0,
            repl_wait_since: std::time::Instant::now(),
        }
    }

    /// The parts a replica's connection goes on with: the socket, the client's handle, what
    /// it said of itself, output not yet written and input not yet read.
    pub fn into_replica(
        mut self,
    ) -> (
        TcpStream,
        Arc<Handle>,
        crate::repl::primary::Hello,
        Vec<u8>,
        Vec<u8>,
    ) {
        let hello = crate::cmd::replication::hello(&mut self.client);
        let mut pending = Vec::new();
        let mut unread = self.input[self.start..self.filled].to_vec();
        if let Io::Ring(ring) = &self.io {
            pending.extend_from_slice(&ring.sending[ring.sent..]);
            unread.extend_from_slice(&ring.inbox[ring.taken..]);
        }
        pending.extend_from_slice(&self.out.bytes()[self.written..]);
        (self.stream, self.client.handle, hello, pending, unread)
    }

    /// How long since the client last sent anything.
    pub fn idle_for(&self) -> std::time::Duration {
        self.last_active.elapsed()
    }

    /// Whether replies are waiting for the log.
    pub fn waiting_on_log(&self) -> bool {
        self.client.wait_lsn != 0
    }

    /// The socket, for registering with the poller.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn pending_output(&self) -> usize {
        let unsent = match &self.io {
            Io::Ready => 0,
            Io::Ring(ring) => ring.unsent(),
        };
        self.out.len() - self.written + unsent
    }

    /// Whether, now that a send completed, the connection has anything for a turn: output
    /// gathered or left to send, requests it stopped answering while its output was full, or a
    /// close waiting for the output to go.
    pub fn wants_turn_after_send(&self) -> bool {
        let Io::Ring(ring) = &self.io else {
            return true;
        };
        ring.send_due
            || !self.out.is_empty()
            || self.closing
            || self.eof
            || self.replicate
            || self.start < self.filled
            || ring.unread() > 0
            || ring.eof
            || ring.failed.is_some()
    }

    /// Takes bytes the io_uring loop received for this connection: straight into the input
    /// buffer while it has room and nothing is waiting before them, else into the inbox, which
    /// [`Connection::fill`] reads as it would read the socket.
    pub fn receive(&mut self, db: &Db, bytes: &[u8]) {
        let Io::Ring(ring) = &mut self.io else {
            return;
        };
        let mut rest = bytes;
        if ring.unread() == 0 {
            if self.start == self.filled {
                self.start = 0;
                self.filled = 0;
            }
            if self.input.is_empty() {
                self.input = vec![0; INPUT_START];
            }
            let n = rest.len().min(self.input.len() - self.filled);
            self.input[self.filled..self.filled + n].copy_from_slice(&rest[..n]);
            self.filled += n;
            rest = &rest[n..];
            if n > 0 {
                self.last_active = std::time::Instant::now();
                crate::db::Stats::add(&db.stats.net_input_bytes, n as u64);
            }
        }
        if !rest.is_empty() {
            ring.keep(rest);
        }
    }

    /// The io_uring loop's state for this connection; `None` under the epoll loop.
    pub fn ring(&mut self) -> Option<&mut RingIo> {
        match &mut self.io {
            Io::Ready => None,
            Io::Ring(ring) => Some(ring),
        }
    }

    /// What other threads see of this connection.
    pub fn handle(&self) -> &Arc<Handle> {
        &self.client.handle
    }

    /// Leaves every subscription, so that publishers stop reaching this connection; called
    /// once, when it closes.
    pub fn leave(&mut self, db: &Db) {
        if self.client.blocked.take().is_some() {
            db.repl.waiting.fetch_sub(1, Ordering::AcqRel);
        }
        self.end_repl_wait(db);
        self.client.handle.mailbox.close();
        db.monitors.remove(self.client.id);
        let subs = std::mem::take(&mut self.client.subscriptions);
        for (space, names) in [
            (Space::Channels, subs.channels),
            (Space::Patterns, subs.patterns),
            (Space::Shards, subs.shards),
        ] {
            for name in names {
                db.pubsub.unsubscribe(space, &name, self.client.id);
            }
        }
    }

    /// Moves pub/sub messages waiting in the mailbox into the output; false when the client is
    /// over its output buffer limit and must be closed.
    fn collect_mail(&mut self, db: &Db) -> bool {
        if !self.client.handle.mailbox.has_mail() {
            return true;
        }
        let limit = db.settings.output_limits().pubsub;
        let pending = self.pending_output();
        if self
            .client
            .handle
            .mailbox
            .drain(&mut self.out, pending, limit)
        {
            log::warn!(
                "Client id={} addr={} closed for overcoming of output buffer limits.",
                self.client.id,
                self.peer
            );
            return false;
        }
        true
    }

    /// Records what `CLIENT LIST` shows after a turn of serving.
    fn show(&self) {
        let handle = &self.client.handle;
        handle.set_unwritten(self.pending_output());
        let (unread, ring_memory) = match &self.io {
            Io::Ready => (0, 0),
            Io::Ring(ring) => ring.held_bytes(),
        };
        let mut shown = handle.shown();
        shown.cmd = self.client.last_command;
        shown.resp = self.out.resp;
        shown.subscriptions = self.client.subscriptions.counts();
        shown.last_interaction = self.last_active;
        shown.qbuf = (
            self.filled - self.start + unread,
            self.input.len() - self.filled,
        );
        shown.memory = self.input.capacity() + self.out.capacity() + ring_memory;
    }

    /// Publishes the output still unwritten (what publishers and `CLIENT LIST` see), after a
    /// send completed outside a turn of serving.
    pub fn show_unwritten(&self) {
        self.client.handle.set_unwritten(self.pending_output());
    }

    /// Reads what the socket has, answers every complete frame, and writes the answers.
    ///
    /// `may_stop_short`: the readiness event did not report the peer's end of stream, so a read
    /// that returns less than it asked for has emptied the socket, and data arriving later will
    /// raise a new event. The read that would only answer `WouldBlock` is then skipped: one
    /// system call less per request for a client that waits for each reply.
    pub fn serve(&mut self, db: &Db, may_stop_short: bool) -> Next {
        let next = self.serve_turn(db, may_stop_short);
        self.show();
        next
    }

    fn serve_turn(&mut self, db: &Db, may_stop_short: bool) -> Next {
        let mut frames = 0;
        let mut drained = false;
        loop {
            if self.client.handle.killed() {
                return Next::Close;
            }
            if self.held(db) {
                return Next::Held;
            }
            if let Some(blocked) = &self.client.blocked {
                match blocked.due(db) {
                    Some(acked) => {
                        self.out.int(acked as i64);
                        self.client.blocked = None;
                        db.repl.waiting.fetch_sub(1, Ordering::AcqRel);
                    }
                    None => {
                        if let Err(e) = self.flush(db) {
                            log::debug!("{}: write failed: {e}", self.peer);
                            return Next::Close;
                        }
                        return Next::Held;
                    }
                }
            }
            if self.replicate {
                return Next::Replica;
            }
            if !self.collect_mail(db) {
                return Next::Close;
            }
            if let Err(e) = self.flush(db) {
                log::debug!("{}: write failed: {e}", self.peer);
                return Next::Close;
            }
            if self.closing {
                return if self.pending_output() == 0 {
                    Next::Close
                } else {
                    Next::Wait
                };
            }
            if self.over_output_limit(db) {
                log::warn!(
                    "{}: dropped: {} bytes of replies unread, over the normal clients' \
                     output buffer limit",
                    self.peer,
                    self.pending_output()
                );
                crate::db::Stats::add(&db.stats.output_limit_disconnections, 1);
                return Next::Close;
            }
            if self.pending_output() >= OUTPUT_SOFT_CAP {
                // Resumed when the socket becomes writable and the output drains.
                return Next::Wait;
            }
            if frames >= FRAMES_PER_TURN {
                return Next::Again;
            }
            let answered = self.answer(db, FRAMES_PER_TURN - frames);
            frames += answered;
            if answered > 0 || self.closing {
                continue;
            }
            if self.eof {
                // Everything read has been answered; close once the answers are out.
                self.closing = true;
                continue;
            }
            if drained {
                return Next::Wait;
            }
            match self.fill(db) {
                Ok((0, _)) => self.eof = true,
                Ok((n, asked)) => drained = may_stop_short && n < asked,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("{}: read failed: {e}", self.peer);
                    return Next::Close;
                }
            }
        }
    }

    /// Whether replies must wait for the log: a write was logged and is not durable yet. Once
    /// the log is durable they go; if the log failed, the write replies become errors first.
    fn held(&mut self, db: &Db) -> bool {
        let lsn = self.client.wait_lsn;
        if lsn != 0 {
            if let Some(p) = &db.persist {
                match p.log().status(lsn) {
                    Durability::Pending => return true,
                    Durability::Durable => {}
                    Durability::Failed => {
                        let why = p.log().failure().unwrap_or_else(|| "write failed".into());
                        self.fail_writes(
                            &format!("MISCONF Errors writing to the AOF file: {why}"),
                            &format!("write not durable: {why}"),
                        );
                        self.end_repl_wait(db);
                    }
                }
            }
            self.client.wait_lsn = 0;
        }
        if self.repl_wait != 0 {
            let wanted = db.repl.sync_replicas();
            let acked = db.repl.acked(self.repl_wait) >= wanted;
            let late = self.repl_wait_since.elapsed() > db.repl.settings().timeout;
            if !acked && !late && wanted > 0 && !db.repl.stopping.load(Ordering::Acquire) {
                return true;
            }
            if !acked && wanted > 0 {
                self.fail_writes(
                    "NOREPLICAS Not enough good replicas acknowledged the write in time.",
                    "write not acknowledged by enough replicas",
                );
            }
            self.end_repl_wait(db);
        }
        self.client.write_replies.clear();
        false
    }

    /// Stops waiting for replicas' acknowledgements.
    fn end_repl_wait(&mut self, db: &Db) {
        if self.repl_wait != 0 {
            self.repl_wait = 0;
            db.repl.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Replaces each held write reply with an error: the write was applied in memory but could
    /// not be made durable, so it must not be acknowledged.
    fn fail_writes(&mut self, resp_error: &str, native_error: &str) {
        let output = std::mem::take(self.out.raw());
        let mut rebuilt = Vec::with_capacity(output.len());
        let mut at = 0;
        for &(start, end) in &self.client.write_replies {
            rebuilt.extend_from_slice(&output[at..start]);
            match self.protocol {
                // In the version the held reply was in, which is its request's.
                Protocol::Native => native_cmd::error(
                    &mut rebuilt,
                    native::Version::of(&output[start..end])
                        .ok()
                        .flatten()
                        .unwrap_or(native::Version::V1),
                    native::Status::ServerError,
                    native_error,
                ),
                _ => {
                    let mut error = Out::new(self.out.resp);
                    error.error(resp_error);
                    rebuilt.extend_from_slice(error.bytes());
                }
            }
            at = end;
        }
        rebuilt.extend_from_slice(&output[at..]);
        *self.out.raw() = rebuilt;
    }

    /// On shutdown: answers every complete request already received and writes the answers,
    /// waiting at most a second for a slow reader.
    pub fn finish(&mut self, db: &Db) {
        let mut unsent = Vec::new();
        if let Io::Ring(ring) = &mut self.io {
            if ring.send_armed || ring.recv_armed {
                // The kernel still has its output or its input: nothing can follow them.
                return;
            }
            // From here on as under the epoll loop: what was received first, then the socket.
            let unread = &ring.inbox[ring.taken..];
            self.input.truncate(self.filled);
            self.input.extend_from_slice(unread);
            self.filled = self.input.len();
            unsent = ring.sending.split_off(ring.sent);
            self.io = Io::Ready;
        }
        // Requests that arrived since the last readiness event are read until the socket is
        // empty (a second at most, and while the output stays under its cap).
        let reading_until = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            while self.answer(db, FRAMES_PER_TURN) > 0 {}
            if self.eof
                || self.closing
                || self.pending_output() >= OUTPUT_SOFT_CAP
                || std::time::Instant::now() >= reading_until
            {
                break;
            }
            match self.fill(db) {
                Ok((0, _)) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // Acknowledge nothing the log has not made durable; the log writer runs until the
        // workers are done.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.held(db) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if self.client.wait_lsn != 0 {
            return;
        }
        let sock = socket2::SockRef::from(&self.stream);
        let blocking = sock
            .set_nonblocking(false)
            .and_then(|()| sock.set_write_timeout(Some(std::time::Duration::from_secs(1))));
        if blocking.is_err() {
            return;
        }
        // Output the ring had taken goes before the rest.
        if Write::write_all(&mut self.stream, &unsent).is_err() {
            return;
        }
        let _ = self.flush(db);
    }

    /// Whether the pending output passes the output buffer limit of normal clients (Redis's
    /// `client-output-buffer-limit normal`, none by default); subscribers are held to theirs by
    /// their mailbox.
    fn over_output_limit(&self, db: &Db) -> bool {
        let limit = db.settings.output_limits().normal;
        limit.hard > 0 && self.pending_output() >= limit.hard
    }

    /// Reads once into the input buffer: how many bytes came and how many were asked for;
    /// `(0, _)` at end of stream.
    fn fill(&mut self, db: &Db) -> io::Result<(usize, usize)> {
        if self.start > 0 && (self.start == self.filled || self.filled == self.input.len()) {
            self.input.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        if self.filled == 0 && self.input.len() > 1024 * 1024 {
            // A large frame was answered: give its memory back.
            self.input = vec![0; INPUT_START];
        }
        if let Io::Ring(ring) = &mut self.io {
            if ring.unread() == 0 {
                // Nothing received waits: no input buffer is needed for it (an idle
                // connection holds none).
                return ring.read(&mut []).map(|n| (n, 0));
            }
        }
        if self.filled == self.input.len() {
            let cap = db.settings.client_query_buffer_limit();
            if self.input.len() >= cap {
                // A frame larger than the limit admits: the decoders reject oversized lengths
                // from their header, so only a huge inline line or array, or a native frame whose
                // key and value are each within the limits, can get here.
                log::warn!("{}: closed: the query buffer passed {cap} bytes", self.peer);
                if self.protocol == Protocol::Native {
                    self.native_too_big(cap);
                } else {
                    self.protocol_error("ERR Protocol error: too big request");
                }
                return Ok((1, 1));
            }
            let grown = (self.input.len() * 2).clamp(INPUT_START, cap);
            self.input.resize(grown, 0);
        }
        let asked = self.input.len() - self.filled;
        let n = match &mut self.io {
            Io::Ready => self.stream.read(&mut self.input[self.filled..])?,
            Io::Ring(ring) => ring.read(&mut self.input[self.filled..])?,
        };
        self.filled += n;
        self.last_active = std::time::Instant::now();
        crate::db::Stats::add(&db.stats.net_input_bytes, n as u64);
        Ok((n, asked))
    }

    /// Answers up to `budget` complete frames from the input; returns how many.
    fn answer(&mut self, db: &Db, budget: usize) -> usize {
        if self.protocol == Protocol::Unknown {
            match self
                .input
                .get(self.start..self.filled)
                .and_then(|b| b.first())
            {
                None => return 0,
                Some(&b) if native::is_native(b) => self.protocol = Protocol::Native,
                Some(_) => self.protocol = Protocol::Resp,
            }
        }
        let mut frames = 0;
        // A replica's connection, or a client waiting (`WAIT`), reads no further for now.
        while frames < budget
            && !self.closing
            && !self.replicate
            && self.client.blocked.is_none()
            && self.pending_output() < OUTPUT_SOFT_CAP
        {
            let progressed = match self.protocol {
                Protocol::Resp => self.answer_resp(db),
                Protocol::Native => self.answer_native(db),
                Protocol::Unknown => false,
            };
            if !progressed {
                break;
            }
            frames += 1;
        }
        if frames > 0 {
            crate::db::Stats::add(&db.stats.total_commands, frames as u64);
            self.client.flush_stats(db);
        }
        frames
    }

    fn answer_resp(&mut self, db: &Db) -> bool {
        if let Some(discard) = self.discard.as_mut() {
            match discard.feed(&self.input[self.start..self.filled]) {
                Ok(used) => self.start += used,
                Err(e) => {
                    self.protocol_error(&e.to_string());
                    return false;
                }
            }
            if !discard.is_done() {
                return false;
            }
            let error = resp::DecodeError::Oversized(*discard);
            self.discard = None;
            self.out.error(&error.to_string());
            return true;
        }
        let input = &self.input[self.start..self.filled];
        let limits = if self.client.authenticated {
            resp::Limits::REDIS.with_max_bulk(db.settings.proto_max_bulk_len())
        } else {
            resp::Limits::UNAUTHENTICATED
        };
        match resp::decode_request(input, &limits) {
            Ok(None) => false,
            Ok(Some((request, used))) => {
                self.start += used;
                if request.is_empty() {
                    // `*0` and blank inline lines are skipped, as Redis does.
                    return true;
                }
                let sync = db.repl.sync_replicas() > 0;
                let start = self.out.len();
                let before = if sync { crate::repl::fed_here() } else { 0 };
                match cmd::execute(&request, &mut self.client, db, &mut self.out) {
                    Flow::Close => self.closing = true,
                    Flow::Replicate => self.replicate = true,
                    Flow::Continue => {}
                }
                let fed = if sync { crate::repl::fed_here() } else { 0 };
                if fed != before && self.out.bytes().get(start) != Some(&b'-') {
                    // It wrote (fed the stream, on this thread): its reply waits for the
                    // replicas.
                    if self.repl_wait == 0 {
                        self.repl_wait_since = std::time::Instant::now();
                        db.repl.waiting.fetch_add(1, Ordering::AcqRel);
                    }
                    self.repl_wait = self.repl_wait.max(fed);
                    self.client.write_replies.push((start, self.out.len()));
                }
                true
            }
            Err(resp::DecodeError::Oversized(discard)) => {
                // The command is dropped as it arrives, and answered once it has all arrived.
                log::debug!(
                    "{}: dropping a command with an oversized argument",
                    self.peer
                );
                self.discard = Some(discard);
                true
            }
            Err(e) => {
                let text = e.to_string();
                self.protocol_error(&text);
                false
            }
        }
    }

    fn answer_native(&mut self, db: &Db) -> bool {
        if self.skip > 0 {
            let n = self.skip.min(self.filled - self.start);
            self.skip -= n;
            self.start += n;
            return n > 0 && self.skip == 0 && self.start < self.filled;
        }
        let input = &self.input[self.start..self.filled];
        // Keys and values as long as clients may send; a version-1 frame's key is also held to
        // its 16-bit length field.
        let max_bulk = db.settings.proto_max_bulk_len();
        let limits = native::Limits::new(max_bulk, max_bulk);
        // Each frame is answered in its own version. A frame with no version this server speaks
        // is answered in version 1, which every kv client reads.
        let version = native::Version::of(input)
            .ok()
            .flatten()
            .unwrap_or(native::Version::V1);
        match native::decode_request(input, &limits) {
            Ok(None) => false,
            Ok(Some((request, used))) => {
                self.start += used;
                native_cmd::execute(version, &request, &mut self.client, db, self.out.raw());
                true
            }
            Err(e) => {
                let text = e.to_string();
                native_cmd::error(self.out.raw(), version, e.status(), &text);
                match e.frame_len() {
                    // The framing is intact: drop this frame's bytes and go on.
                    Some(len) => {
                        self.skip = len;
                        true
                    }
                    None => {
                        self.closing = true;
                        false
                    }
                }
            }
        }
    }

    /// Answers a native frame too large for the query buffer with `BAD_REQUEST`, in its version,
    /// and closes once that is written: its body cannot be held, and skipping a frame the
    /// client will expect an answer to would only move the problem.
    fn native_too_big(&mut self, cap: usize) {
        let version = native::Version::of(&self.input[self.start..self.filled])
            .ok()
            .flatten()
            .unwrap_or(native::Version::V1);
        let text = format!("request larger than the client-query-buffer-limit of {cap} bytes");
        native_cmd::error(self.out.raw(), version, native::Status::BadRequest, &text);
        self.closing = true;
        self.start = self.filled;
    }

    /// Answers `-text` and closes once it is written, as Redis does on a protocol error.
    fn protocol_error(&mut self, text: &str) {
        log::debug!("{}: protocol error: {text}", self.peer);
        self.out.error(text);
        self.closing = true;
        self.start = self.filled;
    }

    /// Writes pending output until done or the socket is full; under the io_uring loop, hands
    /// it to the ring when no send is in flight.
    fn flush(&mut self, db: &Db) -> io::Result<()> {
        if let Io::Ring(ring) = &mut self.io {
            if ring.send_armed || ring.send_due || self.out.is_empty() {
                return Ok(());
            }
            crate::db::Stats::add(&db.stats.net_output_bytes, self.out.len() as u64);
            ring.sending.clear();
            if ring.sending.capacity() > OUTPUT_SOFT_CAP {
                ring.sending.shrink_to(64 * 1024);
            }
            std::mem::swap(self.out.raw(), &mut ring.sending);
            ring.sent = 0;
            ring.send_due = true;
            return Ok(());
        }
        while self.written < self.out.len() {
            match self.stream.write(&self.out.bytes()[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    crate::db::Stats::add(&db.stats.net_output_bytes, n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let output = self.out.raw();
        output.clear();
        self.written = 0;
        if output.capacity() > OUTPUT_SOFT_CAP {
            output.shrink_to(64 * 1024);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_holds_only_what_waits_and_keeps_its_order() {
        let mut ring = RingIo::default();
        let mut buf = [0u8; 100];
        let mut read = Vec::new();
        // Each round keeps 1,000 bytes and reads 900: a client read more slowly than it sends.
        for round in 0u32..200 {
            let bytes: Vec<u8> = (0..1000).map(|i| (round * 1000 + i) as u8).collect();
            ring.keep(&bytes);
            for _ in 0..9 {
                let n = ring.read(&mut buf).expect("bytes wait");
                read.extend_from_slice(&buf[..n]);
            }
            // What was read is not held: the inbox is what waits, and what waits is bounded by
            // what was kept and not read.
            assert_eq!(ring.unread(), (round as usize + 1) * 100);
            assert!(ring.inbox.len() <= (round as usize + 1) * 100 + 1000);
        }
        while let Ok(n) = ring.read(&mut buf) {
            read.extend_from_slice(&buf[..n]);
        }
        let expected: Vec<u8> = (0u32..200_000).map(|i| i as u8).collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_full_inbox_pauses_the_receive_until_half_of_it_is_read() {
        let mut ring = RingIo {
            recv_armed: true,
            ..RingIo::default()
        };
        ring.keep(&vec![b'x'; INBOX_CAP - 1]);
        assert!(!ring.wants_pause());
        ring.keep(b"x");
        assert!(ring.wants_pause());
        ring.cancelling = true;
        assert!(!ring.wants_pause(), "one cancellation at a time");
        // The receive ended (cancelled): not started again while the inbox is over half full.
        ring.recv_armed = false;
        ring.cancelling = false;
        let mut buf = vec![0u8; INBOX_CAP / 2 - 1];
        ring.read(&mut buf).unwrap();
        assert!(!ring.wants_recv());
        ring.read(&mut [0u8; 2]).unwrap();
        assert!(ring.wants_recv());
        // At the end of the stream it is not started again, and reads say so once drained.
        ring.ended(None);
        assert!(!ring.wants_recv());
        let mut rest = vec![0u8; INBOX_CAP];
        assert_eq!(ring.read(&mut rest).unwrap(), INBOX_CAP / 2 - 1);
        assert_eq!(ring.read(&mut rest).unwrap(), 0);
    }

    #[test]
    fn a_send_goes_out_whole_across_partial_completions_and_one_at_a_time() {
        let mut ring = RingIo {
            sending: b"hello world".to_vec(),
            send_due: true,
            ..RingIo::default()
        };
        assert_eq!(ring.send_due(), Some(&b"hello world"[..]));
        assert_eq!(ring.send_due(), None, "one send in flight");
        ring.sent(Ok(5)).unwrap();
        assert_eq!(ring.unsent(), 6);
        assert_eq!(ring.send_due(), Some(&b" world"[..]));
        ring.sent(Ok(6)).unwrap();
        assert_eq!(ring.unsent(), 0);
        assert_eq!(ring.send_due(), None);
        assert!(ring.sent(Ok(0)).is_err(), "a send that wrote nothing fails");
        assert!(ring.sent(Err(io::ErrorKind::BrokenPipe.into())).is_err());
    }
}
