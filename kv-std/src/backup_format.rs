//! The backup file format: the original design's `version:1`, `instance:<n>`, `---`, then one
//! `key,value` line per entry, made byte-exact and checkable.
//!
//! - Escapes, so any bytes round-trip: `\\` for a backslash, `\n` and `\r` for line breaks,
//!   `\,` for a comma in a key (a value's commas stay raw: the first unescaped comma ends the
//!   key), `\xHH` for other control bytes, bytes that are not UTF-8, and a `#` that would start
//!   a key.
//! - A trailer line `#end entries=<n> crc32c=<8 hex digits>`: the entry count and the CRC32C of
//!   every byte before the trailer. A file with a trailer is checked; a file without one (as the
//!   original design writes them) still loads, and the caller is told so.

use std::fmt;
use std::io::{self, Write};

/// The only format version.
pub const VERSION: u32 = 1;

/// Appends `bytes` to `out` escaped; `key` also escapes commas and a leading `#`.
pub fn escape(bytes: &[u8], key: bool, out: &mut Vec<u8>) {
    let mut rest = bytes;
    let mut first = true;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (ok, bad) = rest.split_at(e.valid_up_to());
                // The prefix up to `valid_up_to` is UTF-8 by definition.
                (std::str::from_utf8(ok).unwrap_or_default(), bad)
            }
        };
        for c in valid.chars() {
            match c {
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                ',' if key => out.extend_from_slice(b"\\,"),
                '#' if key && first => out.extend_from_slice(b"\\x23"),
                c if c.is_control() && c.is_ascii() => hex(c as u8, out),
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            first = false;
        }
        match bad.first() {
            Some(&b) => {
                hex(b, out);
                first = false;
                rest = &bad[1..];
            }
            None => rest = &[],
        }
    }
}

fn hex(b: u8, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        DIGITS[usize::from(b >> 4)],
        DIGITS[usize::from(b & 15)],
    ]);
}

/// Why a line or a file does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The first lines are not `version:1`, `instance:<n>`, `---`.
    Header(String),
    /// An entry line has no unescaped comma.
    NoComma,
    /// A backslash escape is unknown or cut short.
    BadEscape,
    /// The trailer's fields do not parse.
    BadTrailer,
    /// The trailer counts a different number of entries than the file holds.
    CountMismatch {
        /// Entries the trailer announces.
        trailer: u64,
        /// Entries found.
        found: u64,
    },
    /// The checksum does not match: the file was changed or damaged.
    ChecksumMismatch {
        /// The checksum in the trailer.
        trailer: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// Bytes follow the trailer.
    AfterTrailer,
    /// The file ends inside a line: it was cut short.
    Truncated,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Header(why) => write!(f, "bad header: {why}"),
            FormatError::NoComma => f.write_str("entry has no ',' between key and value"),
            FormatError::BadEscape => f.write_str("bad backslash escape"),
            FormatError::BadTrailer => f.write_str("bad '#end' trailer"),
            FormatError::CountMismatch { trailer, found } => {
                write!(
                    f,
                    "trailer counts {trailer} entries but the file holds {found}"
                )
            }
            FormatError::ChecksumMismatch { trailer, computed } => write!(
                f,
                "checksum mismatch: trailer says {trailer:08x}, contents give {computed:08x}"
            ),
            FormatError::AfterTrailer => f.write_str("data after the '#end' trailer"),
            FormatError::Truncated => f.write_str("file ends in the middle of a line"),
        }
    }
}

impl std::error::Error for FormatError {}

/// Undoes [`escape`].
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        match text.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b',') => out.push(b','),
            Some(b'x') => {
                let digits = text.get(i + 2..i + 4).ok_or(FormatError::BadEscape)?;
                let s = std::str::from_utf8(digits).map_err(|_| FormatError::BadEscape)?;
                out.push(u8::from_str_radix(s, 16).map_err(|_| FormatError::BadEscape)?);
                i += 4;
                continue;
            }
            _ => return Err(FormatError::BadEscape),
        }
        i += 2;
    }
    Ok(out)
}

/// Splits an entry line (without its line ending) into key and value.
pub fn parse_entry(line: &[u8]) -> Result<(Vec<u8>, Vec<u8>), FormatError> {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b',' => return Ok((unescape(&line[..i])?, unescape(&line[i + 1..])?)),
            _ => i += 1,
        }
    }
    Err(FormatError::NoComma)
}

