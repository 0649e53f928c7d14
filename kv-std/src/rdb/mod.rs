//! Redis's RDB format for string keys: files (a snapshot, the payload of a replication full
//! sync) and the `DUMP`/`RESTORE` payload of one value. `docs/RDB.md` describes the bytes.
//!
//! The [`Writer`] writes RDB version 10, the format of Redis 7.0, one key at a time to any
//! `Write`. The [`Loader`] reads versions 1 to 10 (Redis 7.0 and older) one key at a time from
//! any `Read`; keys of other types are an error naming the key, or, with
//! [`LoadOptions::skip_unsupported`], are skipped and counted. Neither holds more than one key
//! in memory, and no length read from a file is trusted for an allocation beyond what the
//! file really holds.
//!
//! # Modules
//! - [`Writer`] (`writer.rs`) and [`Loader`] (`loader.rs`): files.
//! - [`framing`]: the `$<len>` and `$EOF:<mark>` framings of the payload after `+FULLRESYNC`.
//! - [`dump`]: the `DUMP`/`RESTORE` payload.
//! - `string.rs`: how a string is written (as it is, as an integer, LZF-compressed) and read;
//!   `length.rs`: lengths; [`lzf`]: the compression; [`crc64`]: the checksum.
//! - `skip.rs`: reading past the value of each type kv does not store; [`KeyType`]
//!   (`key_type.rs`): the Redis type of each type byte; `opcode.rs`: the other bytes.
//! - [`AuxField`] and [`ReplInfo`] (`aux.rs`): the aux fields; `input.rs`: the loader's
//!   counting, checksumming reads; [`LoadError`] (`error.rs`): why a file could not be read.
//!
//! # Example
//! ```
//! use kv_std::rdb::{dump, LoadOptions, Loader, WriteOptions, Writer};
//! use std::io::{BufReader, BufWriter};
//!
//! let path = std::env::temp_dir().join(format!("kv-rdb-doc-{}.rdb", std::process::id()));
//! let file = BufWriter::new(std::fs::File::create(&path)?);
//! let mut writer = Writer::new(file, WriteOptions::default())?;
//! writer.write_entry(b"counter", b"42", None)?;
//! writer.write_entry(b"page", &b"<html>".repeat(100), Some(4_102_444_800_000))?;
//! writer.finish()?;
//!
//! let loader = Loader::new(BufReader::new(std::fs::File::open(&path)?), LoadOptions::default())?;
//! for entry in loader {
//!     let entry = entry?;
//!     println!("{:?} expires {:?}", entry.key.escape_ascii().to_string(), entry.expire_ms);
//! }
//!
//! let mut payload = Vec::new();
//! dump::encode(b"hello", &mut payload);
//! assert_eq!(dump::decode(&payload).unwrap(), b"hello");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aux;
pub mod crc64;
pub mod dump;
mod error;
pub mod framing;
mod input;
mod key_type;
mod length;
mod loader;
pub mod lzf;
mod opcode;
mod skip;
mod string;
pub mod table;
mod writer;

pub use aux::{AuxField, ReplInfo};
pub use error::{ErrorKind, LoadError};
pub use key_type::{rdb_type, KeyType};
pub use loader::{Checksum, Entry, LoadOptions, Loader, Skipped, DEFAULT_MAX_STRING_LEN};
pub use string::Compression;
pub use writer::{WriteOptions, Writer, REDIS_VER};

/// The RDB version the writer writes, and the newest the loader reads: Redis 7.0's.
pub const RDB_VERSION: u32 = 10;

/// The size hints of a database (`RESIZEDB`). They come from the file and are not checked
/// against what follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbSizes {
    /// Keys in the database.
    pub keys: u64,
    /// Keys in the database that have an expiry.
    pub expires: u64,
}

/// A load or a save may run on its own thread (a replica loading while its connection is
/// served, a snapshot beside the workers): the loader, the writer and the framings move to
/// another thread with their reader or writer.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Loader<std::net::TcpStream>>();
    assert_send::<Writer<std::fs::File>>();
    assert_send::<framing::PayloadReader<std::io::BufReader<std::net::TcpStream>>>();
    assert_send::<framing::PayloadWriter<std::net::TcpStream>>();
    assert_send::<dump::DumpEncoder>();
    assert_send::<LoadError>();
};
