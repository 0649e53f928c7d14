//! The replication stream and its backlog: every write, as the RESP command that makes it,
//! numbered by byte as Redis numbers its stream (`master_repl_offset`), kept in memory for
//! the replicas that read it and for partial resyncs.
//!
//! Offsets count bytes from the start of the stream: the byte at offset `n` is the `n`-th ever
//! fed, and [`Backlog::end`] is the offset of the last (`master_repl_offset`; 0 for an empty
//! stream). The backlog keeps at least the last `repl-backlog-size` bytes, and also every byte a
//! connected replica has not been sent yet, up to [`HOLD_FOR_READERS`] beyond the size: a
//! replica further behind is cut off, as Redis cuts one at its output buffer limit.
//!
//! Feeding takes the backlog's mutex for one copy; a reader (a replica's sender thread) takes
//! what was fed since its last read in one piece and writes it to its socket unlocked. A reader
//! that finds nothing new waits on a condition variable. Feeding does not signal it: the thread
//! that fed calls [`Backlog::wake_if_fed`] once its turn of work ends (a worker after the
//! requests of one poll, as Redis writes to its replicas once per event loop turn), so a burst
//! of writes costs the readers one wake-up, not one each.

use kv_nostd::resp::{encode_request, encoded_request_len};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Bytes the backlog holds past its size for replicas that have not been sent them: Redis's
/// default hard output buffer limit for replicas.
pub const HOLD_FOR_READERS: usize = 256 << 20;

/// The stream and its backlog. See the module docs.
pub struct Backlog {
    ring: Mutex<Ring>,
    more: Condvar,
    /// The offset of the last byte fed (`master_repl_offset`), readable without the lock.
    end: AtomicU64,
}

struct Ring {
    /// Bytes from offset `first` on.
    bytes: Vec<u8>,
    /// The offset of `bytes[0]`.
    first: u64,
    /// Whether the backlog exists (Redis creates it for the first replica).
    active: bool,
    /// `repl-backlog-size`.
    size: usize,
    /// The next command fed is preceded by `SELECT 0` (after a full sync began).
    select: bool,
    /// Each reader's id and the offset of the last byte it took.
    readers: Vec<(u64, u64)>,
    /// Readers waiting for more.
    waiting: usize,
    next_reader: u64,
}

impl Ring {
    fn end(&self) -> u64 {
        self.first + self.bytes.len() as u64 - 1
    }

    /// Drops bytes no one needs, when that is at least half the buffer (so each byte is moved
    /// at most about once).
    fn trim(&mut self) {
        let end = self.end();
        let by_size = (end + 1).saturating_sub(self.size as u64).max(self.first);
        let slowest = self
            .readers
            .iter()
            .map(|&(_, sent)| sent + 1)
            .min()
            .unwrap_or(u64::MAX);
        let held_for = (end + 1).saturating_sub(slowest);
        // Readers within the hold keep their bytes; one further behind loses them, and is cut
        // off when it next reads.
        let keep_from = if held_for as usize <= HOLD_FOR_READERS {
            by_size.min(slowest)
        } else {
            by_size
        };
        let drop = usize::try_from(keep_from.saturating_sub(self.first)).unwrap_or(usize::MAX);
        if drop > 0 && drop >= self.bytes.len() / 2 {
            self.bytes.drain(..drop.min(self.bytes.len()));
            self.first += drop as u64;
        }
    }
}

thread_local! {
    /// The calling thread fed a backlog since it last woke the readers.
    static FED: Cell<bool> = const { Cell::new(false) };
}

/// A reader fell behind the backlog: what it needs next was dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Behind;

impl Default for Backlog {
    fn default() -> Self {
        Self::new(1 << 20)
    }
}