/// Writes a backup file: header, entries, trailer. Returns the number of entries written.
pub struct Writer<W: Write> {
    out: W,
    crc: u32,
    entries: u64,
    line: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Starts a file for `instance`.
    pub fn new(out: W, instance: u64) -> io::Result<Self> {
        let mut w = Self {
            out,
            crc: 0,
            entries: 0,
            line: Vec::with_capacity(512),
        };
        let header = format!("version:{VERSION}\ninstance:{instance}\n---\n");
        w.put(header.as_bytes())?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.out.write_all(bytes)
    }

    /// Adds one entry.
    pub fn entry(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        escape(key, true, &mut line);
        line.push(b',');
        escape(value, false, &mut line);
        line.push(b'\n');
        let r = self.put(&line);
        self.line = line;
        self.entries += 1;
        r
    }

    /// Writes the trailer and returns the underlying writer and the entry count.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let trailer = format!("#end entries={} crc32c={:08x}\n", self.entries, self.crc);
        self.out.write_all(trailer.as_bytes())?;
        self.out.flush()?;
        Ok((self.out, self.entries))
    }
}

/// What reading a backup file found, besides its entries.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    /// The `instance:` number (the snapshot generation).
    pub instance: u64,
    /// Entries read.
    pub entries: u64,
    /// Whether a trailer was present and checked.
    pub checked: bool,
}

/// Reads a complete backup file held in memory, passing each entry to `entry` in file order.
/// Damage is an error naming the line; entries before it have been passed already, so a caller
/// that must not half-load collects them or discards what it loaded.
pub fn read(
    bytes: &[u8],
    mut entry: impl FnMut(&[u8], &[u8]),
) -> Result<Summary, (usize, FormatError)> {
    let mut crc = 0u32;
    let mut lines = bytes.split_inclusive(|&b| b == b'\n').enumerate();
    let mut header = |want: &str| -> Result<Vec<u8>, (usize, FormatError)> {
        let (n, line) = lines
            .next()
            .ok_or((1, FormatError::Header(format!("missing '{want}' line"))))?;
        crc = crc32c::crc32c_append(crc, line);
        let text = line
            .strip_suffix(b"\n")
            .ok_or((n + 1, FormatError::Truncated))?;
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        Ok(text.to_vec())
    };
    let version = header("version:1")?;
    if version != format!("version:{VERSION}").as_bytes() {
        let shown = String::from_utf8_lossy(&version).into_owned();
        return Err((1, FormatError::Header(format!("unsupported '{shown}'"))));
    }
    let instance = header("instance:<n>")?;
    let instance = instance
        .strip_prefix(b"instance:")
        .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok())
        .ok_or((
            2,
            FormatError::Header("expected 'instance:<number>'".into()),
        ))?;
    if header("---")? != b"---" {
        return Err((3, FormatError::Header("expected '---'".into())));
    }
    let mut count = 0u64;
    let mut checked = false;
    for (n, line) in lines {
        let number = n + 1;
        if checked {
            return Err((number, FormatError::AfterTrailer));
        }
        let text = line
            .strip_suffix(b"\n")
            .ok_or((number, FormatError::Truncated))?;
        if let Some(trailer) = text.strip_prefix(b"#end ") {
            let (expected, sum) =
                parse_trailer(trailer).ok_or((number, FormatError::BadTrailer))?;
            if expected != count {
                let e = FormatError::CountMismatch {
                    trailer: expected,
                    found: count,
                };
                return Err((number, e));
            }
            if sum != crc {
                let e = FormatError::ChecksumMismatch {
                    trailer: sum,
                    computed: crc,
                };
                return Err((number, e));
            }
            checked = true;
            continue;
        }
        crc = crc32c::crc32c_append(crc, line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let (k, v) = parse_entry(text).map_err(|e| (number, e))?;
        entry(&k, &v);
        count += 1;
    }
    Ok(Summary {
        instance,
        entries: count,
        checked,
    })
}

/// The `instance:` number of a backup file, from its first lines alone.
pub fn instance_of(bytes: &[u8]) -> Option<u64> {
    let mut lines = bytes.split(|&b| b == b'\n');
    if lines.next()? != format!("version:{VERSION}").as_bytes() {
        return None;
    }
    std::str::from_utf8(lines.next()?.strip_prefix(b"instance:")?)
        .ok()?
        .parse()
        .ok()
}

