//! This server's link to the primary it follows: R70 `replication.c` `syncWithMaster`,
//! `readSyncBulkPayload`, `replicationSendAck`.
//!
//! One thread per link, until `REPLICAOF` changes it or the server stops. Each session:
//! 1. Connect; `PING`; then pipelined `AUTH` (with `masterauth`), `REPLCONF listening-port`,
//!    `REPLCONF ip-address` (with `replica-announce-ip`) and `REPLCONF capa eof capa psync2`.
//! 2. `PSYNC <replid> <offset+1>` when this server has a history to continue, `PSYNC ? -1`
//!    otherwise.
//! 3. On `+FULLRESYNC <replid> <offset>`: the RDB is received into a file while the old data is
//!    still served (`replica-serve-stale-data`), then loaded while clients are answered
//!    `-LOADING`: the table is emptied and filled from the file, the history becomes the
//!    primary's, and, with persistence, a snapshot is taken. On `+CONTINUE [<replid>]`: the
//!    stream goes on from this server's offset (under the primary's new id, if it changed).
//! 4. The stream: each command is applied as the primary sent it, forwarded byte for byte to
//!    this server's own replicas, and counted in the offset. `REPLCONF GETACK` is answered with
//!    the offset before it; an `ACK` also goes every second.
//!
//! A link silent for `repl-timeout` is dropped, and the next session tries a partial resync.
//!
//! With persistence, the log records the stream's position after each batch of commands it
//! applied (`REPLCONF KV-OFFSET <replid> <offset>`, read back only from the log): a replica
//! restarted from its files continues where its log ends, with a partial resync if its
//! primary's backlog still covers the gap. The records of a batch are logged before its
//! position, so a log cut anywhere holds every write up to the last position it holds, and
//! perhaps some after it, which the stream then repeats to the same end.

