//! How a master frames the RDB it sends after `+FULLRESYNC` (R70 `replication.c`
//! `readSyncBulkPayload`, `rdbSaveRioWithEOFMark`):
//!
//! - **disk-based**: `$<len>\r\n` and exactly `len` RDB bytes, with no CRLF after them;
//! - **diskless**: `$EOF:<40 characters>\r\n`, the RDB bytes, and the same 40 characters. The
//!   length is not known in advance; the mark ends the payload.
//!
//! Before the `$` line a master may send bare `\n` keepalives, and a line starting with `-`
//! means it gave up.
//!
//! [`PayloadHeader::decode`] reads the `$` line from a buffer (sans I/O); [`PayloadReader`]
//! reads the payload from a stream, as a reader that ends where the payload ends and leaves
//! what follows (the replication stream) unread; [`PayloadWriter`] writes either framing.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// The length of the mark that ends a diskless payload.
pub const EOF_MARK_LEN: usize = 40;

/// The longest `$` line accepted (`$EOF:` and a mark is 47 bytes with its CRLF).
const MAX_LINE: usize = 128;

/// The 40 characters that end a diskless payload.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EofMark([u8; EOF_MARK_LEN]);

impl EofMark {
    /// A mark of these 40 bytes.
    pub const fn new(bytes: [u8; EOF_MARK_LEN]) -> Self {
        Self(bytes)
    }

    /// A mark of 40 random hex digits, as Redis makes them, from the OS random source.
    pub fn random() -> io::Result<Self> {
        let mut bytes = [0u8; EOF_MARK_LEN];
        getrandom::fill(&mut bytes).map_err(io::Error::other)?;
        for b in &mut bytes {
            *b = b"0123456789abcdef"[usize::from(*b & 0xF)];
        }
        Ok(Self(bytes))
    }

    /// The mark's bytes.
    pub const fn as_bytes(&self) -> &[u8; EOF_MARK_LEN] {
        &self.0
    }
}

impl fmt::Debug for EofMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EofMark(\"{}\")", self.0.escape_ascii())
    }
}

/// The `$` line before the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadHeader {
    /// Disk-based: this many bytes follow.
    Length(u64),
    /// Diskless: bytes follow until this mark.
    EofMark(EofMark),
}

/// Why the payload's framing could not be read.
#[derive(Debug)]
pub enum FramingError {
    /// The master sent an error line (shown without its `-`) instead of a payload.
    Master(Vec<u8>),
    /// A line that is not `$<len>` or `$EOF:<40 characters>`.
    BadHeader(Vec<u8>),
    /// No line end within the first 128 bytes.
    LineTooLong,
    /// The stream ended before the payload did.
    Truncated,
    /// Reading failed.
    Io(io::Error),
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::Master(line) => write!(
                f,
                "master aborted replication with an error: {}",
                line.escape_ascii()
            ),
            FramingError::BadHeader(line) => write!(
                f,
                "bad payload header from master (expected $<len> or $EOF:<mark>): \"{}\"",
                line.escape_ascii()
            ),
            FramingError::LineTooLong => f.write_str("payload header line from master too long"),
            FramingError::Truncated => f.write_str("connection closed inside the RDB payload"),
            FramingError::Io(e) => write!(f, "reading the RDB payload failed: {e}"),
        }
    }
}

