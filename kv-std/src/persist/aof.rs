//! The append-only log: every write, as the command that makes it, in segments that snapshots
//! retire; written by one thread that group-commits: every fsync covers all records appended
//! before it, whichever connection appended them.
//!
//! A record is one command in RESP, the form clients send and replicas receive (`SET k v`,
//! `DEL k`), framed for the disk: `len u32 | crc32c u32 | command`, little-endian, where `len`
//! counts the command's bytes and the checksum covers them. A segment file starts with the 8
//! bytes `KVAOF 2\n`. Segments of the first format (`KVAOF 1\n`, records `op u8 | key_len u16
//! | key | value`) still load: their records read as the `SET` and `DEL` they stand for.
//!
//! Replay streams a segment record by record, so neither a long log nor a large value is read
//! into memory whole; a record larger than [`DIRECT_RECORD`] is written to the file by the
//! thread that appends it instead of being copied into the shared buffer.

use kv_nostd::resp::{decode_request, encode_request, encoded_request_len, Limits, Request};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The first bytes of every segment written now.
pub const MAGIC: &[u8; 8] = b"KVAOF 2\n";
/// The first bytes of a segment of the first format.
const MAGIC_V1: &[u8; 8] = b"KVAOF 1\n";
const RECORD_HEADER: usize = 8;
const OP_SET: u8 = 1;
const OP_DEL: u8 = 2;
/// Records longer than this are written straight to the segment by the appending thread.
pub const DIRECT_RECORD: usize = 1 << 20;

/// When the log is flushed to disk (Redis's `appendfsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fsync {
    /// Before a write is acknowledged: nothing acknowledged is lost.
    Always,
    /// Once a second: a crash may lose the last second of acknowledged writes.
    Everysec,
    /// When the operating system decides: a crash may lose more.
    No,
}

/// Where a logged write stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk (as far as the policy asks).
    Durable,
    /// Not yet.
    Pending,
    /// Lost to a failed write or fsync.
    Failed,
}

