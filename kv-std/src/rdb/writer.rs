//! Writing an RDB file as Redis 7.0 does, one key at a time.

use super::aux::ReplInfo;
use super::crc64::Crc64;
use super::key_type::rdb_type;
use super::length::encode_len;
use super::opcode;
use super::string::{Compression, StringEncoder};
use super::{DbSizes, RDB_VERSION};
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// The Redis release whose RDB format the writer reproduces, and its default `redis-ver`.
pub const REDIS_VER: &str = "7.0.15";

/// What a [`Writer`] puts in the file besides the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Whether to LZF-compress long strings. Default: [`Compression::Lzf`], as Redis.
    pub compression: Compression,
    /// Whether to store the checksum; without it the file stores 0, which loaders take as
    /// "not checked" (Redis's `rdbchecksum no`). Default: true.
    pub checksum: bool,
    /// The `redis-ver` aux field. Default: [`REDIS_VER`]; some tools pick their parser by it.
    pub redis_ver: String,
    /// The `ctime` aux field, unix seconds; `None`: the time [`Writer::new`] runs.
    pub ctime: Option<u64>,
    /// The `used-mem` aux field, bytes. Default: 0.
    pub used_mem: u64,
    /// The `repl-stream-db`, `repl-id` and `repl-offset` aux fields, which a master writes in
    /// the RDB of a full sync. Default: none.
    pub replication: Option<ReplInfo>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            compression: Compression::Lzf,
            checksum: true,
            redis_ver: REDIS_VER.to_string(),
            ctime: None,
            used_mem: 0,
            replication: None,
        }
    }
}

/// A writer that checksums and counts what passes through it.
#[derive(Debug)]
struct Checksummed<W> {
    inner: W,
    crc: Crc64,
    written: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes an RDB file of version 10, as Redis 7.0 does, to any writer: the header, the aux
/// fields Redis 7.0 writes (`redis-ver`, `redis-bits`, `ctime`, `used-mem`, the replication
/// fields when given, `aof-base`), then keys one at a time, then `EOF` and the CRC-64.
///
/// Only the key being written is in memory (and, when it is compressed, its compressed form).
/// Each piece is a separate write: give it a buffered writer.
///
/// ```
/// use kv_std::rdb::{DbSizes, WriteOptions, Writer};
///
/// let mut writer = Writer::new(Vec::new(), WriteOptions::default())?;
/// writer.select_db(0, Some(DbSizes { keys: 2, expires: 1 }))?;
/// writer.write_entry(b"greeting", b"hello", None)?;
/// writer.write_entry(b"session", b"12345", Some(4_102_444_800_000))?;
/// let file = writer.finish()?;
/// assert!(file.starts_with(b"REDIS0010"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: Checksummed<W>,
    strings: StringEncoder,
    checksum: bool,
    /// Whether a database was selected.
    selected: bool,
    /// Opcodes and lengths, gathered into one write.
    head: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Writes the header and the aux fields.
    pub fn new(out: W, options: WriteOptions) -> io::Result<Self> {
        let mut writer = Self {
            out: Checksummed {
                inner: out,
                crc: Crc64::new(),
                written: 0,
            },
            strings: StringEncoder::new(options.compression),
            checksum: options.checksum,
            selected: false,
            head: Vec::with_capacity(32),
        };
        writer
            .out
            .write_all(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        let ctime = options.ctime.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        writer.aux(b"redis-ver", options.redis_ver.as_bytes())?;
        writer.aux(b"redis-bits", usize::BITS.to_string().as_bytes())?;
        writer.aux(b"ctime", ctime.to_string().as_bytes())?;
        writer.aux(b"used-mem", options.used_mem.to_string().as_bytes())?;
        if let Some(repl) = options.replication {
            writer.aux(b"repl-stream-db", repl.stream_db.to_string().as_bytes())?;
            writer.aux(b"repl-id", &repl.id)?;
            writer.aux(b"repl-offset", repl.offset.to_string().as_bytes())?;
        }
        // kv never writes an AOF with an RDB preamble.
        writer.aux(b"aof-base", b"0")?;
        Ok(writer)
    }

    fn aux(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        self.out.write_all(&[opcode::AUX])?;
        self.strings.write(&mut self.out, name)?;
        self.strings.write(&mut self.out, value)
    }

    /// Starts database `db`: the keys written next are in it. With `sizes`, also writes the
    /// `RESIZEDB` hints loaders use to size their tables; without, none (Redis always writes
    /// them, but loaders, redis-server and redis-check-rdb included, do without).
    pub fn select_db(&mut self, db: u64, sizes: Option<DbSizes>) -> io::Result<()> {
        self.head.clear();
        self.head.push(opcode::SELECTDB);
        encode_len(db, &mut self.head);
        if let Some(sizes) = sizes {
            self.head.push(opcode::RESIZEDB);
            encode_len(sizes.keys, &mut self.head);
            encode_len(sizes.expires, &mut self.head);
        }
        self.selected = true;
        self.out.write_all(&self.head)
    }

    /// Writes a string key with its value and, if it has one, its expiry (unix milliseconds).
    /// The first key written without [`Writer::select_db`] selects database 0, without size
    /// hints.
    pub fn write_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<i64>,
    ) -> io::Result<()> {
        if !self.selected {
            self.select_db(0, None)?;
        }
        self.head.clear();
        if let Some(ms) = expire_ms {
            self.head.push(opcode::EXPIRETIME_MS);
            self.head.extend_from_slice(&ms.to_le_bytes());
        }
        self.head.push(rdb_type::STRING);
        self.out.write_all(&self.head)?;
        self.strings.write(&mut self.out, key)?;
        self.strings.write(&mut self.out, value)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.out.written
    }

    /// Writes `EOF` and the checksum of everything before it (or 0 without checksums),
    /// flushes, and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[opcode::EOF])?;
        let crc = if self.checksum {
            self.out.crc.value()
        } else {
            0
        };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}
