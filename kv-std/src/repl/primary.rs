//! The primary's side of a replica's connection, from its `PSYNC` (or `SYNC`) on: R70
//! `replication.c` `syncCommand`, `masterTryPartialResynchronization`, `replconfCommand`.
//!
//! The worker that ran `PSYNC` hands the connection over ([`serve`]): from then on two threads
//! of its own serve it. The sender answers `+CONTINUE` (and sends the backlog from the offset
//! asked) or `+FULLRESYNC <replid> <offset>` (and the RDB, then the stream from that offset);
//! the listener reads the replica's `REPLCONF ACK`s. A replica's connection never goes back to
//! a worker: commands it sends after `PSYNC` are acknowledgements or nothing.
//!
//! The RDB goes diskless (`$EOF:<mark>`, the table visited straight into the socket) to a
//! replica that sent `capa eof` while `repl-diskless-sync` is on, as Redis 7 does by default;
//! otherwise to a file first, then with its length (`$<len>`). After a diskless RDB the stream
//! waits for the replica's first `ACK`, as Redis's does, so the mark cannot be confused with
//! stream bytes.

use super::backlog::Behind;
use super::NO_ID;
use crate::db::Db;
use crate::rdb::framing::{EofMark, PayloadHeader, PayloadWriter};
use crate::rdb::ReplInfo;
use crate::server::clients::Handle;
use kv_nostd::resp;
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// What a replica said of itself before `PSYNC` (`REPLCONF`), and what it asked.
#[derive(Clone, Debug, Default)]
pub struct Hello {
    /// `REPLCONF listening-port`.
    pub listening_port: u16,
    /// `REPLCONF ip-address`.
    pub ip: Option<String>,
    /// `capa eof`: it reads a diskless payload.
    pub eof: bool,
    /// `capa psync2`: it reads `+CONTINUE <replid>`.
    pub psync2: bool,
    /// `PSYNC <replid> <offset>`; none for `SYNC`.
    pub psync: Option<(String, i64)>,
}

/// Where a replica's sync stands (INFO's `state=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Waiting for its RDB to be made.
    WaitBgsave = 0,
    /// Being sent its RDB.
    SendBulk = 1,
    /// Streaming.
    Online = 2,
}

/// A replica attached to this primary.
pub struct Attached {
    /// Its client id.
    pub id: u64,
    /// Its address, and the port it says it listens on.
    pub addr: SocketAddr,
    /// What it said before `PSYNC`.
    pub hello: Hello,
    state: AtomicU8,
    /// The offset it acknowledged last.
    ack: AtomicU64,
    /// When it acknowledged last, as milliseconds since replication started.
    ack_at: AtomicU64,
    /// Its first acknowledgement came (a diskless RDB is loaded).
    acked_once: AtomicBool,
    stop: AtomicBool,
    /// The socket, to shut down on stop.
    socket: Mutex<Option<TcpStream>>,
    handle: Arc<Handle>,
    since: Instant,
}

impl Attached {
    /// Where its sync stands.
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::WaitBgsave,
            1 => State::SendBulk,
            _ => State::Online,
        }
    }

    /// Whether it streams.
    pub fn is_online(&self) -> bool {
        self.state() == State::Online
    }

    /// The offset it acknowledged last.
    pub fn ack(&self) -> u64 {
        self.ack.load(Ordering::Acquire)
    }

    /// How long since it acknowledged (since it attached, before its first).
    pub fn ack_age(&self) -> Duration {
        let at = Duration::from_millis(self.ack_at.load(Ordering::Acquire));
        self.since.elapsed().saturating_sub(at)
    }

    /// The address to show: what it announced, else its connection's.
    pub fn ip(&self) -> String {
        self.hello
            .ip
            .clone()
            .unwrap_or_else(|| self.addr.ip().to_string())
    }

    /// Closes its connection.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(s) = self
            .socket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire) || self.handle.killed()
    }

    fn acked(&self, offset: u64) {
        self.ack.fetch_max(offset, Ordering::AcqRel);
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.ack_at.store(ms, Ordering::Release);
        self.acked_once.store(true, Ordering::Release);
    }
}