impl Fsync {
    /// The policy's name, as the flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// The frame header of `command`: its length and checksum.
fn header(command: &[&[u8]]) -> [u8; RECORD_HEADER] {
    let len = encoded_request_len(command);
    let mut crc = crc32c::crc32c_append(0, format!("*{}\r\n", command.len()).as_bytes());
    for arg in command {
        crc = crc32c::crc32c_append(crc, format!("${}\r\n", arg.len()).as_bytes());
        crc = crc32c::crc32c_append(crc, arg);
        crc = crc32c::crc32c_append(crc, b"\r\n");
    }
    let mut h = [0u8; RECORD_HEADER];
    // A command of more than 4 GiB cannot reach the log: requests are bounded far below.
    h[..4].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    h[4..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Writes the record of `command` (header, then the command in RESP) to `out`.
fn write_record(command: &[&[u8]], out: &mut impl Write) -> io::Result<()> {
    out.write_all(&header(command))?;
    out.write_all(format!("*{}\r\n", command.len()).as_bytes())?;
    for arg in command {
        out.write_all(format!("${}\r\n", arg.len()).as_bytes())?;
        out.write_all(arg)?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Appends the record of `command` to `out`.
pub fn encode(command: &[&[u8]], out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write_record(command, out);
}

/// How reading a segment ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belonged to a whole, valid record.
    Clean,
    /// The last record is incomplete or damaged from this offset to the end: a write the crash
    /// interrupted.
    Torn(u64),
}

/// Damage that is not a torn last record.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// Byte offset of the bad record in the segment.
    pub offset: u64,
    /// What is wrong with it.
    pub why: String,
}

/// Calls `apply` with each record's command of the segment in `reader` (`len` bytes long), in
/// order. `apply` refusing a command is reported as damage at its record.
pub fn replay(
    reader: impl Read,
    len: u64,
    mut apply: impl FnMut(&Request<'_>, u64) -> Result<(), String>,
) -> io::Result<Result<Tail, Corrupt>> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let corrupt = |offset, why: &str| {
        Ok(Err(Corrupt {
            offset,
            why: why.to_string(),
        }))
    };
    let mut magic = [0u8; 8];
    let got = read_up_to(&mut reader, &mut magic)?;
    let v1 = match &magic[..got] {
        m if m == MAGIC => false,
        m if m == MAGIC_V1 => true,
        m if got < 8 && (MAGIC.starts_with(m) || MAGIC_V1.starts_with(m)) => {
            return Ok(Ok(Tail::Torn(0)));
        }
        _ => return corrupt(0, "not a kv log segment"),
    };
    let mut at = MAGIC.len() as u64;
    let mut body = Vec::new();
    let mut legacy = Vec::new();
    while at < len {
        let mut head = [0u8; RECORD_HEADER];
        if read_up_to(&mut reader, &mut head)? < RECORD_HEADER {
            return Ok(Ok(Tail::Torn(at)));
        }
        let body_len = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let end = at + RECORD_HEADER as u64 + body_len;
        if end > len {
            // The length runs past the file: a record cut short (or a damaged length, which
            // the checksum of a record in the middle would have caught).
            return Ok(Ok(Tail::Torn(at)));
        }
        body.clear();
        // `body_len` is within the file's length, so the buffer is no larger than the file.
        body.resize(body_len as usize, 0);
        reader.read_exact(&mut body)?;
        if crc32c::crc32c(&body) != crc {
            // A bad checksum on the very last record is a write cut short; anywhere else the
            // log was damaged after it was written.
            return if end == len {
                Ok(Ok(Tail::Torn(at)))
            } else {
                corrupt(at, "checksum mismatch")
            };
        }
        let command = if v1 {
            legacy_record(&body, &mut legacy).and_then(command_record)
        } else {
            command_record(&body)
        };
        let Some(command) = command else {
            return corrupt(at, "malformed record");
        };
        if let Err(why) = apply(&command, at) {
            return corrupt(at, &why);
        }
        at = end;
    }
    Ok(Ok(Tail::Clean))
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to(reader: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A record's command: its body holds exactly one, in RESP.
fn command_record(body: &[u8]) -> Option<Request<'_>> {
    let limits = Limits::REDIS.with_max_bulk(usize::MAX);
    match decode_request(body, &limits) {
        Ok(Some((request, n))) if n == body.len() && !request.is_empty() => Some(request),
        _ => None,
    }
}

/// A first-format record, written into `scratch` as the command it stands for.
fn legacy_record<'s>(body: &[u8], scratch: &'s mut Vec<u8>) -> Option<&'s [u8]> {
    let (&op, rest) = body.split_first()?;
    let key_len = usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
    let key = rest.get(2..2 + key_len)?;
    let value = &rest[2 + key_len..];
    let command: &[&[u8]] = match op {
        OP_SET => &[b"SET", key, value],
        OP_DEL if value.is_empty() => &[b"DEL", key],
        _ => return None,
    };
    scratch.clear();
    scratch.resize(encoded_request_len(command), 0);
    encode_request(command, scratch).ok()?;
    Some(scratch)
}

/// Whether the segment file at `path` is of the first format, which is read but never appended
/// to.
pub fn is_first_format(path: &Path) -> io::Result<bool> {
    let mut magic = [0u8; 8];
    let n = read_up_to(&mut BufReader::new(File::open(path)?), &mut magic)?;
    Ok(n == magic.len() && &magic == MAGIC_V1)
}

/// The path of segment `n` of the log at `base`.
pub fn segment_path(base: &Path, n: u64) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The segment numbers present for the log at `base`, ascending.
pub fn segments(base: &Path) -> io::Result<Vec<u64>> {
    let dir = parent(base);
    let prefix = format!(
        "{}.",
        base.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push(n);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a directory entry change (create, rename, delete) durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent(path))?.sync_all()
}

/// Records appended but not yet written.
struct Pending {
    buf: Vec<u8>,
    /// Log sequence number (bytes ever appended) at the end of `buf`.
    end: u64,
    /// A record was written straight to the segment and waits for the writer's fsync.
    unsynced: bool,
    stop: bool,
}

/// The segment being written.
struct Segment {
    file: File,
    number: u64,
    /// Set when a write or fsync failed: nothing more is written to this segment, and the log
    /// stays failed until a snapshot starts a new one.
    failed: Option<String>,
}

/// The log, shared by the workers that append and the thread that writes.
pub struct Log {
    base: PathBuf,
    policy: Fsync,
    pending: Mutex<Pending>,
    wake_writer: Condvar,
    segment: Mutex<Segment>,
    /// Everything up to this sequence number is on disk (with `always`; with the other
    /// policies, written to the operating system).
    durable: AtomicU64,
    /// Whether the current segment has failed.
    failed: AtomicBool,
    /// Records in `(failed_from, failed_upto]` were lost to the last failure: their writes must
    /// be answered with an error.
    failed_from: AtomicU64,
    failed_upto: AtomicU64,
    /// Called after the durable point moves or the log fails, so workers release waiting
    /// replies.
    waiters: Mutex<Vec<Arc<crate::server::waker::Waker>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere does not leave these buffers inconsistent: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Log {
    /// Opens segment `number` of the log at `base` for appending (creating it if absent).
    pub fn open(base: &Path, number: u64, policy: Fsync) -> io::Result<Arc<Self>> {
        let file = open_segment(base, number)?;
        Ok(Arc::new(Self {
            base: base.to_path_buf(),
            policy,
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(1 << 16),
                end: 0,
                unsynced: false,
                stop: false,
            }),
            wake_writer: Condvar::new(),
            segment: Mutex::new(Segment {
                file,
                number,
                failed: None,
            }),
            durable: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            failed_from: AtomicU64::new(0),
            failed_upto: AtomicU64::new(0),
            waiters: Mutex::new(Vec::new()),
        }))
    }

    /// The fsync policy.
    pub fn policy(&self) -> Fsync {
        self.policy
    }

    /// Registers a worker to wake when replies waiting on the log can go.
    pub fn add_waiter(&self, waker: Arc<crate::server::waker::Waker>) {
        lock(&self.waiters).push(waker);
    }

    /// Appends the record of `command`; returns the sequence number a reply must wait for.
    pub fn append(&self, command: &[&[u8]]) -> u64 {
        let size = RECORD_HEADER + encoded_request_len(command);
        let mut p = lock(&self.pending);
        if size > DIRECT_RECORD {
            // Written here, after what is pending, so the log keeps its order without a copy
            // of a large value in the shared buffer; the writer thread makes it durable.
            let mut seg = lock(&self.segment);
            let buf = std::mem::take(&mut p.buf);
            p.end += size as u64;
            p.unsynced = true;
            let end = p.end;
            if seg.failed.is_none() {
                let written = seg
                    .file
                    .write_all(&buf)
                    .and_then(|()| write_record(command, &mut seg.file));
                if let Err(e) = written {
                    self.fail(&mut seg, end, e.to_string());
                }
            } else {
                self.failed_upto.store(end, Ordering::Release);
            }
            drop(seg);
            drop(p);
            self.wake_writer.notify_one();
            return end;
        }
        encode(command, &mut p.buf);
        p.end += size as u64;
        let end = p.end;
        let urgent = self.policy == Fsync::Always || p.buf.len() > 1 << 20;
        drop(p);
        if urgent {
            self.wake_writer.notify_one();
        }
        end
    }

    /// Where the record ending at `lsn` stands.
    pub fn status(&self, lsn: u64) -> Durability {
        let upto = self.failed_upto.load(Ordering::Acquire);
        if lsn > self.failed_from.load(Ordering::Acquire) && lsn <= upto {
            return Durability::Failed;
        }
        if lsn <= self.durable.load(Ordering::Acquire) {
            Durability::Durable
        } else {
            Durability::Pending
        }
    }

    /// Why writing the log failed, while it is failing (until the next snapshot).
    pub fn failure(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.segment).failed.clone()
    }

