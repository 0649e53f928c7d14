//! The backup file format, read and written: a small pure module that import, export and the
//! server's persistence all share.
//!
//! A backup is text, one entry a line, so a person can read and edit one:
//!
//! ```text
//! version:1
//! instance:1
//! ---
//! user1,John Doe
//! a\,b,c, d\nsecond line
//! #pxat 1767225600000 session:42,token
//! #end entries=3 crc32c=<8 hex digits>
//! ```
//!
//! - The header is `version:1`, `instance:<n>` and `---`. A file without it (plain `key,value`
//!   lines, the seed's format) loads too.
//! - An entry is `key,value`: the first unescaped comma splits, so values may hold raw commas.
//! - Escapes keep every byte sequence on one line and make it round-trip: `\\` for a backslash,
//!   `\,` for a comma in a key, `\n` and `\r` for newline and carriage return, and `\xHH` for
//!   other control bytes, bytes that are not UTF-8, and a `#` that would begin a key (lines
//!   beginning with `#` are the trailer's). Everything else, non-ASCII text included, is written
//!   as it is.
//! - An entry whose key expires begins with `#pxat <ms> `: the deadline in Unix milliseconds,
//!   as Redis's `PXAT` takes it, then a space and the entry as above. An entry without it never
//!   expires, so a file whose keys have no deadlines is written exactly as before. (A key cannot
//!   begin with an unescaped `#`, so the marker is never part of one; a reader that predates it
//!   refuses such a file as it would a bad trailer, rather than load the keys without their
//!   deadlines.)
//! - The trailer `#end entries=<n> crc32c=<hex8>` holds the number of entry lines and the CRC32C
//!   of every byte before it, so truncation and corruption are detected. [`BackupWriter`] always
//!   writes it; [`BackupReader`] checks it when present and accepts files without one.
//!
//! # Example
//! ```
//! use kv_std::backup_format::{write_backup, BackupReader, Trailer};
//!
//! let mut file = Vec::new();
//! write_backup(&mut file, 1, [(&b"user1"[..], &b"John Doe"[..]), (b"k,1", b"a\nb")])?;
//! let mut reader = BackupReader::new(&file[..]);
//! let entries: Vec<_> = reader.by_ref().map(|(_, entry)| entry.unwrap()).collect();
//! assert_eq!(entries[1], (b"k,1".to_vec(), b"a\nb".to_vec()));
//! assert!(matches!(reader.trailer(), Some(Trailer::Verified { entries: 2 })));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io::{self, BufRead, Write};
use std::ops::Range;

/// The first header line.
pub const VERSION_LINE: &str = "version:1";
/// The line that ends the header.
pub const HEADER_END: &str = "---";
/// How the trailer line begins.
pub const TRAILER_PREFIX: &str = "#end ";
/// How an entry line with a deadline begins; the deadline and a space follow.
pub const DEADLINE_PREFIX: &str = "#pxat ";
/// The longest trailer line: `#end entries=<20 digits> crc32c=<8 hex digits>`.
const TRAILER_MAX: usize = 64;

/// A running CRC32C (Castagnoli), over the `crc32c` crate, which uses the CPU's CRC32
/// instruction where there is one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Crc32c(u32);

impl Crc32c {
    /// The CRC of no bytes.
    pub const fn new() -> Self {
        Self(0)
    }

    /// Adds `bytes` to the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0 = crc32c::crc32c_append(self.0, bytes);
    }

    /// The checksum of everything added so far.
    pub const fn value(&self) -> u32 {
        self.0
    }
}

/// The CRC32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = Crc32c::new();
    crc.update(bytes);
    crc.value()
}

/// Appends `key`, escaped for the key field, to `out`.
pub fn escape_key(key: &[u8], out: &mut Vec<u8>) {
    escape(key, Field::Key, true, out);
}

/// Appends `value`, escaped for the value field, to `out`.
pub fn escape_value(value: &[u8], out: &mut Vec<u8>) {
    escape(value, Field::Value, true, out);
}

/// Which side of the comma a field is on: a key also escapes commas and a leading `#`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Key,
    Value,
}

/// Appends `bytes`, a piece of a field (`at_start` if it is the field's first), escaped. A field
/// cut where [`complete_prefix`] says escapes to the same bytes piece by piece as whole.
fn escape(bytes: &[u8], field: Field, at_start: bool, out: &mut Vec<u8>) {
    let is_key = field == Field::Key;
    let hex = |b: u8, out: &mut Vec<u8>| {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(&[
            b'\\',
            b'x',
            DIGITS[usize::from(b >> 4)],
            DIGITS[usize::from(b & 0xF)],
        ]);
    };
    let mut first = at_start;
    for chunk in bytes.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b',' if is_key => out.extend_from_slice(b"\\,"),
                b'#' if is_key && first => hex(b, out),
                0..=0x1F | 0x7F => hex(b, out),
                _ => out.push(b),
            }
            first = false;
        }
        for &b in chunk.invalid() {
            hex(b, out);
            first = false;
        }
    }
}

