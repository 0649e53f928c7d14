//! Snapshots: the whole table written to a backup file, crash-safely.
//!
//! A snapshot is written to `<path>.tmp`, flushed and fsynced; the current file becomes
//! `<path>.prev` (the previous generation, kept for when the newest is found damaged); the new
//! file takes its place; and the directory is fsynced so the renames survive a crash.

use super::aof::sync_dir;
use crate::backup_format::{self, Writer};
use crate::db::Store;
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
    let mut w = Writer::new(BufWriter::with_capacity(4 << 20, file), instance)?;
    let mut failure = None;
    table.visit(|k, v| {
        if failure.is_none() {
            if let Err(e) = w.entry(k, v) {
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

/// Loads the backup file at `path` into `table`. On any damage the table is emptied again and
/// the error names the line.
pub fn load(path: &Path, table: &Store) -> Result<backup_format::Summary, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut failed: Option<String> = None;
    let result = backup_format::read(&bytes, |k, v| {
        if failed.is_none() {
            if let Err(e) = table.put(k, v) {
                failed = Some(format!("entry {:?}: {e}", String::from_utf8_lossy(k)));
            }
        }
    });
    let outcome = match (result, failed) {
        (Ok(summary), None) => Ok(summary),
        (Ok(_), Some(e)) => Err(e),
        (Err((line, e)), _) => Err(format!("line {line}: {e}")),
    };
    if outcome.is_err() {
        table.clear();
    }
    outcome
}