    /// Records that the bytes up to `end` are lost to `error`.
    fn fail(&self, seg: &mut Segment, end: u64, error: String) {
        if seg.failed.is_none() {
            log::error!(
                "append-only log segment {} failed: {error}; writes are not durable until the next snapshot",
                seg.number
            );
            self.failed_from
                .store(self.durable.load(Ordering::Acquire), Ordering::Release);
            seg.failed = Some(error);
            self.failed.store(true, Ordering::Release);
        }
        self.failed_upto.store(end, Ordering::Release);
    }

    /// Writes what is pending to the current segment and makes it durable, then switches to
    /// segment `number`: records appended from now on go there. A failed log is whole again
    /// from the new segment on, since the snapshot that follows captures what it missed.
    pub fn rotate(&self, number: u64) -> io::Result<()> {
        let mut p = lock(&self.pending);
        let mut seg = lock(&self.segment);
        let buf = std::mem::take(&mut p.buf);
        let end = p.end;
        p.unsynced = false;
        if seg.failed.is_some() {
            self.failed_upto.store(end, Ordering::Release);
        } else {
            match seg.file.write_all(&buf).and_then(|()| seg.file.sync_data()) {
                Ok(()) => self.durable.store(end, Ordering::Release),
                Err(e) => self.fail(&mut seg, end, e.to_string()),
            }
        }
        let file = open_segment(&self.base, number)?;
        *seg = Segment {
            file,
            number,
            failed: None,
        };
        self.failed.store(false, Ordering::Release);
        drop(seg);
        drop(p);
        self.wake_waiters();
        Ok(())
    }