/// How much of `bytes`, a piece of a field that more bytes may follow, can be escaped now: all
/// of it but a trailing UTF-8 sequence the next bytes could still complete (at most 3 bytes).
///
/// Escaping writes valid UTF-8 as it is and other bytes as `\xHH`, so a character cut in two
/// must wait for its other half. A UTF-8 sequence is a lead byte and at most three continuation
/// bytes (`0b10xxxxxx`); any byte that is not a continuation byte begins a new one, so the pieces
/// on either side of such a byte escape exactly as the whole would. `bytes` must itself begin a
/// sequence (the start of a field, or of what the last call held back).
fn complete_prefix(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for p in (n.saturating_sub(3)..n).rev() {
        let b = bytes[p];
        if b & 0xC0 != 0x80 {
            // A lead byte may begin a sequence that runs on; an ASCII byte is whole by itself,
            // and continuation bytes after it are stray ones, each escaped alone.
            return if b >= 0xC0 { p } else { n };
        }
    }
    // Three continuation bytes end any sequence begun before them (or are stray ones).
    n
}

/// Why one line is not an entry. Only [`LineError::is_fatal`] errors end the file.
#[derive(Debug)]
pub enum LineError {
    /// No unescaped comma separates key and value.
    NoComma,
    /// A backslash not followed by `\`, `,`, `n`, `r` or `xHH`.
    BadEscape {
        /// The byte offset of the backslash in the line.
        column: usize,
    },
    /// A `#pxat ` marker not followed by a number of milliseconds and a space.
    BadDeadline,
    /// The first line says `version:` with a version this reader does not know.
    UnsupportedVersion(String),
    /// The header is not `version:1`, `instance:<n>`, `---`.
    BadHeader {
        /// What the header line should have been.
        expected: &'static str,
    },
    /// A line beginning with `#` that is not a well-formed trailer.
    BadTrailer,
    /// The trailer's entry count differs from the entry lines read.
    CountMismatch {
        /// The trailer's count.
        trailer: u64,
        /// Entry lines read.
        read: u64,
    },
    /// The trailer's CRC differs from the bytes read: the file is corrupt.
    CrcMismatch {
        /// The trailer's CRC.
        trailer: u32,
        /// The CRC of the bytes read.
        computed: u32,
    },
    /// Bytes follow the trailer.
    AfterTrailer,
    /// Reading failed.
    Io(io::Error),
}

impl LineError {
    /// Whether the rest of the file cannot be trusted (or read): the reader stops after it.
    /// The others concern one entry line, which a loader skips.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            LineError::NoComma | LineError::BadEscape { .. } | LineError::BadDeadline
        )
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NoComma => f.write_str("no comma between key and value"),
            LineError::BadEscape { column } => write!(
                f,
                "bad escape at column {} (expected \\\\, \\, \\n, \\r or \\xHH)",
                column + 1
            ),
            LineError::BadDeadline => {
                f.write_str("bad deadline (expected #pxat <milliseconds> before the entry)")
            }
            LineError::UnsupportedVersion(v) => write!(f, "unsupported backup version {v:?}"),
            LineError::BadHeader { expected } => write!(f, "bad header: expected {expected}"),
            LineError::BadTrailer => f.write_str(
                "malformed trailer (expected #end entries=<n> crc32c=<hex8>): truncated or corrupt",
            ),
            LineError::CountMismatch { trailer, read } => write!(
                f,
                "trailer counts {trailer} entries but {read} were read: the file is corrupt"
            ),
            LineError::CrcMismatch { trailer, computed } => write!(
                f,
                "checksum mismatch (trailer {trailer:08x}, file {computed:08x}): the file is corrupt"
            ),
            LineError::AfterTrailer => f.write_str("data after the trailer"),
            LineError::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LineError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// What the end of a file said, once a [`BackupReader`] has read it all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trailer {
    /// The trailer was present and matched the entry count and the checksum.
    Verified {
        /// Entry lines in the file.
        entries: u64,
    },
    /// There was no trailer (a seed or hand-written file): nothing could be checked.
    Absent {
        /// Whether the file began with the `version:1` header.
        had_header: bool,
    },
}

/// Where the reader stands in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first line: a header or a first entry may come.
    Start,
    /// After `version:1`, expecting `instance:<n>`.
    Instance,
    /// After `instance:<n>`, expecting `---`.
    HeaderEnd,
    /// Reading entries.
    Entries,
    /// After a valid trailer; nothing more may come.
    Trailer,
    /// After the end of the input or a fatal error.
    Done,
}

/// A streaming parser over a backup, one line at a time.
///
/// [`BackupReader::next_entry`] lends each entry from the one buffer the reader reuses, for
/// loading millions of lines without an allocation each; the [`Iterator`] implementation copies
/// them. A line is unescaped where it was read, so an entry costs one buffer of its line's
/// length, however large its value. Line numbers count from 1 and include the header.
pub struct BackupReader<R> {
    input: R,
    line: Vec<u8>,
    /// Bytes read from `input` so far.
    position: u64,
    line_number: u64,
    crc: Crc32c,
    entries: u64,
    had_header: bool,
    state: State,
    verified: Option<u64>,
    failed: bool,
    instance: Option<u64>,
}