use super::{PrimaryAddr, NO_ID};
use crate::cmd::{self, Client};
use crate::db::Db;
use crate::rdb::framing::{FramingError, PayloadHeader, PayloadReader};
use crate::reply::{Out, Resp};
use crate::server::clients::Handle;
use kv_nostd::resp;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Where the link stands (ROLE's state, INFO's `master_link_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// About to connect.
    Connect,
    /// Connecting.
    Connecting,
    /// Sending the handshake.
    Handshake,
    /// Receiving or loading the RDB.
    Sync,
    /// Streaming.
    Connected,
}

impl Phase {
    /// ROLE's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Connecting => "connecting",
            Phase::Handshake => "handshake",
            Phase::Sync => "sync",
            Phase::Connected => "connected",
        }
    }
}

/// What INFO and ROLE show of the link.
#[derive(Clone, Debug)]
pub struct Status {
    /// Where it stands.
    pub phase: Phase,
    /// When it last went down; none if it never was up.
    pub down_since: Option<Instant>,
    /// Whether it was ever up.
    pub ever_up: bool,
    /// When the primary last sent something.
    pub last_io: Instant,
    /// The RDB's size, if known, and the bytes of it read so far, during a sync.
    pub sync_total: Option<u64>,
    /// See `sync_total`.
    pub sync_read: u64,
    /// When the link first tried to connect.
    pub since: Instant,
}

/// A link to a primary.
pub struct Link {
    /// The primary.
    pub addr: PrimaryAddr,
    stop: AtomicBool,
    status: Mutex<Status>,
    socket: Mutex<Option<TcpStream>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Link {
    /// Starts following `addr`.
    pub fn start(db: &Arc<Db>, addr: PrimaryAddr) -> Arc<Link> {
        let link = Arc::new(Link {
            addr,
            stop: AtomicBool::new(false),
            status: Mutex::new(Status {
                phase: Phase::Connect,
                down_since: None,
                ever_up: false,
                last_io: Instant::now(),
                sync_total: None,
                sync_read: 0,
                since: Instant::now(),
            }),
            socket: Mutex::new(None),
        });
        let (weak, l) = (Arc::downgrade(db), Arc::clone(&link));
        let spawned = std::thread::Builder::new()
            .name("kv-repl-link".into())
            .spawn(move || run(&weak, &l));
        if let Err(e) = spawned {
            log::error!("replication: cannot start the link thread: {e}");
        }
        link
    }

    /// Stops the link: its session ends, and no other starts.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(s) = lock(&self.socket).as_ref() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Closes the connection of the session under way, if one is (the next session starts
    /// a second later); returns whether one was.
    pub fn drop_connection(&self) -> bool {
        match lock(&self.socket).as_ref() {
            Some(s) => s.shutdown(std::net::Shutdown::Both).is_ok(),
            None => false,
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// What the link looks like now.
    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    /// Whether the link streams.
    pub fn is_up(&self) -> bool {
        lock(&self.status).phase == Phase::Connected
    }

    fn set_phase(&self, phase: Phase) {
        let mut s = lock(&self.status);
        if s.phase == Phase::Connected && phase != Phase::Connected {
            s.down_since = Some(Instant::now());
        }
        if phase == Phase::Connected {
            s.ever_up = true;
            s.down_since = None;
        }
        s.phase = phase;
    }
}

fn run(db: &Weak<Db>, link: &Arc<Link>) {
    if let Some(db) = db.upgrade() {
        db.gate.register();
    }
    while !link.stopped() {
        let Some(db) = db.upgrade() else {
            return;
        };
        if db.repl.stopping.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = session(&db, link) {
            if !link.stopped() {
                log::warn!(
                    "replication: link to {}:{} down: {e}",
                    link.addr.host,
                    link.addr.port
                );
            }
        }
        db.repl.loading.store(false, Ordering::Release);
        link.set_phase(Phase::Connect);
        *lock(&link.socket) = None;
        drop(db);
        // Try again in a second, as Redis's cron does.
        for _ in 0..10 {
            if link.stopped() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A replication-link error.
fn error(text: impl Into<String>) -> io::Error {
    io::Error::other(text.into())
}

fn send(stream: &mut TcpStream, args: &[&[u8]]) -> io::Result<()> {
    stream.write_all(&crate::reply::request_bytes(args))
}

/// Reads a reply line, skipping the bare newlines a primary sends as keepalives.
fn read_line(input: &mut impl BufRead) -> io::Result<String> {
    loop {
        let mut line = Vec::new();
        input.take(1024).read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(error("the primary closed the connection"));
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if !text.is_empty() {
            return Ok(text);
        }
    }
}

fn session(db: &Arc<Db>, link: &Link) -> io::Result<()> {
    let settings = db.repl.settings();
    link.set_phase(Phase::Connecting);
    let addr = (link.addr.host.as_str(), link.addr.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| error("the primary's address does not resolve"))?;
    let mut stream = TcpStream::connect_timeout(&addr, settings.timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(settings.timeout))?;
    *lock(&link.socket) = Some(stream.try_clone()?);
    if link.stopped() {
        return Ok(());
    }
    link.set_phase(Phase::Handshake);
    let mut input = BufReader::with_capacity(1 << 16, stream.try_clone()?);
    send(&mut stream, &[b"PING"])?;
    let pong = read_line(&mut input)?;
    let pong_ok = pong.starts_with('+')
        || pong.starts_with("-NOAUTH")
        || pong.starts_with("-NOPERM")
        || pong.starts_with("-ERR operation not permitted");
    if !pong_ok {
        return Err(error(format!("the primary answered PING with {pong}")));
    }
    // Pipelined, as Redis's replica sends them; the replies are read in order.
    let mut expected = Vec::new();
    if let Some(pass) = &settings.masterauth {
        match &settings.masteruser {
            Some(user) => send(&mut stream, &[b"AUTH", user, pass])?,
            None => send(&mut stream, &[b"AUTH", pass])?,
        }
        expected.push(true);
    }
    let port = db.port.to_string();
    send(
        &mut stream,
        &[b"REPLCONF", b"listening-port", port.as_bytes()],
    )?;
    expected.push(false);
    if let Some(ip) = &settings.announce_ip {
        send(&mut stream, &[b"REPLCONF", b"ip-address", ip.as_bytes()])?;
        expected.push(false);
    }
    send(
        &mut stream,
        &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
    )?;
    expected.push(false);
    for critical in expected {
        let reply = read_line(&mut input)?;
        if critical && reply.starts_with('-') {
            return Err(error(format!("the primary refused AUTH: {reply}")));
        }
    }
    let ids = db.repl.ids();
    let end = db.repl.backlog.end();
    let (id, offset) = if end > 0 && ids.replid != NO_ID {
        (ids.replid.clone(), (end + 1).to_string())
    } else {
        ("?".to_string(), "-1".to_string())
    };
    send(&mut stream, &[b"PSYNC", id.as_bytes(), offset.as_bytes()])?;
    let reply = read_line(&mut input)?;
    let words: Vec<&str> = reply.split_whitespace().collect();
    match words.as_slice() {
        ["+FULLRESYNC", replid, offset] if replid.len() == 40 => {
            let offset: u64 = offset
                .parse()
                .map_err(|_| error(format!("bad +FULLRESYNC offset in '{reply}'")))?;
            let eof = full_sync(db, link, &mut input, replid, offset)?;
            if eof {
                send(
                    &mut stream,
                    &[b"REPLCONF", b"ACK", offset.to_string().as_bytes()],
                )?;
            }
        }
        ["+CONTINUE", rest @ ..] => {
            if let [new_id] = rest {
                if *new_id != ids.replid {
                    // The primary's history goes on under a new id (it was promoted): keep
                    // ours reachable as the second, as Redis's replica does.
                    db.repl.set_ids(super::Ids {
                        replid: new_id.to_string(),
                        replid2: ids.replid,
                        second_offset: i64::try_from(end + 1).unwrap_or(i64::MAX),
                    });
                    db.repl.disconnect_replicas();
                }
            }
            log::info!(
                "replication: partial resync with {}:{} from offset {}",
                link.addr.host,
                link.addr.port,
                end + 1
            );
        }
        _ if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") => {
            return Err(error(format!("the primary cannot sync yet: {reply}")));
        }
        _ => return Err(error(format!("unexpected reply to PSYNC: {reply}"))),
    }
    link.set_phase(Phase::Connected);
    log::info!(
        "replication: streaming from {}:{}",
        link.addr.host,
        link.addr.port
    );
    apply_stream(db, link, stream, input)
}

/// Receives the RDB into a file, then loads it in place of the table's content. Returns
/// whether it came diskless (then the primary waits for an `ACK`).
fn full_sync(
    db: &Arc<Db>,
    link: &Link,
    input: &mut BufReader<TcpStream>,
    replid: &str,
    offset: u64,
) -> io::Result<bool> {
    link.set_phase(Phase::Sync);
    log::info!(
        "replication: full resync from {}:{} at offset {offset}",
        link.addr.host,
        link.addr.port
    );
    let dir = match &db.persist {
        Some(p) => crate::persist::aof::parent(&p.options().backup).to_path_buf(),
        None => std::env::temp_dir(),
    };
    let path = dir.join(format!("kv-replica-sync-{}.rdb", std::process::id()));
    let mut payload = PayloadReader::new(&mut *input).map_err(|e| match e {
        FramingError::Io(e) => e,
        other => error(other.to_string()),
    })?;
    let eof = matches!(payload.header(), PayloadHeader::EofMark(_));
    {
        let mut s = lock(&link.status);
        s.sync_total = match payload.header() {
            PayloadHeader::Length(n) => Some(n),
            PayloadHeader::EofMark(_) => None,
        };
        s.sync_read = 0;
    }
    let received = (|| -> io::Result<()> {
        let mut file = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut buf = vec![0; 1 << 16];
        loop {
            let n = payload.read(&mut buf)?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n])?;
            let mut s = lock(&link.status);
            s.sync_read += n as u64;
            s.last_io = Instant::now();
        }
        if !payload.is_done() {
            return Err(error("the RDB payload ended early"));
        }
        file.flush()
    })();
    if let Err(e) = received {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    let loaded = load(db, &path, replid, offset);
    let _ = std::fs::remove_file(&path);
    loaded?;
    lock(&link.status).sync_total = None;
    Ok(eof)
}

/// Replaces the table's content with the RDB at `path`, and this server's history with the
/// primary's at `offset`.
fn load(db: &Arc<Db>, path: &std::path::Path, replid: &str, offset: u64) -> io::Result<()> {
    db.repl.loading.store(true, Ordering::Release);
    // Every command that started before loading did ends before the table empties.
    db.gate.exclusive(|| {});
    let started = Instant::now();
    db.table.clear();
    let file = std::fs::File::open(path)?;
    let options = crate::rdb::LoadOptions {
        skip_unsupported: true,
        ..Default::default()
    };
    let result = crate::rdb::table::load(
        &db.table,
        BufReader::with_capacity(1 << 20, file),
        options,
        crate::rdb::table::Passed::Keep,
    );
    let loaded = match result {
        Ok(l) => l,
        Err(e) => {
            db.repl.loading.store(false, Ordering::Release);
            return Err(error(format!("cannot load the primary's RDB: {e}")));
        }
    };
    if loaded.skipped.total_keys() > 0 {
        log::warn!(
            "replication: skipped {} keys of types kv does not store",
            loaded.skipped.total_keys()
        );
    }
    db.repl.set_ids(super::Ids {
        replid: replid.to_string(),
        replid2: NO_ID.into(),
        second_offset: -1,
    });
    db.repl.backlog.reset(offset);
    // This server's replicas must resync from the new history.
    db.repl.disconnect_replicas();
    if let Some(p) = &db.persist {
        // The log after the snapshot begins with the new position (`repl::start`).
        p.save(&db.table)?;
    }
    db.repl.loading.store(false, Ordering::Release);
    log::info!(
        "replication: loaded {} keys in {:.3}s",
        loaded.keys,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The log record of a stream position: `REPLCONF KV-OFFSET <replid> <offset>`.
pub fn position(replid: &str, offset: u64) -> Vec<Vec<u8>> {
    vec![
        b"REPLCONF".to_vec(),
        b"KV-OFFSET".to_vec(),
        replid.as_bytes().to_vec(),
        offset.to_string().into_bytes(),
    ]
}

/// Logs the stream position.
fn log_position(p: &crate::persist::Persistence, replid: &str, offset: u64) {
    let record = position(replid, offset);
    let args: Vec<&[u8]> = record.iter().map(Vec::as_slice).collect();
    p.append(&args);
}

/// Applies the stream until the link fails or stops.
fn apply_stream(
    db: &Arc<Db>,
    link: &Link,
    mut stream: TcpStream,
    mut input: BufReader<TcpStream>,
) -> io::Result<()> {
    let timeout = db.repl.settings().timeout;
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut client = Client::new(Arc::new(Handle::detached(u64::MAX)), true);
    client.master = true;
    let mut out = Out::new(Resp::V2);
    // What has been read and not yet applied.
    let mut buf: Vec<u8> = input.buffer().to_vec();
    input.consume(buf.len());
    let mut chunk = vec![0u8; 1 << 16];
    let mut last_ack = Instant::now();
    let limits = resp::Limits::REDIS;
    // The stream paused (a read waited its 100 ms for nothing); the offset last acknowledged.
    let (mut idle, mut acked) = (false, 0u64);
    loop {
        if link.stopped() {
            return Ok(());
        }
        let mut used_total = 0;
        let before = db.repl.backlog.end();
        {
            let _turn = db.gate.enter();
            db.tick();
            loop {
                let rest = &buf[used_total..];
                let (request, used) = match resp::decode_request(rest, &limits) {
                    Ok(Some(found)) => found,
                    Ok(None) => break,
                    Err(e) => return Err(error(format!("bad command in the stream: {e}"))),
                };
                if is_getack(&request) {
                    // The offset before the GETACK itself, as Redis's replica answers.
                    let at = db.repl.backlog.end().to_string();
                    send(&mut stream, &[b"REPLCONF", b"ACK", at.as_bytes()])?;
                } else if !request.is_empty() {
                    let revived = revive_for(&request, db);
                    let kept = keep_passed(&request, db.table.now());
                    let request = match &kept {
                        Some(bytes) => match resp::decode_request(bytes, &limits) {
                            Ok(Some((r, _))) => r,
                            _ => request,
                        },
                        None => request,
                    };
                    out.raw().clear();
                    if cmd::execute(&request, &mut client, db, &mut out) != cmd::Flow::Continue {
                        log::warn!("replication: a command from the primary closed the link");
                    }
                    if out.bytes().first() == Some(&b'-') {
                        log::error!(
                            "== CRITICAL == replicated command failed: {}",
                            String::from_utf8_lossy(out.bytes()).trim_end()
                        );
                    }
                    if let Some(key) = revived {
                        hide_again(&key, db);
                    }
                }
                db.repl.backlog.feed_raw(&rest[..used]);
                used_total += used;
            }
        }
        buf.drain(..used_total);
        // What was forwarded goes on to this server's own replicas.
        db.repl.backlog.wake_if_fed();
        let after = db.repl.backlog.end();
        if after > before {
            if let Some(p) = &db.persist {
                log_position(p, &db.repl.ids().replid, after);
            }
        }
        // Every second, as Redis's replica (and in answer to each `GETACK`, above); and when
        // the stream pauses with something applied since the last, so a primary's view of its
        // replicas is current whenever it is quiet, at no cost while it streams.
        if last_ack.elapsed() >= Duration::from_secs(1) || (idle && after > acked) {
            let at = after.to_string();
            send(&mut stream, &[b"REPLCONF", b"ACK", at.as_bytes()])?;
            last_ack = Instant::now();
            acked = after;
        }
        idle = false;
        match input.read(&mut chunk) {
            Ok(0) => return Err(error("the primary closed the connection")),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                lock(&link.status).last_io = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                idle = true;
                if lock(&link.status).last_io.elapsed() > timeout {
                    return Err(error(format!(
                        "nothing from the primary for {}s (repl-timeout)",
                        timeout.as_secs()
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a command from the primary does to its key's deadline, for [`revive_for`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Touches {
    /// It replaces the key whole, or deletes it, or has no key: nothing to do.
    Nothing,
    /// It sets or removes the deadline (`PERSIST`, `PEXPIREAT`, ...).
    Deadline,
    /// It changes the value and keeps the deadline (`APPEND`, `INCR`, `SETRANGE`, ...).
    Value,
}

fn touches(name: &[u8]) -> Touches {
    let name = name.to_ascii_lowercase();
    match name.as_slice() {
        b"persist" | b"pexpireat" | b"expireat" | b"pexpire" | b"expire" => Touches::Deadline,
        b"append" | b"incr" | b"decr" | b"incrby" | b"decrby" | b"incrbyfloat" | b"setrange"
        | b"setbit" | b"bitfield" => Touches::Value,
        _ => Touches::Nothing,
    }
}

/// Makes the key of a command from the primary present again if its deadline has passed here
/// but the key is still held (a replica removes nothing itself), and returns it if the key must
/// be hidden again after the command. Redis's replica treats every key as present for its
/// primary's commands, which the primary ran before the deadline passed there; kv's table hides
/// expired keys from every caller, so the key is put back without a deadline (logged as a
/// `PERSIST`, for this server's log to replay the same), the command runs, and a command that
/// keeps deadlines gets the passed one back ([`hide_again`]). A kv primary's stream carries
/// every other write as a whole value (`SET`, `DEL`), which needs no key present.
fn revive_for(request: &resp::Request<'_>, db: &Db) -> Option<Vec<u8>> {
    let mut args = request.args();
    let (Some(name), Some(key)) = (args.next(), args.next()) else {
        return None;
    };
    let touches = touches(name);
    if touches == Touches::Nothing {
        return None;
    }
    let mut held = None;
    let mut buf = Vec::new();
    let _ = db.table.reap(key, &mut |e| {
        held = Some(crate::db::entry_value(e, &mut buf).to_vec());
    });
    let value = held?;
    let put = db.table.put_with(
        key,
        &value,
        kv_nostd::When::Always,
        kv_nostd::Deadline::None,
        None,
        &mut |_| {
            db.log(&[b"PERSIST", key]);
        },
    );
    (put.is_ok() && touches == Touches::Value).then(|| key.to_vec())
}

/// Gives a key [`revive_for`] put back for a command that keeps deadlines its passed deadline
/// again: one millisecond after the clock, as [`keep_passed`] does.
fn hide_again(key: &[u8], db: &Db) {
    let at = db.table.now() + 1;
    let _ = db
        .table
        .set_deadline(key, Some(at), kv_nostd::ExpireIf::Always, &mut |_| {
            db.log(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
        });
}

/// A `SET` or `PEXPIREAT`/`EXPIREAT` from the primary whose deadline has already passed here,
/// rewritten with the deadline one millisecond after `now`: the key is kept, hidden from reads,
/// as Redis's replica keeps it, so that a later `PERSIST` or `PEXPIREAT` the primary made before
/// its deadline passed there finds it (see [`revive_for`]). None for any other command.
fn keep_passed(request: &resp::Request<'_>, now: u64) -> Option<Vec<u8>> {
    let mut args: Vec<&[u8]> = request.args().collect();
    let name = args.first()?.to_ascii_lowercase();
    let bumped = (now + 1).to_string();
    let passed = |ms: Option<i64>| ms.is_some_and(|ms| ms <= now as i64);
    let parse = |a: &[u8]| std::str::from_utf8(a).ok()?.parse::<i64>().ok();
    match name.as_slice() {
        b"set" => {
            let at = (3..args.len()).find(|&i| {
                args[i].eq_ignore_ascii_case(b"pxat") || args[i].eq_ignore_ascii_case(b"exat")
            })?;
            let ms = parse(args.get(at + 1)?).map(|t| {
                if args[at].eq_ignore_ascii_case(b"exat") {
                    t.saturating_mul(1000)
                } else {
                    t
                }
            });
            if !passed(ms) {
                return None;
            }
            args[at] = b"PXAT";
            args[at + 1] = bumped.as_bytes();
        }
        b"pexpireat" | b"expireat" if args.len() >= 3 => {
            let ms = parse(args[2]).map(|t| {
                if name == b"expireat" {
                    t.saturating_mul(1000)
                } else {
                    t
                }
            });
            if !passed(ms) {
                return None;
            }
            args[0] = b"PEXPIREAT";
            args[2] = bumped.as_bytes();
        }
        _ => return None,
    }
    Some(crate::reply::request_bytes(&args))
}

fn is_getack(request: &resp::Request<'_>) -> bool {
    let mut args = request.args();
    args.next()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"replconf"))
        && args
            .next()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"getack"))
}