/// Takes over a replica's connection after its `PSYNC`/`SYNC`: `pending` is output not yet
/// written (earlier replies), `unread` input already read past the `PSYNC`.
pub fn serve(
    db: Arc<Db>,
    stream: TcpStream,
    handle: Arc<Handle>,
    hello: Hello,
    pending: Vec<u8>,
    unread: Vec<u8>,
) {
    let peer = handle.addr;
    let start = move || -> io::Result<()> {
        stream.set_nonblocking(false)?;
        let attached = Arc::new(Attached {
            id: handle.id,
            addr: peer,
            hello,
            state: AtomicU8::new(State::WaitBgsave as u8),
            ack: AtomicU64::new(0),
            ack_at: AtomicU64::new(0),
            acked_once: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            socket: Mutex::new(Some(stream.try_clone()?)),
            handle,
            since: Instant::now(),
        });
        let reader = stream.try_clone()?;
        let (db2, a2) = (Arc::clone(&db), Arc::clone(&attached));
        std::thread::Builder::new()
            .name(format!("kv-repl-ack-{}", attached.id))
            .spawn(move || listen(&db2, &a2, reader, unread))?;
        std::thread::Builder::new()
            .name(format!("kv-repl-send-{}", attached.id))
            .spawn(move || {
                db.repl
                    .replicas
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Arc::clone(&attached));
                if let Err(e) = send(&db, &attached, stream, &pending) {
                    log::info!("replica {}: link closed: {e}", attached.addr);
                }
                attached.stop();
                db.repl
                    .replicas
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|r| r.id != attached.id);
                db.clients.remove(attached.id);
                db.repl.wake_waiters();
            })?;
        Ok(())
    };
    if let Err(e) = start() {
        log::warn!("{peer}: cannot serve the replica: {e}");
    }
}

/// Bytes taken from the backlog per write to the socket.
const CHUNK: usize = 1 << 20;