impl<R: BufRead> BackupReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        Self {
            input,
            line: Vec::new(),
            position: 0,
            line_number: 0,
            crc: Crc32c::new(),
            entries: 0,
            had_header: false,
            state: State::Start,
            verified: None,
            failed: false,
            instance: None,
        }
    }

    /// The next entry line: its number and its `(key, value)` or why it is not one. `None` at the
    /// end of the input and after a fatal error.
    #[allow(clippy::type_complexity)]
    pub fn next_entry(&mut self) -> Option<(u64, Result<(&[u8], &[u8]), LineError>)> {
        let (number, entry) = self.next_expiring_entry()?;
        Some((number, entry.map(|(_, key, value)| (key, value))))
    }

    /// [`BackupReader::next_entry`] with the entry's deadline (Unix milliseconds), `None` if it
    /// has none.
    #[allow(clippy::type_complexity)]
    pub fn next_expiring_entry(
        &mut self,
    ) -> Option<(u64, Result<(Option<u64>, &[u8], &[u8]), LineError>)> {
        loop {
            if self.state == State::Done {
                return None;
            }
            self.line.clear();
            let n = match self.input.read_until(b'\n', &mut self.line) {
                Ok(n) => n,
                Err(e) => {
                    self.state = State::Done;
                    self.failed = true;
                    return Some((self.line_number + 1, Err(LineError::Io(e))));
                }
            };
            if n == 0 {
                self.state = State::Done;
                return None;
            }
            self.position += n as u64;
            self.line_number += 1;
            let number = self.line_number;
            let crc_before = self.crc.value();
            self.crc.update(&self.line);
            let mut text = &self.line[..];
            text = text.strip_suffix(b"\n").unwrap_or(text);
            text = text.strip_suffix(b"\r").unwrap_or(text);
            let fail = |this: &mut Self, e: LineError| {
                this.state = State::Done;
                this.failed = true;
                Some((number, Err(e)))
            };
            match self.state {
                State::Start if text.starts_with(b"version:") => {
                    if text != VERSION_LINE.as_bytes() {
                        let v = String::from_utf8_lossy(&text[8..]).into_owned();
                        return fail(self, LineError::UnsupportedVersion(v));
                    }
                    self.had_header = true;
                    self.state = State::Instance;
                    continue;
                }
                State::Instance => {
                    let instance = text
                        .strip_prefix(b"instance:")
                        .and_then(|n| std::str::from_utf8(n).ok())
                        .and_then(|n| n.parse::<u64>().ok());
                    if instance.is_none() {
                        let expected = "instance:<n>";
                        return fail(self, LineError::BadHeader { expected });
                    }
                    self.instance = instance;
                    self.state = State::HeaderEnd;
                    continue;
                }
                State::HeaderEnd => {
                    if text != HEADER_END.as_bytes() {
                        let expected = HEADER_END;
                        return fail(self, LineError::BadHeader { expected });
                    }
                    self.state = State::Entries;
                    continue;
                }
                State::Trailer => return fail(self, LineError::AfterTrailer),
                State::Start | State::Entries | State::Done => {}
            }
            self.state = State::Entries;
            let mut deadline = None;
            let mut start = 0;
            if let Some(rest) = text.strip_prefix(DEADLINE_PREFIX.as_bytes()) {
                self.entries += 1;
                let parsed = rest
                    .iter()
                    .position(|&b| b == b' ')
                    .and_then(|end| Some((std::str::from_utf8(&rest[..end]).ok()?, end)))
                    .and_then(|(ms, end)| Some((ms.parse::<u64>().ok()?, end)));
                let Some((ms, end)) = parsed else {
                    return Some((number, Err(LineError::BadDeadline)));
                };
                deadline = Some(ms);
                start = DEADLINE_PREFIX.len() + end + 1;
            } else if text.first() == Some(&b'#') {
                let Some((entries, crc)) = parse_trailer(text) else {
                    return fail(self, LineError::BadTrailer);
                };
                if !self.line.ends_with(b"\n") {
                    return fail(self, LineError::BadTrailer);
                }
                if crc != crc_before {
                    let e = LineError::CrcMismatch {
                        trailer: crc,
                        computed: crc_before,
                    };
                    return fail(self, e);
                }
                if entries != self.entries {
                    let e = LineError::CountMismatch {
                        trailer: entries,
                        read: self.entries,
                    };
                    return fail(self, e);
                }
                self.verified = Some(entries);
                self.state = State::Trailer;
                continue;
            }
            if text.is_empty() {
                continue;
            }
            if start == 0 {
                self.entries += 1;
            }
            let text_len = text.len();
            let result = split_entry(&mut self.line[start..text_len]).map(|(key, value)| {
                let at = |r: Range<usize>| start + r.start..start + r.end;
                (deadline, &self.line[at(key)], &self.line[at(value)])
            });
            return Some((number, result));
        }
    }

    /// The input, as far as it has not been read (for `&[u8]`, the bytes still to come).
    pub fn get_ref(&self) -> &R {
        &self.input
    }

    /// Bytes read from the input so far: the end of the last line returned.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The header's `instance:` number (a snapshot's generation), once the header is read; `None`
    /// for a file without a header.
    pub fn instance(&self) -> Option<u64> {
        self.instance
    }

    /// After the whole input was read without a fatal error: whether a trailer vouched for it.
    /// `None` while reading, and after a fatal error.
    pub fn trailer(&self) -> Option<Trailer> {
        if self.state != State::Done || self.failed {
            return None;
        }
        Some(match self.verified {
            Some(entries) => Trailer::Verified { entries },
            None => Trailer::Absent {
                had_header: self.had_header,
            },
        })
    }
}

impl<R: BufRead> Iterator for BackupReader<R> {
    type Item = (u64, Result<(Vec<u8>, Vec<u8>), LineError>);

    fn next(&mut self) -> Option<Self::Item> {
        let (n, r) = self.next_entry()?;
        Some((n, r.map(|(k, v)| (k.to_vec(), v.to_vec()))))
    }
}

