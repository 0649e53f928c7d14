//! Snapshots: the whole table written to a backup file, crash-safely.
//!
//! A snapshot is written to `<path>.tmp`, flushed and fsynced; the current file becomes
//! `<path>.prev` (the previous generation, kept for when the newest is found damaged); the new
//! file takes its place; and the directory is fsynced so the renames survive a crash.
//!
//! A key's deadline goes into the file with it (Unix milliseconds, as the table's clock counts
//! them); a key already expired when the visit reaches it is left out, as visits skip it.

use super::aof::sync_dir;
use crate::backup_format::{BackupReader, BackupWriter, Trailer};
use crate::db::Store;
use kv_nostd::{Deadline, When};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// `<path><suffix>`.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The previous generation's file.
pub fn previous(path: &Path) -> PathBuf {
    with_suffix(path, ".prev")
}

/// Writes `table` as generation `instance` to `path`, keeping the file it replaces as the
/// previous generation. Returns the number of entries written.
pub fn write(path: &Path, instance: u64, table: &Store) -> io::Result<u64> {
    let tmp = with_suffix(path, ".tmp");
    let file = File::create(&tmp)?;
    // A large buffer: the visit waits on nothing but this buffer's writes, and cuckoo moves
    // near the bucket being read wait on the visit.
    let mut w = BackupWriter::new(BufWriter::with_capacity(4 << 20, file), instance)?;
    let mut failure = None;
    let mut key = Vec::new();
    table.visit(|e| {
        if failure.is_none() {
            let k = crate::db::entry_key(e, &mut key);
            // The value goes from the table to the file a piece at a time: however large, it
            // is never copied whole, nor escaped whole.
            let written = w.expiring_entry_from(e.deadline(), k, e.value_len(), |from, buf| {
                e.read_value(from, buf)
            });
            if let Err(e) = written {
                failure = Some(e);
            }
        }
    });
    if let Some(e) = failure {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let (buffered, entries) = w.finish()?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    if path.exists() {
        std::fs::rename(path, previous(path))?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(path)?;
    Ok(entries)
}

/// What loading a backup file found.
#[derive(Debug)]
pub struct Loaded {
    /// The snapshot's generation (0 for a file without a header).
    pub instance: u64,
    /// Entries loaded.
    pub entries: u64,
    /// Whether a trailer vouched for the whole file.
    pub checked: bool,
}

/// Loads the backup file at `path` into `table`, each key with its deadline. Any damage, even
/// one bad line, makes the whole file unusable: the table is emptied again and the error names
/// the line.
///
/// A deadline the table's clock has passed leaves the key absent; the server loads with its
/// clock not yet started (see `persist/mod.rs`), so that a log replayed after the file finds
/// every key the file held.
pub fn load(path: &Path, table: &Store) -> Result<Loaded, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut reader = BackupReader::new(io::BufReader::with_capacity(1 << 20, file));
    let mut entries = 0u64;
    let mut failure = None;
    while let Some((line, entry)) = reader.next_expiring_entry() {
        let result = entry
            .map_err(|e| e.to_string())
            .and_then(|(deadline, k, v)| {
                let deadline = deadline.map_or(Deadline::None, Deadline::At);
                table
                    .put_with(k, v, When::Always, deadline, None, &mut |_| {})
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            failure = Some(format!("line {line}: {e}"));
            break;
        }
        entries += 1;
    }
    let outcome = match (failure, reader.trailer()) {
        (Some(e), _) => Err(e),
        (None, Some(Trailer::Verified { .. })) => Ok(true),
        (None, Some(Trailer::Absent { .. })) => Ok(false),
        (None, None) => Err("unreadable".to_string()),
    };
    match outcome {
        Ok(checked) => Ok(Loaded {
            instance: reader.instance().unwrap_or(0),
            entries,
            checked,
        }),
        Err(e) => {
            table.clear();
            Err(e)
        }
    }
}