/// The sender: the sync, then the stream, until the link ends.
fn send(db: &Db, replica: &Attached, stream: TcpStream, pending: &[u8]) -> io::Result<()> {
    let timeout = db.repl.settings().timeout;
    stream.set_write_timeout(Some(timeout))?;
    let mut out = BufWriter::with_capacity(1 << 16, &stream);
    out.write_all(pending)?;
    db.repl.start_feeding();
    let ids = db.repl.ids();
    let asked = replica.hello.psync.clone();
    let continue_from = asked.as_ref().and_then(|(id, offset)| {
        let offset = u64::try_from(*offset).ok()?;
        let ours = *id == ids.replid
            || (*id == ids.replid2
                && ids.replid2 != NO_ID
                && i64::try_from(offset).is_ok_and(|o| o <= ids.second_offset));
        (ours && db.repl.backlog.covers(offset)).then_some(offset)
    });
    let reader;
    if let Some(offset) = continue_from {
        // Partial resync: what the replica misses is all in the backlog.
        reader = db.repl.backlog.add_reader(offset - 1);
        db.repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
        if replica.hello.psync2 {
            write!(out, "+CONTINUE {}\r\n", ids.replid)?;
        } else {
            out.write_all(b"+CONTINUE\r\n")?;
        }
        out.flush()?;
        replica.acked(offset - 1);
        replica.state.store(State::Online as u8, Ordering::Release);
        log::info!(
            "replica {}: partial resync from offset {offset}",
            replica.addr
        );
    } else {
        if asked.as_ref().is_some_and(|(id, _)| id != "?") {
            db.repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        }
        db.repl.sync_full.fetch_add(1, Ordering::Relaxed);
        // The offset the RDB stands for, taken while no transaction runs; the stream after it
        // begins with a SELECT, as after Redis's fork.
        // The reader is added at once, so the backlog keeps every byte after the offset.
        let (offset, added) = db.gate.exclusive(|| {
            db.repl.backlog.select_next();
            let offset = db.repl.backlog.end();
            (offset, db.repl.backlog.add_reader(offset))
        });
        reader = added;
        let ids = db.repl.ids();
        if asked.is_some() {
            write!(out, "+FULLRESYNC {} {offset}\r\n", ids.replid)?;
            out.flush()?;
        }
        log::info!("replica {}: full resync at offset {offset}", replica.addr);
        let info = ReplInfo {
            id: ids.replid.as_bytes().try_into().unwrap_or([b'0'; 40]),
            offset: i64::try_from(offset).unwrap_or(i64::MAX),
            stream_db: 0,
        };
        let diskless = replica.hello.eof && db.repl.settings().diskless && asked.is_some();
        let sent = if diskless {
            send_diskless(db, replica, &mut out, info)
        } else {
            send_from_file(db, replica, &mut out, &stream, info)
        };
        if let Err(e) = sent {
            db.repl.backlog.remove_reader(reader);
            return Err(e);
        }
        if diskless {
            // Nothing more until the replica has loaded it and says so.
            let deadline = Instant::now() + timeout;
            while !replica.acked_once.load(Ordering::Acquire) {
                if replica.stopped() || Instant::now() > deadline {
                    db.repl.backlog.remove_reader(reader);
                    return Err(io::Error::other("no acknowledgement after the RDB"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        } else {
            replica.acked(offset);
        }
        replica.state.store(State::Online as u8, Ordering::Release);
        log::info!("replica {}: synchronized, streaming", replica.addr);
    }
    let result = stream_to(db, replica, &mut out, reader);
    db.repl.backlog.remove_reader(reader);
    result
}

fn send_diskless(
    db: &Db,
    replica: &Attached,
    out: &mut impl Write,
    info: ReplInfo,
) -> io::Result<()> {
    replica
        .state
        .store(State::SendBulk as u8, Ordering::Release);
    let mark = EofMark::random()?;
    let payload = PayloadWriter::new(out, PayloadHeader::EofMark(mark))?;
    // The table is visited straight into the socket: each key is read under its bucket's lock
    // and written out; a replica that reads slowly slows the visit, not the other clients.
    let big = BufWriter::with_capacity(4 << 20, payload);
    let (big, keys) = crate::rdb::table::save(&db.table, big, Some(info))?;
    let payload = big.into_inner().map_err(|e| e.into_error())?;
    payload.finish()?;
    log::info!("replica {}: sent {keys} keys (diskless)", replica.addr);
    Ok(())
}

fn send_from_file(
    db: &Db,
    replica: &Attached,
    out: &mut impl Write,
    socket: &TcpStream,
    info: ReplInfo,
) -> io::Result<()> {
    let path =
        std::env::temp_dir().join(format!("kv-sync-{}-{}.rdb", std::process::id(), replica.id));
    // What is buffered goes first: the newlines below go straight to the socket.
    out.flush()?;
    let result = (|| {
        let file = std::fs::File::create(&path)?;
        let writing = AtomicBool::new(true);
        let (w, keys) = std::thread::scope(|scope| {
            scope.spawn(|| keep_alive(socket, &writing));
            let saved = crate::rdb::table::save(
                &db.table,
                BufWriter::with_capacity(4 << 20, file),
                Some(info),
            );
            writing.store(false, Ordering::Release);
            saved
        })?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        let len = file.metadata()?.len();
        drop(file);
        replica
            .state
            .store(State::SendBulk as u8, Ordering::Release);
        let mut payload = PayloadWriter::new(&mut *out, PayloadHeader::Length(len))?;
        io::copy(&mut std::fs::File::open(&path)?, &mut payload)?;
        payload.finish()?;
        log::info!("replica {}: sent {keys} keys ({len} bytes)", replica.addr);
        Ok(())
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// While the RDB file is written, sends the replica a newline every second, as Redis's primary
/// does before the payload, so that a long save does not look like a dead link to it.
fn keep_alive(mut socket: &TcpStream, writing: &AtomicBool) {
    let mut since = Instant::now();
    while writing.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(50));
        if since.elapsed() >= Duration::from_secs(1) {
            if socket.write_all(b"\n").is_err() {
                return;
            }
            since = Instant::now();
        }
    }
}

/// Streams the backlog from reader `id` to the replica until it stops.
fn stream_to(db: &Db, replica: &Attached, out: &mut impl Write, id: u64) -> io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK);
    loop {
        if replica.stopped() || db.repl.stopping.load(Ordering::Acquire) {
            return Err(io::Error::other("stopped"));
        }
        buf.clear();
        match db
            .repl
            .backlog
            .read(id, &mut buf, CHUNK, Duration::from_millis(100))
        {
            Ok(_) => {}
            Err(Behind) => {
                return Err(io::Error::other(
                    "fell behind the backlog (over the replica output limit)",
                ))
            }
        }
        if !buf.is_empty() {
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
}

/// The listener: the replica's `REPLCONF ACK <offset>`s (and newlines while it loads).
fn listen(db: &Db, replica: &Attached, mut stream: TcpStream, unread: Vec<u8>) {
    let mut input = unread;
    let mut chunk = [0u8; 4096];
    // A replica sends small commands only: anything larger is no replica's, and ends the link.
    let limits = resp::Limits::UNAUTHENTICATED;
    'link: loop {
        let mut used = 0;
        loop {
            match resp::decode_request(&input[used..], &limits) {
                Ok(Some((request, n))) => {
                    used += n;
                    // A newline, as a replica sends while it loads, decodes as an empty request.
                    if let Some(offset) = ack_offset(&request) {
                        replica.acked(offset);
                        db.repl.wake_waiters();
                    }
                }
                Ok(None) => break,
                Err(_) => break 'link,
            }
        }
        input.drain(..used);
        if replica.stopped() {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => input.extend_from_slice(&chunk[..n]),
        }
    }
    replica.stop();
}

/// The offset of a `REPLCONF ACK <offset> [FACK <offset>]`.
fn ack_offset(request: &resp::Request<'_>) -> Option<u64> {
    let mut args = request.args();
    args.next()
        .filter(|a| a.eq_ignore_ascii_case(b"replconf"))?;
    args.next().filter(|a| a.eq_ignore_ascii_case(b"ack"))?;
    std::str::from_utf8(args.next()?).ok()?.parse().ok()
}

/// Ten times a second (a hundred while a client waits for acknowledgements): pings replicas
/// every `repl-ping-replica-period`, drops those silent for `repl-timeout`, wakes clients whose
/// `WAIT` may have timed out.
pub fn cron(db: Weak<Db>) {
    let mut last_check = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        std::thread::sleep(pause);
        let Some(db) = db.upgrade() else {
            return;
        };
        // A `WAIT` times out to the millisecond it asked for, near enough; otherwise ten
        // turns a second do.
        pause = if db.repl.waiting.load(Ordering::Acquire) > 0 {
            Duration::from_millis(10)
        } else {
            Duration::from_millis(100)
        };
        if db.repl.stopping.load(Ordering::Acquire) {
            return;
        }
        let settings = db.repl.settings();
        if db.repl.waiting.load(Ordering::Acquire) > 0 {
            db.repl.wake_waiters();
        }
        if last_check.elapsed() < Duration::from_millis(100) {
            continue;
        }
        let replicas: Vec<Arc<Attached>> = db
            .repl
            .replicas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for r in &replicas {
            if r.is_online() && r.ack_age() > settings.timeout {
                log::warn!(
                    "replica {}: no acknowledgement for {}s (repl-timeout): dropped",
                    r.addr,
                    settings.timeout.as_secs()
                );
                r.stop();
            }
        }
        if db.repl.is_feeding()
            && !db.repl.is_replica()
            && !replicas.is_empty()
            && db.repl.ping_due(settings.ping_period)
        {
            // Lower case, as Redis sends it.
            db.gate.exclusive(|| db.repl.backlog.feed(&[b"ping"]));
        }
        last_check = Instant::now();
        // What this thread fed, and what any thread may have fed without waking the senders
        // (a write from a thread that is no worker): at most a tenth of a second late.
        db.repl.backlog.wake_if_fed();
        db.repl.backlog.wake_readers();
    }
}