/// Checks the trailer of a whole backup held in memory, before any of it is applied: `Ok(None)`
/// if the last line is not a trailer, `Ok(Some(entries))` if it is and the checksum of every byte
/// before it matches. The entry count is checked when the lines are read.
pub fn check_trailer(data: &[u8]) -> Result<Option<u64>, LineError> {
    let mut check = TrailerCheck::new();
    check.update(data);
    check.finish()
}

/// [`check_trailer`] over a file read in pieces, so a large backup can be checked before it is
/// applied without holding it in memory: pass every byte, in order, to [`TrailerCheck::update`],
/// then ask [`TrailerCheck::finish`]. It keeps the checksum and the first bytes of lines that
/// begin with `#`, nothing else.
#[derive(Debug, Default)]
pub struct TrailerCheck {
    /// The checksum of every byte so far.
    crc: Crc32c,
    /// The line being read.
    line: TrailerLine,
    /// The last line read whole (up to its newline).
    last: Option<TrailerLine>,
}

/// A line as [`TrailerCheck`] sees it.
#[derive(Debug, Default)]
struct TrailerLine {
    /// The checksum of every byte before the line.
    crc_before: u32,
    /// The line's first byte, once it has one.
    first: Option<u8>,
    /// The line without its newline, kept only when it begins with `#`.
    text: Vec<u8>,
}

impl TrailerCheck {
    /// A check that has seen no byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next bytes of the file.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let part = &bytes[..newline.unwrap_or(bytes.len())];
            if self.line.first.is_none() {
                self.line.first = part.first().copied();
            }
            if self.line.first == Some(b'#') {
                // Enough to tell a trailer (never longer) from an entry with a deadline.
                let room = (TRAILER_MAX + 1).saturating_sub(self.line.text.len());
                self.line
                    .text
                    .extend_from_slice(&part[..part.len().min(room)]);
            }
            self.crc.update(part);
            let Some(at) = newline else {
                return;
            };
            self.crc.update(b"\n");
            let next = TrailerLine {
                crc_before: self.crc.value(),
                ..TrailerLine::default()
            };
            self.last = Some(std::mem::replace(&mut self.line, next));
            bytes = &bytes[at + 1..];
        }
    }

    /// The verdict on the whole file, as [`check_trailer`] gives it.
    pub fn finish(self) -> Result<Option<u64>, LineError> {
        let last = match (self.line.first, self.last) {
            // The file does not end with a newline: its last line cannot be a trailer.
            (Some(b'#'), _) => return Err(LineError::BadTrailer),
            (Some(_), _) | (None, None) => return Ok(None),
            (None, Some(last)) => last,
        };
        if last.first != Some(b'#') || last.text.starts_with(DEADLINE_PREFIX.as_bytes()) {
            return Ok(None);
        }
        let Some((entries, crc)) = parse_trailer(&last.text) else {
            return Err(LineError::BadTrailer);
        };
        if crc != last.crc_before {
            return Err(LineError::CrcMismatch {
                trailer: crc,
                computed: last.crc_before,
            });
        }
        Ok(Some(entries))
    }
}

/// `#end entries=<n> crc32c=<hex8>`, parsed.
fn parse_trailer(line: &[u8]) -> Option<(u64, u32)> {
    let rest = std::str::from_utf8(line)
        .ok()?
        .strip_prefix(TRAILER_PREFIX)?;
    let (entries, crc) = rest.split_once(' ')?;
    let entries = entries.strip_prefix("entries=")?.parse().ok()?;
    let crc = crc.strip_prefix("crc32c=")?;
    if crc.len() != 8 {
        return None;
    }
    Some((entries, u32::from_str_radix(crc, 16).ok()?))
}

/// Splits an entry line at its first unescaped comma and unescapes both sides where they lie:
/// the ranges of `line` that then hold the key and the value.
fn split_entry(line: &mut [u8]) -> Result<(Range<usize>, Range<usize>), LineError> {
    let mut i = 0;
    let comma = loop {
        match line.get(i) {
            None => return Err(LineError::NoComma),
            Some(b',') => break i,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
        }
    };
    let key_len = unescape_in_place(&mut line[..comma], 0)?;
    let value_len = unescape_in_place(&mut line[comma + 1..], comma + 1)?;
    Ok((0..key_len, comma + 1..comma + 1 + value_len))
}

/// Unescapes `field` (which starts at `offset` in its line) into its own first bytes and returns
/// how many it took. An escape is never shorter than the byte it stands for, so the bytes written
/// never overtake the bytes still to read.
fn unescape_in_place(field: &mut [u8], offset: usize) -> Result<usize, LineError> {
    let (mut read, mut written) = (0, 0);
    while read < field.len() {
        let Some(at) = field[read..].iter().position(|&b| b == b'\\') else {
            if written < read {
                field.copy_within(read.., written);
            }
            written += field.len() - read;
            break;
        };
        if written < read {
            field.copy_within(read..read + at, written);
        }
        written += at;
        read += at;
        let (byte, len) = match field.get(read + 1) {
            Some(b'\\') => (b'\\', 2),
            Some(b',') => (b',', 2),
            Some(b'n') => (b'\n', 2),
            Some(b'r') => (b'\r', 2),
            Some(b'x') => match field.get(read + 2..read + 4).and_then(hex_byte) {
                Some(b) => (b, 4),
                None => {
                    return Err(LineError::BadEscape {
                        column: offset + read,
                    })
                }
            },
            _ => {
                return Err(LineError::BadEscape {
                    column: offset + read,
                })
            }
        };
        field[written] = byte;
        written += 1;
        read += len;
    }
    Ok(written)
}

