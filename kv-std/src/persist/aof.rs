//! The append-only log: records of every write, in segments that snapshots retire, written by
//! one thread that group-commits: every fsync covers all records appended before it, whichever
//! connection appended them.
//!
//! Record layout (little-endian): `len u32 | crc32c u32 | op u8 | key_len u16 | key | value`,
//! where `len` counts the bytes after the checksum and the checksum covers them. A segment file
//! starts with the 8 bytes `KVAOF 1\n`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The first bytes of every segment.
pub const MAGIC: &[u8; 8] = b"KVAOF 1\n";
const RECORD_HEADER: usize = 8;
const OP_SET: u8 = 1;
const OP_DEL: u8 = 2;

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

/// One logged write.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// The key now holds the value.
    Set(&'a [u8], &'a [u8]),
    /// The key is gone.
    Del(&'a [u8]),
}

/// Appends `record` to `out`.
pub fn encode(record: &Record<'_>, out: &mut Vec<u8>) {
    let (op, key, value) = match *record {
        Record::Set(k, v) => (OP_SET, k, v),
        Record::Del(k) => (OP_DEL, k, &[][..]),
    };
    let start = out.len();
    let body_len = 3 + key.len() + value.len();
    // Keys and values are bounded by the table (bytes, not gigabytes), so these fit.
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(op);
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = crc32c::crc32c(&out[start + RECORD_HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// How reading a segment ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belonged to a whole, valid record.
    Clean,
    /// The last record is incomplete or damaged from this offset to the end: a write the crash
    /// interrupted.
    Torn(usize),
}

/// Damage that is not a torn last record.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// Byte offset of the bad record in the segment.
    pub offset: usize,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Calls `apply` for each record of a segment's bytes, in order.
pub fn replay(bytes: &[u8], mut apply: impl FnMut(Record<'_>)) -> Result<Tail, Corrupt> {
    if bytes.len() < MAGIC.len() {
        return if MAGIC.starts_with(bytes) {
            Ok(Tail::Torn(0))
        } else {
            Err(Corrupt {
                offset: 0,
                why: "not a kv log segment",
            })
        };
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(Corrupt {
            offset: 0,
            why: "not a kv log segment",
        });
    }
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some(header) = rest.get(..RECORD_HEADER) else {
            return Ok(Tail::Torn(at));
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(body) = rest.get(RECORD_HEADER..RECORD_HEADER + len) else {
            return Ok(Tail::Torn(at));
        };
        let end = at + RECORD_HEADER + len;
        if crc32c::crc32c(body) != crc {
            // A bad checksum on the very last record is a write cut short; anywhere else the
            // log was damaged after it was written.
            return if end == bytes.len() {
                Ok(Tail::Torn(at))
            } else {
                Err(Corrupt {
                    offset: at,
                    why: "checksum mismatch",
                })
            };
        }
        let record = decode_body(body).ok_or(Corrupt {
            offset: at,
            why: "malformed record",
        })?;
        apply(record);
        at = end;
    }
    Ok(Tail::Clean)
}

fn decode_body(body: &[u8]) -> Option<Record<'_>> {
    let (&op, rest) = body.split_first()?;
    let key_len = usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
    let key = rest.get(2..2 + key_len)?;
    let value = &rest[2 + key_len..];
    match op {
        OP_SET => Some(Record::Set(key, value)),
        OP_DEL if value.is_empty() => Some(Record::Del(key)),
        _ => None,
    }
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
    waiters: Mutex<Vec<Arc<mio::Waker>>>,
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
    pub fn add_waiter(&self, waker: Arc<mio::Waker>) {
        lock(&self.waiters).push(waker);
    }

    /// Appends a record; returns the sequence number a reply must wait for.
    pub fn append(&self, record: &Record<'_>) -> u64 {
        let mut p = lock(&self.pending);
        let before = p.buf.len();
        encode(record, &mut p.buf);
        p.end += (p.buf.len() - before) as u64;
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

    fn wake_waiters(&self) {
        for w in lock(&self.waiters).iter() {
            let _ = w.wake();
        }
    }

    /// The writer thread's loop: take what is pending, write it, fsync as the policy says,
    /// publish the new durable point.
    pub fn run_writer(&self) {
        let mut last_sync = Instant::now();
        loop {
            let mut p = lock(&self.pending);
            while p.buf.is_empty() && !p.stop {
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
            // Take the segment lock before letting go of the pending one, so a rotation cannot
            // slip between taking these bytes and writing them to the segment they belong to.
            let mut seg = lock(&self.segment);
            let buf = std::mem::replace(&mut p.buf, Vec::with_capacity(1 << 16));
            let end = p.end;
            drop(p);
            let sync_now = match self.policy {
                Fsync::Always => !buf.is_empty(),
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
            if !buf.is_empty() || self.failed.load(Ordering::Relaxed) {
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

    fn log_bytes(records: &[Record<'_>]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for r in records {
            encode(r, &mut out);
        }
        out
    }

    /// Each record as (key, value), with `None` for a delete.
    type Seen = Vec<(Vec<u8>, Option<Vec<u8>>)>;

    fn collect(bytes: &[u8]) -> (Seen, Result<Tail, Corrupt>) {
        let mut seen = Vec::new();
        let tail = replay(bytes, |r| match r {
            Record::Set(k, v) => seen.push((k.to_vec(), Some(v.to_vec()))),
            Record::Del(k) => seen.push((k.to_vec(), None)),
        });
        (seen, tail)
    }

    #[test]
    fn records_round_trip() {
        let bytes = log_bytes(&[
            Record::Set(b"k", b"v,\n"),
            Record::Del(b"k"),
            Record::Set(b"", b""),
        ]);
        let (seen, tail) = collect(&bytes);
        assert_eq!(tail, Ok(Tail::Clean));
        assert_eq!(
            seen,
            vec![
                (b"k".to_vec(), Some(b"v,\n".to_vec())),
                (b"k".to_vec(), None),
                (vec![], Some(vec![]))
            ]
        );
    }

    #[test]
    fn a_cut_last_record_is_torn_at_every_length() {
        let whole = log_bytes(&[Record::Set(b"a", b"1"), Record::Set(b"bb", b"22")]);
        let first_end = log_bytes(&[Record::Set(b"a", b"1")]).len();
        for cut in first_end..whole.len() {
            let (seen, tail) = collect(&whole[..cut]);
            assert_eq!(seen.len(), 1, "cut at {cut}");
            let expected = if cut == first_end {
                Tail::Clean
            } else {
                Tail::Torn(first_end)
            };
            assert_eq!(tail, Ok(expected), "cut at {cut}");
        }
    }

    #[test]
    fn damage_before_the_last_record_is_corruption_with_its_offset() {
        let mut bytes = log_bytes(&[Record::Set(b"a", b"1"), Record::Set(b"b", b"2")]);
        bytes[MAGIC.len() + RECORD_HEADER + 3] ^= 0x40;
        let (_, tail) = collect(&bytes);
        assert_eq!(
            tail,
            Err(Corrupt {
                offset: MAGIC.len(),
                why: "checksum mismatch"
            })
        );
        // The same flip in the last record is a torn write.
        let mut bytes = log_bytes(&[Record::Set(b"a", b"1"), Record::Set(b"b", b"2")]);
        let n = bytes.len();
        bytes[n - 1] ^= 0x40;
        let (seen, tail) = collect(&bytes);
        assert_eq!(seen.len(), 1);
        assert!(matches!(tail, Ok(Tail::Torn(_))));
    }

    #[test]
    fn a_foreign_file_is_refused() {
        assert!(collect(b"hello world, not a log").1.is_err());
    }
}