impl std::error::Error for FramingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FramingError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FramingError> for io::Error {
    fn from(e: FramingError) -> Self {
        match e {
            FramingError::Io(e) => e,
            FramingError::Truncated => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            e => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

/// What one line (without its `\n`, and without a `\r` before it) is.
fn parse_line(line: &[u8]) -> Result<Option<PayloadHeader>, FramingError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line {
        [] => Ok(None),
        [b'-', error @ ..] => Err(FramingError::Master(error.to_vec())),
        [b'$', b'E', b'O', b'F', b':', mark @ ..] => match <[u8; EOF_MARK_LEN]>::try_from(mark) {
            Ok(mark) => Ok(Some(PayloadHeader::EofMark(EofMark(mark)))),
            Err(_) => Err(FramingError::BadHeader(line.to_vec())),
        },
        [b'$', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .map(|len| Some(PayloadHeader::Length(len)))
                .ok_or_else(|| FramingError::BadHeader(line.to_vec()))
        }
        _ => Err(FramingError::BadHeader(line.to_vec())),
    }
}

impl PayloadHeader {
    /// Decodes the `$` line at the start of `buf`, after any keepalive newlines: the header
    /// and the bytes it took, newlines included. `Ok(None)`: the line is not complete yet (a
    /// buffer of only newlines is incomplete too; its bytes can be dropped or kept).
    pub fn decode(buf: &[u8]) -> Result<Option<(PayloadHeader, usize)>, FramingError> {
        let mut start = 0;
        loop {
            let rest = &buf[start..];
            let Some(end) = rest.iter().take(MAX_LINE).position(|&b| b == b'\n') else {
                return if rest.len() >= MAX_LINE {
                    Err(FramingError::LineTooLong)
                } else {
                    Ok(None)
                };
            };
            start += end + 1;
            if let Some(header) = parse_line(&rest[..end])? {
                return Ok(Some((header, start)));
            }
        }
    }

    /// Appends the `$` line to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PayloadHeader::Length(len) => out.extend_from_slice(format!("${len}\r\n").as_bytes()),
            PayloadHeader::EofMark(mark) => {
                out.extend_from_slice(b"$EOF:");
                out.extend_from_slice(mark.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// Where a [`PayloadReader`] is.
#[derive(Debug)]
enum Progress {
    /// Disk-based: bytes of the payload not read yet.
    Remaining(u64),
    /// Diskless: still looking for this mark.
    Searching(EofMark),
    /// The payload has been read to its end.
    Done,
}

/// A reader of the payload that follows `+FULLRESYNC`: it reads the `$` line on creation,
/// then reads the RDB bytes, and ends (reads return 0) where the payload ends, leaving
/// whatever follows in `inner`.
///
/// A diskless payload ends at the first occurrence of its mark, found however the bytes arrive
/// split. Up to 39 bytes that might begin the mark are held back until it is clear whether
/// they do. (Like Redis, this takes the 40 random characters not to occur inside the RDB.)
///
/// ```
/// use kv_std::rdb::framing::{PayloadHeader, PayloadReader};
/// use std::io::{BufRead, Read};
///
/// let stream = b"\n\n$5\r\nREDIS*1\r\n$4\r\nPING\r\n";
/// let mut payload = PayloadReader::new(&stream[..])?;
/// assert_eq!(payload.header(), PayloadHeader::Length(5));
/// let mut rdb = Vec::new();
/// payload.read_to_end(&mut rdb)?;
/// assert_eq!(rdb, b"REDIS");
/// assert_eq!(payload.into_inner().fill_buf()?, b"*1\r\n$4\r\nPING\r\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PayloadReader<R> {
    inner: R,
    header: PayloadHeader,
    progress: Progress,
    /// Bytes taken from `inner` that are the payload's, not yet returned.
    ready: Vec<u8>,
    /// How much of `ready` was returned.
    ready_pos: usize,
    /// Bytes taken from `inner` that may be the start of the mark.
    held: Vec<u8>,
}

impl<R: BufRead> PayloadReader<R> {
    /// Reads the `$` line (after any keepalive newlines) from `inner`.
    pub fn new(mut inner: R) -> Result<Self, FramingError> {
        let header = loop {
            let mut line = Vec::new();
            let n = (&mut inner)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)
                .map_err(FramingError::Io)?;
            match line.pop() {
                Some(b'\n') => {}
                _ if n == MAX_LINE => return Err(FramingError::LineTooLong),
                _ => return Err(FramingError::Truncated),
            }
            if let Some(header) = parse_line(&line)? {
                break header;
            }
        };
        let progress = match header {
            PayloadHeader::Length(len) => Progress::Remaining(len),
            PayloadHeader::EofMark(mark) => Progress::Searching(mark),
        };
        Ok(Self {
            inner,
            header,
            progress,
            ready: Vec::new(),
            ready_pos: 0,
            held: Vec::new(),
        })
    }

    /// The framing the master chose.
    pub fn header(&self) -> PayloadHeader {
        self.header
    }

    /// Whether the whole payload has been read (the mark, too, when there is one).
    pub fn is_done(&self) -> bool {
        matches!(self.progress, Progress::Done) && self.ready_pos == self.ready.len()
    }

    /// The stream, positioned after the payload if [`PayloadReader::is_done`].
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Takes the next bytes of a diskless payload from `inner` into `ready`, consuming from
    /// `inner` only up to the end of the mark.
    fn search(&mut self, mark: &[u8; EOF_MARK_LEN]) -> io::Result<()> {
        let available = self.inner.fill_buf()?;
        if available.is_empty() {
            return Err(FramingError::Truncated.into());
        }
        let mut window = std::mem::take(&mut self.held);
        let kept = window.len();
        window.extend_from_slice(available);
        self.ready.clear();
        self.ready_pos = 0;
        if let Some(at) = window.windows(EOF_MARK_LEN).position(|w| w == mark) {
            self.inner.consume(at + EOF_MARK_LEN - kept);
            window.truncate(at);
            self.ready = window;
            self.progress = Progress::Done;
            return Ok(());
        }
        let taken = window.len() - kept;
        self.inner.consume(taken);
        // The longest end of the window that could begin the mark stays held.
        let hold = (1..EOF_MARK_LEN.min(window.len() + 1))
            .rev()
            .find(|&k| window.ends_with(&mark[..k]))
            .unwrap_or(0);
        self.held = window.split_off(window.len() - hold);
        self.ready = window;
        Ok(())
    }
}

impl<R: BufRead> Read for PayloadReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.ready_pos < self.ready.len() {
                let n = buf.len().min(self.ready.len() - self.ready_pos);
                buf[..n].copy_from_slice(&self.ready[self.ready_pos..self.ready_pos + n]);
                self.ready_pos += n;
                return Ok(n);
            }
            match &mut self.progress {
                Progress::Done => return Ok(0),
                Progress::Remaining(left) => {
                    if *left == 0 {
                        self.progress = Progress::Done;
                        return Ok(0);
                    }
                    let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 && want > 0 {
                        return Err(FramingError::Truncated.into());
                    }
                    *left -= n as u64;
                    if *left == 0 {
                        self.progress = Progress::Done;
                    }
                    return Ok(n);
                }
                Progress::Searching(mark) => {
                    let mark = *mark;
                    self.search(mark.as_bytes())?;
                }
            }
        }
    }
}