/// The byte two hex digits spell.
fn hex_byte(digits: &[u8]) -> Option<u8> {
    let digit = |d: u8| char::from(d).to_digit(16);
    Some((digit(digits[0])? * 16 + digit(digits[1])?) as u8)
}

/// The most of a field escaped (and read from the table) at a time: a large value is written a
/// piece of this size at a time, never escaped whole.
const PIECE: usize = 64 * 1024;

/// Writes a backup one entry at a time, checksumming as it goes; [`BackupWriter::finish`] writes
/// the trailer.
///
/// An entry is escaped and written 64 KiB at a time, so writing a large value takes no
/// escaped copy of it, and [`BackupWriter::entry_from`] does not even need the value in memory.
pub struct BackupWriter<W: Write> {
    out: W,
    crc: Crc32c,
    entries: u64,
    /// Escaped bytes not yet written.
    line: Vec<u8>,
    /// A piece of a value read by [`BackupWriter::entry_from`].
    piece: Vec<u8>,
}

impl<W: Write> BackupWriter<W> {
    /// Writes the header for `instance` to `out`.
    pub fn new(out: W, instance: u64) -> io::Result<Self> {
        let mut w = Self {
            out,
            crc: Crc32c::new(),
            entries: 0,
            line: Vec::with_capacity(128),
            piece: Vec::new(),
        };
        let header = format!("{VERSION_LINE}\ninstance:{instance}\n{HEADER_END}\n");
        w.line.extend_from_slice(header.as_bytes());
        w.flush_line()?;
        Ok(w)
    }

    /// Writes one entry line.
    pub fn entry(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.expiring_entry(None, key, value)
    }

    /// Writes one entry line, with `deadline` (Unix milliseconds) if it has one.
    pub fn expiring_entry(
        &mut self,
        deadline: Option<u64>,
        key: &[u8],
        value: &[u8],
    ) -> io::Result<()> {
        self.deadline(deadline);
        self.field(Field::Key, key)?;
        self.line.push(b',');
        self.field(Field::Value, value)?;
        self.end_entry()
    }

    /// Writes one entry line whose `value_len`-byte value is read a piece at a time by
    /// `read(from, buf)`, which copies value bytes from offset `from` into `buf` and returns how
    /// many ([`kv_nostd::Entry::read_value`] does exactly that). At most 64 KiB of the value is
    /// held at a time, read or escaped.
    ///
    /// A value that ends before `value_len` bytes is an error (`UnexpectedEof`); the line is left
    /// unfinished, so the file must be abandoned.
    pub fn entry_from(
        &mut self,
        key: &[u8],
        value_len: usize,
        read: impl FnMut(usize, &mut [u8]) -> usize,
    ) -> io::Result<()> {
        self.expiring_entry_from(None, key, value_len, read)
    }

    /// [`BackupWriter::entry_from`] with `deadline` (Unix milliseconds) if the entry has one.
    pub fn expiring_entry_from(
        &mut self,
        deadline: Option<u64>,
        key: &[u8],
        value_len: usize,
        mut read: impl FnMut(usize, &mut [u8]) -> usize,
    ) -> io::Result<()> {
        self.deadline(deadline);
        self.field(Field::Key, key)?;
        self.line.push(b',');
        let mut piece = std::mem::take(&mut self.piece);
        // Room for a piece and the up to 3 bytes of a character held back from the last one.
        piece.resize(PIECE + 3, 0);
        let (mut from, mut held) = (0, 0);
        let result = loop {
            if from == value_len {
                escape(&piece[..held], Field::Value, from == held, &mut self.line);
                break Ok(());
            }
            let want = (value_len - from).min(PIECE);
            let n = read(from, &mut piece[held..held + want]);
            if n == 0 {
                break Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("value ended after {from} of its {value_len} bytes"),
                ));
            }
            let at_start = from == 0;
            from += n;
            let have = held + n;
            let ready = if from == value_len {
                have
            } else {
                complete_prefix(&piece[..have])
            };
            escape(&piece[..ready], Field::Value, at_start, &mut self.line);
            piece.copy_within(ready..have, 0);
            held = have - ready;
            if let Err(e) = self.flush_line() {
                break Err(e);
            }
        };
        self.piece = piece;
        result?;
        self.end_entry()
    }

    /// Begins an entry line with its deadline's marker, if it has one.
    fn deadline(&mut self, deadline: Option<u64>) {
        if let Some(ms) = deadline {
            self.line.extend_from_slice(DEADLINE_PREFIX.as_bytes());
            self.line.extend_from_slice(ms.to_string().as_bytes());
            self.line.push(b' ');
        }
    }

    /// Escapes `bytes` into the line a piece at a time, writing each piece out.
    fn field(&mut self, field: Field, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        let mut at_start = true;
        while rest.len() > PIECE {
            let n = complete_prefix(&rest[..PIECE]);
            escape(&rest[..n], field, at_start, &mut self.line);
            self.flush_line()?;
            rest = &rest[n..];
            at_start = false;
        }
        escape(rest, field, at_start, &mut self.line);
        Ok(())
    }

    fn end_entry(&mut self) -> io::Result<()> {
        self.line.push(b'\n');
        self.entries += 1;
        self.flush_line()
    }

    fn flush_line(&mut self) -> io::Result<()> {
        self.crc.update(&self.line);
        let r = self.out.write_all(&self.line);
        self.line.clear();
        r
    }

    /// Entry lines written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes the trailer, flushes, and returns the output and the number of entries.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let trailer = format!(
            "{TRAILER_PREFIX}entries={} crc32c={:08x}\n",
            self.entries,
            self.crc.value()
        );
        self.out.write_all(trailer.as_bytes())?;
        self.out.flush()?;
        Ok((self.out, self.entries))
    }
}

