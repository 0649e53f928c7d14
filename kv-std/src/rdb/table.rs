//! A whole table as an RDB file, and an RDB file into a table: what a full resync sends and
//! loads, what `kv-server --rdb-import` reads.
//!
//! [`save`] visits the table while writes go on. Each key is read under its bucket's lock, so
//! the file holds, for every key, its value at some instant during the visit: what a
//! replication offset taken before the visit began, followed by the stream from that offset,
//! brings to the present (the stream's records are effects, the same replayed twice; see
//! `repl/mod.rs`).

use super::{DbSizes, LoadError, LoadOptions, Loader, ReplInfo, Skipped, WriteOptions, Writer};
use crate::db::{entry_key, entry_value, Store};
use kv_nostd::{Deadline, When};
use std::io::{self, Read, Write};

/// Writes every key of `table` with its deadline as an RDB file of version 10 to `out`, with
/// `replication`'s aux fields if given; returns the writer and the keys written. A key whose
/// deadline has passed when the visit reaches it is left out, as visits skip it.
pub fn save<W: Write>(
    table: &Store,
    out: W,
    replication: Option<ReplInfo>,
) -> io::Result<(W, u64)> {
    let options = WriteOptions {
        replication,
        used_mem: table.stats().used_bytes as u64,
        ..WriteOptions::default()
    };
    let mut writer = Writer::new(out, options)?;
    let sizes = DbSizes {
        keys: table.len() as u64,
        expires: table.expires() as u64,
    };
    writer.select_db(0, Some(sizes))?;
    let mut failure = None;
    let mut written = 0u64;
    let (mut key, mut value) = (Vec::new(), Vec::new());
    table.visit(|e| {
        if failure.is_some() {
            return;
        }
        let deadline = e.deadline().map(|ms| i64::try_from(ms).unwrap_or(i64::MAX));
        let k = entry_key(e, &mut key);
        let v = entry_value(e, &mut value);
        match writer.write_entry(k, v, deadline) {
            Ok(()) => written += 1,
            Err(err) => failure = Some(err),
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((writer.finish()?, written))
}

/// What [`load`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Keys put into the table.
    pub keys: u64,
    /// Keys whose deadline had already passed: absent from the table.
    pub expired: u64,
    /// Keys and other data of types kv does not store, skipped (with
    /// [`LoadOptions::skip_unsupported`]).
    pub skipped: Skipped,
    /// The replication aux fields, if the file had them.
    pub replication: Option<ReplInfo>,
}

/// Why [`load`] stopped.
#[derive(Debug)]
pub enum LoadFailure {
    /// The file is not a readable RDB, or holds a key kv cannot store.
    Rdb(LoadError),
    /// The table had no room for this key.
    Full(Vec<u8>),
    /// A key of a database other than 0 (kv has one database).
    OtherDb(u64, Vec<u8>),
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rdb(e) => write!(f, "{e}"),
            Self::Full(key) => write!(
                f,
                "no room for key '{}': the table is full",
                key.escape_ascii()
            ),
            Self::OtherDb(db, key) => write!(
                f,
                "key '{}' is in database {db}; kv has only database 0",
                key.escape_ascii()
            ),
        }
    }
}

impl std::error::Error for LoadFailure {}

/// What [`load`] does with a key whose deadline has passed on the table's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passed {
    /// Leave it out, as a primary does (R70 rdb.c: a master drops such keys as it loads).
    Drop,
    /// Keep it until the primary deletes it, as a replica does: it is put with a deadline one
    /// millisecond after the table's clock, so reads find it gone at once while a `PERSIST` or
    /// `PEXPIREAT` its primary sent before the deadline passed there still finds it.
    Keep,
}

/// Puts every string key of the RDB file read from `input` into `table`, with its deadline;
/// one whose time has passed on the table's clock is left out or kept as `passed` says. Keys
/// already in the table are replaced; others stay: empty the table first for a file's exact
/// content. On an error the keys loaded so far stay in the table.
pub fn load(
    table: &Store,
    input: impl Read,
    options: LoadOptions,
    passed: Passed,
) -> Result<Loaded, LoadFailure> {
    let mut loader = Loader::new(input, options).map_err(LoadFailure::Rdb)?;
    let mut loaded = Loaded::default();
    while let Some(entry) = loader.next_entry().map_err(LoadFailure::Rdb)? {
        if entry.db != 0 {
            return Err(LoadFailure::OtherDb(entry.db, entry.key));
        }
        let mut deadline = match entry.expire_ms {
            Some(ms) => Deadline::At(u64::try_from(ms).unwrap_or(0).max(1)),
            None => Deadline::None,
        };
        if passed == Passed::Keep && matches!(deadline, Deadline::At(ms) if ms <= table.now()) {
            deadline = Deadline::At(table.now() + 1);
        }
        if matches!(deadline, Deadline::At(ms) if ms <= table.now()) {
            loaded.expired += 1;
            // Replaces what the table held under the key: the file's state is that it is gone.
            let _ = table.delete(&entry.key);
            continue;
        }
        table
            .put_with(
                &entry.key,
                &entry.value,
                When::Always,
                deadline,
                None,
                &mut |_| {},
            )
            .map_err(|_| LoadFailure::Full(entry.key.clone()))?;
        loaded.keys += 1;
    }
    loaded.skipped = loader.skipped().clone();
    loaded.replication = loader.replication();
    Ok(loaded)
}