/// A writer of the payload that follows `+FULLRESYNC`: it writes the `$` line on creation,
/// passes the RDB bytes through, and [`PayloadWriter::finish`] ends the payload. For a
/// disk-based payload it refuses bytes past the stated length, and `finish` refuses a payload
/// shorter than it.
#[derive(Debug)]
pub struct PayloadWriter<W: Write> {
    out: W,
    header: PayloadHeader,
    written: u64,
}

impl<W: Write> PayloadWriter<W> {
    /// Writes the `$` line for `header`.
    pub fn new(mut out: W, header: PayloadHeader) -> io::Result<Self> {
        let mut line = Vec::with_capacity(64);
        header.encode(&mut line);
        out.write_all(&line)?;
        Ok(Self {
            out,
            header,
            written: 0,
        })
    }

    /// Ends the payload (writing the mark of a diskless one), flushes, and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        match self.header {
            PayloadHeader::Length(len) if self.written != len => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "payload of {} bytes, but {len} were announced",
                        self.written
                    ),
                ));
            }
            PayloadHeader::Length(_) => {}
            PayloadHeader::EofMark(mark) => self.out.write_all(mark.as_bytes())?,
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for PayloadWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let PayloadHeader::Length(len) = self.header {
            if self.written + buf.len() as u64 > len {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("payload longer than the {len} bytes announced"),
                ));
            }
        }
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