/// Writes a whole backup of `entries` for `instance` to `out`, trailer included; returns the
/// number of entries.
pub fn write_backup<W, I, K, V>(out: W, instance: u64, entries: I) -> io::Result<u64>
where
    W: Write,
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut w = BackupWriter::new(out, instance)?;
    for (k, v) in entries {
        w.entry(k.as_ref(), v.as_ref())?;
    }
    Ok(w.finish()?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Lines = Vec<(u64, Result<(Vec<u8>, Vec<u8>), String>)>;

    fn read_all(bytes: &[u8]) -> (Lines, Option<Trailer>) {
        let mut r = BackupReader::new(bytes);
        let lines = r
            .by_ref()
            .map(|(n, e)| (n, e.map_err(|e| e.to_string())))
            .collect();
        (lines, r.trailer())
    }

    #[test]
    fn deadlines_round_trip_and_leave_other_lines_as_they_were() {
        let mut file = Vec::new();
        let mut w = BackupWriter::new(&mut file, 7).unwrap();
        w.entry(b"plain", b"v").unwrap();
        w.expiring_entry(Some(1_767_225_600_000), b"session,42", b"a b\n")
            .unwrap();
        let value = b"x".repeat(3 * PIECE);
        w.expiring_entry_from(Some(5), b"big", value.len(), |from, buf| {
            let n = buf.len().min(value.len() - from);
            buf[..n].copy_from_slice(&value[from..from + n]);
            n
        })
        .unwrap();
        w.finish().unwrap();
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains("\nplain,v\n#pxat 1767225600000 session\\,42,a b\\n\n"));
        let mut r = BackupReader::new(&file[..]);
        let mut seen = Vec::new();
        while let Some((_, entry)) = r.next_expiring_entry() {
            let (deadline, k, v) = entry.unwrap();
            seen.push(k.to_vec());
            match k {
                b"plain" => assert_eq!(deadline, None),
                b"session,42" => {
                    assert_eq!((deadline, v), (Some(1_767_225_600_000), &b"a b\n"[..]))
                }
                _ => assert_eq!((deadline, v.len()), (Some(5), value.len())),
            }
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(r.trailer(), Some(Trailer::Verified { entries: 3 }));
        assert_eq!(check_trailer(&file).unwrap(), Some(3));
        // Without its trailer, a file ending in an entry with a deadline is a file without one.
        let cut = file.len() - text.lines().last().unwrap().len() - 1;
        assert_eq!(check_trailer(&file[..cut]).unwrap(), None);
    }

    #[test]
    fn a_bad_deadline_is_a_bad_line() {
        let (lines, trailer) = read_all(b"#pxat soon k,v\n#pxat 12k,v\n#pxat 3 k,v\n");
        assert_eq!(lines.len(), 3);
        assert!(lines[0].1.as_ref().unwrap_err().contains("bad deadline"));
        assert!(lines[1].1.is_err());
        assert_eq!(
            lines[2].1.as_ref().unwrap(),
            &(b"k".to_vec(), b"v".to_vec())
        );
        assert_eq!(trailer, Some(Trailer::Absent { had_header: false }));
        let mut r = BackupReader::new(&b"k,v\n"[..]);
        let (_, entry) = r.next_expiring_entry().unwrap();
        assert_eq!(entry.unwrap(), (None, &b"k"[..], &b"v"[..]));
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut split = Crc32c::new();
        split.update(&data[..13]);
        split.update(&data[13..]);
        assert_eq!(split.value(), crc32c(&data));
    }

    #[test]
    fn writes_the_documented_bytes() {
        let mut out = Vec::new();
        let n = write_backup(
            &mut out,
            1,
            [
                (&b"user1"[..], &b"John Doe"[..]),
                (b"a,b\\", b"x,y\nz\r"),
                (b"#k\x00", b"\xff\xc3\xa9\x7f\t"),
            ],
        )
        .unwrap();
        assert_eq!(n, 3);
        let body = "version:1\ninstance:1\n---\nuser1,John Doe\na\\,b\\\\,x,y\\nz\\r\n\
                    \\x23k\\x00,\\xffé\\x7f\\x09\n";
        let crc = crc32c(body.as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{body}#end entries=3 crc32c={crc:08x}\n")
        );
    }

    #[test]
    fn seed_files_and_plain_lines_load() {
        let (lines, trailer) = read_all(b"version:1\ninstance:1\n---\nuser1,John Doe\n");
        assert_eq!(
            lines,
            vec![(4, Ok((b"user1".to_vec(), b"John Doe".to_vec())))]
        );
        assert_eq!(trailer, Some(Trailer::Absent { had_header: true }));
        let (lines, trailer) = read_all(b"a,1,2\r\n\nb,\n");
        assert_eq!(
            lines,
            vec![
                (1, Ok((b"a".to_vec(), b"1,2".to_vec()))),
                (3, Ok((b"b".to_vec(), b"".to_vec())))
            ]
        );
        assert_eq!(trailer, Some(Trailer::Absent { had_header: false }));
    }

    #[test]
    fn bad_lines_are_reported_and_reading_goes_on() {
        let (lines, trailer) = read_all(b"ok,1\nnocomma\nbad\\q,1\nv,\\x4\nlast,2");
        let errors: Vec<_> = lines
            .iter()
            .map(|(n, e)| (*n, e.as_ref().err().cloned()))
            .collect();
        assert_eq!(
            errors,
            vec![
                (1, None),
                (2, Some("no comma between key and value".into())),
                (
                    3,
                    Some("bad escape at column 4 (expected \\\\, \\, \\n, \\r or \\xHH)".into())
                ),
                (
                    4,
                    Some("bad escape at column 3 (expected \\\\, \\, \\n, \\r or \\xHH)".into())
                ),
                (5, None),
            ]
        );
        assert_eq!(trailer, Some(Trailer::Absent { had_header: false }));
    }

    #[test]
    fn truncation_and_corruption_are_detected() {
        let mut file = Vec::new();
        write_backup(&mut file, 7, [(b"k1", b"v1"), (b"k2", b"v2")]).unwrap();
        let (lines, trailer) = read_all(&file);
        assert_eq!(lines.len(), 2);
        assert_eq!(trailer, Some(Trailer::Verified { entries: 2 }));

        // Cut inside the trailer: a malformed trailer.
        let (lines, trailer) = read_all(&file[..file.len() - 4]);
        assert_eq!(
            lines.last().unwrap().1.as_ref().unwrap_err(),
            &LineError::BadTrailer.to_string()
        );
        assert_eq!(trailer, None);

        // A flipped byte in an entry: the checksum disagrees.
        let mut bad = file.clone();
        bad[26] ^= 1;
        let (lines, trailer) = read_all(&bad);
        assert!(lines
            .last()
            .unwrap()
            .1
            .as_ref()
            .unwrap_err()
            .contains("checksum mismatch"));
        assert_eq!(trailer, None);

        assert_eq!(check_trailer(&file).unwrap(), Some(2));
        assert!(matches!(
            check_trailer(&bad),
            Err(LineError::CrcMismatch { .. })
        ));
        assert!(matches!(
            check_trailer(&file[..file.len() - 4]),
            Err(LineError::BadTrailer)
        ));
        assert_eq!(check_trailer(b"a,b\n").unwrap(), None);

        // A line dropped: the count disagrees (and so does the checksum, checked first).
        let text = String::from_utf8(file.clone())
            .unwrap()
            .replace("k1,v1\n", "");
        let (lines, _) = read_all(text.as_bytes());
        assert!(lines
            .last()
            .unwrap()
            .1
            .as_ref()
            .unwrap_err()
            .contains("corrupt"));

        // Data after the trailer.
        let mut more = file.clone();
        more.extend_from_slice(b"k3,v3\n");
        let (lines, trailer) = read_all(&more);
        assert_eq!(
            lines.last().unwrap().1.as_ref().unwrap_err(),
            "data after the trailer"
        );
        assert_eq!(trailer, None);
    }

    #[test]
    fn bad_headers_are_fatal() {
        let (lines, trailer) = read_all(b"version:2\ninstance:1\n---\n");
        assert_eq!(
            lines[0].1.as_ref().unwrap_err(),
            "unsupported backup version \"2\""
        );
        assert_eq!(trailer, None);
        let (lines, _) = read_all(b"version:1\ninstance:x\n---\n");
        assert_eq!((lines[0].0, lines.len()), (2, 1));
    }

    /// Several MiB holding every byte value many times over, the escape and separator bytes,
    /// newlines, `#`, and valid UTF-8 characters of every length placed across every piece
    /// boundary.
    fn large_value() -> Vec<u8> {
        let mut value = Vec::with_capacity(5 << 20);
        let mut i = 0u32;
        while value.len() < (5 << 20) - 64 {
            value.extend_from_slice(&[(i % 256) as u8]);
            if i.is_multiple_of(7) {
                value.extend_from_slice("é✓😀,\\\n\r#".as_bytes());
            }
            i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345) >> 1;
        }
        // Whole characters straddling the first piece boundaries, at each offset.
        for (k, c) in ["é", "✓", "😀"].iter().enumerate() {
            let at = PIECE * (k + 1) - 1;
            value[at..at + c.len()].copy_from_slice(c.as_bytes());
        }
        for b in 0..=255u8 {
            value.push(b);
        }
        value
    }

    #[test]
    fn a_large_value_escapes_piece_by_piece_as_it_would_whole() {
        let value = large_value();
        let mut key = vec![b'#'; 3];
        key.extend_from_slice(&value[..PIECE + 10]);
        let mut whole = Vec::new();
        escape_key(&key, &mut whole);
        whole.push(b',');
        escape_value(&value, &mut whole);
        whole.push(b'\n');

        let mut from_slice = Vec::new();
        let mut w = BackupWriter::new(&mut from_slice, 1).unwrap();
        w.entry(&key, &value).unwrap();
        w.finish().unwrap();

        // Read as the snapshot reads the table, in short and odd-sized reads.
        let mut from_reads = Vec::new();
        let mut w = BackupWriter::new(&mut from_reads, 1).unwrap();
        let mut reads = 0;
        w.entry_from(&key, value.len(), |from, buf| {
            reads += 1;
            let n = buf
                .len()
                .min(value.len() - from)
                .min(1 + reads * 977 % 70_000);
            buf[..n].copy_from_slice(&value[from..from + n]);
            n
        })
        .unwrap();
        w.finish().unwrap();

        let header = b"version:1\ninstance:1\n---\n".len();
        assert_eq!(&from_slice[header..header + whole.len()], &whole[..]);
        assert_eq!(from_reads, from_slice);

        let mut reader = BackupReader::new(io::BufReader::new(&from_reads[..]));
        let (number, entry) = reader.next_entry().unwrap();
        let (k, v) = entry.unwrap();
        assert_eq!(number, 4);
        assert_eq!(k, &key[..]);
        assert!(v == &value[..], "the value differs");
        assert!(reader.next_entry().is_none());
        assert_eq!(reader.trailer(), Some(Trailer::Verified { entries: 1 }));
        assert_eq!(reader.position(), from_reads.len() as u64);
    }

    #[test]
    fn a_value_shorter_than_announced_is_an_error() {
        let mut file = Vec::new();
        let mut w = BackupWriter::new(&mut file, 1).unwrap();
        let e = w
            .entry_from(b"k", 10, |from, buf| {
                let n = buf.len().min(4usize.saturating_sub(from));
                buf[..n].fill(b'v');
                n
            })
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn lines_unescape_where_they_lie() {
        let mut line = b"a\\,b\\x00,x\\\\y\\nz,\\r".to_vec();
        let (key, value) = split_entry(&mut line).unwrap();
        assert_eq!(&line[key], b"a,b\x00");
        assert_eq!(&line[value], b"x\\y\nz,\r");
        let mut bad = b"k,ok\\xZZ".to_vec();
        assert!(matches!(
            split_entry(&mut bad),
            Err(LineError::BadEscape { column: 4 })
        ));
    }

    proptest! {
        #[test]
        fn pieces_cut_where_complete_prefix_says_escape_as_the_whole(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), 0x80u8..=0xBF, 0xC2u8..=0xF4],
                0..64,
            ),
            cut in 0usize..64,
            is_key in any::<bool>(),
        ) {
            let field = if is_key { Field::Key } else { Field::Value };
            let mut whole = Vec::new();
            escape(&bytes, field, true, &mut whole);
            let cut = cut.min(bytes.len());
            let ready = complete_prefix(&bytes[..cut]);
            prop_assert!(ready + 3 >= cut && ready <= cut);
            let mut pieces = Vec::new();
            escape(&bytes[..ready], field, true, &mut pieces);
            escape(&bytes[ready..], field, ready == 0, &mut pieces);
            prop_assert_eq!(pieces, whole);
        }

        #[test]
        fn a_trailer_checked_in_pieces_gets_the_same_verdict(
            entries in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..8),
                 proptest::collection::vec(any::<u8>(), 0..16)),
                0..6,
            ),
            damage in proptest::option::of((any::<usize>(), any::<u8>())),
            cut in proptest::option::of(any::<usize>()),
            pieces in proptest::collection::vec(1usize..20, 1..8),
        ) {
            let mut file = Vec::new();
            write_backup(&mut file, 1, entries.iter().map(|(k, v)| (k, v))).unwrap();
            if let Some((at, byte)) = damage {
                let at = at % file.len();
                file[at] = byte;
            }
            if let Some(len) = cut {
                file.truncate(len % (file.len() + 1));
            }
            let mut check = TrailerCheck::new();
            let mut rest = &file[..];
            for n in pieces.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let n = (*n).min(rest.len());
                check.update(&rest[..n]);
                rest = &rest[n..];
            }
            let verdict = |r: Result<Option<u64>, LineError>| r.map_err(|e| e.to_string());
            prop_assert_eq!(verdict(check.finish()), verdict(check_trailer_whole(&file)));
        }
    }

    /// `check_trailer` as it was before it streamed: the reference the streaming check must
    /// agree with.
    fn check_trailer_whole(data: &[u8]) -> Result<Option<u64>, LineError> {
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        let last_start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let last = &body[last_start..];
        if !last.starts_with(b"#") {
            return Ok(None);
        }
        let Some((entries, crc)) = parse_trailer(last).filter(|_| body.len() < data.len()) else {
            return Err(LineError::BadTrailer);
        };
        let computed = crc32c(&data[..last_start]);
        if crc != computed {
            return Err(LineError::CrcMismatch {
                trailer: crc,
                computed,
            });
        }
        Ok(Some(entries))
    }

    proptest! {
        #[test]
        fn every_byte_string_round_trips(
            entries in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..20),
                 proptest::collection::vec(any::<u8>(), 0..40)),
                0..20,
            )
        ) {
            let mut file = Vec::new();
            write_backup(&mut file, 1, entries.iter().map(|(k, v)| (k, v))).unwrap();
            let (lines, trailer) = read_all(&file);
            let read: Vec<_> = lines.into_iter().map(|(_, e)| e.unwrap()).collect();
            // An empty key with an empty value is the line ",", still an entry.
            prop_assert_eq!(read, entries.clone());
            prop_assert_eq!(trailer, Some(Trailer::Verified { entries: entries.len() as u64 }));
        }
    }
}