fn lock(m: &Mutex<Ring>) -> MutexGuard<'_, Ring> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Backlog {
    /// An inactive backlog of `size` bytes at offset 0.
    pub fn new(size: usize) -> Self {
        Self {
            ring: Mutex::new(Ring {
                bytes: Vec::new(),
                first: 1,
                active: false,
                size,
                select: false,
                readers: Vec::new(),
                waiting: 0,
                next_reader: 0,
            }),
            more: Condvar::new(),
            end: AtomicU64::new(0),
        }
    }

    /// The offset of the last byte fed: `master_repl_offset`.
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Whether the backlog exists.
    pub fn is_active(&self) -> bool {
        lock(&self.ring).active
    }

    /// Creates the backlog if it does not exist; returns whether it did not.
    pub fn activate(&self) -> bool {
        let mut r = lock(&self.ring);
        let created = !r.active;
        r.active = true;
        created
    }

    /// Drops the backlog's bytes and starts the stream again at `offset` (a replica after a
    /// full sync, or after loading its data with that offset).
    pub fn reset(&self, offset: u64) {
        let mut r = lock(&self.ring);
        r.bytes.clear();
        r.first = offset + 1;
        r.active = true;
        r.readers.clear();
        self.end.store(offset, Ordering::Release);
        self.more.notify_all();
    }

    /// Sets `repl-backlog-size`.
    pub fn set_size(&self, size: usize) {
        let mut r = lock(&self.ring);
        r.size = size.max(16 * 1024);
        if !r.bytes.is_empty() {
            r.trim();
        }
    }

    /// `repl-backlog-size`.
    pub fn size(&self) -> usize {
        lock(&self.ring).size
    }

    /// The offset of the first byte held and the bytes held (INFO's
    /// `repl_backlog_first_byte_offset` and `repl_backlog_histlen`).
    pub fn held(&self) -> (u64, u64) {
        let r = lock(&self.ring);
        (r.first, r.bytes.len() as u64)
    }

    /// The next command fed is preceded by `SELECT 0`, as Redis's stream is after a full sync
    /// begins.
    pub fn select_next(&self) {
        lock(&self.ring).select = true;
    }

    /// Appends `command` in RESP (after a `SELECT 0` if one is due, unless `command` is a
    /// `PING` or `REPLCONF`, which Redis sends outside any database); returns the offset of
    /// its last byte.
    pub fn feed(&self, command: &[&[u8]]) -> u64 {
        let mut r = lock(&self.ring);
        let unkeyed = command.first().is_some_and(|c| {
            c.eq_ignore_ascii_case(b"ping") || c.eq_ignore_ascii_case(b"replconf")
        });
        if r.select && !unkeyed {
            r.select = false;
            r.bytes
                .extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");
        }
        let at = r.bytes.len();
        r.bytes.resize(at + encoded_request_len(command), 0);
        // Sized just above: it fits.
        let _ = encode_request(command, &mut r.bytes[at..]);
        self.fed(r)
    }

    /// Appends bytes that are already RESP (what a replica forwards from its master).
    pub fn feed_raw(&self, raw: &[u8]) -> u64 {
        let mut r = lock(&self.ring);
        r.bytes.extend_from_slice(raw);
        self.fed(r)
    }

    fn fed(&self, mut r: MutexGuard<'_, Ring>) -> u64 {
        let end = r.end();
        self.end.store(end, Ordering::Release);
        if r.bytes.len() >= 2 * r.size {
            r.trim();
        }
        FED.with(|f| f.set(true));
        end
    }

    /// Whether the calling thread fed since it last woke the readers.
    pub fn fed_here(&self) -> bool {
        FED.with(Cell::get)
    }

    /// Wakes the waiting readers if the calling thread fed this backlog since it last called
    /// this: call when a turn of work that may have fed ends.
    pub fn wake_if_fed(&self) {
        if FED.with(Cell::take) {
            self.wake_readers();
        }
    }

    /// Whether a replica may continue from `offset` (the next byte it wants): the backlog holds
    /// everything from there on.
    pub fn covers(&self, offset: u64) -> bool {
        let r = lock(&self.ring);
        r.active && offset >= r.first && offset <= r.end() + 1
    }

    /// A new reader that has taken everything up to `offset`; its id.
    pub fn add_reader(&self, offset: u64) -> u64 {
        let mut r = lock(&self.ring);
        r.next_reader += 1;
        let id = r.next_reader;
        r.readers.push((id, offset));
        id
    }

    /// Forgets reader `id`.
    pub fn remove_reader(&self, id: u64) {
        lock(&self.ring).readers.retain(|&(r, _)| r != id);
        self.more.notify_all();
    }

    /// Appends to `out` at most `max` bytes the reader `id` has not taken, waiting up to `wait`
    /// for some; returns the offset of the last byte it now has.
    pub fn read(
        &self,
        id: u64,
        out: &mut Vec<u8>,
        max: usize,
        wait: Duration,
    ) -> Result<u64, Behind> {
        let mut r = lock(&self.ring);
        let Some(at) = r.readers.iter().position(|&(r, _)| r == id) else {
            return Err(Behind);
        };
        if r.readers[at].1 >= r.end() && !wait.is_zero() {
            r.waiting += 1;
            r = self
                .more
                .wait_timeout(r, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            r.waiting -= 1;
        }
        let Some(at) = r.readers.iter().position(|&(r, _)| r == id) else {
            return Err(Behind);
        };
        let sent = r.readers[at].1;
        if sent + 1 < r.first {
            return Err(Behind);
        }
        let from = usize::try_from(sent + 1 - r.first).unwrap_or(usize::MAX);
        let upto = r.bytes.len().min(from.saturating_add(max));
        if from < upto {
            out.extend_from_slice(&r.bytes[from..upto]);
        }
        let now = r.first + upto as u64 - 1;
        r.readers[at].1 = now.max(sent);
        Ok(r.readers[at].1)
    }

    /// Wakes every waiting reader: there is more to read, or one is being stopped.
    pub fn wake_readers(&self) {
        let r = lock(&self.ring);
        if r.waiting > 0 {
            self.more.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &[&[u8]] = &[b"SET", b"k", b"v"];
    const SET_BYTES: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";

    #[test]
    fn offsets_count_bytes_and_select_comes_first_after_a_sync() {
        let b = Backlog::new(1 << 20);
        assert_eq!(b.end(), 0);
        b.activate();
        b.select_next();
        let id = b.add_reader(0);
        b.feed(&[b"PING"]);
        let end = b.feed(SET);
        let mut out = Vec::new();
        assert_eq!(b.read(id, &mut out, usize::MAX, Duration::ZERO), Ok(end));
        let mut expected = b"*1\r\n$4\r\nPING\r\n".to_vec();
        expected.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");
        expected.extend_from_slice(SET_BYTES);
        assert_eq!(out, expected);
        assert_eq!(end, expected.len() as u64);
        assert!(b.covers(1) && b.covers(end + 1) && !b.covers(end + 2));
    }

    #[test]
    fn a_reader_reads_in_pieces_and_waits_for_more() {
        let b = Backlog::new(1 << 20);
        b.activate();
        let id = b.add_reader(0);
        b.feed(SET);
        let mut out = Vec::new();
        assert_eq!(b.read(id, &mut out, 10, Duration::ZERO), Ok(10));
        assert_eq!(
            b.read(id, &mut out, 1000, Duration::ZERO),
            Ok(SET_BYTES.len() as u64)
        );
        assert_eq!(out, SET_BYTES);
        // Fed on this thread: woken when the thread says its turn ended.
        b.wake_if_fed();
        let t = std::time::Instant::now();
        assert_eq!(
            b.read(id, &mut out, 1000, Duration::from_millis(20)),
            Ok(SET_BYTES.len() as u64)
        );
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn the_backlog_keeps_its_size_and_what_readers_still_need() {
        let b = Backlog::new(16 * 1024);
        b.activate();
        let slow = b.add_reader(0);
        for _ in 0..10_000 {
            b.feed(SET);
        }
        let end = b.end();
        // Everything is held for the reader that has read nothing.
        assert_eq!(b.held(), (1, end));
        let mut out = Vec::new();
        b.read(slow, &mut out, usize::MAX, Duration::ZERO).unwrap();
        assert_eq!(out.len() as u64, end);
        b.remove_reader(slow);
        for _ in 0..10_000 {
            b.feed(SET);
        }
        let (first, len) = b.held();
        assert!((16 * 1024..2 * 16 * 1024).contains(&len), "{len}");
        assert_eq!(first + len - 1, b.end());
        assert!(!b.covers(1) && b.covers(b.end() - 16 * 1024));
    }

    #[test]
    fn a_reader_cut_off_learns_it_is_behind() {
        let b = Backlog::new(16 * 1024);
        b.activate();
        let id = b.add_reader(0);
        b.reset(1000);
        let mut out = Vec::new();
        assert_eq!(b.read(id, &mut out, 10, Duration::ZERO), Err(Behind));
    }
}