fn parse_trailer(fields: &[u8]) -> Option<(u64, u32)> {
    let text = std::str::from_utf8(fields).ok()?;
    let mut count = None;
    let mut sum = None;
    for field in text.split(' ') {
        if let Some(n) = field.strip_prefix("entries=") {
            count = n.parse().ok();
        } else if let Some(h) = field.strip_prefix("crc32c=") {
            sum = u32::from_str_radix(h, 16).ok();
        } else {
            return None;
        }
    }
    Some((count?, sum?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads a whole file into a list, for checking.
    type Entries = Vec<(Vec<u8>, Vec<u8>)>;

    fn read_all(bytes: &[u8]) -> Result<(Summary, Entries), (usize, FormatError)> {
        let mut entries = Vec::new();
        let summary = read(bytes, |k, v| entries.push((k.to_vec(), v.to_vec())))?;
        Ok((summary, entries))
    }

    fn write_file(instance: u64, entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), instance).unwrap();
        for (k, v) in entries {
            w.entry(k, v).unwrap();
        }
        w.finish().unwrap().0
    }

    #[test]
    fn the_original_designs_file_loads() {
        let seed = b"version:1\ninstance:1\n---\nkey1,value1\nkey2,value2\nuser1,John Doe\n";
        let (c, entries) = read_all(seed).unwrap();
        assert_eq!(c.instance, 1);
        assert!(!c.checked);
        assert_eq!(instance_of(seed), Some(1));
        assert_eq!(
            entries,
            vec![
                (b"key1".to_vec(), b"value1".to_vec()),
                (b"key2".to_vec(), b"value2".to_vec()),
                (b"user1".to_vec(), b"John Doe".to_vec())
            ]
        );
    }

    #[test]
    fn awkward_bytes_round_trip_and_stay_one_line_each() {
        let entries = vec![
            (b"a,b".to_vec(), b"x,y,z".to_vec()),
            (b"#end".to_vec(), b"#end entries=0".to_vec()),
            (b"line\nbreak\r".to_vec(), b"back\\slash\n".to_vec()),
            (vec![0, 0xff, 0xfe, b'\\', b'x'], vec![0x80, b',', 0x7f]),
            (
                "caf\u{e9} \u{2713}".as_bytes().to_vec(),
                "\u{1f600}".as_bytes().to_vec(),
            ),
            (Vec::new(), Vec::new()),
        ];
        let file = write_file(7, &entries);
        assert_eq!(
            file.iter().filter(|&&b| b == b'\n').count(),
            3 + entries.len() + 1
        );
        let (c, read_back) = read_all(&file).unwrap();
        assert!(c.checked);
        assert_eq!(c.instance, 7);
        assert_eq!(read_back, entries);
    }

    #[test]
    fn truncation_and_corruption_are_detected() {
        let entries: Vec<_> = (0..20)
            .map(|i| (format!("k{i}").into_bytes(), format!("v{i}").into_bytes()))
            .collect();
        let file = write_file(3, &entries);
        // Cut inside the last line: truncated.
        let cut = &file[..file.len() - 5];
        assert_eq!(read_all(cut).unwrap_err().1, FormatError::Truncated);
        // One flipped byte in an entry: the checksum catches it.
        let mut flipped = file.clone();
        flipped[40] ^= 0x01;
        assert!(matches!(
            read_all(&flipped).unwrap_err().1,
            FormatError::ChecksumMismatch { .. } | FormatError::NoComma | FormatError::BadEscape
        ));
        // A dropped entry line: the count catches it.
        let text = String::from_utf8(file.clone()).unwrap();
        let dropped = text.replacen("k5,v5\n", "", 1);
        assert!(matches!(
            read_all(dropped.as_bytes()).unwrap_err().1,
            FormatError::CountMismatch {
                trailer: 20,
                found: 19
            }
        ));
        // Garbage after the trailer.
        let mut extra = file;
        extra.extend_from_slice(b"k,v\n");
        assert_eq!(read_all(&extra).unwrap_err().1, FormatError::AfterTrailer);
    }

    #[test]
    fn crc32c_is_castagnoli() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    proptest! {
        #[test]
        fn any_entries_round_trip(entries in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..40), proptest::collection::vec(any::<u8>(), 0..80)), 0..30)) {
            let file = write_file(1, &entries);
            let (_, read_back) = read_all(&file).unwrap();
            prop_assert_eq!(read_back, entries);
        }
    }
}