    /// The number of the segment being written.
    pub fn segment(&self) -> u64 {
        lock(&self.segment).number
    }

    /// Asks the writer thread to write what is pending and stop.
    pub fn stop(&self) {
        lock(&self.pending).stop = true;
        self.wake_writer.notify_one();
    }

    /// Wakes the workers holding replies for the log; the others sleep on.
    fn wake_waiters(&self) {
        for w in lock(&self.waiters).iter() {
            let _ = w.wake_if_wanted();
        }
    }

    /// The writer thread's loop: take what is pending, write it, fsync as the policy says,
    /// publish the new durable point.
    pub fn run_writer(&self) {
        let mut last_sync = Instant::now();
        loop {
            let mut p = lock(&self.pending);
            while p.buf.is_empty() && !p.unsynced && !p.stop {
                let wait = if self.policy == Fsync::Always {
                    Duration::from_secs(1)
                } else {
                    Duration::from_millis(100)
                };
                p = self
                    .wake_writer
                    .wait_timeout(p, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                if self.policy == Fsync::Everysec && p.buf.is_empty() {
                    break;
                }
            }
            let stopping = p.stop;
            let direct = std::mem::take(&mut p.unsynced);
            // Take the segment lock before letting go of the pending one, so a rotation cannot
            // slip between taking these bytes and writing them to the segment they belong to.
            let mut seg = lock(&self.segment);
            let buf = std::mem::replace(&mut p.buf, Vec::with_capacity(1 << 16));
            let end = p.end;
            drop(p);
            let sync_now = match self.policy {
                Fsync::Always => !buf.is_empty() || direct,
                Fsync::Everysec => last_sync.elapsed() >= Duration::from_secs(1),
                Fsync::No => false,
            } || stopping;
            if seg.failed.is_some() {
                // Nothing more goes to a failed segment; the next snapshot recovers.
                self.failed_upto.store(end, Ordering::Release);
            } else {
                let mut result = seg.file.write_all(&buf);
                if result.is_ok() && sync_now {
                    result = seg.file.sync_data();
                    last_sync = Instant::now();
                }
                match result {
                    Ok(()) if sync_now || self.policy != Fsync::Always => {
                        self.durable.store(end, Ordering::Release);
                    }
                    Ok(()) => {}
                    Err(e) => self.fail(&mut seg, end, e.to_string()),
                }
            }
            drop(seg);
            if !buf.is_empty() || direct || self.failed.load(Ordering::Relaxed) {
                self.wake_waiters();
            }
            if stopping {
                return;
            }
        }
    }
}

fn open_segment(base: &Path, number: u64) -> io::Result<File> {
    let path = segment_path(base, number);
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    if file.metadata()?.len() == 0 {
        file.write_all(MAGIC)?;
        file.sync_data()?;
        sync_dir(&path)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_bytes(commands: &[&[&[u8]]]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for c in commands {
            encode(c, &mut out);
        }
        out
    }

    /// Each record's command, and how the segment ended.
    type Seen = Vec<Vec<Vec<u8>>>;

    fn collect(bytes: &[u8]) -> (Seen, Result<Tail, Corrupt>) {
        let mut seen = Vec::new();
        let tail = replay(bytes, bytes.len() as u64, |command, _| {
            seen.push(command.args().map(<[u8]>::to_vec).collect());
            Ok(())
        })
        .expect("reading memory");
        (seen, tail)
    }

    fn owned(commands: &[&[&[u8]]]) -> Seen {
        commands
            .iter()
            .map(|c| c.iter().map(|a| a.to_vec()).collect())
            .collect()
    }

    #[test]
    fn records_round_trip() {
        let commands: &[&[&[u8]]] = &[
            &[b"SET", b"k", b"v,\n"],
            &[b"DEL", b"k"],
            &[b"SET", b"", b""],
        ];
        let (seen, tail) = collect(&log_bytes(commands));
        assert_eq!(tail, Ok(Tail::Clean));
        assert_eq!(seen, owned(commands));
    }

    #[test]
    fn first_format_segments_read_as_set_and_del() {
        // `op u8 | key_len u16 | key | value`, framed as today.
        let mut bytes = MAGIC_V1.to_vec();
        for body in [&b"\x01\x01\x00kv"[..], b"\x02\x01\x00k"] {
            bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
            bytes.extend_from_slice(body);
        }
        let (seen, tail) = collect(&bytes);
        assert_eq!(tail, Ok(Tail::Clean));
        assert_eq!(seen, owned(&[&[b"SET", b"k", b"v"], &[b"DEL", b"k"]]));
    }

    #[test]
    fn a_cut_last_record_is_torn_at_every_length() {
        let whole = log_bytes(&[&[b"SET", b"a", b"1"], &[b"SET", b"bb", b"22"]]);
        let first_end = log_bytes(&[&[b"SET", b"a", b"1"]]).len();
        for cut in first_end..whole.len() {
            let (seen, tail) = collect(&whole[..cut]);
            assert_eq!(seen.len(), 1, "cut at {cut}");
            let expected = if cut == first_end {
                Tail::Clean
            } else {
                Tail::Torn(first_end as u64)
            };
            assert_eq!(tail, Ok(expected), "cut at {cut}");
        }
        for cut in 0..MAGIC.len() {
            assert_eq!(collect(&whole[..cut]).1, Ok(Tail::Torn(0)), "cut at {cut}");
        }
    }

    #[test]
    fn damage_before_the_last_record_is_corruption_with_its_offset() {
        let commands: &[&[&[u8]]] = &[&[b"SET", b"a", b"1"], &[b"SET", b"b", b"2"]];
        let mut bytes = log_bytes(commands);
        bytes[MAGIC.len() + RECORD_HEADER + 3] ^= 0x40;
        let (_, tail) = collect(&bytes);
        let at = MAGIC.len() as u64;
        assert_eq!(
            tail,
            Err(Corrupt {
                offset: at,
                why: "checksum mismatch".into()
            })
        );
        // The same flip in the last record is a torn write.
        let mut bytes = log_bytes(commands);
        let n = bytes.len();
        bytes[n - 1] ^= 0x40;
        let (seen, tail) = collect(&bytes);
        assert_eq!(seen.len(), 1);
        assert!(matches!(tail, Ok(Tail::Torn(_))));
        // A valid checksum over bytes that are no command is damage too.
        let mut bytes = MAGIC.to_vec();
        let body = b"not a command";
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
        bytes.extend_from_slice(body);
        assert_eq!(collect(&bytes).1.unwrap_err().why, "malformed record");
    }

    #[test]
    fn a_foreign_file_is_refused() {
        assert!(collect(b"hello world, not a log").1.is_err());
    }

    #[test]
    fn a_refused_command_is_reported_at_its_record() {
        let bytes = log_bytes(&[&[b"SET", b"a", b"1"], &[b"NOPE"]]);
        let tail = replay(&bytes[..], bytes.len() as u64, |command, _| {
            if command.is_command(b"NOPE") {
                Err("unknown command".into())
            } else {
                Ok(())
            }
        })
        .unwrap();
        let second = log_bytes(&[&[b"SET", b"a", b"1"]]).len() as u64;
        assert_eq!(
            tail,
            Err(Corrupt {
                offset: second,
                why: "unknown command".into()
            })
        );
    }

    #[test]
    fn large_records_go_straight_to_the_segment_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("log");
        let log = Log::open(&base, 0, Fsync::Always).unwrap();
        let writer = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || log.run_writer())
        };
        let big = vec![b'x'; DIRECT_RECORD + 10];
        let a = log.append(&[b"SET", b"small", b"1"]);
        let b = log.append(&[b"SET", b"big", &big]);
        let c = log.append(&[b"SET", b"small", b"2"]);
        assert!(a < b && b < c);
        let deadline = Instant::now() + Duration::from_secs(10);
        while log.status(c) != Durability::Durable {
            assert!(Instant::now() < deadline, "never durable");
            std::thread::sleep(Duration::from_millis(1));
        }
        log.stop();
        writer.join().unwrap();
        let bytes = std::fs::read(segment_path(&base, 0)).unwrap();
        assert_eq!(bytes.len() as u64, MAGIC.len() as u64 + c);
        let (seen, tail) = collect(&bytes);
        assert_eq!(tail, Ok(Tail::Clean));
        assert_eq!(
            seen,
            owned(&[
                &[b"SET", b"small", b"1"],
                &[b"SET", b"big", &big],
                &[b"SET", b"small", b"2"]
            ])
        );
    }
}
